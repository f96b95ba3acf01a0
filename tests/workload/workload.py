#!/usr/bin/env python3
"""Workload generator for docshift tests: writes a deterministic mix of inserts,
updates, replaces and deletes to a MongoDB-API server at a given rate.

Independent of docshift's code on purpose: it is the yardstick the product is
measured with. It runs against FerretDB and mongo-java-server (test bed) alike.

Examples (after `scripts/testbed.sh up`; python = build/venv/bin/python):
  python tests/workload/workload.py --uri "$SOURCE_OPLOG_URI" --load 1000 --duration 10
  python tests/workload/workload.py --uri "$SOURCE_CS_URI" --ops 5000 --rate 0 \\
      --mix insert=50,update=30,replace=5,delete=15 --dbs 3 --colls 4 --seed 7

Determinism: with the same --seed and options, the sequence of operations (namespaces,
_ids, documents, update operators) is identical; --ops N makes the whole run identical,
--duration stops wherever time runs out. The rate only paces, it never changes the
sequence. The generator keeps its own list of live _ids, so it assumes it is the only
writer to its databases while it runs. Without --drop it first reads the _ids already
there and continues from them (new _ids never collide with earlier runs); --drop starts
from empty databases.

Documents stay inside what every test-bed server stores unchanged (FerretDB's limits):
no nested arrays, no NUL in strings, no '.' or leading '$' in keys, no NaN/Inf/-0.0,
dates at millisecond precision. Decimal128 only with --decimal (FerretDB 1.24 drops the
connection on Decimal128). Types used: string, int32, int64, double, bool, null, date,
ObjectId, binary (subtypes 0 and 4), nested document, array; _ids are int64, string or
ObjectId.

Prints one summary line:
  workload: ops=N insert=.. update=.. replace=.. delete=.. (upserts=..) errors=.. ...
Exit status: 0 on success, 1 if any write failed, 2 on a usage or connection error.
"""

import argparse
import datetime
import random
import sys
import time
import uuid

try:
    import pymongo
    from bson import Binary, Decimal128, Int64, ObjectId
    from pymongo.errors import BulkWriteError, PyMongoError
except ImportError:  # pragma: no cover
    sys.exit("workload.py needs pymongo: use build/venv/bin/python (scripts/testbed.sh up)")

OP_TYPES = ("insert", "update", "replace", "delete")
EPOCH = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
TAG_DOMAIN = [f"t{i}" for i in range(16)]
WORDS = ("alpha", "beta", "gamma", "delta", "épsilon", "zeta", "ηta", "θeta", "iota", "kappa",
         "lambda", "mu", "日本", "naïve", "x", "")


def parse_mix(text):
    mix = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in OP_TYPES:
            raise argparse.ArgumentTypeError(f"unknown op type {name!r} (want {', '.join(OP_TYPES)})")
        try:
            w = float(weight)
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad weight in {part!r}") from None
        if w < 0:
            raise argparse.ArgumentTypeError(f"negative weight in {part!r}")
        mix[name] = w
    if not mix or sum(mix.values()) <= 0:
        raise argparse.ArgumentTypeError("mix needs at least one positive weight")
    return mix


class LiveIds:
    """The _ids the generator believes exist in one collection: O(1) add, remove, pick."""

    def __init__(self):
        self.ids = []
        self.pos = {}

    def __len__(self):
        return len(self.ids)

    @staticmethod
    def key(_id):
        return (type(_id).__name__, str(_id))

    def add(self, _id):
        k = self.key(_id)
        if k not in self.pos:
            self.pos[k] = len(self.ids)
            self.ids.append(_id)

    def remove(self, _id):
        k = self.key(_id)
        i = self.pos.pop(k, None)
        if i is None:
            return
        last = self.ids.pop()
        if i < len(self.ids):
            self.ids[i] = last
            self.pos[self.key(last)] = i

    def pick(self, rng):
        return self.ids[rng.randrange(len(self.ids))]


class Generator:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.namespaces = [(f"{args.db_prefix}{d}", f"c{c}")
                           for d in range(args.dbs) for c in range(args.colls)]
        self.live = {ns: LiveIds() for ns in self.namespaces}
        self.next_id = {ns: 0 for ns in self.namespaces}
        self.counts = {t: 0 for t in OP_TYPES}
        self.upserts = 0
        self.errors = 0
        self.error_samples = []
        self.preloaded = 0
        names = list(args.mix)
        self.mix_names = names
        self.mix_weights = [args.mix[n] for n in names]

    # ------------------------------------------------------------ values

    def word(self):
        return self.rng.choice(WORDS)

    def date(self):
        return EPOCH + datetime.timedelta(milliseconds=self.rng.randrange(0, 10 * 365 * 86400 * 1000))

    def oid(self):
        return ObjectId(self.rng.getrandbits(96).to_bytes(12, "big"))

    def double(self):
        # Never NaN, Inf or -0.0 (FerretDB refuses or rewrites them).
        v = round(self.rng.uniform(-1e6, 1e6), self.rng.randrange(0, 6))
        return v if v != 0 else 0.5

    def scalar(self):
        r = self.rng.randrange(10)
        if r == 0:
            return self.word()
        if r == 1:
            return self.rng.randrange(-2**31, 2**31)              # int32
        if r == 2:
            return Int64(self.rng.randrange(-2**62, 2**62))       # int64
        if r == 3:
            return self.double()
        if r == 4:
            return self.rng.random() < 0.5
        if r == 5:
            return None
        if r == 6:
            return self.date()
        if r == 7:
            return self.oid()
        if r == 8:
            return Binary(self.rng.randbytes(self.rng.randrange(0, 32)), 0)
        return Binary(uuid.UUID(int=self.rng.getrandbits(128)).bytes, 4)

    def new_id(self, ns):
        """Unique per namespace: built from a counter that starts past existing _ids."""
        n = self.next_id[ns]
        self.next_id[ns] = n + 1
        kind = n % 3
        if kind == 0:
            return Int64(n)
        if kind == 1:
            return f"k-{n:08d}"
        return ObjectId(self.rng.getrandbits(32).to_bytes(4, "big") + n.to_bytes(8, "big"))

    def adopt_existing(self, client):
        """Adds the _ids already in the namespaces to the live sets (sorted, so the run
        stays deterministic for a given server state) and moves the _id counters past
        them, so that a second run on the same databases never collides."""
        for ns in self.namespaces:
            coll = client[ns[0]][ns[1]]
            for d in coll.find({}, {"_id": 1}).sort("_id", 1):
                _id = d["_id"]
                self.live[ns].add(_id)
                n = None
                if isinstance(_id, int):
                    n = int(_id)
                elif isinstance(_id, str) and _id.startswith("k-") and _id[2:].isdigit():
                    n = int(_id[2:])
                elif isinstance(_id, ObjectId):
                    n = int.from_bytes(_id.binary[4:], "big")
                # Counters are small; a huge one is not ours (e.g. a random ObjectId).
                if n is not None and 0 <= n < 2**40 and n >= self.next_id[ns]:
                    self.next_id[ns] = n + 1
        # A fresh random stream per starting state: a rerun on the same data with the
        # same seed continues the workload instead of replaying it.
        start = sum(self.next_id.values())
        if start:
            self.rng = random.Random(f"{self.args.seed}:{start}")

    def document(self, _id):
        """One of several shapes; every shape has seq (int64), n (int32) and tags."""
        shape = self.rng.choice(("flat", "nested", "blob", "wide", "typed"))
        doc = {"_id": _id, "shape": shape, "seq": Int64(self.rng.randrange(2**40)),
               "n": self.rng.randrange(1000), "tags": self.rng.sample(TAG_DOMAIN, self.rng.randrange(0, 4))}
        if shape == "flat":
            doc.update(name=self.word(), score=self.double(), active=self.rng.random() < 0.5,
                       created=self.date(), note=None)
        elif shape == "nested":
            doc["profile"] = {"name": self.word(), "age": self.rng.randrange(100),
                              "address": {"city": self.word(), "zip": f"{self.rng.randrange(99999):05d}",
                                          "geo": {"lat": self.double(), "lon": self.double()}}}
            doc["items"] = [{"sku": self.word(), "qty": self.rng.randrange(1, 10),
                             "price": self.double(), "opts": [self.word(), self.rng.randrange(9)]}
                            for _ in range(self.rng.randrange(0, 5))]
            doc["opt"] = self.scalar()
        elif shape == "blob":
            # Mostly small, sometimes large (mean ~1 KiB): FerretDB logs every update as the
            # whole post-image, so big blobs fill its capped oplog fast.
            size = self.rng.choices((16, 64, 256, 1024, 4096, 16384), (30, 25, 20, 15, 7, 3))[0]
            doc["blob"] = Binary(self.rng.randbytes(size), 0)
            doc["mime"] = "application/octet-stream"
        elif shape == "wide":
            for i in range(self.rng.randrange(20, 60)):
                doc[f"f{i:02d}"] = self.scalar()
        else:  # typed: one field of each type
            doc.update(s="text " + self.word(), i32=self.rng.randrange(-2**31, 2**31),
                       i64=Int64(self.rng.randrange(-2**62, 2**62)), d=self.double(),
                       b=self.rng.random() < 0.5, nul=None, dt=self.date(), oid=self.oid(),
                       bin=Binary(self.rng.randbytes(8), 0),
                       uuid=Binary(uuid.UUID(int=self.rng.getrandbits(128)).bytes, 4),
                       sub={"k": self.word(), "v": self.scalar()},
                       arr=[self.scalar() for _ in range(self.rng.randrange(0, 6))])
            if self.args.decimal:
                doc["dec"] = Decimal128(f"{self.rng.randrange(-10**9, 10**9)}.{self.rng.randrange(100):02d}")
        return doc

    def update_spec(self):
        """One update document; several operators, never producing nested arrays."""
        r = self.rng.randrange(9)
        if r == 0:
            return {"$set": {"name": self.word(), "updated": self.date()}}
        if r == 1:
            return {"$set": {"profile.nick": self.word(), "sub.v": self.scalar()}}
        if r == 2:
            return {"$unset": {self.rng.choice(("name", "opt", "profile", "note", "blob", "f03")): ""}}
        if r == 3:
            return {"$inc": {"n": self.rng.randrange(1, 5)}}
        if r == 4:
            return {"$inc": {"seq": Int64(self.rng.randrange(1, 1000))}, "$set": {"touched": True}}
        if r == 5:
            return {"$push": {"tags": self.rng.choice(TAG_DOMAIN)}}
        if r == 6:
            return {"$pull": {"tags": self.rng.choice(TAG_DOMAIN)}}
        if r == 7:
            return {"$addToSet": {"tags": self.rng.choice(TAG_DOMAIN)}}
        return {"$set": {"tags": self.rng.sample(TAG_DOMAIN, self.rng.randrange(0, 5)), "score": self.double()}}

    # ------------------------------------------------------------ operations

    def note_error(self, what, e):
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(f"{what}: {str(e).splitlines()[0][:200]}")

    def one_op(self, client):
        ns = self.namespaces[self.rng.randrange(len(self.namespaces))]
        op = self.rng.choices(self.mix_names, self.mix_weights)[0]
        live = self.live[ns]
        if op != "insert" and len(live) == 0:
            op = "insert"  # nothing to change yet
        coll = client[ns[0]][ns[1]]
        try:
            if op == "insert":
                _id = self.new_id(ns)
                coll.insert_one(self.document(_id))
                live.add(_id)
            elif op == "update":
                if self.rng.random() < 0.05:  # upsert of a new _id
                    _id = self.new_id(ns)
                    res = coll.update_one({"_id": _id}, {"$set": {"shape": "upserted", "n": 1}}, upsert=True)
                    if res.upserted_id is not None:
                        self.upserts += 1
                    live.add(_id)
                else:
                    coll.update_one({"_id": live.pick(self.rng)}, self.update_spec())
            elif op == "replace":
                _id = live.pick(self.rng)
                coll.replace_one({"_id": _id}, self.document(_id))
            else:
                _id = live.pick(self.rng)
                coll.delete_one({"_id": _id})
                live.remove(_id)
            self.counts[op] += 1
        except PyMongoError as e:
            if isinstance(e, pymongo.errors.ConnectionFailure):
                raise
            self.note_error(f"{op} {ns[0]}.{ns[1]}", e)

    def preload(self, client, total):
        per = [total // len(self.namespaces)] * len(self.namespaces)
        for i in range(total % len(self.namespaces)):
            per[i] += 1
        for ns, n in zip(self.namespaces, per):
            coll = client[ns[0]][ns[1]]
            batch = []
            for _ in range(n):
                _id = self.new_id(ns)
                batch.append(self.document(_id))
                if len(batch) == 500:
                    self.flush(coll, batch, ns)
                    batch = []
            if batch:
                self.flush(coll, batch, ns)

    def flush(self, coll, batch, ns):
        try:
            coll.insert_many(batch, ordered=False)
            ok = batch
        except BulkWriteError as e:
            bad = {err["index"] for err in e.details.get("writeErrors", [])}
            for err in e.details.get("writeErrors", [])[:1]:
                self.note_error(f"preload {ns[0]}.{ns[1]}", err.get("errmsg", err))
            self.errors += max(0, len(bad) - 1)
            ok = [d for i, d in enumerate(batch) if i not in bad]
        for d in ok:
            self.live[ns].add(d["_id"])
        self.preloaded += len(ok)

    def run(self, client):
        a = self.args
        if a.drop:
            for db in sorted({ns[0] for ns in self.namespaces}):
                client.drop_database(db)
        else:
            self.adopt_existing(client)
        if a.load:
            self.preload(client, a.load)
        start = time.monotonic()
        deadline = start + a.duration if a.ops is None else None
        i = 0
        while True:
            if a.ops is not None and i >= a.ops:
                break
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            if a.rate > 0:
                due = start + i / a.rate
                if due > now:
                    wait = due - now
                    if deadline is not None:
                        wait = min(wait, deadline - now)
                    time.sleep(wait)
                    continue
            self.one_op(client)
            i += 1
        return time.monotonic() - start


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--uri", required=True, help="server URI (mongo-java-server needs directConnection=true)")
    p.add_argument("--dbs", type=int, default=2, help="number of databases (default 2)")
    p.add_argument("--colls", type=int, default=3, help="collections per database (default 3)")
    p.add_argument("--db-prefix", default="wl_", help="database name prefix (default wl_): wl_0, wl_1, ...")
    p.add_argument("--rate", type=float, default=200, help="ops per second; 0 = as fast as possible (default 200)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--duration", type=float, default=10, help="seconds to run (default 10)")
    g.add_argument("--ops", type=int, help="number of operations to run (instead of --duration)")
    p.add_argument("--mix", type=parse_mix, default=parse_mix("insert=40,update=30,replace=10,delete=20"),
                   help="op weights (default insert=40,update=30,replace=10,delete=20)")
    p.add_argument("--load", type=int, default=0, help="bulk-insert N documents first (spread over all namespaces)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--drop", action="store_true", help="drop the generator's databases first")
    p.add_argument("--decimal", action="store_true",
                   help="include Decimal128 values (mongo-java-server only; FerretDB 1.24 drops the connection)")
    a = p.parse_args(argv)
    if a.dbs < 1 or a.colls < 1 or a.rate < 0 or a.load < 0 or (a.ops is not None and a.ops < 0):
        p.error("--dbs/--colls must be >= 1; --rate, --load, --ops must be >= 0")

    gen = Generator(a)
    try:
        with pymongo.MongoClient(a.uri, serverSelectionTimeoutMS=10000, appname="docshift-workload") as client:
            client.admin.command("ping")
            elapsed = gen.run(client)
    except PyMongoError as e:
        print(f"workload: error: {e}", file=sys.stderr)
        return 2
    total = sum(gen.counts.values())
    live = sum(len(v) for v in gen.live.values())
    print(f"workload: ops={total} " + " ".join(f"{t}={gen.counts[t]}" for t in OP_TYPES) +
          f" (upserts={gen.upserts}) errors={gen.errors} preload={gen.preloaded} live_docs={live}"
          f" namespaces={len(gen.namespaces)} seconds={elapsed:.1f} rate={total / elapsed if elapsed > 0 else 0:.0f}/s"
          f" seed={a.seed}")
    for s in gen.error_samples:
        print(f"workload: error sample: {s}", file=sys.stderr)
    return 1 if gen.errors else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""DynamoDB workload generator for docshift tests (boto3 only; independent of docshift).

  python tests/workload/dynamodb_workload.py --endpoint "$DYNAMODB_URL" --preload 1000 --seconds 10
  python tests/workload/dynamodb_workload.py --endpoint "$MINISTACK_URL" --recreate --ops 5000 --seed 7

Creates (if missing) two tables with streams on (NEW_AND_OLD_IMAGES), PAY_PER_REQUEST:
  PREFIXhash   hash key pk (S)
  PREFIXrange  hash key pk (S), range key sk (N)
then optionally bulk-loads --preload items (BatchWriteItem), then runs puts (new keys and
overwrites), updates (UpdateItem with SET of top-level and nested paths, list elements,
and REMOVE; a few on missing keys, which create the item) and deletes (a few of missing
keys, no-ops) for --seconds or --ops operations, at --rate ops/s (0 = unthrottled).

Items hold every attribute type: S (ASCII, accented, CJK, astral-plane emoji, empty),
N (integers of 1 to 38 digits, negatives, the int32/int64 boundaries, decimals such as
1.5, 0.001, 1E+3, 1.50, 1E-130, 9.9E+125), B, BOOL, NULL, M (nested maps with lists),
L (nested lists holding maps, lists and sets' elements), SS, NS, BS; some items have an
attribute named `_id`. Range keys are integers (int32, int64 and wider) and decimals.

By default integers never have more than 34 significant digits (a 35-38 digit integer
ends in zeros), so every number maps exactly onto int32/int64/Decimal128;
--over34 also writes 35-38 significant digits. --ferretdb-safe writes only integers that
fit int64 and no nested arrays (FerretDB refuses Decimal128 and nested arrays).

Deterministic: the same --seed, options and starting tables give the same operation
sequence (with --ops, the same data). Existing items are adopted first (a full Scan),
so reruns work on what is there. Endpoint from --endpoint or $DYNAMODB_URL; region
us-east-1; dummy credentials. The last line printed is a JSON object of counts.
Exit 0, or 1 if any operation failed.
"""

import argparse
import json
import os
import random
import sys
import time
from decimal import Decimal, getcontext

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

getcontext().prec = 200

INT32_EDGES = ["2147483647", "-2147483648", "2147483648", "-2147483649",
               "9223372036854775807", "-9223372036854775808",
               "9223372036854775808", "-9223372036854775809", "0", "-1", "1"]
DECIMALS = ["1.5", "0.001", "1E+3", "-1.5", "1.50", "2.5E-3", "1E-130", "9.9E+125",
            "-9.9E+125", "-1E-130", "100.0", "1.0E+2", "0.1", "123456789.987654321",
            "-0.000000000000000000000000000000000001", "1.5E+3",
            "3.14159265358979323846264338327950"]  # 33 significant digits
SAFE_NUMBERS = INT32_EDGES[:6] + ["0", "-1", "1", "1E+3", "1.0E+2", "100.0", "1.5E+3"]
WORDS = ["alpha", "beta", "gamma", "délta", "日本語", "emoji😀", "\uffe0wide", "zeta",
         "a b", "x\ty", "line\nbreak", "quote\"", "back\\slash", ""]
KEY_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class Gen:
    """Random values; all randomness comes from one seeded random.Random."""

    def __init__(self, rng, over34, safe):
        self.r = rng
        self.over34 = over34
        self.safe = safe

    def word(self):
        r = self.r
        if r.random() < 0.5:
            return r.choice(WORDS)
        return "".join(r.choice(KEY_CHARS) for _ in range(r.randint(1, 24)))

    def integer(self):
        r = self.r
        if r.random() < 0.15:
            return r.choice(INT32_EDGES[:6] if self.safe else INT32_EDGES)
        digits = r.randint(1, 18 if self.safe else 38)
        sig = digits if self.over34 else min(digits, 34)
        if self.safe:
            sig = digits = min(digits, 18)
        first = str(r.randint(1, 9))
        rest = "".join(str(r.randint(0, 9)) for _ in range(sig - 1))
        s = first + rest + "0" * (digits - sig)
        if digits == 1 and r.random() < 0.1:
            s = "0"
        return ("-" + s) if r.random() < 0.3 and s != "0" else s

    def decimal(self):
        r = self.r
        if self.safe:
            return r.choice(SAFE_NUMBERS)
        if r.random() < 0.5:
            return r.choice(DECIMALS)
        k = r.randint(1, 34)
        mant = str(r.randint(1, 9)) + "".join(str(r.randint(0, 9)) for _ in range(k - 1))
        exp = r.randint(-120, 80)
        s = f"{mant[0]}.{mant[1:]}E{exp:+d}" if k > 1 else f"{mant}E{exp:+d}"
        if r.random() < 0.5:  # plain notation too
            s = format(Decimal(s), "f")
        return ("-" + s) if r.random() < 0.3 else s

    def number(self):
        return self.integer() if self.r.random() < 0.6 else self.decimal()

    def binary(self, lo=1, hi=48):
        return self.r.randbytes(self.r.randint(lo, hi))

    def num_set(self):
        out, seen = [], set()
        for _ in range(self.r.randint(1, 6)):
            n = self.number()
            v = Decimal(n)
            if v not in seen:
                seen.add(v)
                out.append(n)
        return out

    def str_set(self):
        return list(dict.fromkeys(self.word() or "e" for _ in range(self.r.randint(1, 6))))

    def bin_set(self):
        return list(dict.fromkeys(self.binary(1, 8)
                                  for _ in range(self.r.randint(1, 5))))

    def scalar(self):
        r = self.r
        c = r.randint(0, 5)
        if c == 0:
            return {"S": self.word()}
        if c == 1:
            return {"N": self.number()}
        if c == 2:
            return {"B": self.binary()}
        if c == 3:
            return {"BOOL": r.random() < 0.5}
        if c == 4:
            return {"NULL": True}
        return {"S": self.word()}

    def value(self, depth):
        """Any attribute value, nesting M and L up to depth."""
        r = self.r
        c = r.randint(0, 9 if depth > 0 else 5)
        if c <= 5:
            return self.scalar() if c < 5 else self.set_value()
        if c <= 7:
            return {"M": self.map(depth - 1)}
        return {"L": self.list(depth - 1)}

    def set_value(self):
        c = self.r.randint(0, 2)
        if c == 0:
            return {"SS": self.str_set()}
        if c == 1:
            return {"NS": self.num_set()}
        return {"BS": self.bin_set()}

    def map(self, depth):
        n = self.r.randint(0, 5)
        return {f"k{i}_{self.r.randint(0, 99)}": self.value(depth) for i in range(n)}

    def list(self, depth):
        out = []
        for _ in range(self.r.randint(0, 5)):
            v = self.value(depth)
            if self.safe and ("L" in v or "SS" in v or "NS" in v or "BS" in v):
                v = {"M": {"inner": self.scalar()}}  # no arrays inside arrays
            out.append(v)
        if not self.safe and depth > 0 and self.r.random() < 0.5:
            out.append({"L": [{"M": {"deep": {"N": self.number()}}}, self.scalar()]})
        return out

    def item_attrs(self):
        """Non-key attributes of a new item: every type, most of them most of the time."""
        r = self.r
        a = {}
        if r.random() < 0.9:
            a["s"] = {"S": self.word()}
        if r.random() < 0.9:
            a["n_int"] = {"N": self.integer()}
        if r.random() < 0.9:
            a["n_dec"] = {"N": self.decimal()}
        if r.random() < 0.8:
            a["b"] = {"B": self.binary()}
        if r.random() < 0.8:
            a["flag"] = {"BOOL": r.random() < 0.5}
        if r.random() < 0.7:
            a["nothing"] = {"NULL": True}
        if r.random() < 0.8:
            a["m"] = {"M": self.map(2) | {"fixed": {"M": {"x": {"N": self.number()},
                                                       "y": {"L": self.list(1)}}}}}
        if r.random() < 0.8:
            a["l"] = {"L": self.list(2) + [{"M": self.map(1)}]}
        if r.random() < 0.7:
            a["ss"] = {"SS": self.str_set()}
        if r.random() < 0.7:
            a["ns"] = {"NS": self.num_set()}
        if r.random() < 0.6:
            a["bs"] = {"BS": self.bin_set()}
        if r.random() < 0.05:
            a["_id"] = self.scalar() if r.random() < 0.5 else {"M": self.map(1)}
        for i in range(r.randint(0, 3)):
            a[f"extra{i}"] = self.value(1)
        return a


class Table:
    def __init__(self, name, ranged):
        self.name = name
        self.ranged = ranged
        self.items = {}     # canonical key -> item (as last written / returned)
        self.order = []     # canonical keys in a deterministic order (for random choice)
        self.pos = {}
        self.next_id = 0

    def add(self, ck, item):
        if ck not in self.items:
            self.pos[ck] = len(self.order)
            self.order.append(ck)
        self.items[ck] = item

    def remove(self, ck):
        if ck not in self.items:
            return
        del self.items[ck]
        i = self.pos.pop(ck)
        last = self.order.pop()
        if i < len(self.order):
            self.order[i] = last
            self.pos[last] = i


def canon_key(table, key):
    if table.ranged:
        return (key["pk"]["S"], Decimal(key["sk"]["N"]))
    return (key["pk"]["S"],)


def client(endpoint):
    cfg = Config(retries={"max_attempts": 5, "mode": "standard"},
                 connect_timeout=5, read_timeout=30, max_pool_connections=4)
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testbed"),
                        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY",
                                                             "testbed"),
                        config=cfg)


def wait_status(ddb, name, want_gone=False, deadline=60):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            st = ddb.describe_table(TableName=name)["Table"]["TableStatus"]
            if not want_gone and st == "ACTIVE":
                return
        except ClientError as e:
            if e.response["Error"]["Code"] == "ResourceNotFoundException" and want_gone:
                return
            if not want_gone:
                raise
        time.sleep(0.2)
    raise RuntimeError(f"table {name} did not become {'gone' if want_gone else 'ACTIVE'}")


def ensure_table(ddb, t, recreate):
    names = set()
    for page in ddb.get_paginator("list_tables").paginate():
        names.update(page["TableNames"])
    if recreate and t.name in names:
        ddb.delete_table(TableName=t.name)
        wait_status(ddb, t.name, want_gone=True)
        names.discard(t.name)
    if t.name not in names:
        keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
        attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
        if t.ranged:
            keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
            attrs.append({"AttributeName": "sk", "AttributeType": "N"})
        ddb.create_table(TableName=t.name, KeySchema=keys, AttributeDefinitions=attrs,
                         BillingMode="PAY_PER_REQUEST",
                         StreamSpecification={"StreamEnabled": True,
                                              "StreamViewType": "NEW_AND_OLD_IMAGES"})
    wait_status(ddb, t.name)
    desc = ddb.describe_table(TableName=t.name)["Table"]
    spec = desc.get("StreamSpecification") or {}
    if not spec.get("StreamEnabled"):
        ddb.update_table(TableName=t.name,
                         StreamSpecification={"StreamEnabled": True,
                                              "StreamViewType": "NEW_AND_OLD_IMAGES"})
        wait_status(ddb, t.name)


def adopt(ddb, t):
    """Loads the existing items, in a deterministic order (sorted by key)."""
    found = {}
    kw = {"TableName": t.name, "ConsistentRead": True}
    while True:
        page = ddb.scan(**kw)
        for it in page["Items"]:
            found[canon_key(t, it)] = it
        if "LastEvaluatedKey" not in page:
            break
        kw["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    for ck in sorted(found):
        t.add(ck, found[ck])
    t.next_id = len(found)


class Workload:
    def __init__(self, a):
        self.a = a
        self.r = random.Random(a.seed)
        self.g = Gen(self.r, a.over34, a.ferretdb_safe)
        self.ddb = client(a.endpoint)
        self.tables = [Table(a.prefix + "hash", False), Table(a.prefix + "range", True)]
        self.counts = {"put": 0, "put_new": 0, "put_overwrite": 0, "update": 0,
                       "update_missing": 0, "delete": 0, "delete_missing": 0,
                       "preload": 0, "errors": 0}

    def new_key(self, t):
        r = self.r
        t.next_id += 1
        suffix = "".join(r.choice(KEY_CHARS) for _ in range(r.randint(0, 6)))
        if not t.ranged:
            pk = f"h{t.next_id:07d}{suffix}" if r.random() < 0.9 else f"hé{t.next_id}😀"
            return {"pk": {"S": pk}}
        pk = f"p{r.randint(0, 49):03d}"
        c = r.random()
        if c < 0.6:
            sk = str(r.randint(-10**6, 10**6))
        elif c < 0.75:
            sk = str(r.randint(-2**63, 2**63 - 1))
        elif c < 0.85 and not self.a.ferretdb_safe:
            sk = str(r.randint(-10**30, 10**30))
        elif not self.a.ferretdb_safe:
            sk = format(Decimal(r.randint(-10**8, 10**8)) / 1000, "f")
            sk = sk.rstrip("0").rstrip(".") if "." in sk else sk
        else:
            sk = str(r.randint(-2**31, 2**31 - 1))
        return {"pk": {"S": pk}, "sk": {"N": sk}}

    def pick(self, t):
        return t.items[t.order[self.r.randrange(len(t.order))]]

    def key_of(self, t, item):
        k = {"pk": item["pk"]}
        if t.ranged:
            k["sk"] = item["sk"]
        return k

    # ---------------------------------------------------------------- operations

    def op_put(self, t):
        r = self.r
        if t.order and r.random() < 0.4:
            key = self.key_of(t, self.pick(t))
            self.counts["put_overwrite"] += 1
        else:
            key = self.new_key(t)
            while canon_key(t, key) in t.items:
                key = self.new_key(t)
            self.counts["put_new"] += 1
        item = self.g.item_attrs() | key
        self.ddb.put_item(TableName=t.name, Item=item)
        t.add(canon_key(t, key), item)
        self.counts["put"] += 1

    def op_update(self, t):
        r = self.r
        if t.order and r.random() > 0.05:
            item = self.pick(t)
            key = self.key_of(t, item)
        else:
            key = self.new_key(t)
            item = dict(key)
            self.counts["update_missing"] += 1
        names, values, sets, removes = {}, {}, [], []

        def nm(n):
            tok = f"#n{len(names)}"
            names[tok] = n
            return tok

        def val(v):
            tok = f":v{len(values)}"
            values[tok] = v
            return tok

        attrs = [a for a in sorted(item) if a not in ("pk", "sk")]
        for _ in range(r.randint(1, 4)):
            c = r.random()
            if c < 0.35:   # SET a top-level attribute (new or existing) to any type
                a = r.choice(attrs + ["s", "n_int", "n_dec", "u_new", "flag", "nothing"])
                sets.append(f"{nm(a)} = {val(self.g.value(2))}")
            elif c < 0.5 and "m" in item and "fixed" in item["m"].get("M", {}):
                sets.append(f"{nm('m')}.{nm('fixed')}.{nm('x')} = {val({'N': self.g.number()})}")
            elif c < 0.6 and "m" in item and "M" in item["m"]:
                sets.append(f"{nm('m')}.{nm('u' + str(r.randint(0, 9)))} = "
                            f"{val(self.g.value(1))}")
            elif c < 0.7 and "l" in item and item["l"].get("L"):
                i = r.randrange(len(item["l"]["L"]))
                sets.append(f"{nm('l')}[{i}] = {val(self.g.scalar())}")
            elif c < 0.75 and "l" in item and "L" in item["l"]:
                sets.append(f"{nm('l')} = list_append({nm('l')}, "
                            f"{val({'L': [self.g.scalar()]})})")
            elif c < 0.9 and attrs:
                removes.append(nm(r.choice(attrs)))
            elif "m" in item and item["m"].get("M"):
                sub = sorted(item["m"]["M"])
                removes.append(f"{nm('m')}.{nm(r.choice(sub))}")
            else:
                sets.append(f"{nm('flag')} = {val({'BOOL': r.random() < 0.5})}")
        # One path may appear once only: drop later clauses that touch a used path.
        expr, used = [], set()
        for kind, clauses in (("SET", sets), ("REMOVE", removes)):
            keep = []
            for cl in clauses:
                path = cl.split(" = ")[0]
                top = names[path.split(".")[0].split("[")[0]]
                if top in used:
                    continue
                used.add(top)
                keep.append(cl)
            if keep:
                expr.append(kind + " " + ", ".join(keep))
        # Drop placeholders no longer used.
        text = " ".join(expr)
        names = {k: v for k, v in names.items() if k in text.replace(",", " ").replace(
            ".", " ").replace("[", " ").replace("(", " ").replace(")", " ").split()}
        values = {k: v for k, v in values.items()
                  if k in text.replace(",", " ").replace(")", " ").split()}
        kw = {"TableName": t.name, "Key": key, "UpdateExpression": text,
              "ExpressionAttributeNames": names, "ReturnValues": "ALL_NEW"}
        if values:
            kw["ExpressionAttributeValues"] = values
        res = self.ddb.update_item(**kw)
        t.add(canon_key(t, key), res.get("Attributes") or key)
        self.counts["update"] += 1

    def op_delete(self, t):
        if t.order and self.r.random() > 0.05:
            key = self.key_of(t, self.pick(t))
        else:
            key = self.new_key(t)
            self.counts["delete_missing"] += 1
        self.ddb.delete_item(TableName=t.name, Key=key)
        t.remove(canon_key(t, key))
        self.counts["delete"] += 1

    # ---------------------------------------------------------------- phases

    def preload(self, n):
        for t in self.tables:
            batch = []
            for i in range(n // len(self.tables) + (1 if t is self.tables[0] and
                                                       n % len(self.tables) else 0)):
                key = self.new_key(t)
                while canon_key(t, key) in t.items or any(
                        canon_key(t, b) == canon_key(t, key) for b in batch):
                    key = self.new_key(t)
                batch.append(self.g.item_attrs() | key)
                if len(batch) == 25:
                    self.write_batch(t, batch)
                    batch = []
            if batch:
                self.write_batch(t, batch)

    def write_batch(self, t, items):
        req = {t.name: [{"PutRequest": {"Item": it}} for it in items]}
        for _ in range(50):
            res = self.ddb.batch_write_item(RequestItems=req)
            req = res.get("UnprocessedItems") or {}
            if not req:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("BatchWriteItem kept returning UnprocessedItems")
        for it in items:
            t.add(canon_key(t, it), it)
        self.counts["preload"] += len(items)

    def run(self):
        a = self.a
        weights = dict(put=a.put, update=a.update, delete=a.delete)
        ops = [k for k in weights if weights[k] > 0]
        w = [weights[k] for k in ops]
        fn = {"put": self.op_put, "update": self.op_update, "delete": self.op_delete}
        t0 = time.monotonic()
        done = 0
        while True:
            if a.ops is not None and done >= a.ops:
                break
            if a.ops is None and time.monotonic() - t0 >= a.seconds:
                break
            t = self.tables[self.r.randrange(2)]
            op = self.r.choices(ops, w)[0]
            try:
                fn[op](t)
            except (ClientError, BotoCoreError) as e:
                self.counts["errors"] += 1
                if self.counts["errors"] <= 10:
                    print(f"dynamodb_workload: {op} on {t.name} failed: {e}", file=sys.stderr)
            done += 1
            if a.rate > 0:
                ahead = t0 + done / a.rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
        return done, time.monotonic() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", default=os.environ.get("DYNAMODB_URL"),
                   help="DynamoDB endpoint URL (default $DYNAMODB_URL)")
    p.add_argument("--prefix", default="dw_", help="table name prefix (default dw_)")
    p.add_argument("--seconds", type=float, default=10.0, help="timed phase length")
    p.add_argument("--ops", type=int, default=None, help="run exactly N ops instead")
    p.add_argument("--rate", type=float, default=0, help="ops/s, 0 = unthrottled")
    p.add_argument("--preload", type=int, default=0, help="items bulk-loaded first")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--recreate", action="store_true", help="delete and recreate the tables")
    p.add_argument("--put", type=int, default=40, help="weight of puts (default 40)")
    p.add_argument("--update", type=int, default=40, help="weight of updates (default 40)")
    p.add_argument("--delete", type=int, default=20, help="weight of deletes (default 20)")
    p.add_argument("--over34", action="store_true",
                   help="also integers with 35-38 significant digits (no exact Decimal128)")
    p.add_argument("--ferretdb-safe", action="store_true",
                   help="only integers fitting int64, no nested arrays")
    a = p.parse_args()
    if not a.endpoint:
        p.error("--endpoint or $DYNAMODB_URL is required")
    if a.put + a.update + a.delete <= 0:
        p.error("all op weights are 0")
    w = Workload(a)
    try:
        for t in w.tables:
            ensure_table(w.ddb, t, a.recreate)
            adopt(w.ddb, t)
        adopted = {t.name: len(t.items) for t in w.tables}
        t0 = time.monotonic()
        if a.preload:
            w.preload(a.preload)
        pre_s = time.monotonic() - t0
        done, secs = w.run()
    except (ClientError, BotoCoreError, RuntimeError) as e:
        print(f"dynamodb_workload: error: {e}", file=sys.stderr)
        return 2
    out = {"ops": done, **w.counts, "adopted": adopted,
           "items": {t.name: len(t.items) for t in w.tables},
           "preload_seconds": round(pre_s, 2), "seconds": round(secs, 2),
           "ops_per_second": round(done / secs, 1) if secs > 0 else None,
           "seed": a.seed}
    print(json.dumps(out, sort_keys=False))
    return 1 if w.counts["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())

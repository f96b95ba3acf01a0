#!/usr/bin/env python3
"""Checker for docshift tests: compares two MongoDB-API servers namespace by namespace
and document by document, and prints every difference.

Independent of docshift's code on purpose. Works against FerretDB and mongo-java-server.

  python tests/workload/checker.py --source "$SOURCE_OPLOG_URI" --target "$TARGET_URI" --db-prefix wl_

What is compared:
  * Namespaces: every database on either side except admin, local and config (narrowed
    by --db-prefix and/or --include), every collection except system.*. A collection
    present on one side only is a difference (--ignore-empty-collections forgives it
    when it holds no documents).
  * Documents, matched by _id. The _id match is BSON-type exact: int32 1, int64 1 and
    double 1.0 are three different _ids.
  * Document contents with full BSON type fidelity, compared on the raw BSON bytes of
    each value (int32 vs int64, -0.0 vs 0.0, binary subtypes, date milliseconds all
    count). Field order is IGNORED at every nesting level unless --strict-order;
    array element order always counts.
  * With --indexes, index definitions too (name, key with its field order, unique,
    sparse, expireAfterSeconds, partialFilterExpression).

Output: one line per difference --
  MISSING   db.coll _id=...          on source, not on target
  EXTRA     db.coll _id=...          on target, not on source
  DIFFERENT db.coll _id=... field: source=... target=...
then a summary line. Exit status: 0 identical, 1 different, 2 error (connection,
command failure, bad arguments).
"""

import argparse
import struct
import sys

try:
    import pymongo
    from bson import decode as bson_decode, json_util
    from bson.codec_options import CodecOptions
    from bson.raw_bson import RawBSONDocument
    from pymongo.errors import PyMongoError
except ImportError:  # pragma: no cover
    sys.exit("checker.py needs pymongo: use build/venv/bin/python (scripts/testbed.sh up)")

SKIP_DBS = {"admin", "local", "config"}
RAW = CodecOptions(document_class=RawBSONDocument)
JSON = json_util.JSONOptions(json_mode=json_util.JSONMode.RELAXED)


class CheckError(Exception):
    pass


# ------------------------------------------------------------------ raw BSON walking
# A small independent BSON reader, so that equality is decided on bytes, not on
# Python values (pymongo would decode 0.0 == -0.0, int32 == int64, etc.).

FIXED = {0x01: 8, 0x06: 0, 0x07: 12, 0x08: 1, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8,
         0x12: 8, 0x13: 16, 0x7F: 0, 0xFF: 0}


def _cstring_end(buf, i):
    j = buf.index(b"\x00", i)
    return j


def elements(buf):
    """Yields (key, type, value_bytes) for a BSON document given as bytes."""
    if len(buf) < 5:
        raise CheckError("truncated BSON document")
    (total,) = struct.unpack_from("<i", buf, 0)
    if total != len(buf) or buf[-1] != 0:
        raise CheckError("malformed BSON document length")
    i = 4
    end = total - 1
    while i < end:
        t = buf[i]
        i += 1
        k_end = _cstring_end(buf, i)
        key = buf[i:k_end].decode("utf-8", "surrogateescape")
        i = k_end + 1
        if t in FIXED:
            n = FIXED[t]
        elif t in (0x02, 0x0D, 0x0E):          # string, code, symbol
            n = 4 + struct.unpack_from("<i", buf, i)[0]
        elif t in (0x03, 0x04, 0x0F):          # document, array, code_w_scope
            n = struct.unpack_from("<i", buf, i)[0]
        elif t == 0x05:                        # binary
            n = 5 + struct.unpack_from("<i", buf, i)[0]
        elif t == 0x0B:                        # regex: two cstrings
            j = _cstring_end(buf, i)
            j = _cstring_end(buf, j + 1)
            n = j + 1 - i
        elif t == 0x0C:                        # dbpointer
            n = 4 + struct.unpack_from("<i", buf, i)[0] + 12
        else:
            raise CheckError(f"unknown BSON type 0x{t:02x} at key {key!r}")
        if n < 0 or i + n > end:
            raise CheckError(f"BSON value of key {key!r} overruns its document")
        yield key, t, bytes(buf[i:i + n])
        i += n


def normalize(t, value, strict_order):
    """A hashable, comparable form of one value: (type, payload)."""
    if t == 0x03:
        items = [(k, normalize(tt, v, strict_order)) for k, tt, v in elements(value)]
        return (t, tuple(items) if strict_order else tuple(sorted(items)))
    if t == 0x04:
        return (t, tuple(normalize(tt, v, strict_order) for _, tt, v in elements(value)))
    return (t, value)


def field_map(raw):
    return {k: (t, v) for k, t, v in elements(raw)}


def id_key(raw):
    """Type-exact identity of a document's _id: (type byte, value bytes)."""
    for k, t, v in elements(raw):
        if k == "_id":
            return normalize(t, v, True)
    raise CheckError("document without _id")


def show_value(t, v):
    """Relaxed extended JSON for one raw value (type-explicit where JSON is ambiguous)."""
    doc = bytearray()
    body = bytes([t]) + b"v\x00" + v
    doc += struct.pack("<i", 4 + len(body) + 1) + body + b"\x00"
    out = json_util.dumps(bson_decode(bytes(doc)), json_options=JSON)[6:-1]
    names = {0x10: "int32", 0x12: "int64", 0x01: "double"}
    return f"{out} ({names[t]})" if t in names else out


def show_id(raw):
    for k, t, v in elements(raw):
        if k == "_id":
            return show_value(t, v)
    return "?"


# ------------------------------------------------------------------ comparison


class Checker:
    def __init__(self, args, out):
        self.a = args
        self.out = out
        self.missing = self.extra = self.different = self.ns_diffs = self.index_diffs = 0
        self.docs = 0
        self.namespaces = 0
        self.printed = 0

    def emit(self, line):
        self.printed += 1
        if self.a.max_print is None or self.printed <= self.a.max_print:
            print(line, file=self.out)

    def wanted_db(self, name):
        if name in SKIP_DBS:
            return False
        if not self.a.db_prefix and not self.a.include:
            return True
        if any(name.startswith(p) for p in self.a.db_prefix):
            return True
        return any(inc == name or inc.startswith(name + ".") for inc in self.a.include)

    def wanted_coll(self, db, coll):
        if coll.startswith("system."):
            return False
        if any(db.startswith(p) for p in self.a.db_prefix):
            return True
        if not self.a.db_prefix and not self.a.include:
            return True
        return any(inc == db or inc == f"{db}.{coll}" for inc in self.a.include)

    def namespaces_of(self, client):
        result = set()
        for db in client.list_database_names():
            if not self.wanted_db(db):
                continue
            for coll in client[db].list_collection_names():
                if self.wanted_coll(db, coll):
                    result.add((db, coll))
        return result

    def compare_docs(self, s_raw, t_raw, ns):
        s_fields, t_fields = field_map(s_raw), field_map(t_raw)
        strict = self.a.strict_order
        diffs = []
        for k in sorted(set(s_fields) | set(t_fields)):
            if k not in t_fields:
                diffs.append(f"{k}: source={show_value(*s_fields[k])} target=<absent>")
            elif k not in s_fields:
                diffs.append(f"{k}: source=<absent> target={show_value(*t_fields[k])}")
            elif normalize(*s_fields[k], strict) != normalize(*t_fields[k], strict):
                diffs.append(f"{k}: source={show_value(*s_fields[k])} target={show_value(*t_fields[k])}")
        if strict and not diffs and list(s_fields) != list(t_fields):
            diffs.append(f"field order: source={list(s_fields)} target={list(t_fields)}")
        if diffs:
            self.different += 1
            shown = diffs[:5] + ([f"... {len(diffs) - 5} more fields"] if len(diffs) > 5 else [])
            self.emit(f"DIFFERENT {ns} _id={show_id(s_raw)} " + "; ".join(shown))

    def compare_collection(self, src, tgt, db, coll):
        ns = f"{db}.{coll}"
        source_docs = {}
        for raw in src[db].get_collection(coll, codec_options=RAW).find(batch_size=1000):
            source_docs[id_key(raw.raw)] = raw.raw
        n_target = 0
        for raw in tgt[db].get_collection(coll, codec_options=RAW).find(batch_size=1000):
            n_target += 1
            key = id_key(raw.raw)
            s_raw = source_docs.pop(key, None)
            if s_raw is None:
                self.extra += 1
                self.emit(f"EXTRA     {ns} _id={show_id(raw.raw)}")
            else:
                self.docs += 1
                self.compare_docs(s_raw, raw.raw, ns)
        for s_raw in source_docs.values():
            self.missing += 1
            self.emit(f"MISSING   {ns} _id={show_id(s_raw)}")

    @staticmethod
    def index_specs(client, db, coll):
        specs = {}
        for ix in client[db][coll].list_indexes():
            specs[ix["name"]] = (
                tuple(ix["key"].items()),
                bool(ix.get("unique", False)), bool(ix.get("sparse", False)),
                ix.get("expireAfterSeconds"),
                json_util.dumps(ix.get("partialFilterExpression"), sort_keys=True),
            )
        return specs

    def compare_indexes(self, src, tgt, db, coll):
        s, t = self.index_specs(src, db, coll), self.index_specs(tgt, db, coll)
        for name in sorted(set(s) | set(t)):
            if s.get(name) != t.get(name):
                self.index_diffs += 1
                self.emit(f"INDEX     {db}.{coll} {name}: source={s.get(name)} target={t.get(name)}")

    def count(self, client, db, coll):
        return client[db][coll].count_documents({})

    def run(self, src, tgt):
        s_ns, t_ns = self.namespaces_of(src), self.namespaces_of(tgt)
        for db, coll in sorted(s_ns | t_ns):
            ns = f"{db}.{coll}"
            self.namespaces += 1
            if (db, coll) not in t_ns or (db, coll) not in s_ns:
                side, client = ("target", src) if (db, coll) not in t_ns else ("source", tgt)
                n = self.count(client, db, coll)
                if not (self.a.ignore_empty_collections and n == 0):
                    self.ns_diffs += 1
                    self.emit(f"NAMESPACE {ns}: missing on {side} ({n} documents on the other side)")
            self.compare_collection(src, tgt, db, coll)
            if self.a.indexes and (db, coll) in s_ns and (db, coll) in t_ns:
                self.compare_indexes(src, tgt, db, coll)

    def total(self):
        return self.missing + self.extra + self.different + self.ns_diffs + self.index_diffs


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", required=True, help="source server URI")
    p.add_argument("--target", required=True, help="target server URI")
    p.add_argument("--db-prefix", action="append", default=[],
                   help="only databases whose name starts with this (repeatable)")
    p.add_argument("--include", action="append", default=[],
                   help="only this database or db.collection (repeatable; adds to --db-prefix)")
    p.add_argument("--strict-order", action="store_true", help="field order counts too")
    p.add_argument("--ignore-empty-collections", action="store_true",
                   help="an empty collection missing on the other side is not a difference")
    p.add_argument("--indexes", action="store_true", help="compare index definitions too")
    p.add_argument("--max-print", type=int, default=None,
                   help="print at most N difference lines (all are counted; default: print all)")
    a = p.parse_args(argv)

    checker = Checker(a, sys.stdout)
    try:
        opts = dict(serverSelectionTimeoutMS=10000, appname="docshift-checker")
        with pymongo.MongoClient(a.source, **opts) as src, pymongo.MongoClient(a.target, **opts) as tgt:
            src.admin.command("ping")
            tgt.admin.command("ping")
            checker.run(src, tgt)
    except (PyMongoError, CheckError) as e:
        print(f"checker: error: {e}", file=sys.stderr)
        return 2
    if a.max_print is not None and checker.printed > a.max_print:
        print(f"checker: ... {checker.printed - a.max_print} more difference lines not printed")
    summary = (f"{checker.namespaces} namespaces, {checker.docs} documents matched by _id; "
               f"missing={checker.missing} extra={checker.extra} different={checker.different} "
               f"namespace={checker.ns_diffs}" + (f" index={checker.index_diffs}" if a.indexes else ""))
    if checker.total() == 0:
        print(f"checker: IDENTICAL: {summary}")
        return 0
    print(f"checker: DIFFERENT: {summary}")
    return 1


if __name__ == "__main__":
    sys.exit(main())

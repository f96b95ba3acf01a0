#!/usr/bin/env python3
"""DynamoDB -> MongoDB checker for docshift tests (boto3 + pymongo; shares no code with
docshift: the mapping below is implemented here, independently, from its description).

  python tests/workload/dynamodb_checker.py --endpoint "$DYNAMODB_URL" \\
      --target "mongodb://127.0.0.1:27104/?directConnection=true" --table dw_hash --table dw_range

Scans every source table fully (ConsistentRead) and compares it with its target
collection: table T -> database `dynamodb`, collection T, unless --map T=db.coll.
Tables: each --table, else every table whose name starts with --table-prefix (default:
all tables of the endpoint).

The mapping (what the target must hold for each item):
  N      by numeric value, whatever the spelling (1E+3, 1000 and 1000.0 are one value):
         an integer in int32 range -> int32; else in int64 range -> int64; otherwise
         Decimal128, which holds at most 34 significant digits (compared by value; a
         source number with more significant digits is reported as UNMAPPABLE unless
         --round-over34, which expects it rounded half-even to 34 digits).
  S -> string, B -> binary subtype 0, BOOL -> bool, NULL -> null, M -> document,
  L -> array (in order, elements converted recursively).
  SS/NS/BS -> arrays in canonical order: strings by UTF-8 bytes, binaries by bytes,
         numbers by numeric value (each element converted as N).
  _id    hash-only table: the converted hash key value. Hash+range table: the document
         {<hash name>: v, <range name>: v}, in that field order. The key attributes also
         stay as top-level fields. An item attribute named `_id` is stored as
         `_dynamodb_id`.
Types are exact (int32 1, int64 1, Decimal128 1 and double 1.0 differ); field order is
ignored except inside a hash+range `_id`.

Output: the first --max-print differences, one per line --
  MISSING    table _id=...                   item not in the target
  EXTRA      table _id=...                   target document with no item
  DIFFERENT  table _id=... field: expected=... target=...
  UNMAPPABLE table _id=... field: ...        number with > 34 significant digits
then `dynamodb_checker: IDENTICAL ...` (exit 0) or `dynamodb_checker: DIFFERENT ...`
(exit 1). Exit 2 on errors (connection, missing table, bad arguments).
--expect-count N (total items) or T=N (one table) also fails (exit 1) when the source
holds another number of items. --wait S repeats the whole comparison until identical or
S seconds have passed (for a live migration catching up).
"""

import argparse
import os
import sys
import time
from decimal import Decimal, localcontext, ROUND_HALF_EVEN

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError
    import pymongo
    from bson.binary import Binary
    from bson.codec_options import CodecOptions
    from bson.decimal128 import Decimal128
    from bson.int64 import Int64
    from bson.son import SON
    from pymongo.errors import PyMongoError
except ImportError:  # pragma: no cover
    sys.exit("dynamodb_checker.py needs boto3 and pymongo: use build/venv/bin/python")

INT32 = (-(2 ** 31), 2 ** 31 - 1)
INT64 = (-(2 ** 63), 2 ** 63 - 1)
DEC_DIGITS = 34


class CheckError(Exception):
    pass


class Unmappable(Exception):
    pass


# ------------------------------------------------------------------ expected values
# Expected and actual values are both turned into "tagged" values: (tag, payload).
# Documents are dicts of tagged values (so field order does not count), arrays tuples.

def sig_digits(d):
    t = d.normalize().as_tuple() if d != 0 else None
    return len(t.digits) if t else 1


def number(s, round34):
    with localcontext() as ctx:
        ctx.prec = 400
        d = Decimal(s)
        if d == d.to_integral_value():
            i = int(d)
            if INT32[0] <= i <= INT32[1]:
                return ("int32", i)
            if INT64[0] <= i <= INT64[1]:
                return ("int64", i)
        n = sig_digits(d)
        if n > DEC_DIGITS:
            if not round34:
                raise Unmappable(f"number {s} has {n} significant digits (> 34)")
            exp = d.adjusted() - DEC_DIGITS + 1
            d = d.quantize(Decimal(1).scaleb(exp), rounding=ROUND_HALF_EVEN)
        return ("decimal", d)


def expected_value(av, round34):
    (t, v), = av.items()
    if t == "S":
        return ("string", v)
    if t == "N":
        return number(v, round34)
    if t == "B":
        return ("binary0", bytes(v))
    if t == "BOOL":
        return ("bool", bool(v))
    if t == "NULL":
        return ("null", None)
    if t == "M":
        return ("doc", {k: expected_value(x, round34) for k, x in v.items()})
    if t == "L":
        return ("array", tuple(expected_value(x, round34) for x in v))
    if t == "SS":
        return ("array", tuple(("string", x) for x in sorted(v, key=lambda s: s.encode())))
    if t == "BS":
        return ("array", tuple(("binary0", bytes(x)) for x in sorted(bytes(b) for b in v)))
    if t == "NS":
        return ("array", tuple(number(x, round34) for x in sorted(v, key=Decimal)))
    raise CheckError(f"unknown attribute type {t}")


def expected_doc(item, hash_name, range_name, round34):
    """(tagged _id, key order of _id or None, tagged document)."""
    doc = {}
    for name, av in item.items():
        doc["_dynamodb_id" if name == "_id" else name] = expected_value(av, round34)
    if range_name is None:
        _id = expected_value(item[hash_name], round34)
        order = None
    else:
        _id = ("doc", {hash_name: expected_value(item[hash_name], round34),
                       range_name: expected_value(item[range_name], round34)})
        order = [hash_name, range_name]
    doc["_id"] = _id
    return _id, order, ("doc", doc)


# ------------------------------------------------------------------ actual values

def actual_value(v):
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, Int64):
        return ("int64", int(v))
    if isinstance(v, int):
        return ("int32", v)
    if isinstance(v, Decimal128):
        return ("decimal", v.to_decimal())
    if isinstance(v, str):
        return ("string", v)
    if isinstance(v, Binary):         # before bytes: Binary is a bytes subclass
        return (f"binary{v.subtype}", bytes(v))
    if isinstance(v, bytes):          # pymongo decodes binary subtype 0 as plain bytes
        return ("binary0", bytes(v))
    if v is None:
        return ("null", None)
    if isinstance(v, dict):
        return ("doc", {k: actual_value(x) for k, x in v.items()})
    if isinstance(v, list):
        return ("array", tuple(actual_value(x) for x in v))
    if isinstance(v, float):
        return ("double", v)
    return (type(v).__name__, repr(v))


def hkey(tv):
    """Hashable form of a tagged value (decimals by value), to index documents by _id."""
    tag, v = tv
    if tag == "doc":
        return (tag, tuple(sorted((k, hkey(x)) for k, x in v.items())))
    if tag == "array":
        return (tag, tuple(hkey(x) for x in v))
    if tag == "decimal":
        with localcontext() as ctx:
            ctx.prec = 400  # normalize() rounds to the context precision
            return (tag, str(v.normalize()) if v != 0 else "0")
    return tv


def show(tv, limit=120):
    tag, v = tv
    if tag == "doc":
        s = "{" + ", ".join(f"{k}: {show(x, limit)}" for k, x in v.items()) + "}"
    elif tag == "array":
        s = "[" + ", ".join(show(x, limit) for x in v) + "]"
    elif tag in ("string",):
        s = repr(v)
    elif tag.startswith("binary"):
        s = f"{tag}({v.hex()})"
    elif tag == "null":
        s = "null"
    else:
        s = f"{tag}({v})"
    return s if len(s) <= limit else s[:limit - 3] + "..."


def first_diff(exp, act, path=""):
    """Path and both values of the first difference, or None."""
    et, ev = exp
    at, av = act
    if et != at:
        return path or "(value)", exp, act
    if et == "doc":
        for k in sorted(set(ev) | set(av)):
            p = f"{path}.{k}" if path else k
            if k not in av:
                return p, ev[k], ("absent", None)
            if k not in ev:
                return p, ("absent", None), av[k]
            d = first_diff(ev[k], av[k], p)
            if d:
                return d
        return None
    if et == "array":
        if len(ev) != len(av):
            return f"{path} (length {len(ev)} vs {len(av)})", exp, act
        for i, (x, y) in enumerate(zip(ev, av)):
            d = first_diff(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if et == "decimal":
        return None if ev == av else (path or "(value)", exp, act)
    return None if ev == av else (path or "(value)", exp, act)


# ------------------------------------------------------------------ source / target

def ddb_client(endpoint):
    cfg = Config(retries={"max_attempts": 5, "mode": "standard"},
                 connect_timeout=5, read_timeout=60)
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testbed"),
                        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY",
                                                             "testbed"),
                        config=cfg)


def list_tables(ddb):
    out = []
    for page in ddb.get_paginator("list_tables").paginate():
        out.extend(page["TableNames"])
    return out


def key_schema(ddb, table):
    try:
        ks = ddb.describe_table(TableName=table)["Table"]["KeySchema"]
    except ClientError as e:
        raise CheckError(f"DescribeTable {table}: {e}") from e
    h = next(k["AttributeName"] for k in ks if k["KeyType"] == "HASH")
    r = next((k["AttributeName"] for k in ks if k["KeyType"] == "RANGE"), None)
    return h, r


def scan(ddb, table):
    kw = {"TableName": table, "ConsistentRead": True}
    while True:
        page = ddb.scan(**kw)
        yield from page["Items"]
        if "LastEvaluatedKey" not in page:
            return
        kw["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class Report:
    def __init__(self, max_print):
        self.max_print = max_print
        self.counts = {"MISSING": 0, "EXTRA": 0, "DIFFERENT": 0, "UNMAPPABLE": 0}
        self.lines = []

    def add(self, kind, text):
        self.counts[kind] += 1
        if len(self.lines) < self.max_print:
            self.lines.append(f"{kind:<10} {text}")

    def total(self):
        return sum(self.counts.values())


def check_table(ddb, mongo, table, dest, round34, rep):
    hname, rname = key_schema(ddb, table)
    expected = {}
    n_items = 0
    for item in scan(ddb, table):
        n_items += 1
        try:
            _id, order, doc = expected_doc(item, hname, rname, round34)
        except Unmappable as e:
            k = {hname: item[hname]} | ({rname: item[rname]} if rname else {})
            rep.add("UNMAPPABLE", f"{table} key={k}: {e}")
            continue
        expected[hkey(_id)] = (order, doc)
    db, coll = dest
    opts = CodecOptions(document_class=SON)
    c = mongo[db].get_collection(coll, codec_options=opts)
    seen = set()
    for raw in c.find({}, batch_size=1000):
        act = actual_value(raw)
        act_id = act[1].get("_id", ("absent", None))
        k = hkey(act_id)
        if k not in expected:
            rep.add("EXTRA", f"{table} ({db}.{coll}) _id={show(act_id)}")
            continue
        seen.add(k)
        order, exp = expected[k]
        if order is not None:
            got = list(raw["_id"].keys()) if isinstance(raw["_id"], dict) else None
            if got != order:
                rep.add("DIFFERENT", f"{table} _id={show(act_id)} _id field order: "
                                     f"expected={order} target={got}")
                continue
        d = first_diff(exp, act)
        if d:
            path, e, a = d
            rep.add("DIFFERENT", f"{table} _id={show(act_id)} {path}: "
                                 f"expected={show(e)} target={show(a)}")
    for k, (order, exp) in expected.items():
        if k not in seen:
            rep.add("MISSING", f"{table} ({db}.{coll}) _id={show(exp[1]['_id'])}")
    return n_items


def parse_maps(specs):
    out = {}
    for s in specs:
        t, sep, dest = s.partition("=")
        db, dot, coll = dest.partition(".")
        if not sep or not dot or not t or not db or not coll:
            raise CheckError(f"--map wants TABLE=db.coll, got {s!r}")
        out[t] = (db, coll)
    return out


def run_once(a, ddb, mongo, maps):
    tables = a.table or [t for t in list_tables(ddb) if t.startswith(a.table_prefix)]
    if not tables:
        raise CheckError("no source table to check")
    rep = Report(a.max_print)
    counts = {}
    for t in tables:
        counts[t] = check_table(ddb, mongo, t, maps.get(t, ("dynamodb", t)),
                                a.round_over34, rep)
    count_errors = []
    for spec in a.expect_count:
        t, sep, n = spec.rpartition("=")
        got = counts.get(t) if sep else sum(counts.values())
        if got is None:
            count_errors.append(f"--expect-count {spec}: table {t} not checked")
        elif got != int(n):
            count_errors.append(f"--expect-count {spec}: source has {got} items")
    return rep, counts, count_errors


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", default=os.environ.get("DYNAMODB_URL"),
                   help="DynamoDB endpoint URL (default $DYNAMODB_URL)")
    p.add_argument("--target", required=True, help="target MongoDB URI")
    p.add_argument("--table", action="append", default=[], help="source table (repeatable)")
    p.add_argument("--table-prefix", default="", help="all tables starting with this")
    p.add_argument("--map", action="append", default=[], metavar="TABLE=db.coll")
    p.add_argument("--expect-count", action="append", default=[], metavar="N|TABLE=N")
    p.add_argument("--round-over34", action="store_true",
                   help="expect numbers with > 34 significant digits rounded half-even")
    p.add_argument("--max-print", type=int, default=20)
    p.add_argument("--wait", type=float, default=0,
                   help="retry until identical for up to this many seconds")
    a = p.parse_args()
    if not a.endpoint:
        p.error("--endpoint or $DYNAMODB_URL is required")
    try:
        maps = parse_maps(a.map)
        for spec in a.expect_count:
            int(spec.rpartition("=")[2])
    except (CheckError, ValueError) as e:
        print(f"dynamodb_checker: error: {e}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    try:
        ddb = ddb_client(a.endpoint)
        with pymongo.MongoClient(a.target, serverSelectionTimeoutMS=10000) as mongo:
            while True:
                rep, counts, count_errors = run_once(a, ddb, mongo, maps)
                ok = rep.total() == 0 and not count_errors
                if ok or time.monotonic() - t0 >= a.wait:
                    break
                time.sleep(1)
    except (CheckError, ClientError, BotoCoreError, PyMongoError) as e:
        print(f"dynamodb_checker: error: {e}", file=sys.stderr)
        return 2
    for line in rep.lines:
        print(line)
    if rep.total() > len(rep.lines):
        print(f"... {rep.total() - len(rep.lines)} more differences not printed")
    for line in count_errors:
        print(f"COUNT      {line}")
    summary = " ".join(f"{t}={n}" for t, n in counts.items())
    secs = time.monotonic() - t0
    if ok:
        print(f"dynamodb_checker: IDENTICAL: {len(counts)} tables, "
              f"{sum(counts.values())} items ({summary}) in {secs:.1f}s")
        return 0
    diff = " ".join(f"{k.lower()}={v}" for k, v in rep.counts.items())
    print(f"dynamodb_checker: DIFFERENT: {diff} count_errors={len(count_errors)} "
          f"({summary}) in {secs:.1f}s")
    return 1


if __name__ == "__main__":
    sys.exit(main())

"""DynamoDB tables for the end-to-end tests (boto3 against moto; endpoint, region and
credentials from the AWS_* environment), and checks of what docshift wrote (pymongo).

  dynamodb_tables.py create PREFIX N        a hash-only table PREFIXh and a hash+range
                                            table PREFIXhr (streams on), N items each of
                                            several types; PREFIXh also gets one item whose
                                            number Decimal128 cannot hold (key "bad")
  dynamodb_tables.py delete PREFIX          deletes PREFIX* tables
  dynamodb_tables.py check URI DB N         the target holds exactly the convertible items
                                            (counts, no duplicates, spot-checked types)
"""
import sys
from decimal import Decimal

import boto3

BIG = 2**40


def h_item(i):
    return {
        "pk": f"k{i:06d}",
        "i32": i,
        "i64": BIG + i,
        "dec": Decimal(f"{i}.25"),
        "bin": bytes([i % 256, 1, 2]),
        "ss": {f"s{(i * 7) % 5}", "zz", "aa"},
        "ns": {Decimal(3), Decimal(-1), Decimal(i % 3 + 10)},
        "bs": {b"\x02", b"\x01"},
        "m": {"x": i, "l": [1, "two", True, None]},
        "flag": i % 2 == 0,
        "pad": "p" * (i % 300),
    }


def hr_item(i):
    return {"h": i % 37, "r": f"r{i:06d}", "v": i, "name": f"n{i}"}


def create(prefix, n):
    ddb = boto3.resource("dynamodb")
    stream = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    th = ddb.create_table(TableName=prefix + "h", BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          StreamSpecification=stream)
    thr = ddb.create_table(TableName=prefix + "hr", BillingMode="PAY_PER_REQUEST",
                           KeySchema=[{"AttributeName": "h", "KeyType": "HASH"},
                                      {"AttributeName": "r", "KeyType": "RANGE"}],
                           AttributeDefinitions=[{"AttributeName": "h", "AttributeType": "N"},
                                                 {"AttributeName": "r", "AttributeType": "S"}],
                           StreamSpecification=stream)
    th.wait_until_exists()
    thr.wait_until_exists()
    with th.batch_writer() as w:
        for i in range(n):
            w.put_item(Item=h_item(i))
    with thr.batch_writer() as w:
        for i in range(n):
            w.put_item(Item=hr_item(i))
    # 38 significant digits: DynamoDB holds it, Decimal128 (34) cannot.
    boto3.client("dynamodb").put_item(
        TableName=prefix + "h",
        Item={"pk": {"S": "bad"}, "toolong": {"N": "12345678901234567890123456789012345678"}})


def delete(prefix):
    c = boto3.client("dynamodb")
    for t in c.list_tables().get("TableNames", []):
        if t.startswith(prefix):
            c.delete_table(TableName=t)


def check(uri, db, n):
    from bson.decimal128 import Decimal128
    from pymongo import MongoClient
    d = MongoClient(uri, serverSelectionTimeoutMS=5000)[db]
    errors = []
    for coll, want in (("h", n), ("hr", n)):
        ids = [x["_id"] for x in d[coll].find({}, {"_id": 1})]
        if len(ids) != want:
            errors.append(f"{coll}: {len(ids)} documents, want {want}")
        keys = {repr(sorted(x.items())) if isinstance(x, dict) else repr(x) for x in ids}
        if len(keys) != len(ids):
            errors.append(f"{coll}: {len(ids) - len(keys)} duplicate _ids")
    if d.h.find_one({"_id": "bad"}) is not None:
        errors.append("the item Decimal128 cannot hold is on the target")
    for i in (0, 1, 7, n - 1):
        doc = d.h.find_one({"_id": f"k{i:06d}"})
        if doc is None:
            errors.append(f"h: k{i:06d} missing")
            continue
        want = {
            "pk": f"k{i:06d}", "i32": i, "i64": BIG + i, "dec": Decimal128(f"{i}.25"),
            "bin": bytes([i % 256, 1, 2]), "ss": sorted({f"s{(i * 7) % 5}", "zz", "aa"}),
            "ns": sorted({3, -1, i % 3 + 10}), "bs": [b"\x01", b"\x02"],
            "m": {"x": i, "l": [1, "two", True, None]}, "flag": i % 2 == 0,
        }
        for k, v in want.items():
            if doc.get(k) != v:
                errors.append(f"h k{i:06d}.{k}: {doc.get(k)!r}, want {v!r}")
    # int32 vs int64: pymongo decodes both as int; ask the server for the BSON type.
    for field, t in (("i32", "int"), ("i64", "long"), ("dec", "decimal"), ("bin", "binData")):
        if d.h.count_documents({"_id": "k000001", field: {"$type": t}}) != 1:
            errors.append(f"h k000001.{field} is not BSON {t}")
    doc = d.hr.find_one({"_id": {"h": 5, "r": "r000005"}})
    if doc is None or doc.get("v") != 5 or doc.get("h") != 5:
        errors.append(f"hr: {{h: 5, r: r000005}} is {doc!r}")
    if errors:
        print("\n".join(errors[:20]))
        sys.exit(1)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "create":
        create(sys.argv[2], int(sys.argv[3]))
    elif cmd == "delete":
        delete(sys.argv[2])
    elif cmd == "check":
        check(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(f"unknown command {cmd}")

"""Data for tests/e2e/dynamodb_verify_test.sh.

Writes DynamoDB items with boto3 (the low-level client: AttributeValue JSON as DynamoDB
sees it) and, independently of docshift, the target documents those items become by the
documented mapping (aws/dynamodb_types.h, issue #12 "Type mapping"):
  N -> int32 / int64 when an integer that fits, else Decimal128; S -> string;
  B -> binary subtype 0; BOOL; NULL -> null; M -> document; L -> array;
  SS / NS / BS -> arrays sorted (strings and binaries by bytes, numbers by value);
  _id = the hash key value, or {hash: v, range: v} for hash + range; key attributes
  also stay top-level.

Usage:
  dynamodb_verify_data.py load ENDPOINT TARGET_URI DB HASH_TABLE HR_TABLE
  dynamodb_verify_data.py mutate TARGET_URI DB          (one changed, one deleted, one added)
  dynamodb_verify_data.py badnumber ENDPOINT HASH_TABLE (an item no BSON type holds)
  dynamodb_verify_data.py drop ENDPOINT TABLE...
"""
import sys
from decimal import Decimal

import boto3
from bson import Binary, Decimal128, Int64
from pymongo import MongoClient


def dynamo(endpoint):
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def number(text):
    """The BSON value a DynamoDB number becomes."""
    d = Decimal(text)
    if d == d.to_integral_value() and "." not in text and "e" not in text.lower():
        v = int(d)
        if -2**31 <= v < 2**31:
            return v
        if -2**63 <= v < 2**63:
            return Int64(v)
    return Decimal128(text)


# Hash-only table, key pk (S). Each: (item as AttributeValues, expected document).
def hash_items():
    blob = b"\x00\x01\xfe\xff"
    items = []
    items.append(({
        "pk": {"S": "a"},
        "small": {"N": "42"},
        "big": {"N": "9007199254740993"},
        "dec": {"N": "3.14"},
        "neg": {"N": "-7"},
        "s": {"S": "héllo"},
        "b": {"B": blob},
        "t": {"BOOL": True},
        "f": {"BOOL": False},
        "z": {"NULL": True},
        "m": {"M": {"x": {"N": "1"}, "y": {"S": "why"}, "inner": {"M": {"deep": {"L": [{"N": "2"}]}}}}},
        "l": {"L": [{"N": "1"}, {"S": "two"}, {"BOOL": False}, {"NULL": True}]},
        "ss": {"SS": ["pear", "apple", "fig"]},
        "ns": {"NS": ["10", "2", "-1.5", "300000000000"]},
        "bs": {"BS": [b"\x02", b"\x01\x00", b"\x01"]},
    }, {
        "_id": "a", "pk": "a", "small": 42, "big": Int64(9007199254740993), "dec": Decimal128("3.14"),
        "neg": -7, "s": "héllo", "b": Binary(blob, 0), "t": True, "f": False, "z": None,
        "m": {"x": 1, "y": "why", "inner": {"deep": [2]}},
        "l": [1, "two", False, None],
        "ss": ["apple", "fig", "pear"],
        "ns": [Decimal128("-1.5"), 2, 10, Int64(300000000000)],
        "bs": [Binary(b"\x01", 0), Binary(b"\x01\x00", 0), Binary(b"\x02", 0)],
    }))
    for k in ["b", "c", "d", "e"]:
        items.append(({"pk": {"S": k}, "n": {"N": str(ord(k))}, "note": {"S": "item " + k}},
                      {"_id": k, "pk": k, "n": ord(k), "note": "item " + k}))
    return items


# Hash + range table, keys user (N) and ts (S).
def hr_items():
    items = []
    for user in [1, 2, 3000000000]:
        for ts in ["2024-01-01", "2024-01-02"]:
            items.append(({"user": {"N": str(user)}, "ts": {"S": ts}, "qty": {"N": "0.5"},
                           "tags": {"SS": ["z", "y"]}},
                          {"_id": {"user": number(str(user)), "ts": ts}, "user": number(str(user)), "ts": ts,
                           "qty": Decimal128("0.5"), "tags": ["y", "z"]}))
    return items


def create(client, name, keys):
    schema = [{"AttributeName": keys[0][0], "KeyType": "HASH"}]
    defs = [{"AttributeName": keys[0][0], "AttributeType": keys[0][1]}]
    if len(keys) > 1:
        schema.append({"AttributeName": keys[1][0], "KeyType": "RANGE"})
        defs.append({"AttributeName": keys[1][0], "AttributeType": keys[1][1]})
    client.create_table(TableName=name, KeySchema=schema, AttributeDefinitions=defs,
                        BillingMode="PAY_PER_REQUEST")
    client.get_waiter("table_exists").wait(TableName=name)


def load(endpoint, target, db, t_hash, t_hr):
    client = dynamo(endpoint)
    create(client, t_hash, [("pk", "S")])
    create(client, t_hr, [("user", "N"), ("ts", "S")])
    tdb = MongoClient(target, serverSelectionTimeoutMS=5000)[db]
    for table, coll, items in [(t_hash, "h", hash_items()), (t_hr, "hr", hr_items())]:
        for item, doc in items:
            client.put_item(TableName=table, Item=item)
        tdb[coll].insert_many([doc for _, doc in items])


def mutate(target, db):
    tdb = MongoClient(target, serverSelectionTimeoutMS=5000)[db]
    # Changed: one field of "b".
    r = tdb.h.update_one({"_id": "b"}, {"$set": {"note": "changed behind docshift's back"}})
    assert r.matched_count == 1
    # Missing on the target: a hash + range document.
    r = tdb.hr.delete_one({"_id": {"user": 2, "ts": "2024-01-02"}})
    assert r.deleted_count == 1
    # Extra on the target.
    tdb.h.insert_one({"_id": "zz-extra", "pk": "zz-extra"})


def badnumber(endpoint, t_hash):
    # 38 significant digits: DynamoDB holds it, Decimal128 holds 34.
    dynamo(endpoint).put_item(TableName=t_hash, Item={
        "pk": {"S": "bad-number"}, "price": {"N": "12345678901234567890123456789012345678"}})


def drop(endpoint, tables):
    client = dynamo(endpoint)
    for t in tables:
        try:
            client.delete_table(TableName=t)
        except client.exceptions.ResourceNotFoundException:
            pass


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "load":
        load(*args)
    elif cmd == "mutate":
        mutate(*args)
    elif cmd == "badnumber":
        badnumber(*args)
    elif cmd == "drop":
        drop(args[0], args[1:])
    else:
        sys.exit("unknown command " + cmd)

#!/usr/bin/env python3
"""Loads N items into a fresh DynamoDB table for bench/dynamodb/run.sh (boto3 only).

  load.py --endpoint URL --table T --items N [--threads 2] [--region us-east-1]

(Re)creates T (hash key pk S, PAY_PER_REQUEST, stream NEW_AND_OLD_IMAGES, as
tests/workload/dynamodb_workload.py makes its tables), then writes N items with
BatchWriteItem (25 a call, unprocessed items retried), so the stream holds exactly N
INSERT records. Items are YCSB-like with DynamoDB types, about 1.2 KB as BSON:

  pk "user000000000042", field0..field9: 100-character strings (S),
  n: an integer (N -> int32/int64), price: a decimal (N -> Decimal128),
  tags: SS, meta: M {a: N, b: S, flag: BOOL}

Deterministic (item i is a function of i). Prints LOAD_ITEMS, LOAD_SECONDS and
LOAD_ITEMS_PER_S. Exit 0, 1 on a service error.
"""

import argparse
import random
import sys
import threading
import time

import boto3
from botocore.config import Config

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
         "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon"]


def item(i):
    r = random.Random(i)
    it = {"pk": {"S": "user%012d" % i}}
    for f in range(10):
        s = ""
        while len(s) < 100:
            s += r.choice(WORDS) + str(r.randint(0, 999)) + " "
        it["field%d" % f] = {"S": s[:100]}
    it["n"] = {"N": str(r.randint(-2**40, 2**40))}
    it["price"] = {"N": "%d.%02d" % (r.randint(0, 99999), r.randint(0, 99))}
    it["tags"] = {"SS": sorted({r.choice(WORDS) for _ in range(3)})}
    it["meta"] = {"M": {"a": {"N": str(r.randint(0, 1000))}, "b": {"S": r.choice(WORDS)},
                        "flag": {"BOOL": r.random() < 0.5}}}
    return it


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--table", required=True)
    ap.add_argument("--items", type=int, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--region", default="us-east-1")
    a = ap.parse_args()
    cfg = Config(retries={"max_attempts": 10, "mode": "standard"}, max_pool_connections=a.threads + 2)
    ddb = boto3.client("dynamodb", endpoint_url=a.endpoint, region_name=a.region,
                       aws_access_key_id="bench", aws_secret_access_key="bench", config=cfg)
    try:
        ddb.delete_table(TableName=a.table)
        ddb.get_waiter("table_not_exists").wait(TableName=a.table, WaiterConfig={"Delay": 0.2})
    except ddb.exceptions.ResourceNotFoundException:
        pass
    ddb.create_table(TableName=a.table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST",
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    ddb.get_waiter("table_exists").wait(TableName=a.table, WaiterConfig={"Delay": 0.2})
    t0 = time.time()
    errors = []
    lock = threading.Lock()
    nxt = [0]

    def worker():
        try:
            while True:
                with lock:
                    b = nxt[0]
                    nxt[0] += 25
                if b >= a.items:
                    return
                reqs = [{"PutRequest": {"Item": item(i)}} for i in range(b, min(a.items, b + 25))]
                while reqs:
                    out = ddb.batch_write_item(RequestItems={a.table: reqs})
                    reqs = out.get("UnprocessedItems", {}).get(a.table, [])
        except Exception as e:  # noqa: BLE001 (reported, exit 1)
            errors.append(e)

    ts = [threading.Thread(target=worker) for _ in range(a.threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        print("load.py: %s" % errors[0], file=sys.stderr)
        return 1
    secs = time.time() - t0
    print("LOAD_ITEMS=%d" % a.items)
    print("LOAD_SECONDS=%.3f" % secs)
    print("LOAD_ITEMS_PER_S=%.1f" % (a.items / secs))
    return 0


if __name__ == "__main__":
    sys.exit(main())

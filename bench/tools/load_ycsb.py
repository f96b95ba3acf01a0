#!/usr/bin/env python3
"""Loads YCSB-like documents for bench/tools/compare.sh (same shape as bench/synth.h's YCSB
documents): _id "user<12 digits>", field0..field9 of 100 characters of words and numbers,
about 1.17 KB of BSON each. Deterministic for a given --seed.

  build/venv/bin/python bench/tools/load_ycsb.py --uri "$SOURCE_OPLOG_URI" --db bench_tools \
      --docs 100000 --colls 1 --drop

Collections are usertable (one collection) or usertable0..usertable{C-1}, documents dealt
round-robin. Prints one line: docs, bytes of BSON, seconds, docs/s.
"""

import argparse
import random
import sys
import time

try:
    import bson
    import pymongo
except ImportError:  # pragma: no cover
    sys.exit("load_ycsb.py needs pymongo: use build/venv/bin/python (scripts/testbed.sh up)")

WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
         "incididunt ut labore et dolore magna aliqua enim ad minim veniam quis nostrud "
         "exercitation ullamco laboris nisi aliquip ex ea commodo consequat duis aute irure "
         "in reprehenderit voluptate velit esse cillum eu fugiat nulla pariatur").split()


def field(rng):
    parts, n = [], 0
    while n < 100:
        w = rng.choice(WORDS) if rng.random() < 0.8 else str(rng.randrange(1_000_000))
        parts.append(w)
        n += len(w) + 1
    return " ".join(parts)[:100]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--uri", required=True)
    ap.add_argument("--db", default="bench_tools")
    ap.add_argument("--docs", type=int, default=100000)
    ap.add_argument("--colls", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--drop", action="store_true", help="drop the database first")
    a = ap.parse_args()
    if a.docs < 1 or a.colls < 1:
        ap.error("--docs and --colls must be at least 1")
    client = pymongo.MongoClient(a.uri, serverSelectionTimeoutMS=10000)
    db = client[a.db]
    if a.drop:
        client.drop_database(a.db)
    names = ["usertable"] if a.colls == 1 else [f"usertable{i}" for i in range(a.colls)]
    rng = random.Random(a.seed)
    # A pool of field values: generating 10 fresh strings per document in Python would make
    # the loader, not the server, the bottleneck. Documents still differ field by field.
    pool = [field(rng) for _ in range(4096)]
    t0 = time.monotonic()
    total_bytes = 0
    pending = {n: [] for n in names}
    for i in range(a.docs):
        doc = {"_id": f"user{i:012d}"}
        for f in range(10):
            doc[f"field{f}"] = pool[rng.randrange(len(pool))]
        total_bytes += len(bson.encode(doc)) if i < 1000 else 0
        name = names[i % len(names)]
        pending[name].append(doc)
        if len(pending[name]) >= a.batch:
            db[name].insert_many(pending[name], ordered=False)
            pending[name] = []
    for name, docs in pending.items():
        if docs:
            db[name].insert_many(docs, ordered=False)
    secs = time.monotonic() - t0
    avg = total_bytes / min(a.docs, 1000)
    counted = sum(db[n].count_documents({}) for n in names)
    print(f"load_ycsb: {a.docs} docs into {a.db}.{{{','.join(names)}}} (counted {counted}), "
          f"~{avg:.0f} B BSON/doc, {secs:.1f} s, {a.docs / secs:.0f} docs/s")
    return 0 if counted == a.docs else 1


if __name__ == "__main__":
    sys.exit(main())

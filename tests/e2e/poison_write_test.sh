#!/usr/bin/env bash
# End-to-end: a write the target refuses by closing the connection (issue #12: "a target
# that refuses a value's type must yield a dead letter naming the attribute, never a
# reconnect loop"). FerretDB v1.24 closes the connection on any document holding a
# Decimal128 (tests/README.md); DynamoDB numbers of 10+ digits with a fraction become
# Decimal128. A spool (bench/make_spool --events_json, change events in MongoDB's
# documented format) holds 6 inserts into one collection, 2 of them with a Decimal128
# (one nested); apply into FerretDB must:
#   - finish (--stop_when_drained) instead of retrying for ever;
#   - write the 4 other documents;
#   - dead-letter the 2, each naming the field that holds the Decimal128 (price, m.x).
# The old binary retried the bulk for ever ("transient error ... retrying").
#
# Usage: poison_write_test.sh DOCSHIFT MAKE_SPOOL. TARGET_URI and TESTBED_PYTHON from
# build/testbed.env (unset: exit 77, or fail under CI).
set -uo pipefail
DS=$1
MK=$2
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init poison_write TARGET_URI TARGET_URI "e2epoison$$_"
echo "poison_write_test: prefix $PREFIX, work dir $WORK"

"$PY" - "$PREFIX" "$WORK/events.json" <<'PYEOF' || fail "cannot write the events"
import json, sys
db = sys.argv[1] + "db"
docs = [{"_id": 1, "v": "a"}, {"_id": 2, "price": {"$numberDecimal": "12345.678901"}}, {"_id": 3, "v": "c"},
        {"_id": 4, "m": {"y": 1, "x": {"$numberDecimal": "1.5"}}}, {"_id": 5, "v": "e"}, {"_id": 6, "v": "f"}]
with open(sys.argv[2], "w") as f:
    for n, d in enumerate(docs, 1):
        # https://www.mongodb.com/docs/manual/reference/change-events/insert/
        f.write(json.dumps({"_id": {"_data": "82%08d" % n}, "operationType": "insert",
                            "clusterTime": {"$timestamp": {"t": 1700000000, "i": n}},
                            "ns": {"db": db, "coll": "c"}, "documentKey": {"_id": d["_id"]},
                            "fullDocument": d}) + "\n")
PYEOF
"$MK" --spool "$SPOOL" --events 0 --events_json "$WORK/events.json" >"$WORK/mk.log" 2>&1 || fail "make_spool failed"
timeout 300 "$DS" apply --spool "$SPOOL" --target "$TGT" --stop_when_drained >"$WORK/apply.log" 2>&1
rc=$?
[ $rc -ne 124 ] || fail "apply was still retrying after 300 s (a reconnect loop)"
[ $rc -le 1 ] || fail "apply exited $rc"
n=$("$PY" - "$TGT" "${PREFIX}db" <<'PYEOF'
import sys
from pymongo import MongoClient
print(sorted(d["_id"] for d in MongoClient(sys.argv[1])[sys.argv[2]].c.find()))
PYEOF
)
[ "$n" = "[1, 3, 5, 6]" ] || fail "the target holds $n, expected [1, 3, 5, 6]"
"$DS" inspect deadletters --spool "$SPOOL" >"$WORK/dlq.out" 2>&1 || fail "inspect deadletters failed"
[ "$(grep -c '"seq"' "$WORK/dlq.out")" -eq 2 ] || fail "expected 2 dead letters: $(head -c 800 "$WORK/dlq.out")"
grep -q "closed the connection.*Decimal128 values, which this document has in: price" "$WORK/dlq.out" \
  || fail "the dead letter does not name price: $(head -c 800 "$WORK/dlq.out")"
grep -q "Decimal128 values, which this document has in: m.x" "$WORK/dlq.out" \
  || fail "the dead letter does not name m.x: $(head -c 800 "$WORK/dlq.out")"
echo "poison_write_test: apply finished (exit $rc), 4 documents written, 2 dead-lettered naming price and m.x"

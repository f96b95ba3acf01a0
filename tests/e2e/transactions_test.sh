#!/usr/bin/env bash
# End-to-end (issue #11, section 3): a multi-document transaction through capture and apply.
#
# The source is FerretDB's oplog (SOURCE_OPLOG_URI). FerretDB has no transactions, so the
# transaction's applyOps entry is written into its local.oplog.rs by hand, in the format
# a replica set primary writes for a committed transaction (MongoDB 4.0+: op "c",
# ns "admin.$cmd", o.applyOps, lsid, txnNumber, prevOpTime; see
# https://www.mongodb.com/docs/manual/core/transactions-production-consideration/ and
# the oplog entries of src/mongo/db/repl/oplog_entry.idl).
#
# Checks:
# - the transaction's 40 operations reach the spool in order, consecutive, each with the
#   transaction's lsid and txnNumber (inspect dump);
# - apply (default --transactions=per_event) writes all 40 to the target;
# - apply --transactions=atomic is refused at start, with one line naming the target and
#   the way out, by both test-bed servers that lack transactions (FerretDB: "unknown
#   field startTransaction"; mongo-java-server: no sessions), exit 3, and writes nothing:
#   no test-bed server can run a transaction, so the commit path is not exercised here
#   (README, "Transactions");
# - --transactions with a bad value: exit 2, one line.
#
# Usage: transactions_test.sh DOCSHIFT   (env: SOURCE_OPLOG_URI, TARGET_URI, SOURCE_CS_URI,
# TESTBED_PYTHON from build/testbed.env)
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init transactions SOURCE_OPLOG_URI TARGET_URI "e2etxn$$_"
JAVA=${SOURCE_CS_URI:-}
[ -n "$JAVA" ] || fail "SOURCE_CS_URI is not set (build/testbed.env)"
echo "transactions_test: prefix $PREFIX"
"$PY" - "$SRC" "$PREFIX" <<'PYEOF' || fail "cannot prepare the source"
import sys
from pymongo import MongoClient
MongoClient(sys.argv[1])[sys.argv[2] + "db"]["orders"].insert_one({"_id": "before", "v": 0})
PYEOF
"$DS" capture --source "$SRC" --source_kind oplog --spool "$SPOOL" --include "${PREFIX}*" \
  --progress_interval 5s >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -qs "capture: ready" "$WORK/capture.log" || fail "capture did not become ready"
"$PY" - "$SRC" "$PREFIX" <<'PYEOF' || fail "cannot write the transaction's oplog entry"
import sys, uuid, datetime
from bson import Int64, Binary, Timestamp
from pymongo import MongoClient, DESCENDING
c = MongoClient(sys.argv[1])
db = sys.argv[2] + "db"
oplog = c.local["oplog.rs"]
last = oplog.find_one(sort=[("$natural", DESCENDING)])
ts = Timestamp(last["ts"].time + 1, 1)
ops = []
for i in range(30):
    ops.append({"op": "i", "ns": db + ".orders", "ui": Binary(uuid.uuid4().bytes, 4), "o": {"_id": i, "v": "txn"}})
for i in range(10):
    ops.append({"op": "i", "ns": db + ".lines", "ui": Binary(uuid.uuid4().bytes, 4), "o": {"_id": i, "order": i}})
oplog.insert_one({
    "ts": ts, "t": Int64(1), "v": 2, "op": "c", "ns": "admin.$cmd", "wall": datetime.datetime.now(datetime.timezone.utc),
    "o": {"applyOps": ops},
    "lsid": {"id": Binary(uuid.uuid4().bytes, 4), "uid": Binary(b"\x00" * 32, 0)},
    "txnNumber": Int64(7), "prevOpTime": {"ts": Timestamp(0, 0), "t": Int64(-1)},
})
# A later write, so the transaction is followed by an event that is not part of it.
c[db]["orders"].insert_one({"_id": "after", "v": 1})
PYEOF
spooled() { [ "$("$DS" inspect dump --spool "$SPOOL" 2>/dev/null | grep -c '"after"')" -ge 1 ]; }
wait_for 60 spooled || fail "the write after the transaction did not reach the spool in 60 s"
kill -INT "$cap_pid"; wait "$cap_pid"; rc=$?; cap_pid=""
[ "$rc" -eq 0 ] || fail "capture exited $rc on SIGINT"

"$DS" inspect dump --spool "$SPOOL" >"$WORK/dump.json" 2>"$WORK/dump.log" || fail "inspect dump failed"
"$PY" - "$WORK/dump.json" "$PREFIX" <<'PYEOF' || fail "the spool does not hold the transaction whole and in order"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
db = sys.argv[2] + "db"
mine = [e for e in events if e.get("ns", "").startswith(db + ".")]
txn = [i for i, e in enumerate(mine) if e.get("txnNumber") == 7]
assert len(txn) == 40, f"{len(txn)} of 40 transaction events in the spool"
assert txn == list(range(txn[0], txn[0] + 40)), f"the transaction's events are not consecutive: {txn}"
colls = [mine[i]["ns"].split(".", 1)[1] for i in txn]
assert colls == ["orders"] * 30 + ["lines"] * 10, f"order changed: {colls}"
assert all("lsid" in mine[i] for i in txn), "an event lost the transaction's lsid"
print(f"transactions_test: 40 transaction events at spool positions {txn[0]}..{txn[-1]} of {len(mine)}, in order")
PYEOF

# atomic: refused at start by both servers that lack transactions; nothing written.
for tgt in "$TGT" "$JAVA"; do
  "$DS" apply --spool "$SPOOL" --target "$tgt" --name atomic --transactions=atomic --stop_when_drained \
    >"$WORK/atomic.out" 2>"$WORK/atomic.log"
  rc=$?
  [ "$rc" -eq 3 ] || fail "apply --transactions=atomic on $tgt exited $rc, not 3"
  grep -q -- "--transactions=atomic: target mongodb://127.0.0.1:" "$WORK/atomic.log" ||
    fail "the refusal does not name the target: $(tail -1 "$WORK/atomic.log")"
  grep -q -- "--transactions=per_event" "$WORK/atomic.log" || fail "the refusal does not say what to do"
  ls "$SPOOL"/checkpoints/atomic* >/dev/null 2>&1 && fail "a refused apply wrote a checkpoint"
  echo "transactions_test: refused as expected: $(grep -- '--transactions=atomic' "$WORK/atomic.log" | tail -1)"
done
"$PY" - "$TGT" "$PREFIX" <<'PYEOF' || fail "a refused atomic apply wrote to the target"
import sys
from pymongo import MongoClient
n = MongoClient(sys.argv[1])[sys.argv[2] + "db"]["orders"].count_documents({})
assert n == 0, f"{n} documents written"
PYEOF

"$DS" apply --spool "$SPOOL" --target "$TGT" --transactions=sometimes >"$WORK/bad.out" 2>"$WORK/bad.log"
rc=$?
[ "$rc" -eq 2 ] || fail "--transactions=sometimes exited $rc, not 2"
[ "$(wc -l <"$WORK/bad.log")" -eq 1 ] && grep -q "per_event or atomic" "$WORK/bad.log" ||
  fail "--transactions=sometimes: $(cat "$WORK/bad.log")"

# per_event (the default): every operation of the transaction is written.
"$DS" apply --spool "$SPOOL" --target "$TGT" --stop_when_drained >"$WORK/apply.out" 2>"$WORK/apply.log" ||
  fail "apply failed"
"$PY" - "$TGT" "$PREFIX" <<'PYEOF' || fail "the target does not hold the transaction's writes"
import sys
from pymongo import MongoClient
db = MongoClient(sys.argv[1])[sys.argv[2] + "db"]
o = db["orders"].count_documents({"v": "txn"})
l = db["lines"].count_documents({})
assert (o, l) == (30, 10), f"orders {o}/30, lines {l}/10"
assert db["orders"].count_documents({"_id": "after"}) == 1, "the write after the transaction is missing"
PYEOF
echo "transactions_test: PASS"

#!/usr/bin/env bash
# End-to-end: `docshift snapshot --source dynamodb://...` against a real moto server
# (issue #12, "Snapshot (parallel Scan)"), into mongo-java-server (FerretDB drops the
# connection on Decimal128).
#
# 1. Two tables with streams on: hash-only (PREFIXh, with one item whose number Decimal128
#    cannot hold) and hash+range (PREFIXhr), E2E_DY_ITEMS items each of several types.
# 2. The spool: `docshift capture --source dynamodb://...` when this build's capture reads
#    DynamoDB; until then bench/make_spool --start_position (an empty spool with the
#    source's identity and a recorded start position, which is all the snapshot reads of
#    it: nothing is applied here).
# 3. A missing table: one line naming it and the endpoint, non-zero exit.
# 4. A snapshot throttled by --max_rcu 1 is SIGKILLed mid-copy; what it copied by then is
#    within the budget (loosely); the rerun continues segments from their saved
#    LastEvaluatedKey and finishes: every item on the target once, types spot-checked, the
#    unconvertible item in deadletter/snapshot.dlq by its key, naming the attribute.
#
# Usage: dynamodb_snapshot_test.sh DOCSHIFT MAKE_SPOOL. DYNAMODB_URL (moto), SOURCE_CS_URI
# (the target) and TESTBED_PYTHON (with boto3 and pymongo) from build/testbed.env. Unset:
# exit 77 (ctest: skipped, with the reason printed), or fail when CI is set.
set -uo pipefail
DS=$1
MK=$2
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init dynamodb_snapshot DYNAMODB_URL SOURCE_CS_URI "e2edysnap$$_"
if ! "$PY" -c 'import boto3, pymongo' 2>/dev/null; then
  echo "dynamodb_snapshot_test: $PY has no boto3 or pymongo; run scripts/testbed.sh up"
  [ -n "${CI:-}" ] && exit 1
  exit 77
fi
N=${E2E_DY_ITEMS:-3000}
DB=${PREFIX}db
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL=$SRC
unset AWS_PROFILE AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_DYNAMODB_STREAMS
TABLES="${PREFIX}h,${PREFIX}hr"
URI="dynamodb://us-east-1/$TABLES"
MAPS="dynamodb.${PREFIX}h=$DB.h,dynamodb.${PREFIX}hr=$DB.hr"
alive() { kill -0 "$1" 2>/dev/null; }
count() {
  "$PY" - "$TGT" "$DB" <<'EOF'
import sys
from pymongo import MongoClient
d = MongoClient(sys.argv[1], serverSelectionTimeoutMS=5000)[sys.argv[2]]
print(d.h.estimated_document_count() + d.hr.estimated_document_count())
EOF
}
e2e_on_exit() {
  "$PY" "$HERE/dynamodb_tables.py" delete "$PREFIX" 2>/dev/null
  "$PY" - "$TGT" "$DB" <<'EOF' 2>/dev/null
import sys
from pymongo import MongoClient
MongoClient(sys.argv[1], serverSelectionTimeoutMS=5000).drop_database(sys.argv[2])
EOF
}
echo "dynamodb_snapshot_test: prefix $PREFIX, $N items a table, work dir $WORK"

# --- 1. the tables ---
"$PY" "$HERE/dynamodb_tables.py" create "$PREFIX" "$N" >"$WORK/create.log" 2>&1 \
  || fail "cannot create the tables: $(tail -3 "$WORK/create.log")"

# --- 2. the spool ---
if "$DS" capture --help 2>&1 | grep -q 'dynamodb://'; then
  "$DS" capture --source "$URI" --spool "$SPOOL" >"$WORK/capture.log" 2>&1 &
  cap_pid=$!
  wait_for 60 grep -q "capture: ready" "$WORK/capture.log" || fail "capture did not become ready"
  echo "  spool by docshift capture"
else
  "$MK" --spool "$SPOOL" --events 0 --start_position --source_kind dynamodb \
    --source_id "dynamodb:us-east-1@$SRC" >"$WORK/mk.log" 2>&1 || fail "make_spool failed: $(cat "$WORK/mk.log")"
  echo "  spool by make_spool --start_position (this build's capture does not read DynamoDB)"
fi

# --- 3. a missing table: one line, naming it and the endpoint ---
"$DS" snapshot --source "dynamodb://us-east-1/${PREFIX}h,${PREFIX}nope" --target "$TGT" --spool "$SPOOL" \
  --progress none >"$WORK/missing.out" 2>"$WORK/missing.err"
rc=$?
[ "$rc" -ne 0 ] || fail "a snapshot of a missing table exited 0"
[ "$(wc -l <"$WORK/missing.err")" -eq 1 ] || fail "a missing table: not one line: $(cat "$WORK/missing.err")"
grep -q "'${PREFIX}nope' does not exist at $SRC" "$WORK/missing.err" \
  || fail "a missing table: the line does not name the table and the endpoint: $(cat "$WORK/missing.err")"
echo "  missing table (exit $rc): $(cat "$WORK/missing.err")"

# --- 4. throttled, SIGKILLed, resumed ---
# moto charges 0.5 read units a Scan page: at --max_rcu 1 and 50 items a page, at most
# ~100 items/s (plus a second of budget up front).
RCU=1
PAGE=50
t0=$SECONDS
"$DS" snapshot --source "$URI" --target "$TGT" --spool "$SPOOL" --map "$MAPS" --parallel 2 \
  --batch_docs $PAGE --max_rcu $RCU --progress lines --progress_interval 500ms >"$WORK/snapshot.1.log" 2>&1 &
snap_pid=$!
wait_for 60 grep -q "Scan segment" "$WORK/snapshot.1.log" || fail "the snapshot did not plan"
sleep 6
alive "$snap_pid" || fail "the snapshot ended before it could be killed: $(tail -3 "$WORK/snapshot.1.log")"
copied=$(count)
elapsed=$((SECONDS - t0))
kill -9 "$snap_pid"; wait "$snap_pid" 2>/dev/null
snap_pid=""
# Loosely: twice the budget's items plus one page per segment in flight.
limit=$(( (elapsed + 1) * RCU * 2 * PAGE * 2 + 8 * PAGE ))
[ "$copied" -gt 0 ] || fail "the throttled snapshot copied nothing in ${elapsed}s"
[ "$copied" -le "$limit" ] || fail "--max_rcu $RCU: $copied items in ${elapsed}s (expected at most ~$limit)"
echo "  SIGKILL after ${elapsed}s, $copied items copied (--max_rcu $RCU allows ~$(( (elapsed + 1) * RCU * 2 * PAGE )))"

"$DS" snapshot --source "$URI" --target "$TGT" --spool "$SPOOL" --map "$MAPS" --parallel 4 \
  --progress none >"$WORK/snapshot.2.log" 2>&1
rc=$?
# Exit 1 when this run met the unconvertible item, 0 when the killed run had already
# dead-lettered it and saved a position past it (the dead letter is checked below).
[ "$rc" -le 1 ] || fail "the resumed snapshot exited $rc: $(tail -3 "$WORK/snapshot.2.log")"
[ "$rc" -eq 0 ] || grep -q "1 documents not written" "$WORK/snapshot.2.log" \
  || fail "the resumed snapshot exited 1 but does not count one unconverted item: $(tail -3 "$WORK/snapshot.2.log")"
grep -q "resumed and finished" "$WORK/snapshot.2.log" || fail "the second run did not resume: $(tail -3 "$WORK/snapshot.2.log")"
grep -q "continues after its last copied page" "$WORK/snapshot.2.log" \
  || fail "no segment continued from its saved LastEvaluatedKey"
echo "  $(grep -c "continues after its last copied page" "$WORK/snapshot.2.log") segment(s) continued from a saved key;" \
  "$(grep "resumed and finished" "$WORK/snapshot.2.log" | sed 's/^docshift snapshot: //')"

"$PY" "$HERE/dynamodb_tables.py" check "$TGT" "$DB" "$N" >"$WORK/check.log" 2>&1 \
  || fail "the target is not the tables: $(cat "$WORK/check.log")"
"$DS" inspect deadletters --spool "$SPOOL" >"$WORK/dlq.out" 2>&1 || fail "inspect deadletters failed: $(cat "$WORK/dlq.out")"
[ "$(grep -c '"toolong' "$WORK/dlq.out")" -ge 1 ] && grep -q '"documentKey": { "_id" : "bad" }' "$WORK/dlq.out" \
  || fail "the unconvertible item is not dead-lettered by its key and attribute: $(head -c 1500 "$WORK/dlq.out")"
echo "dynamodb_snapshot_test: $((2 * N)) items on the target once each, types as mapped, the unconvertible one dead-lettered"

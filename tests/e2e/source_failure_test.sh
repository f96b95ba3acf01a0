#!/usr/bin/env bash
# End-to-end: capture survives a source restart, and refuses to start from a position the
# source no longer holds instead of skipping ahead.
#
# Uses the test bed's FerretDB oplog source: kills it with SIGKILL and restarts it with
# scripts/testbed.sh up while capture runs.
#
# Usage: source_failure_test.sh DOCSHIFT
# Needs SOURCE_OPLOG_URI and TESTBED_PYTHON (build/testbed.env); unset: exit 77 (ctest:
# skipped, reason printed), or fail when CI is set.
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
if [ -z "${SOURCE_OPLOG_URI:-}" ] || [ -z "${TESTBED_PYTHON:-}" ]; then
  echo "source_failure_test: SOURCE_OPLOG_URI or TESTBED_PYTHON is not set; run scripts/testbed.sh up and source build/testbed.env"
  [ -n "${CI:-}" ] && exit 1
  exit 77
fi
SRC=$SOURCE_OPLOG_URI
PY=$TESTBED_PYTHON
WORK=$ROOT/build/e2e-tmp/source_failure_$$
PREFIX="e2efail$$_"
PIDFILE=$ROOT/build/testbed/run/fdb-oplog.pid
rm -rf "$WORK"
mkdir -p "$WORK"
cap=""
cleanup() {
  [ -n "$cap" ] && kill -9 "$cap" 2>/dev/null
  "$ROOT/scripts/testbed.sh" up >/dev/null 2>&1  # leave the source running for later tests
  drop_prefix "$PREFIX" "$SRC" 2>/dev/null
  [ "${passed:-0}" = 1 ] && rm -rf "$WORK"
}
trap cleanup EXIT
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
fail() { echo "FAIL: $*" >&2; [ -f "$WORK/cap.log" ] && tail -8 "$WORK/cap.log" >&2; exit 1; }
insert() {  # insert FROM TO [PAD_BYTES]; retries while the source restarts
  "$PY" - "$SRC" "$PREFIX" "$1" "$2" "${3:-100}" <<'EOF'
import sys
from pymongo import MongoClient
c = MongoClient(sys.argv[1], serverSelectionTimeoutMS=20000)[sys.argv[2] + "db"]["docs"]
pad = int(sys.argv[5])
for i in range(int(sys.argv[3]), int(sys.argv[4]) + 1):
    c.insert_one({"_id": i, "pad": ("%08d" % i) * (pad // 8)})
EOF
}
events() { "$DS" inspect stats --spool "$WORK/spool" 2>/dev/null | awk '$1=="TOTAL"{print $2}'; }
have_events() { [ "$(events)" = "$1" ]; }

"$DS" capture --source "$SRC" --source_kind oplog --spool "$WORK/spool" --include "${PREFIX}*" \
  --oplog_max_await 2s >"$WORK/cap.log" 2>&1 &
cap=$!
wait_for 60 grep -q "capture: ready" "$WORK/cap.log" || fail "capture did not become ready"
insert 1 50 || fail "insert 1..50"
wait_for 60 have_events 50 || fail "capture did not get the first 50 inserts (has $(events))"

# --- the source dies and comes back; capture retries and carries on
[ -f "$PIDFILE" ] || fail "no pid file $PIDFILE"
kill -9 "$(cat "$PIDFILE")"
wait_for 60 grep -q "oplog: .*retrying with backoff" "$WORK/cap.log" || fail "capture did not report the lost source"
kill -0 "$cap" || fail "capture exited when the source died"
"$ROOT/scripts/testbed.sh" up >"$WORK/testbed.log" 2>&1 || fail "testbed did not restart: $(tail -3 "$WORK/testbed.log")"
insert 51 100 || fail "insert 51..100"
wait_for 120 have_events 100 || fail "capture did not get the inserts after the restart (has $(events))"
grep -q "oplog: recovered" "$WORK/cap.log" || fail "capture did not log its recovery"
kill -0 "$cap" || fail "capture is gone"
echo "  capture survived a source restart: 100 of 100 events"

kill -TERM "$cap"
wait "$cap" || fail "capture did not stop cleanly"
cap=""

# --- a start position the oplog no longer covers: capture must refuse, not skip ahead.
"$DS" capture --source "$SRC" --source_kind oplog --spool "$WORK/spool2" --start_at 1 \
  --oplog_max_await 2s >"$WORK/cap2.log" 2>&1
rc=$?
[ $rc -eq 3 ] || { tail -5 "$WORK/cap2.log"; fail "capture with --start_at 1: exit $rc, expected 3"; }
tail -1 "$WORK/cap2.log" | grep -q "FailedPrecondition: oplog: the source no longer holds the position .*older than the oldest oplog entry.*new snapshot" \
  || { tail -3 "$WORK/cap2.log"; fail "capture did not say the oplog no longer reaches back to --start_at"; }
[ "$("$DS" inspect stats --spool "$WORK/spool2" | awk '$1=="TOTAL"{print $2}')" = "0" ] || fail "capture wrote events it should not have"
echo "  capture refused an uncovered start position: $(tail -1 "$WORK/cap2.log" | cut -c1-110)..."

# --- the same on resume: while capture is stopped, the capped oplog rolls past the spool's
# position (writes to a database capture does not include); a restart must refuse.
# Polls until the oldest oplog entry is newer than every entry capture could have seen
# (the test bed trims the capped oplog every few seconds), never a fixed sleep.
"$PY" - "$SRC" "e2eflood$$" <<'EOF' || fail "could not roll the oplog over"
import sys, time
from pymongo import MongoClient
c = MongoClient(sys.argv[1], serverSelectionTimeoutMS=20000)
oplog = c.local["oplog.rs"]
newest = oplog.find_one(sort=[("$natural", -1)])["ts"]
coll, blob, deadline = c[sys.argv[2]]["flood"], "x" * 1000, time.time() + 240
while oplog.find_one(sort=[("$natural", 1)])["ts"] <= newest:
    if time.time() > deadline: sys.exit("the oplog did not roll over in 240 s")
    coll.insert_many([{"b": blob} for _ in range(500)])
c.drop_database(sys.argv[2])
EOF
"$DS" capture --source "$SRC" --source_kind oplog --spool "$WORK/spool" --include "${PREFIX}*" \
  --oplog_max_await 2s >"$WORK/cap3.log" 2>&1
rc=$?
[ $rc -eq 3 ] || { tail -5 "$WORK/cap3.log"; fail "capture resuming past a rolled-over oplog: exit $rc, expected 3"; }
tail -1 "$WORK/cap3.log" | grep -q "no longer holds the position this spool resumes from.*new snapshot" \
  || { tail -3 "$WORK/cap3.log"; fail "capture did not say the spool is no longer continuous"; }
[ "$(events)" = "100" ] || fail "capture changed the spool after refusing (has $(events) events)"
echo "  capture refused to resume past a rolled-over oplog: $(tail -1 "$WORK/cap3.log" | cut -c1-110)..."
passed=1
echo "source_failure_test: PASS"

#!/usr/bin/env bash
# End-to-end (issue #11): capture with more per-collection change streams than its first
# client pool holds. Each stream keeps a pooled client for its life; with the pool capped
# at 64, the 65th stream waited for a client for ever and capture never became ready
# (the per-collection fallback and Cosmos DB mode both hit it). 300 collections on
# mongo-java-server (it refuses a deployment-wide stream, so capture falls back to one
# stream per collection): capture must report ready with 300 streams and capture a write
# made to each of them afterwards.
#
# Usage: many_streams_test.sh DOCSHIFT   (env: SOURCE_CS_URI, TESTBED_PYTHON)
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
N=${MANY_STREAMS_N:-300}
e2e_init many_streams SOURCE_CS_URI SOURCE_CS_URI "e2emany$$_"
echo "many_streams_test: prefix $PREFIX, $N collections"

"$PY" - "$SRC" "$PREFIX" "$N" <<'PYEOF' || fail "cannot create the collections"
import sys
from pymongo import MongoClient
db = MongoClient(sys.argv[1])[sys.argv[2] + "db"]
for i in range(int(sys.argv[3])):
    db.create_collection("c%03d" % i)
PYEOF

"$DS" capture --source "$SRC" --spool "$SPOOL" --include "${PREFIX}*" --progress_interval 5s \
  >"$WORK/capture.log" 2>&1 &
cap_pid=$!
ready() { grep -q "capture: ready" "$WORK/capture.log"; }
wait_for 180 ready || fail "capture did not become ready with $N streams"
grep -m1 "capture: ready" "$WORK/capture.log" | grep -q "ready: $N source stream" ||
  fail "capture became ready with the wrong number of streams: $(grep -m1 'capture: ready' "$WORK/capture.log")"
echo "  $(grep -m1 'capture: ready' "$WORK/capture.log" | sed 's/^.*\] //')"

"$PY" - "$SRC" "$PREFIX" "$N" <<'PYEOF' || fail "the writes failed"
import sys
from pymongo import MongoClient
db = MongoClient(sys.argv[1])[sys.argv[2] + "db"]
for i in range(int(sys.argv[3])):
    db["c%03d" % i].insert_one({"_id": i, "v": "written after ready"})
PYEOF

captured() {
  local n
  n=$("$DS" inspect stats --spool "$SPOOL" 2>/dev/null | grep -c "^ *${PREFIX}db\.c[0-9]* ")
  [ "${n:-0}" -ge "$N" ]
}
wait_for 180 captured || {
  "$DS" inspect stats --spool "$SPOOL" >"$WORK/stats.log" 2>&1
  fail "not every collection's write reached the spool ($(grep -c "${PREFIX}db\.c" "$WORK/stats.log") of $N namespaces)"
}
kill -INT "$cap_pid"; wait "$cap_pid"; rc=$?; cap_pid=""
[ "$rc" -eq 0 ] || fail "capture exited $rc on SIGINT"
events=$("$DS" inspect dump --spool "$SPOOL" --op insert | grep -c '"written after ready"')
[ "$events" -eq "$N" ] || fail "expected $N insert events in the spool, found $events"
echo "many_streams_test: PASS ($N streams, $events events, one per collection)"

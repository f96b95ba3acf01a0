#!/usr/bin/env bash
# End-to-end (issue #11): capture with more per-collection change streams than its first
# client pool holds. Each stream keeps a pooled client for its life; with the pool capped
# at 64, the 65th stream waited for a client for ever and capture never became ready
# (the per-collection fallback and Cosmos DB mode both hit it). 300 collections on
# mongo-java-server (it refuses a deployment-wide stream, so capture falls back to one
# stream per collection): capture must report ready with 300 streams and capture a write
# made to each of them afterwards.
#
# The test runs its own mongo-java-server (TESTBED_JAVA_JAR), fresh and with 128 worker
# threads: that server holds each change stream's getMore for 100 ms on one of its netty
# worker threads (2 x cores by default) and scans its whole in-memory oplog for every
# one, so 300 streams on the shared server, after the other tests have filled its oplog,
# left the test's own writes queued behind them for minutes (CI timed out at 600 s).
#
# Usage: many_streams_test.sh DOCSHIFT   (env: TESTBED_JAVA_JAR, TESTBED_PYTHON)
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
N=${MANY_STREAMS_N:-300}
e2e_init many_streams TESTBED_JAVA_JAR TESTBED_JAVA_JAR "e2emany$$_"
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
java -Xmx1g -jar "$TESTBED_JAVA_JAR" --port "$port" --worker-threads 128 >"$WORK/javaserver.log" 2>&1 &
java_pid=$!
e2e_on_exit() { kill "$java_pid" 2>/dev/null; wait "$java_pid" 2>/dev/null; SRC="" TGT=""; }
SRC="mongodb://127.0.0.1:$port/?directConnection=true"
TGT=$SRC
"$PY" "$TESTBED_READY" wait "$SRC" --deadline 60 --pid "$java_pid" || fail "mongo-java-server did not start"
echo "many_streams_test: prefix $PREFIX, $N collections, own mongo-java-server on port $port"

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
stop_start=$SECONDS
kill -INT "$cap_pid"; wait "$cap_pid"; rc=$?; cap_pid=""
[ "$rc" -eq 0 ] || fail "capture exited $rc on SIGINT"
echo "  capture stopped $((SECONDS - stop_start)) s after SIGINT"
events=$("$DS" inspect dump --spool "$SPOOL" --op insert | grep -c '"written after ready"')
[ "$events" -eq "$N" ] || fail "expected $N insert events in the spool, found $events"
echo "many_streams_test: PASS ($N streams, $events events, one per collection)"

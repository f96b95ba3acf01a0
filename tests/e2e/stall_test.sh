#!/usr/bin/env bash
# End-to-end (issue #16, items 7 and 8): stalled connections. capture reads the source and
# apply writes the target through TCP proxies (blackhole_proxy.py) that, on a signal, stop
# forwarding on every open connection without closing it: a dead network path or a hung
# server, which the client only notices by waiting. With libmongoc's defaults both
# processes sat silent for 5 minutes and capture showed "lag 0" all along. Now:
#   - during the stall capture's status stops saying caught up and shows a growing lag;
#   - a write of apply's stuck on a black-holed target connection fails after the default
#     stall timeout (60 s), is logged, and is retried on a new connection;
#   - within the default stall timeout plus a reconnect, capture logs the stall once,
#     reconnects and the writes made meanwhile reach the target;
#   - SIGINT to a capture whose reader is stuck in a black-holed read exits within 5 s,
#     and so does one whose source is gone altogether (the proxy killed).
# Source: mongo-java-server (SOURCE_CS_URI); target: FerretDB (TARGET_URI).
#
# Usage: stall_test.sh DOCSHIFT [CAPTURE_FLAG...]   (env: SOURCE_CS_URI, TARGET_URI, TESTBED_PYTHON)
# CAPTURE_FLAGs are added to every capture run (e.g. --change_stream_cursor=raw).
set -uo pipefail
DS=$1
shift
CAPTURE_FLAGS=("$@")
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init stall SOURCE_CS_URI TARGET_URI "e2estall$$_"
proxies=()
e2e_on_exit() { for p in "${proxies[@]}"; do kill "$p" 2>/dev/null; done; }
hostport() { "$PY" -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(p.hostname, p.port)' "$1"; }
start_proxy() {  # NAME URI: starts a proxy to URI's host; sets ${NAME}_uri
  local name=$1 h p
  read -r h p < <(hostport "$2")
  "$PY" "$HERE/blackhole_proxy.py" "$h" "$p" "$WORK/$name.state" 2>"$WORK/$name.log" &
  proxies+=($!)
  eval "${name}_pid=$!"
  wait_for 20 test -s "$WORK/$name.state" || fail "proxy $name did not start"
  eval "${name}_uri='mongodb://127.0.0.1:$(awk '/^port/ {print $2}' "$WORK/$name.state")/?directConnection=true'"
}
start_proxy src "$SRC"
start_proxy tgt "$TGT"
echo "stall_test: prefix $PREFIX; capture via $src_uri, apply via $tgt_uri"

"$PY" - "$SRC" "$PREFIX" <<'PYEOF' || fail "cannot create the source collection"
import sys
from pymongo import MongoClient
MongoClient(sys.argv[1])[sys.argv[2] + "db"].create_collection("c")
PYEOF
"$DS" capture --source "$src_uri" --spool "$SPOOL" --include "${PREFIX}*" --progress_interval 2s \
  "${CAPTURE_FLAGS[@]}" >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -q "capture: ready" "$WORK/capture.log" || fail "capture did not become ready"
"$DS" apply --spool "$SPOOL" --target "$tgt_uri" --progress_interval 2s >"$WORK/apply.log" 2>&1 &
app_pid=$!

insert() {  # FIRST COUNT, straight to the source (not through the proxy)
  "$PY" - "$SRC" "$PREFIX" "$1" "$2" <<'PYEOF'
import sys
from pymongo import MongoClient
c = MongoClient(sys.argv[1])[sys.argv[2] + "db"]["c"]
first, n = int(sys.argv[3]), int(sys.argv[4])
c.insert_many([{"_id": first + i, "v": "stall"} for i in range(n)])
PYEOF
}
target_has() {  # N: the target holds N documents (read straight from it)
  [ "$("$PY" - "$TGT" "$PREFIX" <<'PYEOF'
import sys
from pymongo import MongoClient
print(MongoClient(sys.argv[1])[sys.argv[2] + "db"]["c"].count_documents({}))
PYEOF
)" = "$1" ]
}
insert 0 5 || fail "the first writes failed"
wait_for 60 target_has 5 || fail "the first 5 documents did not reach the target"

# 1. The target stalls under apply: its next write hangs on a black-holed connection.
kill -USR1 "$tgt_pid"
ta=$SECONDS
insert 5 5 || fail "the writes during the target's stall failed"
wait_for 100 target_has 10 || fail "apply did not get past a stalled target connection within 100 s"
took_a=$((SECONDS - ta))
echo "  target stall: the 5 writes reached the target $took_a s after apply's connection was black-holed"
[ "$took_a" -le 90 ] || fail "apply took $took_a s to get past a stalled target (stall timeout 60 s)"
grep -q "transient error writing to ${PREFIX}db.c" "$WORK/apply.log" ||
  fail "apply did not log the stalled write"

# 2. The source stalls under capture.
kill -USR1 "$src_pid" "$tgt_pid"
t0=$SECONDS
echo "  black-holed every open connection of capture and apply"
insert 10 5 || fail "the writes during the stall failed"

# While stalled: capture must stop claiming to be caught up, and show lag.
lagging() {
  "$DS" status --spool "$SPOOL" --json 2>/dev/null | "$PY" -c '
import json, sys
c = json.load(sys.stdin)["capture"]
sys.exit(0 if not c["caught_up"] and c["lag_seconds"] >= 10 else 1)'
}
wait_for 45 lagging || fail "45 s into the stall capture's status still says caught up or lag < 10 s: $("$DS" status --spool "$SPOOL" --json 2>&1 | tr -d '\n' | head -c 400)"
echo "  status during the stall: not caught up, lag >= 10 s (after $((SECONDS - t0)) s)"

wait_for 100 target_has 15 || fail "the writes made during the stall did not reach the target within 100 s"
took=$((SECONDS - t0))
echo "  recovered: the 5 writes made during the stall reached the target $took s after it began"
[ "$took" -le 90 ] || fail "recovery took $took s (stall timeout 60 s + reconnect)"
n_warn=$(grep -c 'did not answer within socketTimeoutMS' "$WORK/capture.log")
[ "$n_warn" -ge 1 ] || fail "capture did not say its connection stalled"
[ "$n_warn" -eq 1 ] || fail "capture warned about the stall $n_warn times, not once"

# A stop while the reader is stuck in a black-holed read.
kill -USR1 "$src_pid"
stuck() { [ "$(awk '/^swallowed/ {print $2}' "$WORK/src.state")" -gt 0 ]; }
wait_for 30 stuck || fail "capture sent nothing into the second black hole"
stop_within 5 "$cap_pid" "capture during a stall"; cap_pid=""
stop_took=$stopped_in
echo "  SIGINT during a stall: capture exited 0 in $stop_took s"
"$DS" inspect verify --spool "$SPOOL" >"$WORK/verify.log" 2>&1 || fail "the spool does not verify after the stop"
n=$("$DS" inspect dump --spool "$SPOOL" --op insert | grep -c '"stall"')
[ "$n" -eq 15 ] || fail "expected 15 insert events in the spool, found $n"
kill -INT "$app_pid"; wait "$app_pid"; app_pid=""

# A stop while the source is gone altogether (the proxy killed: connections reset, new
# ones refused, so server selection waits up to 30 s per call, discovery included): the
# old capture took 30-60 s to exit.
start_proxy gone "$SRC"
"$DS" capture --source "$gone_uri" --spool "$WORK/spool2" --include "${PREFIX}*" --progress_interval 2s \
  "${CAPTURE_FLAGS[@]}" >"$WORK/capture2.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -qs "capture: ready" "$WORK/capture2.log" || fail "the second capture did not become ready"
kill -TERM "$gone_pid"; wait "$gone_pid" 2>/dev/null
# Within a discovery interval (5 s) discovery is waiting on server selection too.
wait_for 20 grep -qs "capture: 0 events/s" "$WORK/capture2.log" || fail "capture stopped reporting progress"
n0=$(grep -c "capture: 0 events/s" "$WORK/capture2.log")
progressed() { [ "$(grep -c "capture: 0 events/s" "$WORK/capture2.log")" -ge $((n0 + 3)) ]; }
wait_for 20 progressed || fail "capture's writer loop stalled with its source gone (no progress line for 20 s)"
stop_within 5 "$cap_pid" "capture with its source gone"; cap_pid=""
gone_took=$stopped_in
echo "  SIGINT with the source gone: capture exited 0 in $gone_took s"
if [[ " ${CAPTURE_FLAGS[*]} " == *" --change_stream_cursor=raw "* ]]; then
  for f in "$WORK/capture.log" "$WORK/capture2.log"; do
    grep -q "change streams open with docshift's own cursor" "$f" || fail "$f: capture did not use docshift's own cursor"
  done
fi
echo "stall_test: PASS (target stall passed in $took_a s, source stall noticed and recovered in $took s, stop in $stop_took s, with the source gone in $gone_took s)"

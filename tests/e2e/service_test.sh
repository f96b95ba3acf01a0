#!/usr/bin/env bash
# End-to-end: capture and apply run as services (issue #14), against the test bed.
#
# A small Python stand-in for systemd's notification socket (notify_listener.py) is
# started for each process, which runs with NOTIFY_SOCKET pointing at it (capture also with
# WATCHDOG_USEC, as systemd sets it for WatchdogSec). Checked:
#   - sd_notify: capture sends READY=1 with "capture: ready", WATCHDOG=1 keep-alives and
#     STATUS= progress lines; apply sends READY=1 once it reads the spool and, with no
#     WATCHDOG_USEC, no WATCHDOG=1; both send STOPPING=1 on SIGTERM and exit 0.
#   - --http_listen: /metrics and /progress (the keys of `status --json`, can_cutover true
#     once in sync), 404 elsewhere; apply on 0.0.0.0 logs the beyond-loopback warning.
#   - SIGHUP: capture (--log_dir) closes its log file and goes on in a new one, twice;
#     apply (stderr) says there is no file to reopen; both keep replicating afterwards.
#
# Usage: service_test.sh DOCSHIFT
# URIs from SOURCE_CS_URI, TARGET_URI and TESTBED_PYTHON (build/testbed.env). Unset:
# exit 77 (ctest: skipped), or fail when CI is set.
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init service SOURCE_CS_URI TARGET_URI "sv_e2e$$_"
E2E_TAIL_LINES=15
listener_pids=""
e2e_on_exit() { for p in $listener_pids; do kill -9 "$p" 2>/dev/null; done; }
echo "service_test: prefix $PREFIX, work dir $WORK"

# A unix socket path must stay under 108 bytes: the sockets live in a short temp dir.
SOCKS=$(mktemp -d /tmp/docshift-notify.XXXXXX)
trap 'e2e_cleanup; rm -rf "$SOCKS"' EXIT
start_listener() {  # NAME: $SOCKS/NAME.sock → $WORK/NAME.notify
  "$PY" "$HERE/notify_listener.py" "$SOCKS/$1.sock" "$WORK/$1.notify" >"$WORK/$1.listener" 2>&1 &
  listener_pids="$listener_pids $!"
  wait_for 20 grep -q listening "$WORK/$1.listener" || fail "notify listener $1 did not start"
}
notified() { grep -q -- "$2" "$WORK/$1.notify" 2>/dev/null; }       # NAME PATTERN
count_notified() { grep -c -- "$2" "$WORK/$1.notify" 2>/dev/null || true; }
target_count() {
  "$PY" -c 'import sys; from pymongo import MongoClient
print(MongoClient(sys.argv[1])[sys.argv[2] + "0"]["c0"].count_documents({}))' "$TGT" "$PREFIX"
}
has_docs() { [ "$(target_count)" -ge "$1" ]; }
insert_docs() {  # FROM N
  "$PY" -c 'import sys; from pymongo import MongoClient
c = MongoClient(sys.argv[1])[sys.argv[2] + "0"]["c0"]
a, n = int(sys.argv[3]), int(sys.argv[4])
c.insert_many([{"_id": i, "v": "x" * 20} for i in range(a, a + n)])' "$SRC" "$PREFIX" "$1" "$2" ||
    fail "cannot write to the source"
}

read -r CAP_PORT APP_PORT < <("$PY" -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')

drop_prefix "$PREFIX" "$SRC" "$TGT" || fail "cannot reach the servers"
"$PY" -c 'import sys; from pymongo import MongoClient
MongoClient(sys.argv[1])[sys.argv[2] + "0"].create_collection("c0")' "$SRC" "$PREFIX" ||
  fail "cannot create the source collection"

# 1. capture under a notify socket with a 600 ms watchdog, logging to files.
start_listener cap
mkdir -p "$WORK/caplogs"
NOTIFY_SOCKET=$SOCKS/cap.sock WATCHDOG_USEC=600000 \
  "$DS" capture --source "$SRC" --source_kind mongo --spool "$SPOOL" --include "${PREFIX}*" \
  --http_listen "127.0.0.1:$CAP_PORT" --progress_interval 1s --log_dir "$WORK/caplogs" \
  >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 notified cap "READY=1" || fail "capture never sent READY=1: $(cat "$WORK/cap.notify" 2>/dev/null)"
grep -q "^READY=1|STATUS=capture: ready: " "$WORK/cap.notify" || fail "READY=1 without capture's ready status: $(grep READY "$WORK/cap.notify")"
three_pings() { [ "$(count_notified cap '^WATCHDOG=1$')" -ge 3 ]; }
wait_for 10 three_pings || fail "capture sent $(count_notified cap '^WATCHDOG=1$') WATCHDOG=1 in 10 s (WATCHDOG_USEC 600 ms)"
wait_for 10 notified cap "^STATUS=capture: .* events/s" || fail "capture sent no STATUS= progress line"
echo "  capture: READY=1, $(count_notified cap '^WATCHDOG=1$') WATCHDOG=1, STATUS: $(grep -m1 '^STATUS=capture: .*events/s' "$WORK/cap.notify" | cut -c1-70)..."

# 2. apply under a notify socket, no watchdog, HTTP on every interface.
start_listener app
NOTIFY_SOCKET=$SOCKS/app.sock \
  "$DS" apply --spool "$SPOOL" --target "$TGT" --http_listen "0.0.0.0:$APP_PORT" \
  --checkpoint_interval 300ms --progress_interval 1s >"$WORK/apply.log" 2>&1 &
app_pid=$!
wait_for 60 notified app "READY=1" || fail "apply never sent READY=1"
grep -q "^READY=1|STATUS=apply 'apply': ready: reading the spool from seq 1" "$WORK/app.notify" ||
  fail "apply's READY=1 status is wrong: $(grep READY "$WORK/app.notify")"
grep -q "is reachable beyond loopback" "$WORK/apply.log" || fail "apply on 0.0.0.0 logged no warning"
echo "  apply: READY=1 ($(grep -m1 READY "$WORK/app.notify" | cut -d'|' -f2)); beyond-loopback warning logged"

insert_docs 0 50
wait_for 60 has_docs 50 || fail "only $(target_count) of 50 documents reached the target"

# 3. HTTP: /metrics, /progress (as status --json), 404.
get() { curl -sf --max-time 5 "http://127.0.0.1:$1$2"; }
# /metrics is rendered at each status report (every second), so it may trail the target by up
# to one report: wait for the report that counts the 50 events rather than reading it once.
cap_counted() {
  get "$CAP_PORT" /metrics >"$WORK/cap.metrics" || return 1
  awk '$1 == "docshift_capture_events_total" && $2 >= 50 { f = 1 } END { exit !f }' "$WORK/cap.metrics"
}
wait_for 10 cap_counted ||
  fail "capture /metrics: docshift_capture_events_total is not >= 50: $(grep '^docshift_capture_events_total' "$WORK/cap.metrics")"
get "$APP_PORT" /metrics >"$WORK/app.metrics" || fail "apply /metrics failed"
grep -q '^docshift_apply_events_total ' "$WORK/app.metrics" || fail "apply /metrics has no docshift_apply_events_total"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$CAP_PORT/nope")
[ "$code" = 404 ] || fail "GET /nope answered $code, not 404"
js() { "$PY" -c "import json,sys; s=json.load(open(sys.argv[1])); print($1)" "$2"; }
progress_in_sync() {
  get "$1" /progress >"$WORK/progress.json" &&
    [ "$(js 's["state"] == "in sync" and s["can_cutover"] is True and s["cutover_blocked_by"] is None and s["gap_in_seconds"] == 0' "$WORK/progress.json")" = True ]
}
wait_for 30 progress_in_sync "$APP_PORT" || fail "apply /progress never showed in sync with can_cutover: $(cat "$WORK/progress.json")"
wait_for 30 progress_in_sync "$CAP_PORT" || fail "capture /progress never showed in sync with can_cutover: $(cat "$WORK/progress.json")"
"$DS" status --spool "$SPOOL" --json >"$WORK/status.json" || fail "status --json failed"
same_keys=$("$PY" -c 'import json,sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
print(sorted(a) == sorted(b) and sorted(a["capture"]) == sorted(b["capture"]) and sorted(a["apply"]) == sorted(b["apply"]))' \
  "$WORK/progress.json" "$WORK/status.json")
[ "$same_keys" = True ] || fail "/progress and status --json have different keys"
echo "  /progress: state $(js 's["state"]' "$WORK/progress.json"), can_cutover $(js 's["can_cutover"]' "$WORK/progress.json"), capture lag $(js 's["capture"]["lag_seconds"]' "$WORK/progress.json") s; same keys as status --json"

# 4. SIGHUP: capture rotates its log files (twice), apply (stderr) only flushes.
info_files() { ls "$WORK"/caplogs/docshift.*.log.INFO.* 2>/dev/null | wc -l; }
[ "$(info_files)" -eq 1 ] || fail "expected one INFO log file before SIGHUP, found $(info_files)"
first=$(readlink -f "$WORK/caplogs/docshift.INFO")
for n in 1 2; do
  kill -HUP "$cap_pid"
  files_are() { [ "$(info_files)" -eq "$1" ]; }
  wait_for 10 files_are $((n + 1)) || fail "after SIGHUP $n capture has $(info_files) INFO log files, not $((n + 1))"
  kill -0 "$cap_pid" 2>/dev/null || fail "capture died of SIGHUP $n"
  cur=$(readlink -f "$WORK/caplogs/docshift.INFO")
  wait_for 5 grep -q "SIGHUP: new log file started (rotation $n)" "$cur" ||
    fail "the new log file $cur does not say 'rotation $n'"
done
# glog buffers INFO lines for up to 30 s: SIGHUP flushed them into the closed file.
grep -q "capture: ready" "$first" || fail "the first log file does not say 'capture: ready' (not flushed)"
grep -q "SIGHUP: closing this log file" "$first" || fail "the first log file does not record its closing"
grep -q "SIGHUP: new log file" "$first" && fail "the first log file got lines after its closing"
kill -HUP "$app_pid"
wait_for 10 grep -q "SIGHUP: logs go to stderr: flushed, no file to reopen" "$WORK/apply.log" ||
  fail "apply did not log what SIGHUP did"
kill -0 "$app_pid" 2>/dev/null || fail "apply died of SIGHUP"
echo "  SIGHUP: capture now has $(info_files) INFO log files (docshift.INFO -> $(basename "$cur")); apply logged it and goes on"

# Both still replicate, and capture logs progress into the newest file.
insert_docs 50 50
wait_for 60 has_docs 100 || fail "after SIGHUP only $(target_count) of 100 documents reached the target"

# 5. SIGTERM: STOPPING=1, exit 0; apply never sent WATCHDOG=1 (none asked).
for who in cap app; do
  pid_var=${who}_pid
  kill -TERM "${!pid_var}"
  wait "${!pid_var}"
  rc=$?
  printf -v "$pid_var" '%s' ""
  [ $rc -eq 0 ] || fail "$who exited $rc on SIGTERM"
  wait_for 10 notified "$who" "^STOPPING=1" || fail "$who sent no STOPPING=1 on SIGTERM"
done
# glog buffers INFO lines; the exit flushed them: capture went on logging into the newest file.
grep -q "capture: .* events/s" "$cur" || fail "capture logged no progress into the new file $cur"
grep -q "capture: stopped" "$cur" || fail "capture's last line is not in the new file $cur"
[ "$(count_notified app WATCHDOG=1)" -eq 0 ] || fail "apply sent WATCHDOG=1 without WATCHDOG_USEC"
echo "  SIGTERM: both sent STOPPING=1 and exited 0; capture sent $(count_notified cap '^WATCHDOG=1$') WATCHDOG=1 in all"
echo "service_test: PASS"

#!/usr/bin/env bash
# End-to-end: `docshift status` and the metrics endpoints against a live migration.
#
# capture (change streams from mongo-java-server) and apply (into FerretDB/PostgreSQL)
# run with --metrics_port while tests/workload/workload.py writes to the source. While
# writes go on, `status --json` must show both processes alive and events flowing (and
# it reports whether it saw a backlog or lag). Once writes stop, the apply lag must fall
# to 0 and the state become "in sync" within a deadline; both /metrics endpoints must
# serve the expected names with counters above 0 (and 404 elsewhere); after capture
# stops, status must say so; on a missing directory it must fail with one line.
#
# Usage: status_test.sh DOCSHIFT
# URIs from SOURCE_CS_URI, TARGET_PG_URI and TESTBED_PYTHON (build/testbed.env). Unset:
# exit 77 (ctest: skipped, with the reason printed), or fail when CI is set.
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init status SOURCE_CS_URI TARGET_PG_URI "st_e2e$$_"
DURATION=${E2E_DURATION:-10}
RATE=${E2E_RATE:-200}
echo "status_test: prefix $PREFIX, work dir $WORK"
fail() {
  echo "FAIL: $*" >&2
  for f in "$WORK"/capture.log "$WORK"/apply.log "$WORK"/status.json; do
    [ -f "$f" ] && { echo "--- tail of $f" >&2; tail -15 "$f" >&2; }
  done
  exit 1
}

# 1. A missing spool directory: exit != 0, one line naming it.
"$DS" status --spool "$WORK/nope" >"$WORK/nope.out" 2>"$WORK/nope.err"
rc=$?
[ $rc -ne 0 ] || fail "status on a missing directory exited 0"
[ "$(wc -l <"$WORK/nope.err")" -eq 1 ] || fail "status on a missing directory printed more than one line: $(cat "$WORK/nope.err")"
grep -q "$WORK/nope" "$WORK/nope.err" || fail "the error does not name the directory: $(cat "$WORK/nope.err")"
echo "  missing dir: exit $rc, $(cat "$WORK/nope.err")"

# Two free loopback ports for the metrics endpoints.
read -r CAP_PORT APP_PORT < <("$PY" -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')

# The source collections exist before capture starts (mongo-java-server: one stream each).
drop_prefix "$PREFIX" "$SRC" "$TGT" || fail "cannot reach the servers"
"$PY" -c 'import sys; from pymongo import MongoClient
db = MongoClient(sys.argv[1])[sys.argv[2] + "0"]
for c in ("c0", "c1"): db.create_collection(c)' "$SRC" "$PREFIX" || fail "cannot create the source collections"

"$DS" capture --source "$SRC" --source_kind mongo --spool "$SPOOL" --include "${PREFIX}*" \
  --metrics_port "$CAP_PORT" --progress_interval 2s >"$WORK/capture.log" 2>&1 &
cap_pid=$!
capture_ready() { grep -q "capture: ready" "$WORK/capture.log"; }
wait_for 60 capture_ready || fail "capture did not become ready"
"$DS" apply --spool "$SPOOL" --target "$TGT" --metrics_port "$APP_PORT" \
  --checkpoint_interval 300ms --progress_interval 2s >"$WORK/apply.log" 2>&1 &
app_pid=$!

# status_json: writes the current `status --json` to status.json; fails if status fails.
status_json() { "$DS" status --spool "$SPOOL" --json >"$WORK/status.json" 2>"$WORK/status.err"; }
# js EXPR: evaluates a Python expression over the JSON object `s`.
js() { "$PY" -c "import json,sys; s=json.load(open(sys.argv[1])); print($1)" "$WORK/status.json"; }
apply_alive() { status_json && [ "$(js 's["apply"]["alive"]')" = True ]; }
wait_for 30 apply_alive || fail "status never showed apply alive"

"$PY" "$ROOT/tests/workload/workload.py" --uri "$SRC" --db-prefix "$PREFIX" --dbs 1 --colls 2 \
  --load 200 --duration "$DURATION" --rate "$RATE" --seed 5 >"$WORK/workload.log" 2>&1 &
wl_pid=$!

# 2. While writing: both alive, events flowing; note the largest backlog and lag seen.
samples=0
flowing=0
max_backlog=0
max_gap=0
while kill -0 "$wl_pid" 2>/dev/null; do
  status_json || fail "status failed while capture and apply run: $(cat "$WORK/status.err")"
  samples=$((samples + 1))
  read -r cap_alive state seq cap_eps backlog gap < <(js '" ".join(map(str, [s["capture"]["alive"], s["state"].replace(" ", "_"), s["spool"]["last_durable_seq"], s["capture"]["events_per_second"], s["apply"]["backlog_events"], s["apply"]["gap_in_seconds"]]))')
  [ "$cap_alive" = True ] || fail "status shows capture not alive while it runs"
  case "$state" in catching_up|in_sync) ;; *) fail "state '$state' while both processes run";; esac
  if [ "$seq" -gt 0 ] && [ "${cap_eps%%.*}" -gt 0 ]; then flowing=$((flowing + 1)); fi
  [ "$backlog" -gt "$max_backlog" ] && max_backlog=$backlog
  max_gap=$(awk -v a="$max_gap" -v b="$gap" 'BEGIN { print (b > a) ? b : a }')
  # Keep a capture scrape taken while events/s was above 0.
  curl -sf "http://127.0.0.1:$CAP_PORT/metrics" >"$WORK/scrape" || fail "cannot fetch capture /metrics while writing"
  awk '$1 == "docshift_capture_events_per_second" && $2 > 0 { f = 1 } END { exit !f }' "$WORK/scrape" &&
    mv "$WORK/scrape" "$WORK/capture.metrics"
  sleep 0.5  # sampling pace while the workload runs; every check above is a poll
done
wait "$wl_pid"
wl_rc=$?
wl_pid=""
echo "  $(tail -1 "$WORK/workload.log")"
[ $wl_rc -eq 0 ] || fail "workload generator failed (exit $wl_rc)"
echo "  while writing: $samples samples, events flowing in $flowing, max backlog $max_backlog events, max apply lag $max_gap s"
[ $flowing -ge 1 ] || fail "status never showed events flowing (capture events/s >= 1 and a nonzero last seq)"
[ -s "$WORK/capture.metrics" ] || fail "no capture /metrics scrape while writing showed docshift_capture_events_per_second > 0"

# 3. Writes stopped: apply lag 0, backlog 0, state "in sync" within a deadline.
in_sync() {
  status_json && [ "$(js 's["state"] == "in sync" and s["gap_in_seconds"] == 0 and s["apply"]["backlog_events"] == 0 and s["capture"]["lag_seconds"] == 0 and s["apply"]["checkpoint_seq"] == s["spool"]["last_durable_seq"]')" = True ]
}
wait_for 90 in_sync || fail "status never reached 'in sync' with apply lag 0 after writes stopped: $(js 's["state"], s["state_reason"]')"
seq=$(js 's["spool"]["last_durable_seq"]')
echo "  in sync: last seq $seq, checkpoint $(js 's["apply"]["checkpoint_seq"]'), $(js 's["state_reason"]')"
[ "$seq" -ge 200 ] || fail "only $seq events in the spool; the workload wrote more"
[ "$(js 'all(d["namespace"].startswith("'"$PREFIX"'") and d["time_gap_in_seconds"] == 0 for d in s["details"]) and sum(d["events_applied"] for d in s["details"]) > 0')" = True ] ||
  fail "per-namespace details are wrong: $(js 's["details"]')"
if grep -q "mongodb://" "$WORK/status.json" "$SPOOL"/status/*.status; then fail "a connection string leaked into the status output"; fi
"$DS" status --spool "$SPOOL" >"$WORK/status.txt" || fail "text status failed"
grep -q "^state   in sync" "$WORK/status.txt" || fail "text status does not say in sync: $(head -3 "$WORK/status.txt")"

# 4. Metrics: the names, with counters above 0; 404 elsewhere.
check_metric() {  # FILE NAME: present with HELP/TYPE and a value > 0
  { grep -q "^# TYPE $2 " "$1" && grep -q "^# HELP $2 " "$1"; } || fail "$2 has no HELP/TYPE in $1"
  "$PY" - "$1" "$2" <<'EOF' || fail "$2 is not above 0 in $1: $(grep "^$2" "$1")"
import sys
f, name = sys.argv[1:3]
vals = [float(l.split()[-1]) for l in open(f) if l.startswith(name + " ") or l.startswith(name + "{")]
sys.exit(0 if vals and max(vals) > 0 else 1)
EOF
}
curl -sf "http://127.0.0.1:$CAP_PORT/metrics" >"$WORK/capture.metrics.end" || fail "cannot fetch capture /metrics"
curl -sf "http://127.0.0.1:$APP_PORT/metrics" >"$WORK/apply.metrics.end" || fail "cannot fetch apply /metrics"
for m in docshift_capture_events_total docshift_spool_last_seq docshift_spool_segments docshift_spool_bytes; do
  check_metric "$WORK/capture.metrics.end" "$m"
done
check_metric "$WORK/capture.metrics" docshift_capture_events_per_second
grep -q "^docshift_capture_lag_seconds " "$WORK/capture.metrics.end" || fail "no docshift_capture_lag_seconds"
for m in docshift_apply_events_total docshift_apply_checkpoint_seq docshift_apply_namespace_events_total; do
  check_metric "$WORK/apply.metrics.end" "$m"
done
# /metrics is rendered at each status report (every second), so it may trail `status` by
# one report: wait for the one that shows the lag at 0 rather than reading it once.
apply_lag_zero() {
  curl -sf "http://127.0.0.1:$APP_PORT/metrics" >"$WORK/apply.metrics.end" &&
    grep -q "^docshift_apply_lag_seconds 0$" "$WORK/apply.metrics.end"
}
wait_for 10 apply_lag_zero || fail "apply lag is not 0 at the end: $(grep lag "$WORK/apply.metrics.end")"
grep -q "^docshift_apply_namespace_gap_seconds{namespace=\"${PREFIX}0.c0\"} 0$" "$WORK/apply.metrics.end" ||
  fail "no per-namespace gap for ${PREFIX}0.c0: $(grep namespace_gap "$WORK/apply.metrics.end")"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$APP_PORT/other")
[ "$code" = 404 ] || fail "GET /other answered $code, not 404"
echo "  metrics: capture events $(grep '^docshift_capture_events_total ' "$WORK/capture.metrics.end" | cut -d' ' -f2), apply events $(grep '^docshift_apply_events_total ' "$WORK/apply.metrics.end" | cut -d' ' -f2)"

# 5. Capture stops: status says so at once (a clean exit is recorded); the endpoint closes.
kill -TERM "$cap_pid"; wait "$cap_pid"; rc=$?
cap_pid=""
[ $rc -eq 0 ] || fail "capture did not stop cleanly (exit $rc)"
status_json || fail "status failed after capture stopped"
[ "$(js 's["state"]')" = "capture stopped" ] || fail "state is '$(js 's["state"]')' after capture stopped"
curl -sf "http://127.0.0.1:$CAP_PORT/metrics" >/dev/null 2>&1 && fail "capture's metrics endpoint still answers after it exited"
kill -TERM "$app_pid"; wait "$app_pid"; rc=$?
app_pid=""
[ $rc -eq 0 ] || fail "apply did not stop cleanly (exit $rc)"
rm -rf "$WORK"
echo "status_test: OK"

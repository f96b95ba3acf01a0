#!/usr/bin/env bash
# End-to-end: live replication survives SIGKILL of capture and apply.
#
# The independent workload generator (tests/workload/workload.py) writes to the source
# while `docshift capture` and `docshift apply` run; each is killed with SIGKILL several
# times at random moments and restarted. Then writes stop, a marker document is written,
# capture is stopped once the marker is in the spool, apply drains, and the independent
# checker must find the target identical to the source. `inspect verify` must find the
# spool intact.
#
# Usage: live_replication_test.sh DOCSHIFT SOURCE_URI_VAR SOURCE_KIND TARGET_URI_VAR LABEL [CAPTURE_FLAG...]
# CAPTURE_FLAGs are added to every capture run (e.g. --change_stream_cursor=raw).
# The URIs come from the named environment variables, as scripts/testbed.sh up writes
# them to build/testbed.env (with TESTBED_PYTHON). Unset: exit 77 (ctest: skipped, with
# the reason printed), or fail when CI is set.
set -uo pipefail
DS=$1
SRC=${!2:-}
KIND=$3
TGT=${!4:-}
LABEL=$5
if [ -z "$SRC" ] || [ -z "$TGT" ] || [ -z "${TESTBED_PYTHON:-}" ]; then
  echo "live_replication_test[$LABEL]: $2, $4 or TESTBED_PYTHON is not set; run scripts/testbed.sh up and source build/testbed.env"
  [ -n "${CI:-}" ] && exit 1
  exit 77
fi
shift 5
CAPTURE_FLAGS=("$@")
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=$TESTBED_PYTHON
WORK=$ROOT/build/e2e-tmp/live_${LABEL}_$$
SPOOL=$WORK/spool
PREFIX="e2e${LABEL}$$_"
SEED=${E2E_SEED:-$$}
DURATION=${E2E_DURATION:-25}
RATE=${E2E_RATE:-150}
KILLS=${E2E_KILLS:-3}
rm -rf "$WORK"
mkdir -p "$WORK"
RANDOM=$SEED
echo "live_replication_test[$LABEL]: seed $SEED, prefix $PREFIX, work dir $WORK"

cap_pid=""
app_pid=""
wl_pid=""
cleanup() {
  for p in $cap_pid $app_pid $wl_pid; do kill -9 "$p" 2>/dev/null; done
  drop_prefix "$PREFIX" "$SRC" "$TGT" 2>/dev/null
}
trap cleanup EXIT
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
fail() {
  echo "FAIL[$LABEL]: $*" >&2
  for f in "$WORK"/capture.*.log "$WORK"/apply.*.log; do
    [ -f "$f" ] && { echo "--- tail of $f" >&2; tail -15 "$f" >&2; }
  done
  exit 1
}

# Wait up to $1 seconds for a command to succeed (a readiness poll, not a fixed sleep).

# Empty namespaces on both sides; create the source collections up front. Capture runs
# with the default --scope deployment: mongo-java-server refuses a deployment-wide stream,
# so this also exercises the fall-back to one stream per collection, which only covers
# collections that exist when capture starts (or that discovery finds later).
"$PY" - "$SRC" "$TGT" "$PREFIX" <<'EOF' || fail "cannot prepare the servers"
import sys
from pymongo import MongoClient
src, tgt, prefix = sys.argv[1:4]
for uri in (src, tgt):
    c = MongoClient(uri, serverSelectionTimeoutMS=5000)
    for d in c.list_database_names():
        if d.startswith(prefix): c.drop_database(d)
c = MongoClient(src)
for d in range(2):
    for coll in ["c0", "c1", "c2"] + (["marker"] if d == 0 else []):
        c[f"{prefix}{d}"].create_collection(coll)
EOF

capture_n=0
start_capture() {
  capture_n=$((capture_n + 1))
  "$DS" capture --source "$SRC" --source_kind "$KIND" --spool "$SPOOL" \
    --include "${PREFIX}*" --progress_interval 2s "${CAPTURE_FLAGS[@]}" >"$WORK/capture.$capture_n.log" 2>&1 &
  cap_pid=$!
}
apply_n=0
start_apply() {
  apply_n=$((apply_n + 1))
  "$DS" apply --spool "$SPOOL" --target "$TGT" --lanes 4 --checkpoint_interval 300ms \
    --progress_interval 2s >"$WORK/apply.$apply_n.log" 2>&1 &
  app_pid=$!
}
capture_ready() { grep -q "capture: ready" "$WORK/capture.$capture_n.log"; }
alive() { kill -0 "$1" 2>/dev/null; }

start_capture
wait_for 60 capture_ready || fail "capture did not become ready"
start_apply

"$PY" "$ROOT/tests/workload/workload.py" --uri "$SRC" --db-prefix "$PREFIX" --dbs 2 --colls 3 \
  --load 300 --duration "$DURATION" --rate "$RATE" --seed "$SEED" >"$WORK/workload.log" 2>&1 &
wl_pid=$!

kills_cap=0
kills_app=0
while alive "$wl_pid"; do
  sleep "0.$((RANDOM % 9 + 1))$((RANDOM % 10))"
  [ $((RANDOM % 4)) -eq 0 ] || continue
  if [ $((RANDOM % 2)) -eq 0 ] && [ $kills_cap -lt "$KILLS" ]; then
    alive "$cap_pid" || fail "capture died on its own (capture.$capture_n.log)"
    kill -9 "$cap_pid"; wait "$cap_pid" 2>/dev/null
    kills_cap=$((kills_cap + 1))
    echo "  SIGKILL capture (#$kills_cap), restarting"
    start_capture
  elif [ $kills_app -lt "$KILLS" ]; then
    alive "$app_pid" || fail "apply died on its own (apply.$apply_n.log)"
    kill -9 "$app_pid"; wait "$app_pid" 2>/dev/null
    kills_app=$((kills_app + 1))
    echo "  SIGKILL apply (#$kills_app), restarting"
    start_apply
  fi
done
wait "$wl_pid"
wl_rc=$?
wl_pid=""
echo "  $(tail -1 "$WORK/workload.log")"
[ $wl_rc -eq 0 ] || fail "workload generator failed (exit $wl_rc)"
[ $kills_cap -ge 1 ] && [ $kills_app -ge 1 ] || fail "the run ended before both processes were killed"

# Writes have stopped: a marker tells when capture has everything.
"$PY" - "$SRC" "$PREFIX" <<'EOF' || fail "cannot write the marker"
import sys
from pymongo import MongoClient
MongoClient(sys.argv[1])[sys.argv[2] + "0"]["marker"].insert_one({"_id": "end"})
EOF
marker_in_spool() { "$DS" inspect dump --spool "$SPOOL" --ns "${PREFIX}0.marker" --limit 1 2>/dev/null | grep -q '"end"'; }
alive "$cap_pid" || fail "capture died on its own (capture.$capture_n.log)"
wait_for 120 marker_in_spool || fail "the marker never reached the spool"
# Peak resident memory (VmHWM) of the current capture and apply processes: bounded.
hwm_mb() { awk '/VmHWM/{print int($2/1024)}' "/proc/$1/status"; }
cap_mb=$(hwm_mb "$cap_pid")
app_mb=$(hwm_mb "$app_pid")
echo "  peak RSS: capture ${cap_mb} MB, apply ${app_mb} MB"
[ "$cap_mb" -lt 400 ] && [ "$app_mb" -lt 400 ] || fail "peak RSS over 400 MB (capture $cap_mb, apply $app_mb)"
kill -TERM "$cap_pid"; wait "$cap_pid"; rc=$?
cap_pid=""
[ $rc -eq 0 ] || fail "capture did not stop cleanly on SIGTERM (exit $rc)"
alive "$app_pid" || fail "apply died on its own (apply.$apply_n.log)"
kill -TERM "$app_pid"; wait "$app_pid"; rc=$?
app_pid=""
[ $rc -eq 0 ] || fail "apply did not stop cleanly on SIGTERM (exit $rc)"
"$DS" apply --spool "$SPOOL" --target "$TGT" --stop_when_drained >"$WORK/apply.drain.log" 2>&1 \
  || fail "apply --stop_when_drained failed: $(tail -3 "$WORK/apply.drain.log")"
echo "  $(tail -1 "$WORK/apply.drain.log")"

"$DS" inspect verify --spool "$SPOOL" >"$WORK/verify.log" 2>&1 || fail "inspect verify: $(cat "$WORK/verify.log")"
events=$("$DS" inspect stats --spool "$SPOOL" | awk '$1=="TOTAL"{print $2}')

"$PY" "$ROOT/tests/workload/checker.py" --source "$SRC" --target "$TGT" --db-prefix "$PREFIX" \
  --ignore-empty-collections >"$WORK/checker.log" 2>&1
rc=$?
tail -3 "$WORK/checker.log"
[ $rc -eq 0 ] || fail "checker found differences (exit $rc): $(head -20 "$WORK/checker.log")"
# The run must have exercised something: every preloaded document and most operations
# give an event (no-op updates, e.g. $pull of an absent tag, give none). The op count is
# the workload's own (on a loaded machine it reaches far fewer than RATE x DURATION).
wl_ops=$(grep -o "ops=[0-9]*" "$WORK/workload.log" | tail -1 | cut -d= -f2)
wl_pre=$(grep -o "preload=[0-9]*" "$WORK/workload.log" | tail -1 | cut -d= -f2)
want=$(( (${wl_ops:-0} + ${wl_pre:-0}) / 2 ))
[ "${events:-0}" -ge "$want" ] && [ "$want" -ge 300 ] \
  || fail "only ${events:-0} events captured for ${wl_ops:-0} operations and ${wl_pre:-0} preloaded documents"
# With the raw cursor forced, every capture run must have used it.
if [[ " ${CAPTURE_FLAGS[*]} " == *" --change_stream_cursor=raw "* ]]; then
  for f in "$WORK"/capture.[0-9]*.log; do
    grep -q "change streams open with docshift's own cursor" "$f" || fail "$f: capture did not use docshift's own cursor"
  done
fi
echo "live_replication_test[$LABEL]: PASS: $events events, $kills_cap capture and $kills_app apply SIGKILLs, target identical"

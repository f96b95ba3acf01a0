#!/usr/bin/env bash
# apply --slot scaling (issue #13): N = 1, 2, 4 workers on one spool against the same
# target, in one run. Every slot reads (decompresses, parses, routes) the whole spool and
# writes only its share, so each pays a per-event read cost R on every event and a write
# cost W on 1/N of them: CPU per worker = E * (R + W / N). The script measures each
# worker's CPU (user+sys from /usr/bin/time) and the group's wall time, fits R and W by
# least squares over the runs, and says where adding workers stops paying: the group's
# read work grows as N * R * E, and one worker's share can never take less than R * E.
#
#   scripts/testbed.sh up; set -a; . build/testbed.env; set +a
#   bench/slots/run.sh [--quick] [--check] [--build DIR]
#
# SL_EVENTS (default 60000; --quick 2000) synthetic events (make_spool over 4 namespaces:
# inserts only, or with SL_MIXED=1 inserts, updates, replaces and deletes), SL_SLOTS (default "1 2 4"; --quick "1 2"), target SL_TARGET_URI
# (default TARGET_URI, FerretDB/SQLite). Each run maps the spool's databases to fresh
# ones (--map) and drops them afterwards. This machine has 2 cores shared by the target
# server and the workers, so wall-clock speedup cannot show beyond ~2 workers here; the
# CPU figures and the fitted model are what carry over. --check: exit 1 unless every
# figure was printed (ctest bench.slots_quick).
#
# SL_CPU_PCT (default 25; --quick 0): each worker runs in a cgroup of its own (v1 cpu
# controller, /sys/fs/cgroup/cpu, needs root) whose CFS quota is that percentage of one
# core, so a worker, not the target, is what a run is short of: with 4 workers at 25 %
# they use one core between them and leave the other to the target server. 0, or no
# writable cgroup: no limit (printed as SLOTS_CPU_SHARE).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$ROOT/build
QUICK=0 CHECK=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --check) CHECK=1 ;;
    --build) BUILD=$2; shift ;;
    *) echo "usage: bench/slots/run.sh [--quick] [--check] [--build DIR]" >&2; exit 2 ;;
  esac
  shift
done
TGT=${SL_TARGET_URI:-${TARGET_URI:-}}
if [ -z "$TGT" ] || [ -z "${TESTBED_PYTHON:-}" ]; then
  echo "SKIPPED: bench/slots/run.sh: TARGET_URI (or SL_TARGET_URI) or TESTBED_PYTHON is not set; run scripts/testbed.sh up and: set -a; . build/testbed.env; set +a"
  exit 77
fi
DS=${DOCSHIFT:-$BUILD/docshift}
if [ $QUICK = 1 ]; then EVENTS=${SL_EVENTS:-2000}; SLOTS=${SL_SLOTS:-1 2}
else EVENTS=${SL_EVENTS:-60000}; SLOTS=${SL_SLOTS:-1 2 4}; fi
WORK=${WORK:-$BUILD/bench-slots}
rm -rf "$WORK"; mkdir -p "$WORK"
# Inserts only by default: FerretDB's update path is slow enough (about 150 mixed events/s
# here) to hide every apply cost; SL_MIXED=1 for make_spool's default mix.
if [ "${SL_MIXED:-0}" = 1 ]; then MIX=(); else MIX=(--insert_pct 100 --update_pct 0 --delete_pct 0 --replace_pct 0); fi
"$BUILD/bench/make_spool" --spool "$WORK/spool" --events "$EVENTS" "${MIX[@]}" >/dev/null 2>&1
echo "SLOTS_EVENTS=$EVENTS"
drop() {
  "$TESTBED_PYTHON" - "$TGT" "$1" <<'PYEOF'
import sys
from pymongo import MongoClient
c = MongoClient(sys.argv[1], serverSelectionTimeoutMS=5000)
for d in c.list_database_names():
    if d.startswith(sys.argv[2]): c.drop_database(d)
PYEOF
}
now() { date +%s.%N; }
# The CPU share: a cgroup per worker (made and removed here), or none.
if [ $QUICK = 1 ]; then CPU_PCT=${SL_CPU_PCT:-0}; else CPU_PCT=${SL_CPU_PCT:-25}; fi
CG_ROOT=/sys/fs/cgroup/cpu
if [ "$CPU_PCT" -gt 0 ] && ! { [ -w "$CG_ROOT" ] && [ -f "$CG_ROOT/cpu.cfs_quota_us" ]; }; then
  echo "SLOTS_CPU_SHARE=none ($CG_ROOT is not a writable cgroup v1 cpu controller: run as root, or SL_CPU_PCT=0)"
  CPU_PCT=0
elif [ "$CPU_PCT" -gt 0 ]; then
  echo "SLOTS_CPU_SHARE=${CPU_PCT}% of one core per worker (cgroup v1 CFS quota)"
else
  echo "SLOTS_CPU_SHARE=none (SL_CPU_PCT=0)"
fi
CGROUPS=()
cleanup_cgroups() { for g in "${CGROUPS[@]}"; do rmdir "$g" 2>/dev/null || true; done; }
trap cleanup_cgroups EXIT
# in_share NAME CMD...: runs CMD in cgroup NAME with the quota (or plainly when none).
in_share() {
  local name=$1; shift
  if [ "$CPU_PCT" -eq 0 ]; then exec "$@"; fi
  local g=$CG_ROOT/$name
  echo "$BASHPID" >"$g/cgroup.procs"  # this subshell, then exec: the worker itself
  exec "$@"
}
fit_in=""
for n in $SLOTS; do
  p="bsl$$n${n}_"
  drop "$p"
  t0=$(now)
  pids=()
  for i in $(seq 0 $((n - 1))); do
    cg=docshift-bench-slots-$$-$n-$i
    if [ "$CPU_PCT" -gt 0 ]; then
      mkdir -p "$CG_ROOT/$cg"
      CGROUPS+=("$CG_ROOT/$cg")
      echo 100000 >"$CG_ROOT/$cg/cpu.cfs_period_us"
      echo $((CPU_PCT * 1000)) >"$CG_ROOT/$cg/cpu.cfs_quota_us"
    fi
    ( in_share "$cg" /usr/bin/time -f "%U %S" -o "$WORK/cpu.$n.$i" "$DS" apply --spool "$WORK/spool" --target "$TGT" \
      --name "b$n" --slot "$i/$n" --stop_when_drained --map "ycsb=${p}ycsb,app=${p}app" \
      >"$WORK/apply.$n.$i.log" 2>&1 ) &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || { tail -5 "$WORK"/apply.$n.*.log >&2; echo "apply failed (N=$n)" >&2; exit 1; }; done
  t1=$(now)
  drop "$p"
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  cpu_max=0 cpu_sum=0
  for i in $(seq 0 $((n - 1))); do
    c=$(awk '{ printf "%.3f", $1 + $2 }' "$WORK/cpu.$n.$i")
    cpu_sum=$(awk -v a="$cpu_sum" -v b="$c" 'BEGIN { printf "%.3f", a + b }')
    cpu_max=$(awk -v a="$cpu_max" -v b="$c" 'BEGIN { printf "%.3f", (b > a ? b : a) }')
    mine=$(grep -o "slot $i/$n: [0-9]* events of its share" "$WORK/apply.$n.$i.log" | tail -1 | awk '{ print $3 }')
    echo "SLOTS_N${n}_WORKER${i}_CPU_S=$c"
    echo "SLOTS_N${n}_WORKER${i}_EVENTS_WRITTEN=${mine:-?}"
  done
  us_per_event=$(awk -v c="$cpu_max" -v e="$EVENTS" 'BEGIN { printf "%.2f", c * 1e6 / e }')
  echo "SLOTS_N${n}_WALL_S=$wall"
  echo "SLOTS_N${n}_EVENTS_PER_S=$(awk -v e="$EVENTS" -v w="$wall" 'BEGIN { printf "%.0f", e / w }')"
  echo "SLOTS_N${n}_EVENTS_PER_S_PER_SLOT=$(awk -v e="$EVENTS" -v w="$wall" -v n="$n" 'BEGIN { printf "%.0f", e / w / n }')"
  echo "SLOTS_N${n}_CPU_US_PER_EVENT_BUSIEST_WORKER=$us_per_event"
  echo "SLOTS_N${n}_CPU_S_ALL_WORKERS=$cpu_sum"
  fit_in="$fit_in $n:$us_per_event"
done
# Least squares for us_per_event = R + W * (1/N).
echo "$fit_in" | tr ' ' '\n' | grep : | awk -F: '
  { x = 1 / $1; y = $2; n++; sx += x; sy += y; sxx += x * x; sxy += x * y }
  END {
    d = n * sxx - sx * sx
    if (n < 2 || d == 0) { print "SLOTS_MODEL=unavailable (need two N)"; exit }
    W = (n * sxy - sx * sy) / d; R = (sy - W * sx) / n
    printf "SLOTS_MODEL_READ_US_PER_EVENT=%.2f\nSLOTS_MODEL_WRITE_US_PER_EVENT=%.2f\n", R, W
    if (R > 0) printf "SLOTS_MODEL_MAX_SPEEDUP=%.1f\n", (R + W) / R
    for (k = 1; k <= 64; k *= 2) printf "SLOTS_MODEL_N%d_SPEEDUP=%.2f\n", k, (R + W) / (R + W / k)
  }'
if [ $CHECK = 1 ]; then
  for n in $SLOTS; do grep -q . "$WORK/cpu.$n.0" || { echo "bench/slots: figures missing for N=$n" >&2; exit 1; }; done
fi

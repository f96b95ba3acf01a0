#!/usr/bin/env bash
# Capture throughput and end-to-end lag on the test bed (issue #6). See bench/README.md.
#
#   set -a; . build/testbed.env; set +a
#   bench/db/lag.sh [--quick] [--lag_only|--throughput_only] [--rate OPS_PER_S] [--build DIR]
#   (--lag_only: part (b) only, e.g. with an oplog too small to hold the preload;
#   --throughput_only: part (a) only)
#
# (a) Capture throughput: preloads N inserts into the oplog source, then times
#     `oplog_tail` (a plain tailable cursor) and `docshift capture --source_kind oplog`
#     reading the same N entries from before the preload; capture CPU per event and peak
#     RSS (/proc), spool bytes per event and zstd ratio (`docshift inspect stats`).
# (b) End-to-end lag: capture + apply (following) while load_gen offers a steady
#     insert/update/delete load, at a fixed low rate and at half of B_ins (unordered
#     insert_many docs/s into the target, measured here, or --rate); p50/p99 from apply's
#     final log line, the histogram from its /metrics; where the time goes from the spool
#     (source → read by capture → durable in the spool) and apply.
#
# Prints KEY=value lines and a summary table. Needs SOURCE_OPLOG_URI and TARGET_URI
# (exit 2 without them). Timing is reported, never asserted.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$ROOT/build
QUICK=0
LAG_ONLY=0
THROUGHPUT_ONLY=0
RATE_HALF=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1 ;;
    --lag_only) LAG_ONLY=1 ;;
    --throughput_only) THROUGHPUT_ONLY=1 ;;
    --rate) RATE_HALF=$2; shift ;;
    --build) BUILD=$2; shift ;;
    *) echo "lag.sh: unknown argument $1 (usage: lag.sh [--quick] [--lag_only|--throughput_only] [--rate OPS_PER_S] [--build DIR])" >&2; exit 2 ;;
  esac
  shift
done
for v in SOURCE_OPLOG_URI TARGET_URI; do
  if [[ -z ${!v:-} ]]; then
    echo "lag.sh: $v is not set; load the test bed's environment (set -a; . build/testbed.env; set +a)" >&2
    exit 2
  fi
done
DOCSHIFT=$BUILD/docshift
LOADGEN=$BUILD/bench/load_gen
TAIL=$BUILD/bench/oplog_tail
CSTAIL=$BUILD/bench/cs_tail
PY_BENCH=${TESTBED_PYTHON:-python3}
for b in "$DOCSHIFT" "$LOADGEN" "$TAIL" "$CSTAIL"; do
  [[ -x $b ]] || { echo "lag.sh: $b is not built (ninja -C $BUILD docshift load_gen oplog_tail cs_tail)" >&2; exit 2; }
done

if ((QUICK)); then N=1000; LOW_S=8; HALF_S=8; BINS_S=2; else N=5000; LOW_S=30; HALF_S=30; BINS_S=5; fi
N=${LAG_N:-$N}  # LAG_N: entries for (a), within what the capped oplog holds
LOW_RATE=50
WORK=$(mktemp -d "$BUILD/lagbench.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [[ ${KEEP:-0} == 1 ]] || rm -rf "$WORK"
}
trap cleanup EXIT

kv() { echo "$1=$2"; echo "$1=$2" >>"$WORK/kv.txt"; }
# value of KEY in a KEY=value file
get() { sed -n "s/^$1=//p" "$2" | tail -1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
metric() {  # metric PORT NAME: the value of an unlabelled sample, or empty
  { curl -fsS "http://127.0.0.1:$1/metrics" 2>/dev/null || true; } | awk -v n="$2" '$1==n {print $2}'
}
proc_cpu_s() {  # utime+stime of a live process, seconds
  awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15)/hz}' "/proc/$1/stat"
}
proc_hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
last_captured_ms() {  # last_captured_ms SPOOL: capturedAt of the spool's last event, epoch ms
  "$DOCSHIFT" inspect dump --spool "$1" 2>/dev/null | python3 -c '
import sys, json, datetime
last = None
for line in sys.stdin:
    if line.startswith("{"):
        last = json.loads(line).get("capturedAt", last)
t = datetime.datetime.strptime(last, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
print(int(t.timestamp() * 1000))'
}
stop() {  # stop PID: SIGTERM and wait
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

echo "# lag.sh: quick=$QUICK N=$N work=$WORK"
kv MACHINE_CPUS "$(nproc)"
kv MACHINE_LOADAVG "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')"

# ---------------------------------------------------------------- (a) capture throughput
capture_throughput() {
# The oplog must not be empty to have a starting point.
"$LOADGEN" --uri "$SOURCE_OPLOG_URI" --coll capbench --drop --preload 1 --key_base 900000000 >/dev/null
T0=$("$TAIL" --uri "$SOURCE_OPLOG_URI" --latest | sed -n 's/^OPLOG_LATEST_TS=//p')
"$LOADGEN" --uri "$SOURCE_OPLOG_URI" --coll capbench --preload "$N" --key_base 0 >"$WORK/preload.txt"
kv PRELOAD_ENTRIES "$N"
kv PRELOAD_SECONDS "$(get LOADGEN_PRELOAD_SECONDS "$WORK/preload.txt")"
"$TAIL" --uri "$SOURCE_OPLOG_URI" --probe 3 >"$WORK/probe.txt"
kv OPLOG_QUERY_MS_MEDIAN "$(get OPLOG_QUERY_MS_MEDIAN "$WORK/probe.txt")"
kv OPLOG_ENTRIES "$(get OPLOG_ENTRIES "$WORK/probe.txt")"
kv OPLOG_NATURAL_DESC_LIMIT100_MS_MEDIAN "$(get OPLOG_NATURAL_DESC_LIMIT100_MS_MEDIAN "$WORK/probe.txt")"

# Both are timed the same way, as whole processes from exec: the tail until it exits with
# N entries read, capture until its metrics say N events are durable in the spool (polled
# every 50 ms: up to 50 ms against capture). OPLOG_TAIL_READ_SECONDS is the tail's own
# figure (from its first query, connection excluded).
TAIL_START_NS=$(date +%s%N)
"$TAIL" --uri "$SOURCE_OPLOG_URI" --from "$T0" --count "$N" --seconds 120 >"$WORK/tail.txt"
TAIL_END_NS=$(date +%s%N)
TAIL_S=$(awk -v a="$TAIL_START_NS" -v b="$TAIL_END_NS" 'BEGIN {printf "%.3f", (b-a)/1e9}')
kv OPLOG_TAIL_READ_SECONDS "$(get OPLOG_TAIL_SECONDS "$WORK/tail.txt")"
# The same with the sorted finds capture polls FerretDB with (its tailable cursors skip
# entries, tests/README.md): the server sorts the whole result before the first entry.
SORTED_START_NS=$(date +%s%N)
"$TAIL" --uri "$SOURCE_OPLOG_URI" --from "$T0" --count "$N" --seconds 120 --sorted >"$WORK/sorted.txt"
SORTED_END_NS=$(date +%s%N)
SORTED_S=$(awk -v a="$SORTED_START_NS" -v b="$SORTED_END_NS" 'BEGIN {printf "%.3f", (b-a)/1e9}')
kv OPLOG_SORTED_FIND_ENTRIES "$(get OPLOG_TAIL_ENTRIES "$WORK/sorted.txt")"
kv OPLOG_SORTED_FIND_SECONDS "$SORTED_S"
TAIL_EPS=$(get OPLOG_TAIL_ENTRIES_PER_S "$WORK/tail.txt")
kv OPLOG_TAIL_ENTRIES "$(get OPLOG_TAIL_ENTRIES "$WORK/tail.txt")"
kv OPLOG_TAIL_SECONDS "$TAIL_S"
kv OPLOG_TAIL_ENTRIES_PER_S "$TAIL_EPS"
kv OPLOG_TAIL_REDELIVERED "$(get OPLOG_TAIL_REDELIVERED "$WORK/tail.txt")"

SPOOL=$WORK/spool-cap
MP=$(free_port)
START_NS=$(date +%s%N)
"$DOCSHIFT" capture --source env:SOURCE_OPLOG_URI --source_kind oplog --spool "$SPOOL" \
  --start_at "$T0" --metrics_port "$MP" --logtostderr 2>"$WORK/capture-a.log" &
CAP=$!
PIDS+=("$CAP")
got=0
for _ in $(seq 1 2400); do  # 120 s
  got=$(metric "$MP" docshift_capture_events_total); got=${got:-0}
  [[ ${got%.*} -ge $N ]] && break
  kill -0 "$CAP" 2>/dev/null || { echo "lag.sh: capture exited early:" >&2; tail -5 "$WORK/capture-a.log" >&2; exit 1; }
  sleep 0.05
done
END_NS=$(date +%s%N)
CAP_CPU=$(proc_cpu_s "$CAP")
CAP_HWM=$(proc_hwm_kib "$CAP")
stop "$CAP"
# Capture's time: from exec to when it read the N-th event (its capturedAt in the spool;
# the batch holding it is durable one group commit, <= 50 ms + an fsync, later). The
# metrics above only tell when to stop: capture's counter is sampled by its status
# reporter once a second, so timing by it measured whole seconds (2.07 s for what took
# 1.5 s, issue #11).
LAST_MS=$(last_captured_ms "$SPOOL")
CAP_S=$(awk -v a="$START_NS" -v b="$LAST_MS" 'BEGIN {printf "%.3f", (b*1e6-a)/1e9}')
kv CAPTURE_METRIC_SECONDS "$(awk -v a="$START_NS" -v b="$END_NS" 'BEGIN {printf "%.3f", (b-a)/1e9}')"
kv CAPTURE_EVENTS "${got%.*}"
kv CAPTURE_SECONDS "$CAP_S"
kv CAPTURE_EVENTS_PER_S "$(awk -v n="$N" -v s="$CAP_S" 'BEGIN {printf "%.1f", n/s}')"
kv CAPTURE_VS_OPLOG_TAIL "$(awk -v c="$CAP_S" -v t="$TAIL_S" 'BEGIN {printf "%.2f", t/c}')"
kv CAPTURE_VS_SORTED_FIND "$(awk -v c="$CAP_S" -v t="$SORTED_S" 'BEGIN {printf "%.2f", t/c}')"
kv CAPTURE_CPU_SECONDS "$CAP_CPU"
kv CAPTURE_CPU_US_PER_EVENT "$(awk -v c="$CAP_CPU" -v n="$N" 'BEGIN {printf "%.1f", c*1e6/n}')"
kv CAPTURE_PEAK_RSS_MIB "$(awk -v k="$CAP_HWM" 'BEGIN {printf "%.1f", k/1024}')"
SEG_BYTES=$(find "$SPOOL" -name '*.seg' -printf '%s\n' | awk '{s+=$1} END {print s+0}')
kv SPOOL_SEGMENT_BYTES "$SEG_BYTES"
kv SPOOL_BYTES_PER_EVENT "$(awk -v b="$SEG_BYTES" -v n="${got%.*}" 'BEGIN {printf "%.0f", b/n}')"
"$DOCSHIFT" inspect segments --spool "$SPOOL" >"$WORK/segments.txt" 2>&1 || true
# "1 segments, 1000 events, 1.2 MiB raw, 759.1 KiB on disk (1.63x)"
kv SPOOL_ZSTD_RATIO "$(sed -n 's/.* on disk (\([0-9.]*\)x).*/\1/p' "$WORK/segments.txt" | tail -1)"
RAW=$(sed -n 's/.* raw=\([0-9]*\) .*/\1/p' <("$DOCSHIFT" inspect manifest --spool "$SPOOL" 2>/dev/null) | awk '{s+=$1} END {print s+0}')
kv SPOOL_RAW_BYTES_PER_EVENT "$(awk -v b="$RAW" -v n="${got%.*}" 'BEGIN {printf "%.0f", b/n}')"

}
# ------------------------------------------------- (a') change-stream capture throughput
# The same on the change-stream source (SOURCE_CS_URI, mongo-java-server: one stream per
# collection): CS_N inserts preloaded into one collection, then `cs_tail` (a plain
# libmongoc change stream, batchSize 1000, from a time before the preload) and `docshift
# capture` from that time, both timed from exec (capture to its N-th event's capturedAt).
capture_throughput_cs() {
[[ -n ${SOURCE_CS_URI:-} ]] || { echo "lag.sh: SOURCE_CS_URI is not set: no change-stream figures"; return 0; }
local db=lagcs$$ csn=${CS_N:-$((QUICK ? 3000 : 30000))}
"$LOADGEN" --uri "$SOURCE_CS_URI" --db "$db" --coll c --drop --preload 1 --key_base 900000000 >/dev/null
local t0; t0=$("$CSTAIL" --uri "$SOURCE_CS_URI" --now | sed -n 's/^CS_NOW_TS=//p')
"$LOADGEN" --uri "$SOURCE_CS_URI" --db "$db" --coll c --preload "$csn" --key_base 0 >/dev/null
kv CS_PRELOAD_EVENTS "$csn"
local a b
a=$(date +%s%N)
"$CSTAIL" --uri "$SOURCE_CS_URI" --db "$db" --coll c --from "$t0" --count "$csn" --seconds 120 >"$WORK/cstail.txt"
b=$(date +%s%N)
local tail_s; tail_s=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", (b-a)/1e9}')
kv CS_TAIL_SECONDS "$tail_s"
local spool=$WORK/spool-cs mp; mp=$(free_port)
a=$(date +%s%N)
"$DOCSHIFT" capture --source env:SOURCE_CS_URI --spool "$spool" --start_at "$t0" --include "$db.c" \
  --metrics_port "$mp" --logtostderr 2>"$WORK/capture-cs.log" &
local cap=$! got=0
PIDS+=("$cap")
for _ in $(seq 1 2400); do
  got=$(metric "$mp" docshift_capture_events_total); got=${got:-0}
  [[ ${got%.*} -ge $csn ]] && break
  kill -0 "$cap" 2>/dev/null || { echo "lag.sh: capture exited early:" >&2; tail -5 "$WORK/capture-cs.log" >&2; exit 1; }
  sleep 0.05
done
local cpu; cpu=$(proc_cpu_s "$cap")
stop "$cap"
local last_ms; last_ms=$(last_captured_ms "$spool")
local cap_s; cap_s=$(awk -v a="$a" -v b="$last_ms" 'BEGIN {printf "%.3f", (b*1e6-a)/1e9}')
kv CS_CAPTURE_SECONDS "$cap_s"
kv CS_CAPTURE_CPU_US_PER_EVENT "$(awk -v c="$cpu" -v n="$csn" 'BEGIN {printf "%.1f", c*1e6/n}')"
kv CS_CAPTURE_VS_CS_TAIL "$(awk -v c="$cap_s" -v t="$tail_s" 'BEGIN {printf "%.2f", t/c}')"
"$PY_BENCH" - "$SOURCE_CS_URI" "$db" <<'PYEOF' >/dev/null 2>&1 || true
import sys
from pymongo import MongoClient
MongoClient(sys.argv[1]).drop_database(sys.argv[2])
PYEOF
}

((LAG_ONLY)) || capture_throughput
((LAG_ONLY)) || capture_throughput_cs
if ((THROUGHPUT_ONLY)); then
  echo "| oplog_tail: $N entries | $(get OPLOG_TAIL_SECONDS "$WORK/kv.txt") s |"
  echo "| capture: $N entries | $(get CAPTURE_SECONDS "$WORK/kv.txt") s, CPU $(get CAPTURE_CPU_US_PER_EVENT "$WORK/kv.txt") µs/event |"
  echo "| sorted finds (capture's query): $N entries | $(get OPLOG_SORTED_FIND_SECONDS "$WORK/kv.txt") s |"
  echo "| capture / oplog_tail | $(get CAPTURE_VS_OPLOG_TAIL "$WORK/kv.txt") |"
  echo "| capture / sorted finds | $(get CAPTURE_VS_SORTED_FIND "$WORK/kv.txt") |"
  echo "| cs_tail: $(get CS_PRELOAD_EVENTS "$WORK/kv.txt") events | $(get CS_TAIL_SECONDS "$WORK/kv.txt") s |"
  echo "| capture (change streams): same | $(get CS_CAPTURE_SECONDS "$WORK/kv.txt") s, CPU $(get CS_CAPTURE_CPU_US_PER_EVENT "$WORK/kv.txt") µs/event |"
  echo "| capture / cs_tail | $(get CS_CAPTURE_VS_CS_TAIL "$WORK/kv.txt") |"
  exit 0
fi

# ---------------------------------------------------------------- (b) end-to-end lag
if [[ -z $RATE_HALF ]]; then
  "$LOADGEN" --uri "$TARGET_URI" --measure_ins --seconds "$BINS_S" >"$WORK/bins.txt"
  B_INS=$(get B_INS_DOCS_PER_S "$WORK/bins.txt")
  RATE_HALF=$(awk -v b="$B_INS" 'BEGIN {printf "%.0f", b/2}')
else
  B_INS=$((RATE_HALF * 2))
fi
kv B_INS_DOCS_PER_S "$B_INS"

# lag_run LABEL RATE SECONDS: capture + apply following while load_gen offers RATE ops/s.
lag_run() {
  local label=$1 rate=$2 secs=$3 threads=$4
  local spool=$WORK/spool-$label coll=lag_$label
  local cp ap
  cp=$(free_port); ap=$(free_port)
  "$LOADGEN" --uri "$SOURCE_OPLOG_URI" --coll "$coll" --drop --preload 1 --key_base 900000000 >/dev/null
  "$LOADGEN" --uri "$TARGET_URI" --coll "$coll" --drop --preload 0 >/dev/null
  "$DOCSHIFT" capture --source env:SOURCE_OPLOG_URI --source_kind oplog --spool "$spool" \
    --metrics_port "$cp" --logtostderr 2>"$WORK/capture-$label.log" &
  local cap=$!
  PIDS+=("$cap")
  for _ in $(seq 1 300); do
    grep -q "capture: ready" "$WORK/capture-$label.log" && break
    sleep 0.1
  done
  "$DOCSHIFT" apply --spool "$spool" --target env:TARGET_URI --metrics_port "$ap" --logtostderr \
    2>"$WORK/apply-$label.log" &
  local app=$!
  PIDS+=("$app")
  sleep 1
  "$LOADGEN" --uri "$SOURCE_OPLOG_URI" --coll "$coll" --ops_per_s "$rate" --seconds "$secs" \
    --threads "$threads" --key_base 0 >"$WORK/load-$label.txt" || true
  local ops
  ops=$(get LOADGEN_OPS "$WORK/load-$label.txt")
  # The server's scan time for capture's poll query, with the oplog as the load left it.
  "$TAIL" --uri "$SOURCE_OPLOG_URI" --probe 3 >"$WORK/probe-$label.txt" 2>/dev/null || true
  # Wait until apply has applied what capture captured, and capture has all of the load.
  local prev=-1 same=0 a c
  for _ in $(seq 1 600); do  # 60 s
    a=$(metric "$ap" docshift_apply_events_total); a=${a%.*}; a=${a:-0}
    c=$(metric "$cp" docshift_capture_events_total); c=${c%.*}; c=${c:-0}
    if ((a >= ops && a >= c)); then break; fi
    if ((a == prev)); then same=$((same + 1)); else same=0; fi
    ((same < 100)) || break  # 10 s without progress
    prev=$a
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:$ap/metrics" >"$WORK/metrics-$label.txt" 2>/dev/null || true
  stop "$app"
  stop "$cap"
  local line
  line=$(grep -o 'end-to-end lag p50 .*' "$WORK/apply-$label.log" | tail -1)
  kv "LAG_${label^^}_OFFERED_OPS_PER_S" "$rate"
  kv "LAG_${label^^}_ACHIEVED_OPS_PER_S" "$(get LOADGEN_ACHIEVED_OPS_PER_S "$WORK/load-$label.txt")"
  kv "LAG_${label^^}_OPS" "$ops"
  kv "LAG_${label^^}_APPLIED" "${a:-0}"
  kv "LAG_${label^^}_P50_S" "$(sed -n 's/.*p50 \([0-9.]*\) s.*/\1/p' <<<"$line")"
  kv "LAG_${label^^}_P99_S" "$(sed -n 's/.*p99 \([0-9.]*\) s.*/\1/p' <<<"$line")"
  kv "LAG_${label^^}_MAX_S" "$(sed -n 's/.*max \([0-9.]*\) s.*/\1/p' <<<"$line")"
  kv "LAG_${label^^}_OPLOG_QUERY_MS_MEDIAN" "$(get OPLOG_QUERY_MS_MEDIAN "$WORK/probe-$label.txt")"
  kv "LAG_${label^^}_OPLOG_ENTRIES" "$(get OPLOG_ENTRIES "$WORK/probe-$label.txt")"
  kv "LAG_${label^^}_METRIC_COUNT" "$(awk '$1=="docshift_apply_end_to_end_lag_seconds_count" {print $2}' "$WORK/metrics-$label.txt")"
  # Where the time goes, from the spool: source → read by capture → durable (batch written).
  "$DOCSHIFT" inspect dump --spool "$spool" >"$WORK/dump-$label.jsonl" 2>/dev/null || true
  python3 - "$WORK/dump-$label.jsonl" "${label^^}" <<'PY' | tee -a "$WORK/kv.txt"
import json, sys
from datetime import datetime
def ms(v):
    if not isinstance(v, str):
        return None
    return datetime.strptime(v.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000
read = []
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    src, cap = ms(e.get("wallTime")), ms(e.get("capturedAt"))
    if src and cap:
        read.append((cap - src) / 1000.0)
def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")
label = sys.argv[2]
print("LAG_%s_SOURCE_TO_CAPTURE_READ_P50_S=%.3f" % (label, pct(read, 0.5)))
print("LAG_%s_SOURCE_TO_CAPTURE_READ_P99_S=%.3f" % (label, pct(read, 0.99)))
PY
}

lag_run low "$LOW_RATE" "$LOW_S" 1
# One connection does one write per round trip: enough writers to offer half of B_ins.
lag_run half "$RATE_HALF" "$HALF_S" 4

# ---------------------------------------------------------------- summary
K=$WORK/kv.txt
P99_HALF=$(get LAG_HALF_P99_S "$K")
GOAL=$(awk -v p="${P99_HALF:-}" 'BEGIN {if (p == "") print "unknown"; else if (p <= 1.0) print "met"; else printf "missed by %.2f s\n", p - 1.0}')
kv LAG_GOAL_P99_S 1
kv LAG_GOAL_AT_HALF_B_INS "$GOAL"
echo
echo "| measure | value |"
echo "|---|---|"
if ((!LAG_ONLY)); then
  echo "| capture: $N oplog entries | $(get CAPTURE_SECONDS "$K") s, $(get CAPTURE_EVENTS_PER_S "$K") events/s |"
  echo "| oplog_tail (plain tailable cursor) | $(get OPLOG_TAIL_SECONDS "$K") s, $(get OPLOG_TAIL_ENTRIES_PER_S "$K") entries/s |"
  echo "| capture / oplog_tail throughput | $(get CAPTURE_VS_OPLOG_TAIL "$K") |"
  echo "| capture CPU per event | $(get CAPTURE_CPU_US_PER_EVENT "$K") µs |"
  echo "| capture peak RSS | $(get CAPTURE_PEAK_RSS_MIB "$K") MiB |"
  echo "| spool bytes per event (raw), zstd ratio | $(get SPOOL_BYTES_PER_EVENT "$K") B ($(get SPOOL_RAW_BYTES_PER_EVENT "$K") B), $(get SPOOL_ZSTD_RATIO "$K")x |"
  echo "| oplog find {ts: {\$gt}} (server scan) | $(get OPLOG_QUERY_MS_MEDIAN "$K") ms over $(get OPLOG_ENTRIES "$K") entries |"
fi
echo "| B_ins (target insert_many) | $(get B_INS_DOCS_PER_S "$K") docs/s |"
for l in LOW HALF; do
  echo "| lag at $(get LAG_${l}_OFFERED_OPS_PER_S "$K") ops/s offered ($(get LAG_${l}_ACHIEVED_OPS_PER_S "$K") achieved) | p50 $(get LAG_${l}_P50_S "$K") s, p99 $(get LAG_${l}_P99_S "$K") s, max $(get LAG_${l}_MAX_S "$K") s |"
  echo "| … of which source → read by capture | p50 $(get LAG_${l}_SOURCE_TO_CAPTURE_READ_P50_S "$K") s, p99 $(get LAG_${l}_SOURCE_TO_CAPTURE_READ_P99_S "$K") s |"
  echo "| … server scan per capture poll after it | $(get LAG_${l}_OPLOG_QUERY_MS_MEDIAN "$K") ms over $(get LAG_${l}_OPLOG_ENTRIES "$K") oplog entries |"
done
echo "| goal p99 ≤ 1 s at half of B_ins | $GOAL |"

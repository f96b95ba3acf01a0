#!/usr/bin/env bash
# DynamoDB source benchmarks (issue #12): docshift capture and snapshot against plain
# clients of the same server, same table, same records, in one run. See bench/README.md.
#
#   scripts/testbed.sh up; set -a; . build/testbed.env; set +a
#   bench/dynamodb/run.sh [--quick] [--check] [--build DIR]
#
# 1. Loads DY_ITEMS items (default 20000; --quick 1000) into a fresh table (load.py:
#    BatchWriteItem; its stream then holds exactly DY_ITEMS INSERT records).
# 2. Capture, DY_ROUNDS rounds (default 3; --quick 1), the order alternating: `stream_read`
#    (plain GetRecords from TRIM_HORIZON, timed from exec to exit) and `docshift capture`
#    on a fresh spool (timed from exec to the capturedAt of its DY_ITEMS-th event, as
#    bench/db/lag.sh times capture; its metrics only say when to stop). Capture's CPU
#    (utime+stime from /proc) and peak RSS.
# 3. Snapshot, DY_ROUNDS rounds alternating: `scan_copy` (a plain parallel Scan, DY_PARALLEL
#    segments, one insert_many per page) and `docshift snapshot --parallel DY_PARALLEL`
#    (a spool from make_spool --start_position; timed from exec to exit), each into a
#    freshly dropped database on the target.
# Prints KEY=value lines: the raw rates of every round, the median ratios
# RATIO_DYNAMODB_CAPTURE_VS_GETRECORDS and RATIO_DYNAMODB_SNAPSHOT_VS_SCAN_COPY, and a table.
#
# Source: DY_ENDPOINT, default DYNAMODB_URL (moto). Target: DY_TARGET_URI, default
# SOURCE_CS_URI (mongo-java-server: it stores Decimal128, FerretDB does not). Without
# them: exit 77 with the reason. Credentials: dummy ones unless AWS_ACCESS_KEY_ID is set.
# --check: exit 1 unless every figure was printed (the ctest bench.dynamodb_quick; timing
# goals are never asserted). Exit 0 otherwise, also when goals are missed; 1 on a failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$ROOT/build
QUICK=0
CHECK=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --check) CHECK=1 ;;
    --build) BUILD=$2; shift ;;
    *) echo "usage: bench/dynamodb/run.sh [--quick] [--check] [--build DIR]" >&2; exit 2 ;;
  esac
  shift
done

ENDPOINT=${DY_ENDPOINT:-${DYNAMODB_URL:-}}
TGT=${DY_TARGET_URI:-${SOURCE_CS_URI:-}}
if [ -z "$ENDPOINT" ] || [ -z "$TGT" ]; then
  echo "SKIPPED: bench/dynamodb/run.sh: DYNAMODB_URL (or DY_ENDPOINT) and SOURCE_CS_URI (or DY_TARGET_URI)" \
       "are not set; run scripts/testbed.sh up and: set -a; . build/testbed.env; set +a"
  exit 77
fi
DS=${DOCSHIFT:-$BUILD/docshift}
SR=$BUILD/bench/dynamodb/stream_read
SC=$BUILD/bench/dynamodb/scan_copy
MS=$BUILD/bench/make_spool
DBB=$BUILD/bench/db/db_baseline
PY=${TESTBED_PYTHON:-$BUILD/venv/bin/python}
for b in "$DS" "$SR" "$SC" "$MS" "$DBB"; do
  [ -x "$b" ] || { echo "bench/dynamodb/run.sh: $b is not built (ninja -C $BUILD docshift stream_read scan_copy make_spool db_baseline)" >&2; exit 1; }
done
"$PY" -c 'import boto3' 2>/dev/null || { echo "bench/dynamodb/run.sh: $PY has no boto3 (scripts/testbed.sh up makes build/venv)" >&2; exit 1; }

if [ $QUICK = 1 ]; then N=${DY_ITEMS:-1000}; ROUNDS=${DY_ROUNDS:-1}; else N=${DY_ITEMS:-20000}; ROUNDS=${DY_ROUNDS:-3}; fi
P=${DY_PARALLEL:-4}
METRICS_PORT=${DY_METRICS_PORT:-28707}
TABLE=dybench$$
WORK=${WORK:-$BUILD/bench-dynamodb}
rm -rf "$WORK"
mkdir -p "$WORK"
RESULTS=$WORK/results.txt
: >"$RESULTS"

export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-bench} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-bench}
export AWS_REGION=us-east-1 AWS_ENDPOINT_URL=$ENDPOINT
unset AWS_PROFILE AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_DYNAMODB_STREAMS AWS_SESSION_TOKEN

CAP_PID=
cleanup() {
  [ -n "$CAP_PID" ] && kill -TERM "$CAP_PID" 2>/dev/null && wait "$CAP_PID" 2>/dev/null
  "$PY" - "$ENDPOINT" "$TABLE" <<'PY' >/dev/null 2>&1 || true
import sys, boto3
boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1").delete_table(TableName=sys.argv[2])
PY
  "$DBB" --mode drop --uri "$TGT" --db dybench_copy,dybench_snap >/dev/null 2>&1 || true
  true
}
trap cleanup EXIT

say() { echo "bench/dynamodb: $*" >&2; }
# The source server's process, when it is the test bed's (DY_SERVER_PID overrides): its
# CPU seconds around each timed run say how busy it was (moto: one Python process).
SRV_PID=${DY_SERVER_PID:-}
if [ -z "$SRV_PID" ]; then
  case "$ENDPOINT" in
    "${DYNAMODB_URL:-none}") SRV_PID=$(cat "$BUILD/testbed/run/moto.pid" 2>/dev/null || true) ;;
    "${MINISTACK_URL:-none}") SRV_PID=$(cat "$BUILD/testbed/run/ministack.pid" 2>/dev/null || true) ;;
  esac
fi
[ -n "$SRV_PID" ] && [ -r "/proc/$SRV_PID/stat" ] || SRV_PID=
srv_cpu() { if [ -n "$SRV_PID" ]; then awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$SRV_PID/stat"; else echo 0; fi; }
srv_out() {  # srv_out KEY CPU_BEFORE SECONDS [CPU_AFTER]: the server's CPU per item, busy share
  [ -n "$SRV_PID" ] || return 0
  local c; c=$(awk -v a="$2" -v b="${4:-$(srv_cpu)}" 'BEGIN { print b - a }')
  out "$1_SERVER_CPU_US_PER_ITEM" "$(awk -v c="$c" -v n="$N" 'BEGIN { printf "%.0f", c * 1e6 / n }')"
  out "$1_SERVER_BUSY" "$(awk -v c="$c" -v s="$3" 'BEGIN { if (s > 0) printf "%.2f", c / s; else print "n/a" }')"
}
out() { echo "$1=$2" | tee -a "$RESULTS"; }
val() { sed -n "s/^$2=//p" "$1" | tail -n1; }
ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", n / s; else print "n/a" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
metric() { { curl -fsS "http://127.0.0.1:$1/metrics" 2>/dev/null || true; } | awk -v n="$2" '$1 == n { print $2 }'; }
last_captured_ms() {  # capturedAt of the spool's last event, epoch ms
  "$DS" inspect dump --spool "$1" 2>/dev/null | "$PY" -c '
import sys, json, datetime
last = None
for line in sys.stdin:
    if line.startswith("{"):
        last = json.loads(line).get("capturedAt", last)
t = datetime.datetime.strptime(last, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
print(int(t.timestamp() * 1000))'
}

say "source $ENDPOINT table $TABLE, $N items, target $TGT, $ROUNDS round(s), --parallel $P"
out DYNAMODB_MACHINE_LOADAVG "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')"
"$PY" "$ROOT/bench/dynamodb/load.py" --endpoint "$ENDPOINT" --table "$TABLE" --items "$N" >"$WORK/load.out"
out DYNAMODB_ITEMS "$N"
out DYNAMODB_LOAD_ITEMS_PER_S "$(val "$WORK/load.out" LOAD_ITEMS_PER_S)"

# ---- capture vs plain GetRecords ----
run_plain_read() {  # run_plain_read ROUND
  local a b c0
  c0=$(srv_cpu)
  a=$(ns)
  "$SR" --table "$TABLE" --count "$N" >"$WORK/stream_read.$1.out"
  b=$(ns)
  local s; s=$(secs "$a" "$b")
  out "DYNAMODB_GETRECORDS_SECONDS_R$1" "$s"
  out "DYNAMODB_GETRECORDS_RECORDS_PER_S_R$1" "$(rate "$N" "$s")"
  srv_out "DYNAMODB_GETRECORDS_R$1" "$c0" "$s"
  PLAIN_S=$s
}
run_capture() {  # run_capture ROUND
  local spool=$WORK/capspool.$1 a got=0 cpu hwm c0 c1
  rm -rf "$spool"
  c0=$(srv_cpu)
  a=$(ns)
  "$DS" capture --source "dynamodb://us-east-1/$TABLE" --spool "$spool" --metrics_port "$METRICS_PORT" \
    --logtostderr 2>"$WORK/capture.$1.log" &
  CAP_PID=$!
  for _ in $(seq 1 12000); do  # 20 min
    got=$(metric "$METRICS_PORT" docshift_capture_events_total); got=${got%.*}; got=${got:-0}
    [ "$got" -ge "$N" ] && break
    kill -0 "$CAP_PID" 2>/dev/null || { say "capture exited early:"; tail -5 "$WORK/capture.$1.log" >&2; exit 1; }
    sleep 0.1
  done
  c1=$(srv_cpu)
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$CAP_PID/stat")
  hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$CAP_PID/status")
  kill -TERM "$CAP_PID"; wait "$CAP_PID" || true
  CAP_PID=
  local last; last=$(last_captured_ms "$spool")
  local s; s=$(awk -v a="$a" -v b="$last" 'BEGIN { printf "%.3f", (b * 1e6 - a) / 1e9 }')
  out "DYNAMODB_CAPTURE_SECONDS_R$1" "$s"
  out "DYNAMODB_CAPTURE_EVENTS_PER_S_R$1" "$(rate "$N" "$s")"
  out "DYNAMODB_CAPTURE_CPU_US_PER_EVENT_R$1" "$(awk -v c="$cpu" -v n="$N" 'BEGIN { printf "%.1f", c * 1e6 / n }')"
  out "DYNAMODB_CAPTURE_PEAK_RSS_MIB_R$1" "$(awk -v k="$hwm" 'BEGIN { printf "%.1f", k / 1024 }')"
  srv_out "DYNAMODB_CAPTURE_R$1" "$c0" "$s" "$c1"
  CAP_S=$s
  rm -rf "$spool"
}
CAP_RATIOS=""
for r in $(seq 1 "$ROUNDS"); do
  say "capture round $r/$ROUNDS"
  if [ $((r % 2)) = 1 ]; then run_plain_read "$r"; run_capture "$r"; else run_capture "$r"; run_plain_read "$r"; fi
  rr=$(ratio "$PLAIN_S" "$CAP_S")
  out "DYNAMODB_CAPTURE_VS_GETRECORDS_R$r" "$rr"
  CAP_RATIOS="$CAP_RATIOS $rr"
done

# ---- snapshot vs plain parallel Scan copy ----
run_scan_copy() {  # run_scan_copy ROUND
  local c0; c0=$(srv_cpu)
  "$SC" --table "$TABLE" --target "$TGT" --db dybench_copy --segments "$P" --drop >"$WORK/scan_copy.$1.out"
  local items; items=$(val "$WORK/scan_copy.$1.out" SCAN_COPY_ITEMS)
  [ "$items" = "$N" ] || { say "scan_copy copied $items of $N items"; exit 1; }
  out "DYNAMODB_SCAN_COPY_SECONDS_R$1" "$(val "$WORK/scan_copy.$1.out" SCAN_COPY_SECONDS)"
  out "DYNAMODB_SCAN_COPY_ITEMS_PER_S_R$1" "$(val "$WORK/scan_copy.$1.out" SCAN_COPY_ITEMS_PER_S)"
  COPY_S=$(val "$WORK/scan_copy.$1.out" SCAN_COPY_SECONDS)
  srv_out "DYNAMODB_SCAN_COPY_R$1" "$c0" "$COPY_S"
  "$DBB" --mode drop --uri "$TGT" --db dybench_copy >/dev/null
}
run_snapshot() {  # run_snapshot ROUND
  local spool=$WORK/snapspool.$1 a b
  rm -rf "$spool"
  "$MS" --spool "$spool" --events 0 --start_position --source_kind dynamodb \
    --source_id "dynamodb:us-east-1@$ENDPOINT" >"$WORK/make_spool.$1.log" 2>&1
  "$DBB" --mode drop --uri "$TGT" --db dybench_snap >/dev/null
  local c0; c0=$(srv_cpu)
  a=$(ns)
  /usr/bin/time -v -o "$WORK/snapshot.$1.time" "$DS" snapshot --source "dynamodb://us-east-1/$TABLE" \
    --target "$TGT" --spool "$spool" --map "dynamodb.$TABLE=dybench_snap.t" --parallel "$P" --progress none \
    >"$WORK/snapshot.$1.log" 2>&1 || { say "snapshot failed:"; tail -5 "$WORK/snapshot.$1.log" >&2; exit 1; }
  b=$(ns)
  grep -q "finished .* $N documents" "$WORK/snapshot.$1.log" \
    || { say "snapshot did not copy $N documents:"; tail -3 "$WORK/snapshot.$1.log" >&2; exit 1; }
  local s; s=$(secs "$a" "$b")
  local cpu; cpu=$(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { print u + s }' "$WORK/snapshot.$1.time")
  out "DYNAMODB_SNAPSHOT_SECONDS_R$1" "$s"
  out "DYNAMODB_SNAPSHOT_ITEMS_PER_S_R$1" "$(rate "$N" "$s")"
  out "DYNAMODB_SNAPSHOT_SEGMENTS_R$1" "$(sed -n 's/.* in \([0-9]*\) Scan segment(s).*/\1/p' "$WORK/snapshot.$1.log" | tail -1)"
  out "DYNAMODB_SNAPSHOT_CPU_US_PER_ITEM_R$1" "$(awk -v c="$cpu" -v n="$N" 'BEGIN { printf "%.1f", c * 1e6 / n }')"
  out "DYNAMODB_SNAPSHOT_PEAK_RSS_MIB_R$1" "$(awk -F': ' '/Maximum resident/ { printf "%.1f", $2 / 1024 }' "$WORK/snapshot.$1.time")"
  SNAP_S=$s
  srv_out "DYNAMODB_SNAPSHOT_R$1" "$c0" "$s"
  "$DBB" --mode drop --uri "$TGT" --db dybench_snap >/dev/null
  rm -rf "$spool"
}
SNAP_RATIOS=""
for r in $(seq 1 "$ROUNDS"); do
  say "snapshot round $r/$ROUNDS"
  if [ $((r % 2)) = 1 ]; then run_scan_copy "$r"; run_snapshot "$r"; else run_snapshot "$r"; run_scan_copy "$r"; fi
  rr=$(ratio "$COPY_S" "$SNAP_S")
  out "DYNAMODB_SNAPSHOT_VS_SCAN_COPY_R$r" "$rr"
  SNAP_RATIOS="$SNAP_RATIOS $rr"
done

# ---- summary ----
med() { for r in $(seq 1 "$ROUNDS"); do val "$RESULTS" "$1_R$r"; done | tr '\n' ' ' | median; }
out DYNAMODB_GETRECORDS_RECORDS_PER_S "$(med DYNAMODB_GETRECORDS_RECORDS_PER_S)"
out DYNAMODB_CAPTURE_EVENTS_PER_S "$(med DYNAMODB_CAPTURE_EVENTS_PER_S)"
out DYNAMODB_CAPTURE_CPU_US_PER_EVENT "$(med DYNAMODB_CAPTURE_CPU_US_PER_EVENT)"
out DYNAMODB_SCAN_COPY_ITEMS_PER_S "$(med DYNAMODB_SCAN_COPY_ITEMS_PER_S)"
out DYNAMODB_SNAPSHOT_ITEMS_PER_S "$(med DYNAMODB_SNAPSHOT_ITEMS_PER_S)"
out DYNAMODB_SNAPSHOT_CPU_US_PER_ITEM "$(med DYNAMODB_SNAPSHOT_CPU_US_PER_ITEM)"
CAP_R=$(echo "$CAP_RATIOS" | median)
SNAP_R=$(echo "$SNAP_RATIOS" | median)
out RATIO_DYNAMODB_CAPTURE_VS_GETRECORDS "$CAP_R"
out RATIO_DYNAMODB_SNAPSHOT_VS_SCAN_COPY "$SNAP_R"
verdict() { awk -v r="$1" -v g="$2" 'BEGIN { if (r == "n/a") print "n/a"; else if (r + 0 >= g + 0) print "met"; else printf "missed by %.0f%%\n", 100 * (g - r) / g }'; }
echo
printf "%-36s %-10s %-7s %s\n" figure "ratio" goal verdict
printf "%-36s %-10s %-7s %s\n" "capture / plain GetRecords" "$CAP_R" "≥0.8" "$(verdict "$CAP_R" 0.8)"
printf "%-36s %-10s %-7s %s\n" "snapshot / plain parallel Scan copy" "$SNAP_R" "≥0.8" "$(verdict "$SNAP_R" 0.8)"
say "per round: capture$CAP_RATIOS; snapshot$SNAP_RATIOS (median above); results in $RESULTS"

if [ $CHECK = 1 ]; then
  for k in DYNAMODB_GETRECORDS_RECORDS_PER_S DYNAMODB_CAPTURE_EVENTS_PER_S DYNAMODB_CAPTURE_CPU_US_PER_EVENT \
           DYNAMODB_SCAN_COPY_ITEMS_PER_S DYNAMODB_SNAPSHOT_ITEMS_PER_S DYNAMODB_SNAPSHOT_CPU_US_PER_ITEM \
           RATIO_DYNAMODB_CAPTURE_VS_GETRECORDS RATIO_DYNAMODB_SNAPSHOT_VS_SCAN_COPY; do
    v=$(val "$RESULTS" "$k")
    if [ -z "$v" ] || [ "$v" = n/a ]; then
      echo "bench/dynamodb: FAIL: no value for $k" >&2
      exit 1
    fi
  done
  echo "bench/dynamodb: every figure printed" >&2
fi

#!/usr/bin/env bash
# docshift ship throughput (issue #13) against a plain PUT loop of the same segment files
# to the same S3 server, in one run. See bench/README.md.
#
#   scripts/testbed.sh up; set -a; . build/testbed.env; set +a
#   bench/ship/run.sh [--quick] [--check] [--build DIR]
#
# 1. make_spool writes SH_EVENTS synthetic events (default 400000; --quick 20000) into
#    segments of SH_SEG_BYTES (default 16 MiB; --quick 1 MiB).
# 2. SH_ROUNDS rounds (default 3; --quick 1), the order alternating: `put_loop` (one PUT
#    per segment file, the same S3 client and connection reuse, nothing else) and
#    `docshift ship --stop_when_drained` (checks each file's CRC, PUTs it, creates its
#    commit record, fsyncs the shipped mark), each to a fresh prefix; both timed wall-clock
#    from exec to exit. Objects are deleted after each round (gofakes3 keeps them in memory).
# Prints KEY=value lines: the MB/s of every round and the median RATIO_SHIP_VS_PUT_LOOP
# (goal >= 0.8). Server: S3_URL (gofakes3). --check: exit 1 unless every figure was printed
# (ctest bench.ship_quick); timing goals are never asserted.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$ROOT/build
QUICK=0 CHECK=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --check) CHECK=1 ;;
    --build) BUILD=$2; shift ;;
    *) echo "usage: bench/ship/run.sh [--quick] [--check] [--build DIR]" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "${S3_URL:-}" ] || [ -z "${TESTBED_PYTHON:-}" ]; then
  echo "SKIPPED: bench/ship/run.sh: S3_URL or TESTBED_PYTHON is not set; run scripts/testbed.sh up and: set -a; . build/testbed.env; set +a"
  exit 77
fi
DS=${DOCSHIFT:-$BUILD/docshift}
if [ $QUICK = 1 ]; then EVENTS=${SH_EVENTS:-20000}; SEG=${SH_SEG_BYTES:-1048576}; ROUNDS=${SH_ROUNDS:-1}
else EVENTS=${SH_EVENTS:-400000}; SEG=${SH_SEG_BYTES:-16777216}; ROUNDS=${SH_ROUNDS:-3}; fi
WORK=${WORK:-$BUILD/bench-ship}
rm -rf "$WORK"; mkdir -p "$WORK"
export AWS_ENDPOINT_URL=$S3_URL AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testing}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testing} AWS_REGION=${AWS_REGION:-us-east-1}
BKT=bench-ship-$$
"$BUILD/bench/make_spool" --spool "$WORK/spool" --events "$EVENTS" --segment_max_bytes "$SEG" >/dev/null 2>&1
BYTES=$(cat "$WORK"/spool/segments/*.seg | wc -c)
FILES=$(ls "$WORK"/spool/segments/*.seg | wc -l)
echo "SHIP_SPOOL_BYTES=$BYTES"
echo "SHIP_SPOOL_SEGMENTS=$FILES"
now() { date +%s.%N; }
wipe() {
  "$TESTBED_PYTHON" - "$S3_URL" "$BKT" "$1" <<'PYEOF'
import sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="testing",
                  aws_secret_access_key="testing", config=Config(s3={"addressing_style": "path"}))
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[2], Prefix=sys.argv[3] + "/"):
    for o in page.get("Contents", []):
        s3.delete_object(Bucket=sys.argv[2], Key=o["Key"])
PYEOF
}
put_round() {
  local t0 t1; t0=$(now)
  "$BUILD/bench/ship/put_loop" --dir "$WORK/spool/segments" --to "s3://$BKT/put$1" >/dev/null
  t1=$(now); echo "$t0 $t1" | awk -v b="$BYTES" '{ printf "%.2f", b / 1048576 / ($2 - $1) }'
}
ship_round() {
  local t0 t1; rm -rf "$WORK/spool/shipped"; t0=$(now)
  "$DS" ship --spool "$WORK/spool" --to "s3://$BKT/ship$1" --stop_when_drained 2>"$WORK/ship$1.log"
  t1=$(now); echo "$t0 $t1" | awk -v b="$BYTES" '{ printf "%.2f", b / 1048576 / ($2 - $1) }'
}
ratios=()
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then p=$(put_round "$r"); s=$(ship_round "$r")
  else s=$(ship_round "$r"); p=$(put_round "$r"); fi
  grep -q "committed $FILES segment(s)" "$WORK/ship$r.log" || { cat "$WORK/ship$r.log" >&2; echo "ship did not commit all $FILES segments" >&2; exit 1; }
  wipe "put$r"; wipe "ship$r"
  ratio=$(awk -v s="$s" -v p="$p" 'BEGIN { printf "%.2f", s / p }')
  echo "SHIP_ROUND_${r}_PUT_LOOP_MBPS=$p"
  echo "SHIP_ROUND_${r}_SHIP_MBPS=$s"
  echo "SHIP_ROUND_${r}_RATIO=$ratio"
  ratios+=("$ratio")
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
echo "RATIO_SHIP_VS_PUT_LOOP=$median"
echo "| segments | bytes | rounds | ship / put loop (median) | goal |"
echo "|---|---|---|---|---|"
echo "| $FILES x $SEG | $BYTES | $ROUNDS | $median | >= 0.8 |"
if [ $CHECK = 1 ]; then
  [ -n "$median" ] && [ "${#ratios[@]}" = "$ROUNDS" ] || { echo "bench/ship: figures missing" >&2; exit 1; }
fi

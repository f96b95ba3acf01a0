#!/usr/bin/env bash
# ctest bench.lag_quick: runs bench/db/lag.sh --quick on the test bed and checks that it
# printed every figure it promises (values are reported, never judged: timing is not a
# test). Exit 77 (skipped) when the test bed's environment is not loaded.
#   lag_quick_test.sh BUILD_DIR
set -uo pipefail
BUILD=${1:?usage: lag_quick_test.sh BUILD_DIR}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for v in SOURCE_OPLOG_URI TARGET_URI; do
  if [[ -z ${!v:-} ]]; then
    echo "SKIPPED: $v is not set (bash scripts/testbed.sh up; set -a; . build/testbed.env; set +a)"
    exit 77
  fi
done
out=$(bash "$HERE/lag.sh" --quick --build "$BUILD" 2>&1)
rc=$?
echo "$out"
if ((rc != 0)); then
  echo "FAIL: lag.sh --quick exited $rc"
  exit 1
fi
fail=0
for key in OPLOG_TAIL_ENTRIES_PER_S CAPTURE_EVENTS_PER_S CAPTURE_VS_OPLOG_TAIL CAPTURE_VS_SORTED_FIND \
           CS_CAPTURE_VS_CS_TAIL CS_CAPTURE_CPU_US_PER_EVENT CAPTURE_CPU_US_PER_EVENT \
           CAPTURE_PEAK_RSS_MIB SPOOL_BYTES_PER_EVENT SPOOL_ZSTD_RATIO B_INS_DOCS_PER_S \
           LAG_LOW_P50_S LAG_LOW_P99_S LAG_HALF_P50_S LAG_HALF_P99_S LAG_LOW_METRIC_COUNT \
           LAG_GOAL_AT_HALF_B_INS; do
  val=$(sed -n "s/^$key=//p" <<<"$out" | tail -1)
  if [[ -z $val ]]; then
    echo "FAIL: lag.sh printed no value for $key"
    fail=1
  fi
done
grep -q '^| goal p99 ≤ 1 s at half of B_ins |' <<<"$out" || { echo "FAIL: no summary table"; fail=1; }
exit $fail

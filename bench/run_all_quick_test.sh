#!/usr/bin/env bash
# ctest bench.run_all_quick: runs bench/run_all.sh --quick on the test bed and checks with
# check_summary.py that every figure it promises is in summary.json (present, numeric,
# positive) and every goal without a bench is listed with a reason. Values are never
# judged. The checker is first shown to fail on a summary with a figure removed.
# Exit 77 (skipped) when the test bed's environment is not loaded.
#   run_all_quick_test.sh BUILD_DIR
set -uo pipefail
BUILD=${1:?usage: run_all_quick_test.sh BUILD_DIR}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for v in SOURCE_OPLOG_URI TARGET_URI TARGET_PG_URI SOURCE_CS_URI; do
  if [[ -z ${!v:-} ]]; then
    echo "SKIPPED: $v is not set (bash scripts/testbed.sh up; set -a; . build/testbed.env; set +a)"
    exit 77
  fi
done
OUT=$BUILD/bench-all-quick-test
rm -rf "$OUT"
bash "$HERE/run_all.sh" --quick --build "$BUILD" --out "$OUT"
rc=$?
if ((rc != 0)); then
  echo "FAIL: run_all.sh --quick exited $rc"
  for f in "$OUT"/*.err; do echo "--- $f"; tail -n 5 "$f"; done
  exit 1
fi
S=$OUT/summary.json
python3 "$HERE/check_summary.py" "$S" --quick || exit 1
# The check can fail: the same summary without one figure, and with one figure at 0.
python3 - "$S" "$OUT/doctored1.json" "$OUT/doctored2.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
a = dict(s, goals=[g for g in s["goals"] if g["name"] != "cpu_apply_insert_only_pg"])
json.dump(a, open(sys.argv[2], "w"))
b = dict(s, goals=[dict(g, value=0) if g["name"] == "lag_p99_half_b_ins_oplog" else g for g in s["goals"]])
json.dump(b, open(sys.argv[3], "w"))
PY
for d in doctored1 doctored2; do
  if python3 "$HERE/check_summary.py" "$OUT/$d.json" --quick >/dev/null; then
    echo "FAIL: check_summary.py accepted $d.json (a figure removed or zeroed)"
    exit 1
  fi
done
# One table line per goal in summary.json.
want=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["goals"]))' "$S")
got=$(grep -cE '\| (MET|MISSED|NOT MEASURED)' "$OUT/table.txt")
[[ $got == "$want" ]] || { echo "FAIL: table.txt has $got goal lines, summary.json $want goals"; exit 1; }
echo "PASS: run_all.sh --quick produced every figure"

#!/usr/bin/env bash
# Builds the spool fuzz targets with clang + libFuzzer + ASan in build-fuzz/ and runs each
# for SECONDS (default 60) from a freshly generated seed corpus. Exits non-zero if any
# fuzzer finds a crash, a hang (-timeout), a leak or runs out of memory; the input that
# did it is left in build-fuzz/tests/fuzz/artifacts/.
#
#   tests/fuzz/run_fuzz.sh 30
#   DOCSHIFT_FUZZ_BUILD_DIR=/tmp/bf tests/fuzz/run_fuzz.sh 300
set -euo pipefail

secs=${1:-60}
if ! [[ $secs =~ ^[0-9]+$ ]] || [[ $secs -eq 0 ]]; then
  echo "usage: $0 SECONDS" >&2
  exit 2
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${DOCSHIFT_FUZZ_BUILD_DIR:-$root/build-fuzz}
readers=(segment manifest checkpoint)

mkdir -p "$build"
cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDOCSHIFT_FUZZ=ON -DDOCSHIFT_BUILD_BENCH=OFF >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; exit 1; }
targets=(spool_fuzz_seeds)
for r in "${readers[@]}"; do targets+=("spool_${r}_fuzz"); done
ninja -C "$build" "${targets[@]}"

out=$build/tests/fuzz
corpus=$out/corpus
artifacts=$out/artifacts
mkdir -p "$corpus" "$artifacts"
"$out/spool_fuzz_seeds" "$corpus"

status=0
for r in "${readers[@]}"; do
  log=$out/spool_${r}_fuzz.log
  echo "== spool_${r}_fuzz: ${secs}s"
  set +e
  "$out/spool_${r}_fuzz" "$corpus/$r" \
    -max_total_time="$secs" -timeout=5 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$artifacts/${r}-" >"$log" 2>&1
  rc=$?
  set -e
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+ +DONE' "$log" || true
  if [[ $rc -ne 0 ]]; then
    echo "spool_${r}_fuzz FAILED (exit $rc); log: $log" >&2
    grep -E 'ERROR|SUMMARY|spool_fuzz:|Test unit written' "$log" >&2 || tail -40 "$log" >&2
    status=1
  fi
done
exit $status

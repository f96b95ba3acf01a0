#!/usr/bin/env bash
# Builds the benchmarks (build/ must already be configured) and runs spool_bench with its
# defaults, teeing the output to build/bench-results.txt. Extra arguments go to
# spool_bench, e.g.  bench/run.sh --nested --rounds 7
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${root}/build"
if [[ ! -f "${build}/build.ninja" ]]; then
  echo "run.sh: ${build} is not configured; run: cmake -S ${root} -B ${build} -G Ninja" >&2
  exit 2
fi
ninja -C "${build}" spool_bench
"${build}/bench/spool_bench" "$@" 2>&1 | tee "${build}/bench-results.txt"

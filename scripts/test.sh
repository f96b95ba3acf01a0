#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test:
#   1. the fuzz targets for a bounded time (FUZZ_SECONDS per target, default 30);
#   2. the test bed (real FerretDB and mongo-java-server on loopback);
#   3. one ctest run over unit tests (label unit), offline CLI end-to-end tests (e2e) and
#      tests against the real servers (testbed).
# The test bed is stopped on exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
start=$(date +%s)

scripts/install-deps.sh
scripts/build.sh

echo "== fuzz (${FUZZ_SECONDS:-30}s per target)"
bash tests/fuzz/run_fuzz.sh "${FUZZ_SECONDS:-30}"

echo "== test bed"
cleanup() { "$ROOT/scripts/testbed.sh" down || true; }
trap cleanup EXIT
scripts/testbed.sh up
set -a
# shellcheck disable=SC1091
source build/testbed.env
set +a

echo "== ctest"
ctest --test-dir build --output-on-failure --timeout 900 -j2
echo "test.sh: all tests passed in $(( $(date +%s) - start ))s"

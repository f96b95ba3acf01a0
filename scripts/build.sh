#!/usr/bin/env bash
# Configures and builds docshift into build/ (Release with debug info). Usage:
#   scripts/build.sh [extra cmake args]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
ninja -C build
echo "build: build/docshift ready"

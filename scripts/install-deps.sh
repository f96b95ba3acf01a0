#!/usr/bin/env bash
# Installs every Debian package docshift needs to build and test. Idempotent and quiet:
# apt runs only when something is missing.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config
  libmongoc-dev libbson-dev libzstd-dev libprotobuf-dev protobuf-compiler
  libssl-dev libcurl4-openssl-dev rapidjson-dev libgflags-dev libgoogle-glog-dev libgtest-dev googletest libbenchmark-dev
  clang libclang-rt-14-dev
  python3 python3-venv
  openssl  # tests/e2e/make_pki.sh (e2e.tls_auth)
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: all build dependencies present"

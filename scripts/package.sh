#!/usr/bin/env bash
# Builds the Debian package build/package/docshift_VERSION_ARCH.deb (CPack; see
# packaging/CMakeLists.txt): /usr/bin/docshift, the systemd template units, the docshift
# user (sysusers.d), docshift(1) and /usr/share/doc/docshift/example.env.
#   scripts/package.sh            build (scripts/build.sh), then package
# Install with `apt install ./build/package/docshift_*.deb`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${PACKAGE_NO_BUILD:-}" ] || scripts/build.sh
cpack --config build/CPackConfig.cmake -B build/package >build/package.log 2>&1 ||
  { tail -20 build/package.log >&2; echo "package: cpack failed (build/package.log)" >&2; exit 1; }
deb=$(ls -t build/package/docshift_*.deb | head -1)
echo "package: $deb"

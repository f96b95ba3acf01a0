#!/usr/bin/env bash
# The Debian package (issue #14), built as scripts/package.sh builds it (CPack over this
# build tree), extracted into a clean directory root with dpkg-deb -x (no dpkg database, no
# maintainer scripts), then:
#   - the installed /usr/bin/docshift runs: `--version` names the package's version;
#   - the control file's Depends (dpkg-shlibdeps) names libsystemd0 and libmongoc;
#   - the units, the sysusers.d file, the example environment file and docshift(1) are in
#     place; the man page renders without a groff warning and has every command;
#   - `systemd-analyze verify` passes on both template units (instance "ci"), with no
#     output at all (an unknown or misspelled directive only warns), their ExecStart
#     pointed at the extracted binary (verify requires it to exist) and MANPATH at the
#     extracted man page (verify checks Documentation=man:docshift(1)).
# Usage: package_test.sh BUILD_DIR
set -uo pipefail
BUILD=$1
TMP=$BUILD/package-test.$$
rm -rf "$TMP"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL[package]: $*" >&2; exit 1; }

cpack --config "$BUILD/CPackConfig.cmake" -B "$TMP/out" >"$TMP/cpack.log" 2>&1 ||
  { tail -20 "$TMP/cpack.log" >&2; fail "cpack failed"; }
deb=$(ls "$TMP"/out/docshift_*.deb 2>/dev/null | head -1)
[ -f "$deb" ] || fail "cpack made no docshift_*.deb: $(ls "$TMP/out")"
version=$(dpkg-deb -f "$deb" Version)
depends=$(dpkg-deb -f "$deb" Depends)
echo "  $(basename "$deb"): version $version, $(stat -c %s "$deb") bytes"
for lib in libsystemd0 libmongoc-1.0-0 libzstd1; do
  grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
done

ROOT=$TMP/root
dpkg-deb -x "$deb" "$ROOT" || fail "dpkg-deb -x failed"
for f in usr/bin/docshift usr/lib/systemd/system/docshift-capture@.service \
         usr/lib/systemd/system/docshift-apply@.service usr/lib/sysusers.d/docshift.conf \
         usr/share/doc/docshift/example.env usr/share/man/man1/docshift.1.gz; do
  [ -f "$ROOT/$f" ] || fail "the package has no /$f"
done

# The installed binary.
"$ROOT/usr/bin/docshift" --version >"$TMP/version" 2>"$TMP/version.err" ||
  fail "installed docshift --version failed: $(cat "$TMP/version.err")"
[ "$(head -1 "$TMP/version")" = "docshift $version" ] ||
  fail "installed docshift --version says '$(head -1 "$TMP/version")', the package is $version"
grep -q "libmongoc" "$TMP/version" || fail "--version lists no libraries"
echo "  installed: $(head -1 "$TMP/version")"

# The man page: renders cleanly, one section per command, the service parts.
zcat "$ROOT/usr/share/man/man1/docshift.1.gz" >"$TMP/docshift.1" || fail "docshift.1.gz is not gzip"
groff -man -Tutf8 -ww -z "$TMP/docshift.1" 2>"$TMP/groff.err"
[ ! -s "$TMP/groff.err" ] || fail "groff warns about docshift.1: $(head -5 "$TMP/groff.err")"
commands=$("$ROOT/usr/bin/docshift" --help | awk '/^Commands:/{f=1; next} f && /^  [a-z]/{print $1} f && /^$/{exit}')
n=0
for c in $commands; do
  grep -q "^\.SS docshift $c\$" "$TMP/docshift.1" || fail "docshift.1 has no section for '$c'"
  n=$((n + 1))
done
[ "$n" -ge 10 ] || fail "only $n commands in --help"
for s in SIGNALS FILES SERVICE; do grep -q "^\.SH $s" "$TMP/docshift.1" || fail "docshift.1 has no $s section"; done
grep -q 'http_listen' "$TMP/docshift.1" || fail "docshift.1 lacks capture's --http_listen (not from --help?)"
echo "  docshift.1: $n commands, no groff warning"

# The units.
command -v systemd-analyze >/dev/null || fail "systemd-analyze is not installed (scripts/install-deps.sh installs systemd)"
mkdir -p "$TMP/units"
for u in capture apply; do
  sed "s|/usr/bin/docshift|$ROOT/usr/bin/docshift|g" "$ROOT/usr/lib/systemd/system/docshift-$u@.service" \
    >"$TMP/units/docshift-$u@ci.service"
done
MANPATH=$ROOT/usr/share/man systemd-analyze verify --man=yes \
  "$TMP/units/docshift-capture@ci.service" "$TMP/units/docshift-apply@ci.service" >"$TMP/verify.out" 2>&1
rc=$?
[ $rc -eq 0 ] && [ ! -s "$TMP/verify.out" ] || fail "systemd-analyze verify (exit $rc): $(cat "$TMP/verify.out")"
for u in capture apply; do
  grep -q '^Type=notify$' "$TMP/units/docshift-$u@ci.service" &&
    grep -q '^WatchdogSec=' "$TMP/units/docshift-$u@ci.service" &&
    grep -q '^ProtectSystem=strict$' "$TMP/units/docshift-$u@ci.service" &&
    grep -q '^NoNewPrivileges=yes$' "$TMP/units/docshift-$u@ci.service" &&
    grep -q '^User=docshift$' "$TMP/units/docshift-$u@ci.service" ||
    fail "docshift-$u@.service lacks Type=notify, WatchdogSec, ProtectSystem=strict, NoNewPrivileges or User=docshift"
done
exposure=$(systemd-analyze security --offline=yes --man=no "$TMP/units/docshift-capture@ci.service" 2>/dev/null |
  sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "  systemd-analyze verify: both units clean; capture's exposure level ${exposure:-?} (systemd-analyze security)"
echo "package_test: PASS"

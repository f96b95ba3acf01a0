#!/usr/bin/env bash
# Where /dev/shm is read-only (containers, sandboxed CI), libmongoc's library constructor
# cannot map its shared-memory counters and used to print a warning to stderr before main()
# ran, so an error was no longer one line. Runs `docshift status` on a missing spool in a
# private mount namespace with a read-only /dev/shm and expects exactly the one-line error.
# Usage: no_shm_test.sh DOCSHIFT
set -uo pipefail
docshift=$1
if ! unshare -m true 2>/dev/null; then
  echo "SKIP: cannot create a mount namespace here (unshare -m needs root or user namespaces)"
  exit 77
fi
err=$(unshare -m sh -c 'mount -t tmpfs -o ro tmpfs /dev/shm && exec "$0" status --spool /nonexistent/docshift-no-shm' "$docshift" 2>&1 >/dev/null)
rc=$?
lines=$(printf '%s\n' "$err" | grep -c .)
if [[ $rc -eq 0 || $lines -ne 1 ]]; then
  echo "FAIL: expected one error line and a non-zero exit, got rc=$rc and $lines lines:"
  printf '%s\n' "$err"
  exit 1
fi
# The namespace really had a read-only /dev/shm (otherwise this test proves nothing).
if unshare -m sh -c 'mount -t tmpfs -o ro tmpfs /dev/shm && touch /dev/shm/docshift-probe' 2>/dev/null; then
  echo "FAIL: /dev/shm was writable inside the namespace; the test did not exercise the fallback"
  exit 1
fi
echo "PASS: one-line error with a read-only /dev/shm: $err"

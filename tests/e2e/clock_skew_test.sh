#!/usr/bin/env bash
# End-to-end (issue #16, item 9): a capture host whose clock runs an hour ahead of the
# source's (libfaketime) must still capture everything. capture took stream start
# positions from the host clock (a new spool's start, and the start of a collection's
# stream found by discovery); an hour ahead, those streams began an hour after the
# events they had to capture, which were lost. Positions now come from the source
# (operationTime, else its localTime).
#
# libfaketime is preloaded into docshift itself rather than run through the `faketime`
# wrapper: the wrapper is a separate parent process that does not pass SIGINT on, which
# is why capture "ignored SIGINT" under `faketime -f -1h` in the issue (docshift never
# received it). Only the realtime clock is faked (FAKETIME_DONT_FAKE_MONOTONIC=1): the
# skew between hosts is a wall-clock matter; docshift measures intervals on the
# monotonic clock.
#
# Source: mongo-java-server (SOURCE_CS_URI; one stream per collection, discovered).
# Usage: clock_skew_test.sh DOCSHIFT   (env: SOURCE_CS_URI, TESTBED_PYTHON)
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init clock_skew SOURCE_CS_URI SOURCE_CS_URI "e2eskew$$_"
LIBFAKETIME=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -1)
[ -n "$LIBFAKETIME" ] || { echo "clock_skew_test: libfaketime is not installed (Debian package faketime)"; [ -n "${CI:-}" ] && exit 1; exit 77; }
echo "clock_skew_test: prefix $PREFIX; capture's clock one hour ahead"
"$PY" - "$SRC" "$PREFIX" <<'PYEOF' || fail "cannot create the first collection"
import sys
from pymongo import MongoClient
MongoClient(sys.argv[1])[sys.argv[2] + "db"].create_collection("existing")
PYEOF
LD_PRELOAD=$LIBFAKETIME FAKETIME='+1h' FAKETIME_DONT_FAKE_MONOTONIC=1 "$DS" capture --source "$SRC" --spool "$SPOOL" \
  --include "${PREFIX}*" --progress_interval 5s >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -qs "capture: ready" "$WORK/capture.log" || fail "capture did not become ready"
"$PY" - "$SRC" "$PREFIX" <<'PYEOF' || fail "the writes failed"
import sys
from pymongo import MongoClient
db = MongoClient(sys.argv[1])[sys.argv[2] + "db"]
db["existing"].insert_one({"_id": 1, "v": "skew"})
db["created_later"].insert_one({"_id": 2, "v": "skew"})
PYEOF
captured() { [ "$("$DS" inspect dump --spool "$SPOOL" --op insert 2>/dev/null | grep -c '"skew"')" -ge 2 ]; }
wait_for 60 captured || fail "with the host clock an hour ahead, $("$DS" inspect dump --spool "$SPOOL" --op insert 2>/dev/null | grep -c '"skew"') of 2 inserts reached the spool in 60 s"
kill -INT "$cap_pid"; wait "$cap_pid"; rc=$?; cap_pid=""
[ "$rc" -eq 0 ] || fail "capture exited $rc on SIGINT"
echo "clock_skew_test: PASS (both inserts captured: the existing collection's and the one created later)"

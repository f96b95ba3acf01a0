#!/usr/bin/env bash
# End-to-end: apply's update-statement cap on a FerretDB target. FerretDB v1.24's update
# handler holds every statement's query (a pooled backend connection) until the whole
# "update" command ends, and needs one more connection per statement; a command with more
# statements than its pool holds (SQLite: 100 per database) deadlocks the server for good.
# Verified by hand on 2026-12-02: this spool applied with `--lanes 1
# --max_update_statements 0` (one command of 400 updates) hung the server after 385 events
# until it was restarted. (Not run here: it would leave the test bed's target dead.)
#
# Here: 400 inserts, then one update of each, captured from mongo-java-server; apply
# (one lane, so one lane's bulk would hold all 400 updates) must say it caps the command
# at 32 statements, finish, and leave the target identical to the source.
#
# Usage: ferretdb_update_cap_test.sh DOCSHIFT. URIs from SOURCE_CS_URI, TARGET_URI and
# TESTBED_PYTHON. Unset: exit 77 (skipped, reason printed), or fail when CI is set.
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init update_cap SOURCE_CS_URI TARGET_URI "e2ecap$$_"
echo "ferretdb_update_cap_test: prefix $PREFIX, work dir $WORK"

drop_prefix "$PREFIX" "$SRC" "$TGT"
"$DS" capture --source "$SRC" --spool "$SPOOL" --include "${PREFIX}*" --progress_interval 2s \
  >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -q "capture: ready" "$WORK/capture.log" || fail "capture did not become ready"
"$PY" - "$SRC" "$PREFIX" <<'PYEOF' || fail "cannot write to the source"
import sys
from pymongo import MongoClient
c = MongoClient(sys.argv[1])[sys.argv[2] + "0"]["c"]
c.insert_many([{"_id": i, "pad": "x" * 200} for i in range(400)])
for i in range(400):
    c.update_one({"_id": i}, {"$set": {"v": i}})
c.insert_one({"_id": "end-marker"})
PYEOF
marker_in_spool() { "$DS" inspect dump --spool "$SPOOL" --ns "${PREFIX}0.c" 2>/dev/null | grep -q '"end-marker"'; }
wait_for 120 marker_in_spool || fail "the marker never reached the spool"
kill -TERM "$cap_pid"; wait "$cap_pid"; cap_pid=""

timeout 300 "$DS" apply --spool "$SPOOL" --target "$TGT" --lanes 1 --stop_when_drained >"$WORK/apply.log" 2>&1
rc=$?
[ $rc -eq 0 ] || fail "apply exited $rc (124: it hung, the FerretDB deadlock this cap prevents)"
grep -q "the target is FerretDB; at most 32 update statements per command" "$WORK/apply.log" \
  || fail "apply did not report the update-statement cap for a FerretDB target"
echo "  $(tail -1 "$WORK/apply.log")"
"$PY" "$ROOT/tests/workload/checker.py" --source "$SRC" --target "$TGT" --db-prefix "$PREFIX" >"$WORK/checker.log" 2>&1
rc=$?
tail -1 "$WORK/checker.log"
[ $rc -eq 0 ] || fail "checker found differences (exit $rc): $(head -20 "$WORK/checker.log")"
echo "ferretdb_update_cap_test: PASS: 400 updates of one collection through one lane, capped at 32 per command, target identical"

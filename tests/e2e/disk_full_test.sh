#!/usr/bin/env bash
# End-to-end: the spool's disk fills up while capture runs (issue #4). capture must say so,
# stay up and write nothing half-done; SIGKILLed while the disk is full, the spool must
# still verify; once space returns, a restarted capture and apply must bring the target to
# the source's state.
#
# The spool lives on a 4 MB tmpfs mounted for the test (needs root or CAP_SYS_ADMIN; without
# it the test is skipped with the reason, exit 77). Source: FerretDB with its oplog
# (SOURCE_OPLOG_URI); target: FerretDB/SQLite (TARGET_URI); TESTBED_PYTHON. Unset: exit
# 77, or fail under CI.
#
# Usage: disk_full_test.sh DOCSHIFT
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init disk_full SOURCE_OPLOG_URI TARGET_URI "e2efull$$_"
DISK=$WORK/disk
SPOOL=$DISK/spool
mkdir -p "$DISK"
if ! mount -t tmpfs -o size=4m docshift-e2e "$DISK" 2>"$WORK/mount.err"; then
  echo "disk_full_test: SKIPPED: cannot mount a small tmpfs for the spool ($(head -1 "$WORK/mount.err")); needs root or CAP_SYS_ADMIN"
  exit 77
fi
e2e_on_exit() {
  wait 2>/dev/null
  umount "$DISK" 2>/dev/null
}
echo "disk_full_test: prefix $PREFIX, spool on a 4 MB tmpfs at $DISK"

drop_prefix "$PREFIX" "$SRC" "$TGT" || fail "cannot reach the servers"
start_capture() {
  "$DS" capture --source "$SRC" --source_kind oplog --spool "$SPOOL" --include "${PREFIX}*" \
    --progress_interval 2s >>"$WORK/capture.log" 2>&1 &
  cap_pid=$!
}
readies() { grep -c "capture: ready" "$WORK/capture.log"; }
start_capture
ready1() { [ "$(readies)" -ge 1 ]; }
wait_for 60 ready1 || fail "capture did not become ready"

# Fill the disk but for 96 KB; 60 events fit, then 840 more do not: capture must wait.
avail_kb=$(df -k --output=avail "$DISK" | tail -1 | tr -d ' ')
dd if=/dev/zero of="$DISK/filler" bs=1k count=$((avail_kb - 96)) >/dev/null 2>&1 || fail "cannot fill the tmpfs"
echo "  disk filled: $(df -k --output=avail "$DISK" | tail -1 | tr -d ' ') KB free"
writer() {  # FIRST COUNT: inserts _id FIRST.. with ~1 KB documents, then updates half of them
  "$PY" - "$SRC" "$PREFIX" "$1" "$2" <<'EOF'
import os, sys
from pymongo import MongoClient
coll = MongoClient(sys.argv[1])[sys.argv[2] + "0"]["c"]
first, n = int(sys.argv[3]), int(sys.argv[4])
coll.insert_many([{"_id": first + i, "pad": os.urandom(500).hex()} for i in range(n)])
for i in range(0, n, 2):
    coll.update_one({"_id": first + i}, {"$set": {"v": i}})
EOF
}
durable() { "$DS" status --spool "$SPOOL" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["spool"]["last_durable_seq"])'; }
writer 0 40 || fail "the first writer failed"
some_durable() { [ "$(durable)" -ge 60 ]; }
wait_for 60 some_durable || fail "the first 60 events never became durable in 96 KB"
writer 40 560 || fail "the second writer failed"
said_full() { grep -q "spool disk is full" "$WORK/capture.log"; }
wait_for 90 said_full || fail "capture never said the spool disk is full"
kill -0 "$cap_pid" 2>/dev/null || fail "capture exited on a full disk instead of waiting"
echo "  capture: $(grep -m1 "spool disk is full" "$WORK/capture.log" | sed 's/^.*\] //')"

# SIGKILL while the disk is full: whatever is on disk must verify (no half record counted).
kill -9 "$cap_pid"; wait "$cap_pid" 2>/dev/null; cap_pid=""
"$DS" inspect verify --spool "$SPOOL" >"$WORK/verify_full.log" 2>&1 ||
  fail "the spool does not verify after a SIGKILL on a full disk: $(tail -3 "$WORK/verify_full.log")"
durable_full=$(durable)
echo "  after SIGKILL on the full disk: spool verifies, $durable_full of 900 events durable"
[ "$durable_full" -gt 0 ] && [ "$durable_full" -lt 900 ] ||
  fail "expected part of the 900 events durable before the disk filled, found $durable_full"

# Space returns: capture restarts from its durable position and catches up; more writes.
rm -f "$DISK/filler"
start_capture
ready2() { [ "$(readies)" -ge 2 ]; }
wait_for 60 ready2 || fail "capture did not restart once space returned"
writer 600 100 || fail "the third writer failed"
"$DS" apply --spool "$SPOOL" --target "$TGT" >"$WORK/apply.log" 2>&1 &
app_pid=$!
applied_all() {
  "$PY" - "$TGT" "$PREFIX" <<'EOF'
import sys
from pymongo import MongoClient
c = MongoClient(sys.argv[1])[sys.argv[2] + "0"]["c"]
sys.exit(0 if c.count_documents({}) == 700 and c.find_one({"_id": 698, "v": 98}) else 1)
EOF
}
wait_for 180 applied_all || fail "the target never received all 700 documents and their updates"
kill -TERM "$app_pid"; wait "$app_pid"; app_pid=""
kill -TERM "$cap_pid"; wait "$cap_pid"; cap_pid=""
"$DS" inspect verify --spool "$SPOOL" >"$WORK/verify_end.log" 2>&1 || fail "the spool does not verify at the end"
"$PY" "$ROOT/tests/workload/checker.py" --source "$SRC" --target "$TGT" --db-prefix "$PREFIX" \
  >"$WORK/checker.log" 2>&1 || fail "checker found differences: $(head -5 "$WORK/checker.log")"
echo "disk_full_test: PASS: capture waited on a full disk, survived a SIGKILL there, resumed; $(tail -1 "$WORK/checker.log")"

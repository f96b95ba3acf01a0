#!/usr/bin/env bash
# End-to-end: a collection drop is captured as a DDL event and applied as a barrier: every
# write before it lands first, then the drop, so none of the dropped collection's earlier
# writes can recreate it on the target (issue #4). Capture is then SIGKILLed and restarted
# and the collection created again: its new stream starts after the drop; a brand-new
# collection is found by discovery.
#
# Usage: ddl_test.sh DOCSHIFT. URIs from SOURCE_CS_URI (mongo-java-server: its collection
# change streams report a drop), TARGET_PG_URI and TESTBED_PYTHON (build/testbed.env).
# Unset: exit 77 with the reason, or fail under CI.
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init ddl SOURCE_CS_URI TARGET_PG_URI "e2eddl$$_"
echo "ddl_test: prefix $PREFIX, work dir $WORK"

drop_prefix "$PREFIX" "$SRC" "$TGT"
"$PY" - "$SRC" "$PREFIX" <<'EOF' || fail "cannot prepare the source"
import sys
from pymongo import MongoClient
db = MongoClient(sys.argv[1])[sys.argv[2] + "0"]
for name in ("keep", "gone"):
    db[name].insert_many([{"_id": i, "v": 0} for i in range(50)])
EOF
"$DS" capture --source "$SRC" --spool "$SPOOL" --include "${PREFIX}*" >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -q "capture: ready" "$WORK/capture.log" || fail "capture did not become ready"
"$DS" snapshot --source "$SRC" --target "$TGT" --spool "$SPOOL" --include "${PREFIX}*" --progress none \
  >"$WORK/snapshot.log" 2>&1 || fail "snapshot failed"
"$DS" apply --spool "$SPOOL" --target "$TGT" --lanes 4 >"$WORK/apply.log" 2>&1 &
app_pid=$!

# Many writes to both collections, then the drop right behind them, then more writes.
"$PY" - "$SRC" "$PREFIX" <<'EOF' || fail "the writer failed"
import sys
from pymongo import MongoClient
db = MongoClient(sys.argv[1])[sys.argv[2] + "0"]
for i in range(50, 450):
    db["gone"].insert_one({"_id": i, "v": 1})
    db["gone"].update_one({"_id": i - 50}, {"$inc": {"v": 1}})
    db["keep"].insert_one({"_id": i, "v": 1})
db["gone"].drop()
for i in range(450, 500):
    db["keep"].insert_one({"_id": i, "v": 2})
db["keep"].insert_one({"_id": "end"})
EOF
marker_applied() {
  "$PY" - "$TGT" "$PREFIX" <<'EOF'
import sys
from pymongo import MongoClient
sys.exit(0 if MongoClient(sys.argv[1])[sys.argv[2] + "0"]["keep"].find_one({"_id": "end"}) else 1)
EOF
}
wait_for 180 marker_applied || fail "the last write never reached the target"

# Capture killed after the drop and restarted; then the collection is created again. Its
# new stream must start after the drop: nothing from before it comes back.
kill -9 "$cap_pid"; wait "$cap_pid" 2>/dev/null
"$DS" capture --source "$SRC" --spool "$SPOOL" --include "${PREFIX}*" >>"$WORK/capture.log" 2>&1 &
cap_pid=$!
restarted() { [ "$(grep -c 'capture: ready' "$WORK/capture.log")" -ge 2 ]; }
wait_for 60 restarted || fail "capture did not restart"
"$PY" - "$SRC" "$PREFIX" <<'EOF' || fail "the second writer failed"
import sys
from pymongo import MongoClient
db = MongoClient(sys.argv[1])[sys.argv[2] + "0"]
db["gone"].insert_many([{"_id": 1000 + i, "v": 3} for i in range(20)])
db["gone"].update_one({"_id": 1000}, {"$set": {"v": 4}})
db["fresh"].insert_many([{"_id": i, "v": 5} for i in range(10)])
db["keep"].insert_one({"_id": "end2"})
EOF
recreated_applied() {
  "$PY" - "$TGT" "$PREFIX" <<'EOF'
import sys
from pymongo import MongoClient
db = MongoClient(sys.argv[1])[sys.argv[2] + "0"]
sys.exit(0 if db["gone"].count_documents({}) == 20 and db["gone"].find_one({"_id": 1000, "v": 4}) and
         db["fresh"].count_documents({}) == 10 and db["keep"].find_one({"_id": "end2"}) else 1)
EOF
}
wait_for 120 recreated_applied || fail "the collection created again after its drop, or a new one, never reached the target in full"
grep -q "exists again after its stream ended" "$WORK/capture.log" || fail "capture did not say it watches the collection again"
grep -q "new namespace ${PREFIX}0.fresh discovered" "$WORK/capture.log" || fail "capture did not discover the new collection"
kill -TERM "$app_pid"; wait "$app_pid"; app_pid=""
kill -TERM "$cap_pid"; wait "$cap_pid"; cap_pid=""
"$DS" inspect dump --spool "$SPOOL" --op drop >"$WORK/drops.json" 2>&1
grep -q "\"ns\": \"${PREFIX}0.gone\"" "$WORK/drops.json" || fail "no drop of ${PREFIX}0.gone in the spool: $(head -3 "$WORK/drops.json")"
if grep -q "\"ns\": \"${PREFIX}0.keep\"" "$WORK/drops.json"; then fail "a drop of ${PREFIX}0.keep was recorded; only gone was dropped"; fi
"$PY" - "$TGT" "$PREFIX" <<'EOF' || fail "documents from before the drop are on the target"
import sys
from pymongo import MongoClient
db = MongoClient(sys.argv[1])[sys.argv[2] + "0"]
old = db["gone"].count_documents({"_id": {"$lt": 1000}})
print(f"  target {sys.argv[2]}0.gone: {old} documents from before the drop, {db['gone'].count_documents({})} in all")
sys.exit(1 if old else 0)
EOF
"$PY" "$ROOT/tests/workload/checker.py" --source "$SRC" --target "$TGT" --db-prefix "$PREFIX" \
  --ignore-empty-collections >"$WORK/checker.log" 2>&1 || fail "checker found differences: $(head -5 "$WORK/checker.log")"
echo "ddl_test: PASS: drop captured once and applied after every earlier write; collection created again and a new one discovered after a capture SIGKILL; $(tail -1 "$WORK/checker.log")"

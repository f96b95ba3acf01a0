#!/usr/bin/env bash
# End-to-end: a collection with a secondary unique index on the target is applied through
# one ordered lane, so values moving between documents never collide (issue #4).
#
# The source swaps unique values between documents, one step at a time, each step legal
# there: doc i moves to a free value, doc j takes i's old value, doc i takes j's old
# value. Hashed over several lanes by _id, "j takes v" could run before "i releases v"
# and fail with a duplicate key (how peers stall); through one lane it cannot. The
# snapshot copies the unique index to the target first. Then: no dead letters, and the
# independent checker finds the target identical to the source.
#
# The source is FerretDB's oplog, whose update entries are the post-image at the time of
# the update. (A change stream's updateLookup document is the document when capture
# looked it up, possibly later; apply then falls back to the update description on a
# duplicate key, which mongo-java-server does not send: see README, apply.)
#
# Usage: unique_index_test.sh DOCSHIFT. URIs from SOURCE_OPLOG_URI, TARGET_PG_URI and
# TESTBED_PYTHON (build/testbed.env). Unset: exit 77 with the reason, or fail under CI.
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init unique_index SOURCE_OPLOG_URI TARGET_PG_URI "e2euniq$$_"
SWAPS=${E2E_SWAPS:-300}
echo "unique_index_test: prefix $PREFIX, $SWAPS swaps, work dir $WORK"

drop_prefix "$PREFIX" "$SRC" "$TGT"
"$PY" - "$SRC" "$PREFIX" <<'EOF' || fail "cannot prepare the source"
import sys
from pymongo import MongoClient, ASCENDING
c = MongoClient(sys.argv[1])[sys.argv[2] + "0"]["accounts"]
c.insert_many([{"_id": i, "u": i, "name": f"a{i}"} for i in range(100)])
c.create_index([("u", ASCENDING)], unique=True, name="u_unique")
EOF
"$DS" capture --source "$SRC" --source_kind oplog --spool "$SPOOL" --include "${PREFIX}*" \
  >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -q "capture: ready" "$WORK/capture.log" || fail "capture did not become ready"
"$DS" snapshot --source "$SRC" --target "$TGT" --spool "$SPOOL" --include "${PREFIX}*" --indexes before \
  --progress none >"$WORK/snapshot.log" 2>&1 || fail "snapshot failed"
"$DS" apply --spool "$SPOOL" --target "$TGT" --lanes 4 >"$WORK/apply.log" 2>&1 &
app_pid=$!

"$PY" - "$SRC" "$PREFIX" "$SWAPS" <<'EOF' || fail "the swapping writer failed"
import random, sys
from pymongo import MongoClient
c = MongoClient(sys.argv[1])[sys.argv[2] + "0"]["accounts"]
rng = random.Random(3)
for k in range(int(sys.argv[3])):
    i, j = rng.sample(range(100), 2)
    ui, uj = c.find_one({"_id": i})["u"], c.find_one({"_id": j})["u"]
    c.update_one({"_id": i}, {"$set": {"u": 1_000_000 + k}})   # i releases ui
    c.update_one({"_id": j}, {"$set": {"u": ui}})              # j takes it
    c.update_one({"_id": i}, {"$set": {"u": uj}})              # i takes j's old value
c.insert_one({"_id": "end", "u": -1})
EOF
marker_applied() {
  "$PY" - "$TGT" "$PREFIX" <<'EOF'
import sys
from pymongo import MongoClient
sys.exit(0 if MongoClient(sys.argv[1])[sys.argv[2] + "0"]["accounts"].find_one({"_id": "end"}) else 1)
EOF
}
wait_for 180 marker_applied || fail "the last write never reached the target"
kill -TERM "$app_pid"; wait "$app_pid"; app_pid=""
kill -TERM "$cap_pid"; wait "$cap_pid"; cap_pid=""
grep -q "has a secondary unique index on the target" "$WORK/apply.log" \
  || fail "apply did not notice the unique index"
dead=$("$DS" inspect deadletters --spool "$SPOOL" 2>&1 | grep -c '"seq"')
[ "$dead" -eq 0 ] || fail "$dead events were dead-lettered: $("$DS" inspect deadletters --spool "$SPOOL" | head -3)"
"$PY" "$ROOT/tests/workload/checker.py" --source "$SRC" --target "$TGT" --db-prefix "$PREFIX" \
  --indexes >"$WORK/checker.log" 2>&1 || fail "checker found differences: $(head -5 "$WORK/checker.log")"
echo "unique_index_test: PASS: $(tail -1 "$WORK/checker.log")"

#!/usr/bin/env bash
# End-to-end: the initial load, coordinated with capture, survives SIGKILL.
#
# The source holds a large collection (split into _id ranges, with a unique secondary
# index) and the workload generator's collections. Capture starts; the workload generator
# keeps writing (updates and deletes of the preloaded documents too) while `docshift
# snapshot` copies; the snapshot is killed with SIGKILL once some ranges are done; an
# apply started meanwhile must wait for it; the restarted snapshot copies only what was
# left. Then apply replays the spool from the snapshot's start, writes stop, and the
# independent checker must find the target identical to the source, indexes included.
#
# Usage: snapshot_test.sh DOCSHIFT. URIs from SOURCE_CS_URI, TARGET_PG_URI and
# TESTBED_PYTHON (scripts/testbed.sh up writes them to build/testbed.env). Unset: exit 77
# (ctest: skipped, with the reason printed), or fail when CI is set.
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init snapshot SOURCE_CS_URI TARGET_PG_URI "e2esnap$$_"
BIG=${E2E_BIG_DOCS:-30000}
echo "snapshot_test: prefix $PREFIX, work dir $WORK"
alive() { kill -0 "$1" 2>/dev/null; }

# Source data: a large collection with int64 _ids (split into ranges) and a unique index,
# plus the workload generator's usual collections (mixed _id types: one range each).
"$PY" - "$SRC" "$TGT" "$PREFIX" "$BIG" <<'EOF' || fail "cannot prepare the servers"
import sys
from bson.int64 import Int64
from pymongo import MongoClient, ASCENDING
src, tgt, prefix, big = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
for uri in (src, tgt):
    c = MongoClient(uri, serverSelectionTimeoutMS=5000)
    for d in c.list_database_names():
        if d.startswith(prefix): c.drop_database(d)
c = MongoClient(src)
coll = c[f"{prefix}big"]["docs"]
for start in range(0, big, 5000):
    coll.insert_many([{"_id": Int64(i), "serial": i, "pad": "x" * 400, "tags": ["a", "b"]}
                      for i in range(start, min(big, start + 5000))])
coll.create_index([("serial", ASCENDING)], unique=True, name="serial_unique")
for d in range(2):
    for name in ["c1", "c2"] + (["marker"] if d == 0 else []):
        c[f"{prefix}{d}"].create_collection(name)
EOF
"$PY" "$ROOT/tests/workload/workload.py" --uri "$SRC" --db-prefix "$PREFIX" --dbs 2 --colls 3 \
  --load 600 --duration 0 --seed 11 >"$WORK/load.log" 2>&1 || fail "preload failed: $(cat "$WORK/load.log")"

"$DS" capture --source "$SRC" --spool "$SPOOL" --include "${PREFIX}*" --progress_interval 2s \
  >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -q "capture: ready" "$WORK/capture.log" || fail "capture did not become ready"

# Writes go on during the whole snapshot: the workload generator on its collections
# (it adopts the preloaded _ids, so it updates and deletes them too), and a writer that
# updates, deletes and inserts documents of the large collection.
"$PY" "$ROOT/tests/workload/workload.py" --uri "$SRC" --db-prefix "$PREFIX" --dbs 2 --colls 3 \
  --duration "${E2E_DURATION:-25}" --rate "${E2E_RATE:-100}" --seed 12 >"$WORK/workload.log" 2>&1 &
wl_pid=$!
"$PY" - "$SRC" "$PREFIX" "$BIG" "${E2E_DURATION:-25}" >"$WORK/bigwriter.log" 2>&1 <<'EOF' &
import random, sys, time
from bson.int64 import Int64
from pymongo import MongoClient
coll = MongoClient(sys.argv[1])[sys.argv[2] + "big"]["docs"]
big, end = int(sys.argv[3]), time.time() + float(sys.argv[4])
rng, ops, nxt = random.Random(5), 0, int(sys.argv[3])
while time.time() < end:
    i = Int64(rng.randrange(big))
    k = rng.random()
    if k < 0.5:
        coll.update_one({"_id": i}, {"$inc": {"v": 1}, "$set": {"pad": "u" * 300}})
    elif k < 0.7:
        coll.delete_one({"_id": i})
    else:
        coll.insert_one({"_id": Int64(nxt), "serial": nxt, "pad": "n" * 200})
        nxt += 1
    ops += 1
    time.sleep(0.02)
print(f"bigwriter: ops={ops}")
EOF
bw_pid=$!

snap_n=0
start_snapshot() {
  snap_n=$((snap_n + 1))
  "$DS" snapshot --source "$SRC" --target "$TGT" --spool "$SPOOL" --include "${PREFIX}*" \
    --docs_per_range 3000 --parallel 2 --batch_docs 100 --progress lines \
    --progress_interval 100ms >"$WORK/snapshot.$snap_n.log" 2>&1 &
  snap_pid=$!
}
start_snapshot
# Kill it once some, not all, ranges of the large collection are done.
some_ranges_done() { grep -sqE "${PREFIX}big\.docs .*\(ranges [1-9][0-9]*/" "$WORK/snapshot.1.log"; }
wait_for 120 some_ranges_done || fail "the snapshot finished no range"
alive "$snap_pid" || fail "the snapshot ended before it could be killed; raise E2E_BIG_DOCS"
kill -9 "$snap_pid"; wait "$snap_pid" 2>/dev/null
snap_pid=""
echo "  SIGKILL snapshot after: $(grep -E "${PREFIX}big\.docs " "$WORK/snapshot.1.log" | tail -1)"

# An apply started now must wait for the snapshot, not write alongside it.
"$DS" apply --spool "$SPOOL" --target "$TGT" --checkpoint_interval 300ms --progress_interval 2s \
  >"$WORK/apply.log" 2>&1 &
app_pid=$!
wait_for 30 grep -q "waiting for snapshot" "$WORK/apply.log" || fail "apply did not wait for the unfinished snapshot"

start_snapshot
wait "$snap_pid"; rc=$?
snap_pid=""
[ $rc -eq 0 ] || fail "the resumed snapshot failed (exit $rc): $(tail -3 "$WORK/snapshot.2.log")"
grep -q "resumed and finished" "$WORK/snapshot.2.log" || fail "the second run did not resume: $(tail -3 "$WORK/snapshot.2.log")"
grep -qE "done earlier" "$WORK/snapshot.2.log" || fail "the resumed snapshot copied every range again"
echo "  $(grep "resumed and finished" "$WORK/snapshot.2.log" | sed 's/^docshift snapshot: //')"
# Another run on the finished snapshot is a no-op.
"$DS" snapshot --source "$SRC" --target "$TGT" --spool "$SPOOL" --include "${PREFIX}*" \
  >"$WORK/snapshot.again.log" 2>&1 || fail "a third snapshot run failed: $(cat "$WORK/snapshot.again.log")"
grep -q "already finished" "$WORK/snapshot.again.log" || fail "a finished snapshot was not recognised"

wait_for 30 grep -q "just after the snapshot's start" "$WORK/apply.log" \
  || fail "apply did not start from the snapshot's start"
# A new snapshot while apply writes is refused (and changes nothing).
wait_for 30 test -f "$SPOOL/status/apply-apply.status" || fail "apply wrote no status file"
"$DS" snapshot --source "$SRC" --target "$TGT" --spool "$SPOOL" --include "${PREFIX}*" --restart \
  >"$WORK/snapshot.restart.log" 2>&1
rc=$?
[ $rc -eq 3 ] && grep -q "apply 'apply' (pid $app_pid) is running" "$WORK/snapshot.restart.log" \
  || fail "a snapshot beside a running apply was not refused (exit $rc): $(tail -2 "$WORK/snapshot.restart.log")"

wait "$wl_pid"; rc=$?
wl_pid=""
echo "  $(tail -1 "$WORK/workload.log")"
[ $rc -eq 0 ] || fail "workload generator failed (exit $rc)"
wait "$bw_pid"; rc=$?
bw_pid=""
echo "  $(tail -1 "$WORK/bigwriter.log")"
[ $rc -eq 0 ] || fail "the large collection's writer failed (exit $rc)"
"$PY" - "$SRC" "$PREFIX" <<'EOF' || fail "cannot write the marker"
import sys
from pymongo import MongoClient
MongoClient(sys.argv[1])[sys.argv[2] + "0"]["marker"].insert_one({"_id": "end"})
EOF
marker_applied() {
  "$PY" - "$TGT" "$PREFIX" <<'EOF'
import sys
from pymongo import MongoClient
sys.exit(0 if MongoClient(sys.argv[1])[sys.argv[2] + "0"]["marker"].find_one({"_id": "end"}) else 1)
EOF
}
wait_for 180 marker_applied || fail "the marker never reached the target"
kill -TERM "$cap_pid"; wait "$cap_pid"; cap_pid=""
kill -TERM "$app_pid"; wait "$app_pid"; rc=$?
app_pid=""
[ $rc -eq 0 ] || fail "apply did not stop cleanly on SIGTERM (exit $rc)"
"$DS" apply --spool "$SPOOL" --target "$TGT" --stop_when_drained >"$WORK/apply.drain.log" 2>&1 \
  || fail "apply --stop_when_drained failed: $(tail -3 "$WORK/apply.drain.log")"

"$PY" "$ROOT/tests/workload/checker.py" --source "$SRC" --target "$TGT" --db-prefix "$PREFIX" \
  --ignore-empty-collections --indexes >"$WORK/checker.log" 2>&1
rc=$?
tail -1 "$WORK/checker.log"
[ $rc -eq 0 ] || fail "checker found differences (exit $rc): $(head -20 "$WORK/checker.log")"
echo "snapshot_test: PASS: snapshot killed and resumed, apply waited and replayed, target identical"

#!/usr/bin/env bash
# End-to-end: DDL replayed by apply against the FerretDB/PostgreSQL target (issue #11, D6).
# No server of the test bed emits these (FerretDB's oplog has no DDL entries, mongo-java-
# server's streams report drops only), so the spool is written by bench/make_spool
# --events_json from hand-written source events in MongoDB's documented formats (oplog
# entries and showExpandedEvents change events), converted as capture converts them. Apply
# then runs under --map and the target is checked with pymongo:
#   - createIndexes (oplog, expanded event) build the recorded specs on the mapped
#     namespace; a dropIndexes drops one; an index the target refuses (TTL on FerretDB) is
#     dead-lettered with the server's reason, and the others are still built;
#   - create keeps capped/size/max;
#   - a rename moves the mapped source to the mapped destination; a rename that --map
#     sends across databases (FerretDB refuses those) is dead-lettered saying so;
#   - collMod and a view FerretDB refuses go to the dead-letter file, never skipped;
#   - apply exits 0 when drained (no stop, no retry loop), and a replay from seq 1 is
#     idempotent (already-existing indexes, a source already renamed) and records no
#     dead letter twice.
#
# Then snapshot: a capped collection on the FerretDB oplog source is created on the target
# with its options (capped/size/max) before its documents are copied.
#
# Usage: ddl_replay_test.sh DOCSHIFT MAKE_SPOOL. SOURCE_OPLOG_URI, TARGET_PG_URI and TESTBED_PYTHON from
# build/testbed.env (unset: exit 77, or fail under CI). E2E_PREFIX overrides the database prefix.
set -uo pipefail
DS=$1
MK=$2
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init ddl_replay SOURCE_OPLOG_URI TARGET_PG_URI "${E2E_PREFIX:-e2eddlr$$_}"
echo "ddl_replay_test: prefix $PREFIX, work dir $WORK"
drop_prefix "$PREFIX" "$SRC" "$TGT"

"$PY" - "$PREFIX" "$WORK/events.json" <<'EOF' || fail "cannot write the events"
import json, sys
p, out = sys.argv[1], sys.argv[2]
src = p + "0"
n = 0
def ts():
    global n
    n += 1
    return {"$timestamp": {"t": 1700000000, "i": n}}
def oplog(op, ns, o, **kw):
    # https://www.mongodb.com/docs/manual/core/replica-set-oplog/ (entry fields op, ns, o, ts, wall)
    e = {"op": op, "ns": ns, "o": o, "ts": ts(), "wall": {"$date": 1700000000000 + n}, "v": 2}
    e.update(kw)
    return e
def cmd(o):
    return oplog("c", src + ".$cmd", o)
def stream(op, coll, desc, **kw):
    # Expanded events (showExpandedEvents: true), https://www.mongodb.com/docs/manual/reference/change-events/
    e = {"_id": {"_data": "82%08d" % n}, "operationType": op, "clusterTime": ts(),
         "wallTime": {"$date": 1700000000000 + n}, "ns": {"db": src, "coll": coll},
         "operationDescription": desc}
    e.update(kw)
    return e
ev = [
    oplog("i", src + ".orders", {"_id": 1, "sku": "a", "at": 1}),
    oplog("i", src + ".orders", {"_id": 2, "sku": "b", "at": 2}),
    # https://www.mongodb.com/docs/manual/reference/command/create/ as logged in the oplog
    cmd({"create": "log", "capped": True, "size": 65536, "max": 100,
         "idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"}}),
    # oplog createIndexes (one index, the spec inline)
    cmd({"createIndexes": "orders", "v": 2, "key": {"sku": 1}, "name": "sku_1", "unique": True}),
    # https://www.mongodb.com/docs/manual/reference/change-events/createIndexes/
    stream("createIndexes", "orders", {"indexes": [
        {"v": 2, "key": {"at": -1}, "name": "at_-1"},
        {"v": 2, "key": {"t": 1}, "name": "t_1", "expireAfterSeconds": 60},
        {"v": 2, "key": {"tmp": 1}, "name": "tmp_1"}]}),
    # https://www.mongodb.com/docs/manual/reference/change-events/dropIndexes/
    stream("dropIndexes", "orders", {"indexes": [{"v": 2, "key": {"tmp": 1}, "name": "tmp_1"}]}),
    cmd({"collMod": "orders", "validator": {"sku": {"$exists": True}}}),
    # oplog renameCollection; --map moves both sides to the target database
    cmd({"renameCollection": src + ".orders", "to": src + ".orders2", "stayTemp": False}),
    oplog("i", src + ".stay", {"_id": 1}),
    # --map sends the destination to another database: FerretDB refuses that rename
    cmd({"renameCollection": src + ".stay", "to": src + ".moved", "stayTemp": False}),
    # https://www.mongodb.com/docs/manual/reference/change-events/create/ (a view)
    stream("create", "v", {"viewOn": "orders2", "pipeline": [{"$match": {"at": {"$gt": 1}}}]}, nsType="view"),
    oplog("i", src + ".orders2", {"_id": 3, "sku": "c", "at": 3}),
    oplog("i", src + ".orders2", {"_id": "end"}),
]
with open(out, "w") as f:
    for e in ev:
        f.write(json.dumps(e) + "\n")
EOF
"$MK" --spool "$SPOOL" --events 0 --events_json "$WORK/events.json" >"$WORK/make_spool.log" 2>&1 ||
  fail "make_spool failed: $(tail -2 "$WORK/make_spool.log")"
MAPS="${PREFIX}0.stay=${PREFIX}1.stay,${PREFIX}0.moved=${PREFIX}2.moved,${PREFIX}0=${PREFIX}1"
timeout 120 "$DS" apply --spool "$SPOOL" --target "$TGT" --map "$MAPS" --stop_when_drained >"$WORK/apply.log" 2>&1 ||
  fail "apply did not drain the spool and exit 0 (rc $?)"

check_target() {
  "$PY" - "$TGT" "$PREFIX" <<'EOF'
import sys
from pymongo import MongoClient
c = MongoClient(sys.argv[1])
db = c[sys.argv[2] + "1"]
bad = []
names = set(db.list_collection_names())
if "orders" in names: bad.append("orders is still there after its rename")
if "orders2" not in names: bad.append("orders2 missing: the rename was not replayed under --map")
elif db["orders2"].count_documents({}) != 4: bad.append("orders2 holds %d documents, not 4" % db["orders2"].count_documents({}))
idx = {i["name"]: i for i in db["orders2"].list_indexes()} if "orders2" in names else {}
if "sku_1" not in idx or not idx["sku_1"].get("unique"): bad.append("index sku_1 (unique) missing: %s" % sorted(idx))
if "at_-1" not in idx: bad.append("index at_-1 missing: %s" % sorted(idx))
if "tmp_1" in idx: bad.append("index tmp_1 was not dropped")
opts = {x["name"]: x.get("options", {}) for x in db.list_collections()}
lo = opts.get("log", {})
if not (lo.get("capped") and lo.get("size") == 65536 and lo.get("max") == 100):
    bad.append("log created without its options: %s" % lo)
if db["stay"].count_documents({}) != 1: bad.append("stay lost its document")
for b in bad: print("  " + b)
print("  target indexes of orders2: %s; log options %s" % (sorted(idx), lo))
sys.exit(1 if bad else 0)
EOF
}
check_target || fail "the target does not have the replayed DDL"

"$DS" inspect deadletters --spool "$SPOOL" >"$WORK/deadletters.log" 2>&1 || fail "inspect deadletters failed"
for want in 'expireAfterSeconds' 'collMod on' 'across databases' 'viewOn'; do
  grep -q -- "$want" "$WORK/deadletters.log" || fail "no dead letter mentions '$want'"
done
letters=$(grep -c '"seq"' "$WORK/deadletters.log")
[ "$letters" -eq 4 ] || fail "$letters dead letters, expected 4 (TTL index, collMod, cross-database rename, view)"

# A replay of the whole spool: everything is already so; nothing recorded twice.
timeout 120 "$DS" apply --spool "$SPOOL" --target "$TGT" --map "$MAPS" --from 1 --stop_when_drained >"$WORK/replay.log" 2>&1 ||
  fail "the replay did not exit 0 (rc $?)"
check_target || fail "the target changed on the replay"
"$DS" inspect deadletters --spool "$SPOOL" >"$WORK/deadletters2.log" 2>&1
[ "$(grep -c '"seq"' "$WORK/deadletters2.log")" -eq 4 ] || fail "the replay recorded dead letters again"

# Snapshot: the source's collection options on a target collection not there yet.
"$PY" - "$SRC" "$PREFIX" <<'EOF' || fail "cannot prepare the source"
import sys
from pymongo import MongoClient
db = MongoClient(sys.argv[1])[sys.argv[2] + "5"]
db.create_collection("cap", capped=True, size=65536, max=50)
db["cap"].insert_many([{"_id": i} for i in range(10)])
EOF
"$DS" capture --source "$SRC" --source_kind oplog --spool "$WORK/snapspool" --include "${PREFIX}5.*" >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -q "capture: ready" "$WORK/capture.log" || fail "capture did not become ready"
"$DS" snapshot --source "$SRC" --target "$TGT" --spool "$WORK/snapspool" --include "${PREFIX}5.*" --progress none \
  >"$WORK/snapshot.log" 2>&1 || fail "snapshot failed"
kill -TERM "$cap_pid"; wait "$cap_pid"; cap_pid=""
"$PY" - "$TGT" "$PREFIX" <<'EOF' || fail "snapshot did not create the collection with the source's options"
import sys
from pymongo import MongoClient
db = MongoClient(sys.argv[1])[sys.argv[2] + "5"]
o = {x["name"]: x.get("options", {}) for x in db.list_collections()}.get("cap", {})
print("  target %s5.cap options %s, %d documents" % (sys.argv[2], o, db["cap"].count_documents({})))
sys.exit(0 if o.get("capped") and o.get("size") == 65536 and o.get("max") == 50 and db["cap"].count_documents({}) == 10 else 1)
EOF
echo "ddl_replay_test: PASS: indexes built and dropped on the mapped namespace, capped options kept, rename mapped, 4 unreplayable commands dead-lettered with reasons; the replay is idempotent; snapshot created a capped collection with its options"

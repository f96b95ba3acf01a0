#!/usr/bin/env bash
# End-to-end: per-record transforms (`--transforms FILE`, issue #12, seed 002).
#
# 1. apply: a spool written by bench/make_spool --events_json from hand-written change
#    events (inserts, updates with and without their full document, deletes) in four
#    namespaces, applied under --map with a rules file doing every rule type: rename,
#    drop, defaults, epoch seconds and milliseconds -> date, _id from one field and from
#    two (a DynamoDB hash + range style key, whose delete is addressed through its key).
#    An independent pymongo check finds exactly the documents the rules make; the events
#    a rule cannot transform (a string epoch, a missing _id field, a delete carrying only
#    the source _id under an _id rule) are dead-lettered with the reason, nothing else.
# 2. a changed rule + replay (`apply --from 1`) gives the new shape; no dead letter is
#    recorded twice.
# 3. a bad rules file: one line naming the file, the rule and the fix, exit 2 (apply,
#    verify, snapshot, cutover).
# 4. snapshot with the rules from the FerretDB oplog source: documents written as the rules
#    make them, one the rule cannot transform in deadletter/snapshot.dlq; verify with the
#    same file reports identical (exit 0), without it different (exit 1).
# 5. changes made on the source after the snapshot, captured from its oplog and applied
#    with the rules: the target has them as the rules make them; verify agrees.
#
# Usage: transforms_test.sh DOCSHIFT MAKE_SPOOL. SOURCE_OPLOG_URI, TARGET_URI and
# TESTBED_PYTHON from build/testbed.env (unset: exit 77, or fail under CI). E2E_PREFIX
# overrides the database prefix.
set -uo pipefail
DS=$1
MK=$2
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init transforms SOURCE_OPLOG_URI TARGET_URI "${E2E_PREFIX:-e2etf$$_}"
echo "transforms_test: prefix $PREFIX, work dir $WORK"
drop_prefix "$PREFIX" "$SRC" "$TGT"

# --- 1. apply with every rule type ---
"$PY" - "$PREFIX" "$WORK/events.json" <<'EOF' || fail "cannot write the events"
import json, sys
p, out = sys.argv[1], sys.argv[2]
db = p + "src"
n = 0
def ev(op, coll, key, full=None, desc=None):
    # Change events as https://www.mongodb.com/docs/manual/reference/change-events/ documents them.
    global n
    n += 1
    e = {"_id": {"_data": "82%08d" % n}, "operationType": op,
         "clusterTime": {"$timestamp": {"t": 1700000000, "i": n}},
         "wallTime": {"$date": 1700000000000 + n}, "ns": {"db": db, "coll": coll}, "documentKey": key}
    if full is not None: e["fullDocument"] = full
    if desc is not None: e["updateDescription"] = desc
    return e
oid = lambda i: {"$oid": "65%022x" % i}
evs = [
    ev("insert", "users", {"_id": oid(1)}, {"_id": oid(1), "uid": 1, "Name": "John", "created_at": 1588166541, "tmp": "x"}),
    ev("insert", "users", {"_id": oid(2)}, {"_id": oid(2), "uid": 2, "Name": "Ann", "created_at": 1588166542,
                                            "seen": {"$numberLong": "1588166542500"}, "age": 30}),
    ev("insert", "users", {"_id": oid(3)}, {"_id": oid(3), "uid": 3, "Name": "Bad", "created_at": "yesterday"}),
    ev("insert", "users", {"_id": oid(4)}, {"_id": oid(4), "Name": "NoUid", "created_at": 1}),
    ev("update", "users", {"_id": oid(1)}, {"_id": oid(1), "uid": 1, "Name": "Johnny", "created_at": 1588166541, "tmp": "y"},
       {"updatedFields": {"Name": "Johnny", "tmp": "y"}, "removedFields": []}),
    ev("delete", "users", {"_id": oid(2)}),
    ev("insert", "events", {"_id": 1}, {"_id": 1, "kind": "a", "ts": 1700000000, "junk": 1, "opt": "x"}),
    ev("insert", "events", {"_id": 2}, {"_id": 2, "kind": "b", "ts": 1700000001}),
    ev("update", "events", {"_id": 1}, None, {"updatedFields": {"ts": 1700000100, "junk": 5, "kind": "c"},
                                              "removedFields": ["opt"]}),
    ev("delete", "events", {"_id": 2}),
    ev("update", "events", {"_id": 1}, None, {"updatedFields": {"junk": 9}, "removedFields": []}),
    ev("insert", "pairs", {"_id": {"tenant": "t", "n": 1}}, {"_id": {"tenant": "t", "n": 1}, "tenant": "t", "n": 1, "v": 1}),
    ev("insert", "pairs", {"_id": {"tenant": "t", "n": 2}}, {"_id": {"tenant": "t", "n": 2}, "tenant": "t", "n": 2, "v": 2}),
    ev("delete", "pairs", {"_id": {"tenant": "t", "n": 1}}),
    ev("insert", "plain", {"_id": 1}, {"_id": 1, "Name": "kept", "tmp": 1}),
]
with open(out, "w") as f:
    for e in evs: f.write(json.dumps(e) + "\n")
EOF
cat >"$WORK/rules.json" <<EOF
{"rules": [
  {"namespace": "${PREFIX}src.users", "rename": {"Name": "name"}, "drop": ["tmp"],
   "defaults": {"age": null}, "dates": {"created_at": "seconds", "seen": "milliseconds"}, "id": ["uid"]},
  {"namespace": "${PREFIX}src.events", "rename": {"kind": "type"}, "drop": ["junk"],
   "defaults": {"opt": "none"}, "dates": {"ts": "seconds"}},
  {"namespace": "${PREFIX}src.pa*", "id": ["tenant", "n"]}
]}
EOF
"$MK" --spool "$SPOOL" --events 0 --events_json "$WORK/events.json" >"$WORK/mk.log" 2>&1 || fail "make_spool failed"
"$DS" apply --spool "$SPOOL" --target "$TGT" --stop_when_drained --transforms "$WORK/rules.json" \
  --map "${PREFIX}src=${PREFIX}dst" >"$WORK/apply.log" 2>&1 || fail "apply failed"

check_target() {  # check_target NAME_FIELD: the target as the rules make it
  "$PY" - "$TGT" "$PREFIX" "$1" <<'EOF'
import sys, datetime
from pymongo import MongoClient
from bson import ObjectId
c = MongoClient(sys.argv[1])
db = c[sys.argv[2] + "dst"]
name = sys.argv[3]
utc = datetime.timezone.utc
d = lambda s: datetime.datetime.fromtimestamp(s, utc).replace(tzinfo=None)
want = {
    "users": [
        {"_id": 1, "uid": 1, name: "Johnny", "created_at": d(1588166541), "age": None},
        {"_id": 2, "uid": 2, name: "Ann", "created_at": d(1588166542), "seen": d(1588166542.5), "age": 30},
    ],
    "events": [{"_id": 1, "type": "c", "ts": d(1700000100), "opt": "none"}],
    "pairs": [{"_id": {"tenant": "t", "n": 2}, "tenant": "t", "n": 2, "v": 2}],
    "plain": [{"_id": 1, "Name": "kept", "tmp": 1}],
}
bad = []
for coll, docs in want.items():
    got = sorted(db[coll].find(), key=lambda x: str(x["_id"]))
    docs = sorted(docs, key=lambda x: str(x["_id"]))
    if got != docs:
        bad.append("%s: got %r, want %r" % (coll, got, docs))
if bad:
    print("\n".join(bad))
    sys.exit(1)
EOF
}
check_target name || fail "the target is not what the rules make"
"$DS" inspect deadletters --spool "$SPOOL" >"$WORK/dlq.out" 2>&1 || fail "inspect deadletters failed"
for why in 'transforms rule 1 (.*src.users): field \\"created_at\\" is a string, not a number; it cannot become a date (epoch seconds); not written' \
           'transforms rule 1 (.*src.users): the document has no field \\"uid\\" to make _id from; not written' \
           'transforms rule 1 (.*src.users): a delete carries only its key .*, which lacks what the rule makes _id from (\\"uid\\"): the target document cannot be found'; do
  grep -q "$why" "$WORK/dlq.out" || fail "no dead letter says: $why ($(head -c 2000 "$WORK/dlq.out"))"
done
dead=$(grep -c "transforms rule" "$WORK/dlq.out")
[ "$dead" -eq 3 ] || fail "$dead dead letters name a transforms rule, want 3: $(cat "$WORK/dlq.out")"
grep -q "applied 15 events, checkpoint at seq 15, 3 dead letters" "$WORK/apply.log" \
  || fail "apply's summary: $(tail -1 "$WORK/apply.log")"
"$DS" apply --spool "$SPOOL" --dry_run --stop_when_drained --from 1 --transforms "$WORK/rules.json" \
  >"$WORK/dry.out" 2>"$WORK/dry.log" || fail "the dry run failed"
[ "$(grep -c '"deadLetter": "transforms rule 1' "$WORK/dry.out")" -eq 3 ] && grep -q '"seq": 11, "noop"' "$WORK/dry.out" \
  || fail "the dry run does not show the 3 dead letters and the update left changing nothing: $(cat "$WORK/dry.out")"
echo "transforms_test: every rule type applied, 3 events dead-lettered with the reason"

# --on_error=stop stops at the first event a rule cannot transform, naming it.
"$DS" apply --spool "$SPOOL" --target "$TGT" --stop_when_drained --transforms "$WORK/rules.json" --from 1 \
  --on_error=stop --name stopper --map "${PREFIX}src=${PREFIX}dst" >"$WORK/stop.out" 2>"$WORK/stop.err"
rc=$?
[ "$rc" -ne 0 ] && grep -q 'seq 3 (.*dst.users): transforms rule 1 (.*src.users): field "created_at" is a string.*; stopped because of --on_error=stop' "$WORK/stop.err" \
  || fail "--on_error=stop did not stop at seq 3 (exit $rc): $(tail -1 "$WORK/stop.err")"

# --- 2. a changed rule, replayed from the start ---
sed 's/"Name": "name"/"Name": "full_name"/' "$WORK/rules.json" >"$WORK/rules2.json"
"$DS" apply --spool "$SPOOL" --target "$TGT" --stop_when_drained --transforms "$WORK/rules2.json" --from 1 \
  --map "${PREFIX}src=${PREFIX}dst" >"$WORK/replay.log" 2>&1 || fail "the replay failed"
check_target full_name || fail "the replay with the changed rule did not give the new shape"
"$DS" inspect deadletters --spool "$SPOOL" >"$WORK/dlq2.out" 2>&1
[ "$(grep -c "transforms rule" "$WORK/dlq2.out")" -eq 3 ] || fail "the replay recorded dead letters again"
echo "transforms_test: the changed rule, replayed with --from 1, gives the new shape"

# --- 3. a bad rules file: one line, exit 2 ---
echo '{"rules": [{"namespace": "a.b", "renam": {"x": "y"}}]}' >"$WORK/bad.json"
for cmd in "apply --spool $SPOOL --target $TGT" "verify --source $SRC --target $TGT" \
           "snapshot --source $SRC --target $TGT --spool $SPOOL" \
           "cutover --spool $SPOOL --source $SRC --target $TGT"; do
  # shellcheck disable=SC2086
  "$DS" $cmd --transforms "$WORK/bad.json" >"$WORK/bad.out" 2>"$WORK/bad.err"
  rc=$?
  [ "$rc" -eq 2 ] || fail "${cmd%% *} with a bad rules file exited $rc, want 2: $(cat "$WORK/bad.err")"
  [ "$(wc -l <"$WORK/bad.err")" -eq 1 ] || fail "${cmd%% *}: not one line: $(cat "$WORK/bad.err")"
  grep -q "^docshift ${cmd%% *}: .*--transforms $WORK/bad.json: rule 1 (a.b): unknown operation \"renam\"; a rule takes namespace, rename, drop, defaults, dates and id$" \
    "$WORK/bad.err" || fail "${cmd%% *}: the line does not name the file, the rule and the fix: $(cat "$WORK/bad.err")"
done
"$DS" apply --spool "$SPOOL" --target "$TGT" --transforms "$WORK/none.json" 2>"$WORK/bad.err"
rc=$?
[ "$rc" -eq 2 ] && grep -q "transforms $WORK/none.json: cannot read the file" "$WORK/bad.err" \
  || fail "a missing rules file: exit $rc, $(cat "$WORK/bad.err")"
echo "transforms_test: bad rules files refused with one line, exit 2"

# --- 4. snapshot with the rules; verify with and without them ---
"$PY" - "$SRC" "$PREFIX" <<'EOF' || fail "cannot write the source documents"
import sys
from pymongo import MongoClient
db = MongoClient(sys.argv[1])[sys.argv[2] + "s"]
db.users.insert_many([{"uid": i, "Name": "n%d" % i, "created_at": 1600000000 + i, "tmp": i} for i in range(1, 51)])
db.bad.insert_many([{"uid": 1, "created_at": 1}, {"uid": 2, "created_at": "soon"}])
EOF
cat >"$WORK/snap_rules.json" <<EOF
{"rules": [{"namespace": "${PREFIX}s.*", "rename": {"Name": "name"}, "drop": ["tmp"],
            "dates": {"created_at": "seconds"}, "id": "uid"}]}
EOF
"$DS" capture --source "$SRC" --source_kind oplog --spool "$WORK/snapspool" --include "${PREFIX}s.*" >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -q "capture: ready" "$WORK/capture.log" || fail "capture did not become ready"
"$DS" snapshot --source "$SRC" --target "$TGT" --spool "$WORK/snapspool" --include "${PREFIX}s.*" --progress none \
  --map "${PREFIX}s=${PREFIX}t" --transforms "$WORK/snap_rules.json" >"$WORK/snapshot.log" 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "snapshot exited $rc, want 1 (one document refused by the rule)"
grep -q "1 documents not written (refused by the target or by a --transforms rule)" "$WORK/snapshot.log" \
  || fail "the snapshot's summary does not count the document the rule refused"
"$PY" - "$TGT" "$PREFIX" <<'EOF' || fail "the snapshot did not write the documents as the rules make them"
import sys, datetime
from pymongo import MongoClient
db = MongoClient(sys.argv[1])[sys.argv[2] + "t"]
docs = sorted(db.users.find(), key=lambda d: d["_id"])
assert len(docs) == 50, len(docs)
for i, d in enumerate(docs, 1):
    want = {"_id": i, "uid": i, "name": "n%d" % i,
            "created_at": datetime.datetime.fromtimestamp(1600000000 + i, datetime.timezone.utc).replace(tzinfo=None)}
    assert d == want, (d, want)
assert list(db.bad.find({}, {"_id": 1})) == [{"_id": 1}], list(db.bad.find())
EOF
"$DS" inspect deadletters --spool "$WORK/snapspool" >"$WORK/snapdlq.out" 2>&1
grep -q 'field \\"created_at\\" is a string, not a number; it cannot become a date (epoch seconds); not written' "$WORK/snapdlq.out" \
  || fail "the snapshot's dead letter does not give the reason: $(head -c 1500 "$WORK/snapdlq.out")"
"$DS" verify --source "$SRC" --target "$TGT" --include "${PREFIX}s.users" --map "${PREFIX}s=${PREFIX}t" \
  --transforms "$WORK/snap_rules.json" --recheck_delay 0s >"$WORK/verify.out" 2>"$WORK/verify.log"
rc=$?
[ "$rc" -eq 0 ] || fail "verify with the rules exited $rc, want 0: $(cat "$WORK/verify.out")"
grep -q "makes _id: one range" "$WORK/verify.log" || fail "verify does not say the _id rule makes one range"
"$DS" verify --source "$SRC" --target "$TGT" --include "${PREFIX}s.users" --map "${PREFIX}s=${PREFIX}t" \
  --recheck_delay 0s >"$WORK/verify2.out" 2>"$WORK/verify2.log"
rc=$?
[ "$rc" -eq 1 ] || fail "verify without the rules exited $rc, want 1 (different)"
grep -q "DIFFERENT" "$WORK/verify2.out" || fail "verify without the rules does not report DIFFERENT"
echo "transforms_test: snapshot wrote the documents as the rules make them; verify: identical with the rules, different without"

# --- 5. live changes after the snapshot, captured and applied with the rules; verify agrees ---
"$PY" - "$SRC" "$PREFIX" <<'EOF' || fail "cannot change the source documents"
import sys
from pymongo import MongoClient
db = MongoClient(sys.argv[1])[sys.argv[2] + "s"]
db.users.update_one({"uid": 5}, {"$set": {"Name": "changed", "tmp": 0}})
db.users.insert_one({"uid": 51, "Name": "n51", "created_at": 1600000051, "tmp": 51})
EOF
captured() { [ "$("$DS" inspect dump --spool "$WORK/snapspool" --ns "${PREFIX}s.users" 2>/dev/null | grep -c '"uid"')" -ge 2 ]; }
wait_for 60 captured || fail "capture did not capture the two changes"
stop_within 30 "$cap_pid" "capture"; cap_pid=""
"$DS" apply --spool "$WORK/snapspool" --target "$TGT" --stop_when_drained --transforms "$WORK/snap_rules.json" \
  --map "${PREFIX}s=${PREFIX}t" >"$WORK/apply_live.log" 2>&1 || fail "apply of the live changes failed"
"$PY" - "$TGT" "$PREFIX" <<'EOF' || fail "the live changes did not reach the target as the rules make them"
import sys, datetime
from pymongo import MongoClient
db = MongoClient(sys.argv[1])[sys.argv[2] + "t"]
five = db.users.find_one({"_id": 5})
assert five == {"_id": 5, "uid": 5, "name": "changed", "created_at": datetime.datetime(2020, 9, 13, 12, 26, 45)}, five
assert db.users.find_one({"_id": 51})["name"] == "n51", db.users.find_one({"_id": 51})
assert db.users.count_documents({}) == 51
EOF
"$DS" verify --source "$SRC" --target "$TGT" --include "${PREFIX}s.users" --map "${PREFIX}s=${PREFIX}t" \
  --transforms "$WORK/snap_rules.json" --spool "$WORK/snapspool" >"$WORK/verify3.out" 2>"$WORK/verify3.log"
rc=$?
[ "$rc" -eq 0 ] || fail "verify after the live changes exited $rc, want 0: $(cat "$WORK/verify3.out")"
echo "transforms_test: live changes captured and applied with the rules; verify: identical"
echo "transforms_test: PASS"

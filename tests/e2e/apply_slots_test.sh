#!/usr/bin/env bash
# End-to-end: `docshift apply --slot I/N` (issue #13). Three apply slots share one spool
# and one target; each writes only its share (routed by fnv1a64-ns-id/1, which this
# script computes itself from spool/FORMAT.md: the routing is part of the format), and DDL
# is a barrier across them. The spool is written by bench/make_spool --events_json from
# hand-written oplog entries (FerretDB's oplog has no DDL entries): inserts, replacements,
# $v:2 diff updates and deletes over several collections, a createIndexes of a secondary
# unique index on one of them (whose later events move unique values between documents,
# so they must route by namespace alone), and a drop + create + re-fill of another.
#
#   1. The owner of the first barrier (the createIndexes) runs alone: it reaches the
#      barrier, logs that it waits for the other two, and is SIGKILLed there.
#   2. The other two start, reach the barrier and wait for the owner; one of them is
#      SIGKILLed there and restarted: it resumes at the barrier's sequence (its checkpoint
#      was written just before it, at seq - 1).
#      The third one, waiting too, stops cleanly on SIGINT there and is started again;
#      status, meanwhile, names the dead owner.
#   3. The owner is restarted; all three drain the spool and exit 0.
# Checks: the target equals what the events make (computed here) and what one apply
# without --slot makes of the same spool (another database); the unique index is there;
# no dead letters; each slot's "events of its share" is exactly what the hash gives it
# over the range it read (so every event is written by exactly one slot); status shows
# the three slots and their minimum.
#
# With SLOTS_SPOOL=bucket (ctest e2e.apply_slots_bucket) the spool is shipped to gofakes3
# first (S3_URL) and the three slots read s3://… only, each through its own cache, with
# their checkpoints (and the barrier's) in the bucket; the rest is the same, status on
# s3://… included (it names the dead owner from its checkpoint's host and pid).
#
# Usage: apply_slots_test.sh DOCSHIFT MAKE_SPOOL. SOURCE_OPLOG_URI (required by e2e_init,
# not used), TARGET_PG_URI and TESTBED_PYTHON from build/testbed.env (unset: exit 77, or
# fail under CI).
set -uo pipefail
DS=$1
MK=$2
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init apply_slots SOURCE_OPLOG_URI TARGET_PG_URI "${E2E_PREFIX:-e2eslots$$_}"
echo "apply_slots_test: prefix $PREFIX, work dir $WORK"
drop_prefix "$PREFIX" "$TGT"
s0_pid="" s1_pid="" s2_pid=""
e2e_on_exit() { for p in $s0_pid $s1_pid $s2_pid; do kill -9 "$p" 2>/dev/null; done; }

# The events, the expected target and each event's routing facts (written by one script
# so they cannot drift apart).
"$PY" - "$PREFIX" "$WORK" <<'PYEOF' || fail "cannot write the events"
import json, struct, sys
p, work = sys.argv[1], sys.argv[2]
src, dst = p + "0", p + "1"
n = 0
events, facts = [], []   # facts[seq - 1]: target ns, _id type+value bytes (hex), routing kind
state = {}               # coll -> {_id: doc}
unique = set()           # collections with a secondary unique index (after its DDL)
def ts():
    global n
    n += 1
    return {"$timestamp": {"t": 1700000000, "i": n}}
def oplog(op, coll, o, **kw):
    # https://www.mongodb.com/docs/manual/core/replica-set-oplog/ (entry fields op, ns, o, o2, ts, wall)
    e = {"op": op, "ns": src + "." + coll, "o": o, "ts": ts(), "wall": {"$date": 1700000000000 + n}, "v": 2}
    e.update(kw)
    events.append(e)
def idbytes(v):
    # The _id element's BSON type byte and value bytes (FORMAT.md, fnv1a64-ns-id/1).
    if isinstance(v, int): return b"\x10" + struct.pack("<i", v)
    b = v.encode(); return b"\x02" + struct.pack("<i", len(b) + 1) + b + b"\x00"
def doc_event(coll, _id):
    facts.append({"ns": dst + "." + coll, "id": idbytes(_id).hex(), "unique": coll in unique, "ddl": False})
def ins(coll, doc):
    oplog("i", coll, doc); doc_event(coll, doc["_id"]); state.setdefault(coll, {})[doc["_id"]] = dict(doc)
def rep(coll, doc):
    oplog("u", coll, doc, o2={"_id": doc["_id"]}); doc_event(coll, doc["_id"]); state[coll][doc["_id"]] = dict(doc)
def setf(coll, _id, fields):
    oplog("u", coll, {"$v": 2, "diff": {"u": fields}}, o2={"_id": _id}); doc_event(coll, _id)
    state[coll][_id].update(fields)
def dele(coll, _id):
    oplog("d", coll, {"_id": _id}); doc_event(coll, _id); del state[coll][_id]
def cmd(coll, o):
    e = oplog("c", "$cmd", o); facts.append({"ns": dst + "." + coll, "id": None, "unique": False, "ddl": True})

for i in range(60):
    for c in ("a", "b", "c"):
        ins(c, {"_id": i if i % 4 else "s%d" % i, "c": c, "v": i})
for i in range(30): ins("d", {"_id": i, "gen": 1})
for i in range(20): ins("u", {"_id": i, "k": i})
cmd("u", {"createIndexes": "u", "v": 2, "key": {"k": 1}, "name": "k_1", "unique": True})
unique.add("u")
for i in range(1, 60, 4): rep("a", {"_id": i, "c": "a", "v": i * 10, "replaced": True})
for i in range(1, 60, 4): setf("c", i, {"v": -i, "touched": True})
for i in range(2, 60, 4):
    if i % 4: dele("b", i)
for k, (i, j) in enumerate([(0, 1), (2, 3), (4, 5), (1, 2), (6, 7)]):
    ki, kj = state["u"][i]["k"], state["u"][j]["k"]
    setf("u", i, {"k": 1000 + k})   # i releases its value
    setf("u", j, {"k": ki})         # j takes it
    setf("u", i, {"k": kj})         # i takes j's old value
cmd("d", {"drop": "d"})
del state["d"]
cmd("d", {"create": "d", "idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"}})
state["d"] = {}
for i in range(0, 40, 2): ins("d", {"_id": i, "gen": 2})
for i in range(3, 60, 4): setf("a", i, {"late": i})
for i in range(5, 60, 8): dele("b", i)
ins("a", {"_id": "end"})

with open(work + "/events.json", "w") as f:
    for e in events: f.write(json.dumps(e) + "\n")
with open(work + "/facts.json", "w") as f:
    json.dump(facts, f)
with open(work + "/expected.json", "w") as f:
    json.dump({c: sorted(docs.values(), key=lambda d: str(d["_id"])) for c, docs in state.items()}, f)
PYEOF
"$MK" --spool "$SPOOL" --events 0 --events_json "$WORK/events.json" >"$WORK/make_spool.log" 2>&1 ||
  fail "make_spool failed: $(tail -2 "$WORK/make_spool.log")"

# Where the slots read: the spool itself, or (SLOTS_SPOOL=bucket) a bucket it was shipped to.
SLOT_SPOOL=$SPOOL
slot_cache() { :; }
if [ "${SLOTS_SPOOL:-}" = bucket ]; then
  e2e_need_s3 apply_slots
  SLOT_SPOOL="s3://e2e-slots/${PREFIX%_}"
  timeout 120 "$DS" ship --spool "$SPOOL" --to "$SLOT_SPOOL" --stop_when_drained >"$WORK/ship.log" 2>&1 ||
    fail "ship failed: $(tail -2 "$WORK/ship.log")"
  echo "apply_slots_test: spool shipped to $SLOT_SPOOL; the slots read the bucket only"
  slot_cache() { echo "--cache_dir=$WORK/cache-$1"; }
fi

# The slot of a namespace alone (fnv1a64-ns-id/1 for DDL), computed here, not by docshift.
route() {
  "$PY" -c '
import sys
h = 0xcbf29ce484222325
for c in sys.argv[1].encode():
    h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
print(h % 3)' "$1"
}
OWNER=$(route "${PREFIX}1.u")
OTHERS=()
for s in 0 1 2; do [ "$s" != "$OWNER" ] && OTHERS+=("$s"); done
VICTIM=${OTHERS[0]} SURVIVOR=${OTHERS[1]}
echo "apply_slots_test: the createIndexes barrier's owner is slot $OWNER; slot $VICTIM is killed waiting for it"

# run_slot I LOG: starts slot I/3 in the background; its pid (docshift's own, so that
# SIGKILL reaches it) in s<I>_pid.
run_slot() {
  "$DS" apply --spool "$SLOT_SPOOL" $(slot_cache "$1") --target "$TGT" --map "${PREFIX}0=${PREFIX}1" \
    --slot "$1/3" --stop_when_drained --lanes 2 >"$WORK/$2" 2>&1 &
  eval "s$1_pid=$!"
}
# kill_slot I: SIGKILL slot I and reap it.
kill_slot() {
  local v="s$1_pid"
  kill -9 "${!v}"
  wait "${!v}" 2>/dev/null
  eval "$v="
}
logged() { grep -qs -- "$2" "$WORK/$1"; }

# 1. The owner alone: it waits at the barrier for the two others; SIGKILL it there.
run_slot "$OWNER" owner-1.log
wait_for 60 logged owner-1.log "DDL barrier at seq .* waiting for slots" ||
  fail "slot $OWNER never logged waiting for the others at the barrier"
kill_slot "$OWNER"
BARRIER_SEQ=$(grep -o "DDL barrier at seq [0-9]*" "$WORK/owner-1.log" | head -1 | grep -o "[0-9]*$")
echo "apply_slots_test: slot $OWNER SIGKILLed inside the barrier at seq $BARRIER_SEQ"

# 2. The two others wait for the owner; SIGKILL one there and restart it.
run_slot "$VICTIM" victim-1.log
run_slot "$SURVIVOR" survivor.log
wait_for 60 logged victim-1.log "DDL barrier at seq $BARRIER_SEQ .*waiting for slot $OWNER/3" ||
  fail "slot $VICTIM never logged waiting for slot $OWNER at the barrier"
kill_slot "$VICTIM"
run_slot "$VICTIM" victim-2.log
wait_for 60 logged victim-2.log "DDL barrier at seq $BARRIER_SEQ .*waiting for slot $OWNER/3" ||
  fail "restarted slot $VICTIM did not re-enter the barrier at seq $BARRIER_SEQ"
grep -q "starting at sequence $BARRIER_SEQ (checkpoint)" "$WORK/victim-2.log" ||
  fail "restarted slot $VICTIM did not resume at the barrier's seq $BARRIER_SEQ from its checkpoint"

# The survivor, waiting there too, stops cleanly on SIGINT (exit 0 within 10 s) and is
# started again; meanwhile status names the dead owner as the reason apply is stopped.
wait_for 60 logged survivor.log "DDL barrier at seq $BARRIER_SEQ .*waiting for slot $OWNER/3" ||
  fail "slot $SURVIVOR never logged waiting for slot $OWNER at the barrier"
if true; then
"$DS" status --spool "$SLOT_SPOOL" --json >"$WORK/status-waiting.json" 2>&1 || fail "status failed while slots wait"
"$PY" - "$WORK/status-waiting.json" "$OWNER" <<'PYEOF' || fail "status does not name the dead owner slot"
import json, sys
a = json.load(open(sys.argv[1]))["apply"]
why = a.get("why_not_alive") or ""
print("  status while slots wait: alive %s, why %r" % (a.get("alive"), why))
sys.exit(0 if a.get("alive") is False and ("slot %s/3" % sys.argv[2]) in why else 1)
PYEOF
fi
v="s${SURVIVOR}_pid"
stop_within 10 "${!v}" "slot $SURVIVOR waiting at the barrier"
eval "$v="
grep -q "apply: stopped; .*checkpoint seq $((BARRIER_SEQ - 1))," "$WORK/survivor.log" ||
  fail "slot $SURVIVOR stopped inside the barrier without its checkpoint at seq $((BARRIER_SEQ - 1))"
run_slot "$SURVIVOR" survivor-2.log

# 3. The owner again: everyone drains.
run_slot "$OWNER" owner-2.log
alive() { kill -0 "$1" 2>/dev/null; }
for s in 0 1 2; do
  v="s${s}_pid"
  wait_for 240 eval '! alive "${!v}"' || fail "slot $s did not drain the spool and exit within 240 s"
  wait "${!v}"; rc=$?
  eval "$v="
  [ "$rc" -eq 0 ] || fail "slot $s exited $rc (want 0 after draining the spool)"
done
grep -q "starting at sequence $BARRIER_SEQ (checkpoint)" "$WORK/owner-2.log" ||
  fail "restarted owner did not resume at the barrier's seq $BARRIER_SEQ from its checkpoint"

# One apply without --slot of the same spool into another database, for comparison.
timeout 120 "$DS" apply --spool "$SPOOL" --target "$TGT" --map "${PREFIX}0=${PREFIX}9" --name ref \
  --stop_when_drained >"$WORK/ref.log" 2>&1 || fail "the apply without --slot failed"

# No dead letters, from any of them.
for f in owner-2.log victim-2.log survivor-2.log ref.log; do
  grep -q ", 0 dead letters" "$WORK/$f" || fail "$f: dead letters: $(grep 'docshift apply' "$WORK/$f")"
done
"$DS" inspect deadletters --spool "$SPOOL" >"$WORK/deadletters.log" 2>&1
grep -q '"seq"' "$WORK/deadletters.log" && fail "dead letters recorded: $(head -3 "$WORK/deadletters.log")"
for c in "$WORK"/cache-*; do  # a bucket's slots keep theirs in their caches
  [ -d "$c" ] || continue
  "$DS" inspect deadletters --spool "$c" >"$WORK/deadletters.log" 2>&1
  grep -q '"seq"' "$WORK/deadletters.log" && fail "dead letters recorded in $c: $(head -3 "$WORK/deadletters.log")"
done

# Target = expected = the apply without --slot; the unique index there; each slot's share.
"$PY" - "$TGT" "$PREFIX" "$WORK" "$OWNER" "$VICTIM" "$SURVIVOR" <<'PYEOF' || fail "the target or the shares are wrong"
import json, re, sys
from pymongo import MongoClient
tgt, p, work = sys.argv[1:4]
owner, victim, survivor = map(int, sys.argv[4:7])
c = MongoClient(tgt, serverSelectionTimeoutMS=10000)
bad = []
def dump(db):
    return {name: sorted(c[db][name].find(), key=lambda d: str(d["_id"])) for name in sorted(c[db].list_collection_names())}
slots, ref = dump(p + "1"), dump(p + "9")
exp = json.load(open(work + "/expected.json"))
for coll in sorted(set(slots) | set(exp)):
    a, b = slots.get(coll), exp.get(coll)
    if a != b:
        bad.append("%s: %s documents on the target, %s expected; differences %s" % (
            coll, None if a is None else len(a), None if b is None else len(b),
            [x for x in (a or []) if x not in (b or [])][:2] + [x for x in (b or []) if x not in (a or [])][:2]))
if slots != ref: bad.append("the slots' target differs from what one apply without --slot wrote")
idx = {i["name"]: i for i in c[p + "1"]["u"].list_indexes()}
if not idx.get("k_1", {}).get("unique"): bad.append("unique index k_1 missing on u: %s" % sorted(idx))

# Each slot's share, routed by this script's own fnv1a64-ns-id/1 over the range it read.
facts = json.load(open(work + "/facts.json"))
def fnv(b, h=0xcbf29ce484222325):
    for x in b: h = ((h ^ x) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h
def slot_of(f):
    ns = f["ns"].encode()
    if f["ddl"] or f["unique"]: return fnv(ns) % 3
    return fnv(ns + b"\0" + bytes.fromhex(f["id"])) % 3
summary = re.compile(r"docshift apply: applied .*, slot (\d)/3: (\d+) events of its share, (\d+) of other slots passed, (\d+) DDL run")
start = re.compile(r"starting at sequence (\d+)")
total = {s: sum(1 for f in facts if not f["ddl"] and slot_of(f) == s) for s in range(3)}
if min(total.values()) == 0: bad.append("a slot has no share at all: %s" % total)
for log, s in (("owner-2.log", owner), ("victim-2.log", victim), ("survivor-2.log", survivor)):
    text = open(work + "/" + log).read()
    m, st = summary.search(text), start.search(text)
    if not m or not st:
        bad.append("%s: no summary or start line" % log); continue
    first = int(st.group(1))
    mine = sum(1 for f in facts[first - 1:] if not f["ddl"] and slot_of(f) == s)
    others = sum(1 for f in facts[first - 1:] if not f["ddl"] and slot_of(f) != s)
    got = tuple(int(x) for x in m.group(2, 3))
    if m.group(1) != str(s) or got != (mine, others):
        bad.append("%s: slot %s wrote %d of its share and passed %d; the hash gives %d and %d (from seq %d)" % (
            log, m.group(1), got[0], got[1], mine, others, first))
    owned = sum(1 for f in facts[first - 1:] if f["ddl"] and slot_of(f) == s)
    if int(m.group(4)) != owned: bad.append("%s: ran %s DDL, owns %d" % (log, m.group(4), owned))
print("  shares (document events per slot): %s of %d events; %d documents on the target" % (
    total, len(facts), sum(len(v) for v in slots.values())))
for b in bad: print("  " + b)
sys.exit(1 if bad else 0)
PYEOF

# status takes the minimum over the slots and shows each.
if true; then
"$DS" status --spool "$SLOT_SPOOL" --name apply --json >"$WORK/status.json" 2>"$WORK/status.err" ||
  fail "status failed: $(cat "$WORK/status.err")"
"$PY" - "$WORK/status.json" <<'PYEOF' || fail "status does not show the three slots at the spool's end"
import json, sys
s = json.load(open(sys.argv[1]))
a = s.get("apply", {})
slots = a.get("slots", [])
end = s.get("spool", {}).get("last_durable_seq")
print("  status: apply checkpoint %s, spool ends at %s, slots %s" % (
    a.get("checkpoint_seq"), end, [(x.get("name"), x.get("checkpoint_seq")) for x in slots]))
ok = len(slots) == 3 and all(x.get("checkpoint_seq") == end for x in slots) and a.get("checkpoint_seq") == end
sys.exit(0 if ok else 1)
PYEOF
fi
if [ "$SLOT_SPOOL" != "$SPOOL" ]; then
  echo "apply_slots_test: PASS on $SLOT_SPOOL (slot $OWNER killed as owner inside the barrier at seq $BARRIER_SEQ, slot $VICTIM killed waiting there; target identical, no dead letters; the refusals are checked on the local spool)"
  exit 0
fi
# Refusals, each one line and exit 2: another N beside existing slot checkpoints, a slot
# out of range, atomic transactions or a replay with --slot.
refused() {  # refused WHAT WANT_TEXT ARGS...
  local what=$1 want=$2 rc; shift 2
  "$DS" apply --spool "$SPOOL" --target "$TGT" --stop_when_drained "$@" >"$WORK/refused.log" 2>&1; rc=$?
  [ "$rc" -eq 2 ] || fail "$what: exit $rc, want 2: $(tail -1 "$WORK/refused.log")"
  grep -q -- "$want" "$WORK/refused.log" || fail "$what: no '$want' in: $(tail -1 "$WORK/refused.log")"
}
refused "another N" "holds checkpoint 'apply.slot-0-of-3' of 3 slots" --slot 0/4
refused "slot out of range" "'3/3' is not a slot: use I/N: 1 <= N <= 64, 0 <= I < N" --slot 3/3
refused "atomic transactions" "--transactions=atomic with --slot" --slot 0/3 --transactions=atomic
refused "a replay" "--from with --slot" --slot 0/3 --from 1

echo "apply_slots_test: PASS (slot $OWNER killed as owner inside the barrier at seq $BARRIER_SEQ, slot $VICTIM killed waiting there; target identical, no dead letters)"

#!/usr/bin/env bash
# End-to-end: capture and apply refuse bad input with a clear last-line error and a
# non-zero exit, never print credentials, and apply stops before a corrupt record without
# applying anything after it.
#
# Usage: bad_input_test.sh DOCSHIFT
# Needs SOURCE_OPLOG_URI, TARGET_URI and TESTBED_PYTHON (build/testbed.env); unset: exit 77
# (ctest: skipped, reason printed), or fail when CI is set.
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
if [ -z "${SOURCE_OPLOG_URI:-}" ] || [ -z "${SOURCE_CS_URI:-}" ] || [ -z "${TARGET_URI:-}" ] || [ -z "${TESTBED_PYTHON:-}" ]; then
  echo "bad_input_test: SOURCE_OPLOG_URI, SOURCE_CS_URI, TARGET_URI or TESTBED_PYTHON is not set; run scripts/testbed.sh up and source build/testbed.env"
  [ -n "${CI:-}" ] && exit 1
  exit 77
fi
SRC=$SOURCE_OPLOG_URI
TGT=$TARGET_URI
PY=$TESTBED_PYTHON
WORK=$ROOT/build/e2e-tmp/bad_input_$$
PREFIX="e2ebad$$_"
rm -rf "$WORK"
mkdir -p "$WORK"
checks=0
pids=""
cleanup() {
  for p in $pids; do kill -9 "$p" 2>/dev/null; done
  drop_prefix "$PREFIX" "$SRC" "$TGT" "$SOURCE_CS_URI" 2>/dev/null
  [ "${passed:-0}" = 1 ] && rm -rf "$WORK"
}
trap cleanup EXIT
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
fail() { echo "FAIL: $*" >&2; [ -f "$WORK/c4.log" ] && tail -5 "$WORK/c4.log" >&2; exit 1; }
ok() { checks=$((checks + 1)); }
run() { "$@" >"$WORK/out" 2>"$WORK/err"; rc=$?; }
last_err() { tail -1 "$WORK/err"; }
expect() {  # expect RC REGEX WHAT: exit code and the last stderr line
  [ "$rc" -eq "$1" ] || { cat "$WORK/err" >&2; fail "$3: exit $rc, expected $1"; }
  last_err | grep -qE -- "$2" || { cat "$WORK/err" >&2; fail "$3: last error line lacks /$2/"; }
  ok
}
# URI with credentials, on a port nothing listens on.
SECRET="s3cr3t-Pa55"
DEAD="mongodb://migrator:${SECRET}@127.0.0.1:9/?serverSelectionTimeoutMS=1500&connectTimeoutMS=500"

# --- capture
run "$DS" capture --source "$DEAD" --spool "$WORK/s1"
expect 3 "^docshift capture: Unavailable: source mongodb://migrator:\*\*\*@127.0.0.1:9/.* is not reachable" "unreachable source"
grep -q "$SECRET" "$WORK/out" "$WORK/err" && fail "the password appears in capture's output"; ok

run "$DS" capture --source "not-a-uri" --spool "$WORK/s1"
expect 2 "InvalidArgument: --source: 'not-a-uri' is not a valid MongoDB connection string" "malformed URI"

run "$DS" capture --source "$SRC" --spool "$WORK/s1" --frobnicate 1
expect 2 "unknown flag --frobnicate" "unknown flag"

run "$DS" capture --source "$SRC" --spool "$WORK/s1" --source_kind dynamo
expect 2 "--source_kind 'dynamo' is not one of mongo, cosmos, oplog" "bad source kind"

run "$DS" capture --source "$SRC" --spool /proc/docshift-spool --source_kind oplog
expect 3 "spool directory: mkdir /proc/docshift-spool" "spool directory not writable"

run "$DS" capture --source env:DOCSHIFT_NO_SUCH_VAR --spool "$WORK/s1"
expect 2 "environment variable DOCSHIFT_NO_SUCH_VAR is not set" "env: URI not set"

# The password is scrubbed from the process's command line while it runs.
"$DS" capture --source "$DEAD" --spool "$WORK/s2" >"$WORK/ps.out" 2>&1 &
cpid=$!
pids="$pids $cpid"
# While it waits for the unreachable server (~1.5 s), its command line must not show the
# password; if scrubbing never happens, the process exits first and this fails.
scrubbed() {
  [ -r "/proc/$cpid/cmdline" ] && tr '\0' ' ' <"/proc/$cpid/cmdline" | grep -q "migrator:" &&
    ! tr '\0' ' ' <"/proc/$cpid/cmdline" | grep -q "$SECRET"
}
wait_for 3 scrubbed || fail "the password stayed visible in /proc/$cpid/cmdline"; ok
wait $cpid
grep -q "$SECRET" "$WORK/ps.out" && fail "the password appears in capture's log"; ok

# A spool belongs to one source; one capture per spool.
"$DS" capture --source "$SRC" --source_kind oplog --spool "$WORK/s3" --include "${PREFIX}*" >"$WORK/c1.log" 2>&1 &
c1=$!
pids="$pids $c1"
wait_for 60 grep -q "capture: ready" "$WORK/c1.log" || fail "capture did not become ready: $(tail -3 "$WORK/c1.log")"
run "$DS" capture --source "$SRC" --source_kind oplog --spool "$WORK/s3"
expect 3 "Busy: spool .* is in use by another docshift capture \(.*held by pid $c1\)" "second capture on a spool"
kill -TERM $c1
wait $c1 || fail "capture did not stop cleanly on SIGTERM"
run "$DS" capture --source "$TGT" --source_kind oplog --spool "$WORK/s3"
expect 3 "FailedPrecondition: spool .* belongs to source 'oplog:127.0.0.1:[0-9]+', not 'oplog:127.0.0.1:[0-9]+'" "spool of another source"

# --- apply
run "$DS" apply --spool "$WORK/s3" --target "$DEAD" --stop_when_drained
expect 3 "^docshift apply: Unavailable: target mongodb://migrator:\*\*\*@127.0.0.1:9/.* is not reachable" "unreachable target"
grep -q "$SECRET" "$WORK/out" "$WORK/err" && fail "the password appears in apply's output"; ok
run "$DS" apply --spool "$WORK/s3" --target "$TGT" --lanes 0
expect 2 "--lanes '0' is out of range: use 1\.\.64" "bad --lanes"
run "$DS" apply --spool "$WORK/s3" --target "$TGT" --from yesterday
expect 2 "--from 'yesterday' is not a sequence number or a time" "bad --from"
run "$DS" apply --spool "$WORK/nope" --target "$TGT" --stop_when_drained
expect 2 "no spool at" "missing spool"

# --- a flipped byte in a sealed segment stops apply before that record; nothing after
# it is applied. Inserts only, _id = i = 1..N in order, so the target must hold exactly a
# prefix 1..K of them.
N=1500
"$DS" capture --source "$SRC" --source_kind oplog --spool "$WORK/s4" --include "${PREFIX}*" \
  --segment_max_bytes 8192 --batch_max_events 50 >"$WORK/c4.log" 2>&1 &
c4=$!
pids="$pids $c4"
wait_for 60 grep -q "capture: ready" "$WORK/c4.log" || fail "capture did not become ready"
"$PY" - "$SRC" "$PREFIX" "$N" <<'EOF' || fail "cannot write the inserts"
import random, sys
from pymongo import MongoClient
c = MongoClient(sys.argv[1])[sys.argv[2] + "db"]["docs"]
rng = random.Random(1)
for i in range(1, int(sys.argv[3]) + 1):
    c.insert_one({"_id": i, "i": i, "pad": "%064x" % rng.getrandbits(256)})
EOF
all_captured() { [ "$("$DS" inspect stats --spool "$WORK/s4" 2>/dev/null | awk '$1=="TOTAL"{print $2}')" = "$N" ]; }
wait_for 120 all_captured || fail "capture did not get all $N inserts"
kill -TERM $c4
wait $c4 || fail "capture did not stop cleanly"
segs=($(ls "$WORK/s4/segments/"*.seg))
[ ${#segs[@]} -ge 4 ] || fail "expected several segments, got ${#segs[@]}"; ok
bad=${segs[2]}
badname=$(basename "$bad")
size=$(stat -c %s "$bad")
printf '\x5a' | dd of="$bad" bs=1 seek=$((size / 2)) conv=notrunc status=none
run "$DS" apply --spool "$WORK/s4" --target "$TGT" --stop_when_drained --lanes 4
expect 4 "Corruption: $badname: .* at offset [0-9]+" "apply stops at the flipped byte"
first_bad=$((10#${badname%.seg}))
"$PY" - "$TGT" "$PREFIX" "$first_bad" "$N" <<'EOF' || fail "target is not a clean prefix of the stream before the corrupt record"
import sys
from pymongo import MongoClient
c = MongoClient(sys.argv[1])[sys.argv[2] + "db"]["docs"]
first_bad, n = int(sys.argv[3]), int(sys.argv[4])
ids = sorted(d["_id"] for d in c.find({}, {"_id": 1}))
k = len(ids)
assert ids == list(range(1, k + 1)), f"not a prefix: {k} docs, max {ids[-1] if ids else None}"
assert k >= first_bad - 1, f"only {k} docs: events before the corrupt segment ({first_bad}) are missing"
assert k < n, "everything was applied, including events after the corrupt record"
print(f"target holds 1..{k} of {n}; corrupt segment starts at {first_bad}")
EOF
ok
# --- a document the target refuses goes to the dead-letter file; apply continues.
# mongo-java-server stores nested arrays, FerretDB refuses them (tests/README.md).
CS=$SOURCE_CS_URI
"$PY" - "$CS" "$PREFIX" <<'EOF' || fail "cannot prepare the change-stream source"
import sys
from pymongo import MongoClient
MongoClient(sys.argv[1])[sys.argv[2] + "dl"].create_collection("docs")
EOF
"$DS" capture --source "$CS" --scope collection --spool "$WORK/s5" --include "${PREFIX}dl.*" >"$WORK/c5.log" 2>&1 &
c5=$!
pids="$pids $c5"
wait_for 60 grep -q "capture: ready" "$WORK/c5.log" || fail "capture did not become ready: $(tail -3 "$WORK/c5.log")"
"$PY" - "$CS" "$PREFIX" <<'EOF' || fail "cannot write to the change-stream source"
import sys
from pymongo import MongoClient
c = MongoClient(sys.argv[1])[sys.argv[2] + "dl"]["docs"]
c.insert_one({"_id": 1, "ok": True})
c.insert_one({"_id": 2, "nested": [[1, 2], [3]]})
c.insert_one({"_id": 3, "ok": True})
EOF
three_captured() { [ "$("$DS" inspect stats --spool "$WORK/s5" 2>/dev/null | awk '$1=="TOTAL"{print $2}')" = "3" ]; }
wait_for 60 three_captured || fail "capture did not get the three inserts"
kill -TERM $c5
wait $c5 || fail "capture did not stop cleanly"
run "$DS" apply --spool "$WORK/s5" --target "$TGT" --name stopper --on_error stop --stop_when_drained
expect 3 "FailedPrecondition: seq 2 \(${PREFIX}dl.docs\): the target refused the write: .* stopped because of --on_error=stop" "--on_error=stop"
run "$DS" apply --spool "$WORK/s5" --target "$TGT" --stop_when_drained
expect 0 "applied 3 events, checkpoint at seq 3, 1 dead letters" "dead letter, apply continues"
run "$DS" inspect deadletters --spool "$WORK/s5"
[ "$rc" -eq 0 ] || fail "inspect deadletters: exit $rc"
grep -qE "\"apply\": \"apply\", \"seq\": 2, \"targetNs\": \"${PREFIX}dl.docs\", \"code\": [1-9]" "$WORK/out" || { cat "$WORK/out"; fail "inspect deadletters does not show seq 2 with the server's code"; }
grep -q '"nested"' "$WORK/out" || fail "the dead letter lacks the event's document"; ok
"$PY" - "$TGT" "$PREFIX" <<'EOF' || fail "the target should hold documents 1 and 3"
import sys
from pymongo import MongoClient
ids = sorted(d["_id"] for d in MongoClient(sys.argv[1])[sys.argv[2] + "dl"]["docs"].find())
assert ids == [1, 3], ids
EOF
ok

passed=1
echo "bad_input_test: $checks checks passed"

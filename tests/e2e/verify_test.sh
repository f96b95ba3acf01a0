#!/usr/bin/env bash
# End-to-end: `docshift verify` and `docshift reconcile` against real servers.
#
# Loads the same data into the source (mongo-java-server) and the target (FerretDB on
# PostgreSQL) with pymongo: a collection large enough to be split into many _id ranges,
# one with mixed _id types (int32, int64, string, ObjectId), a small one with a 2 MiB
# document, and an empty one. Then:
#   1. verify finds them identical (exit 0);
#   2. behind docshift's back one target document is changed, one deleted and one extra
#      inserted (a string _id among integers: only the "outside" range reaches it); verify
#      exits 1 and names exactly those three _ids with the right kinds, on stdout and in
#      the JSON report;
#   3. a verify killed with SIGKILL mid-run resumes from its state file and reports the same;
#   4. reconcile --dry_run lists the extra and deletes nothing; reconcile deletes it; verify
#      then reports only the changed and the missing document;
#   5. re-check with --spool while writes continue: capture and apply run, the source is
#      written to during verify; only the two planted differences remain;
#   6. an unreachable target: exit 3, one line, no password in the output; bad flags: exit 2.
#
# Usage: verify_test.sh DOCSHIFT. URIs from SOURCE_CS_URI, TARGET_PG_URI, TESTBED_PYTHON
# (build/testbed.env); unset: exit 77 (skipped), or fail when CI is set.
set -uo pipefail
DS=$1
SRC=${SOURCE_CS_URI:-}
TGT=${TARGET_PG_URI:-}
if [ -z "$SRC" ] || [ -z "$TGT" ] || [ -z "${TESTBED_PYTHON:-}" ]; then
  echo "verify_test: SOURCE_CS_URI, TARGET_PG_URI or TESTBED_PYTHON is not set; run scripts/testbed.sh up and source build/testbed.env"
  [ -n "${CI:-}" ] && exit 1
  exit 77
fi
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=$TESTBED_PYTHON
WORK=${E2E_WORK:-$ROOT/build/e2e-tmp}/verify_$$
PREFIX="vf_e2e$$_"
DB="${PREFIX}0"
rm -rf "$WORK"
mkdir -p "$WORK"
echo "verify_test: prefix $PREFIX, work dir $WORK"

pids=""
cleanup() {
  for p in $pids; do kill -9 "$p" 2>/dev/null; done
  drop_prefix "$PREFIX" "$SRC" "$TGT" 2>/dev/null
}
trap cleanup EXIT
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
fail() {
  echo "FAIL: $*" >&2
  for f in "$WORK"/*.out "$WORK"/*.err "$WORK"/*.log; do
    [ -f "$f" ] && { echo "--- tail of $f" >&2; tail -20 "$f" >&2; }
  done
  exit 1
}

# 1. Identical data on both sides.
"$PY" - "$SRC" "$TGT" "$DB" <<'EOF' || fail "cannot load the data"
import sys
from bson import ObjectId, Int64
from pymongo import MongoClient
src, tgt, dbname = sys.argv[1:4]
big = [{"_id": i, "n": i * 3, "s": "v%05d" % i, "tags": ["a", i % 7]} for i in range(3000)]
mixed = [{"_id": 1, "k": "int"}, {"_id": Int64(2), "k": "long"}, {"_id": "three", "k": "str"},
         {"_id": ObjectId("64b7f0000000000000000004"), "k": "oid"}, {"_id": "five", "k": {"x": [1, 2]}}]
small = [{"_id": i, "blob": ("x" * (2 << 20)) if i == 0 else "y"} for i in range(5)]
for uri in (src, tgt):
    c = MongoClient(uri, serverSelectionTimeoutMS=5000)
    db = c[dbname]
    db.big.insert_many(big)
    db.mixed.insert_many(mixed)
    db.small.insert_many(small)
    db.create_collection("empty")
EOF

verify() {  # verify NAME [flags...]: runs verify, stdout to NAME.out, stderr to NAME.err
  local name=$1; shift
  "$DS" verify --source env:SOURCE_CS_URI --target env:TARGET_PG_URI --include "${PREFIX}*" \
    --docs_per_range 500 --recheck_delay 300ms "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
}
verify identical --report "$WORK/identical.json"
rc=$?
[ $rc -eq 0 ] || fail "verify of identical data: exit $rc, expected 0"
grep -q "verify: IDENTICAL: 4 collections" "$WORK/identical.out" || fail "no IDENTICAL line"
grep -Eq "^${DB}\.big +3000 +3000 +\+0 +7 " "$WORK/identical.out" \
  || fail "big should be 3000/3000 in 6 ranges + the outside one: $(grep big "$WORK/identical.out")"
grep -q "mixed _id types: one range" "$WORK/identical.err" || fail "mixed _ids not noted"
echo "  1. identical data: exit 0, $(grep -c "ranges compared" "$WORK/identical.err") collections compared"

# 2. Behind docshift's back: change one, delete one, insert an extra on the target.
"$PY" - "$TGT" "$DB" <<'EOF' || fail "cannot change the target"
import sys
from bson import ObjectId
from pymongo import MongoClient
db = MongoClient(sys.argv[1])[sys.argv[2]]
assert db.big.update_one({"_id": 1234}, {"$set": {"n": -1}}).modified_count == 1
assert db.mixed.delete_one({"_id": ObjectId("64b7f0000000000000000004")}).deleted_count == 1
db.big.insert_one({"_id": "extra-1", "n": 0})
EOF
# check_report FILE EXPECTED: the report's differences, as "ns kind _id" lines, sorted.
check_report() {
  "$PY" - "$1" "$DB" "$2" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
got = sorted(f'{c["source_ns"].split(".", 1)[1]} {d["kind"]} {json.dumps(d["_id"], sort_keys=True)}'
             for c in r["collections"] for d in c["differences"])
want = sorted(l for l in sys.argv[3].split(";") if l)
if got != want or r["identical"]:
    print("report differences:", got, "expected:", want, "identical:", r["identical"])
    sys.exit(1)
EOF
}
THREE='big changed 1234;big extra "extra-1";mixed missing {"$oid": "64b7f0000000000000000004"}'
verify different --report "$WORK/different.json"
rc=$?
[ $rc -eq 1 ] || fail "verify after the changes: exit $rc, expected 1"
check_report "$WORK/different.json" "$THREE" || fail "report of the three changes is wrong"
grep -q '^  changed  _id 1234$' "$WORK/different.out" || fail "stdout does not name the changed _id"
grep -q '^  extra    _id "extra-1"$' "$WORK/different.out" || fail "stdout does not name the extra _id"
grep -q '^  missing  _id { "$oid" : "64b7f0000000000000000004" }$' "$WORK/different.out" \
  || fail "stdout does not name the missing _id"
grep -q "verify: DIFFERENT: 4 collections, 2 not in order, 3 differing documents" "$WORK/different.out" \
  || fail "summary line: $(tail -1 "$WORK/different.out")"
echo "  2. one changed, one deleted, one extra: exit 1, exactly those three named (stdout and report)"

# 3. SIGKILL mid-run, then the same command resumes from the state file.
STATE="$WORK/resume.state"
rm -f "$STATE"
"$DS" verify --source env:SOURCE_CS_URI --target env:TARGET_PG_URI --include "${PREFIX}*" \
  --docs_per_range 50 --parallel 1 --recheck_delay 300ms --state "$STATE" \
  --report "$WORK/resume.json" >"$WORK/resume1.out" 2>"$WORK/resume1.err" &
vpid=$!
pids="$pids $vpid"
# Kill once at least 10 ranges (of 61) are recorded as finished: count the state file's
# range_done records (framing: spool/FORMAT.md; VerifyStateRecord field 3 = range_done).
ranges_done() {
  "$PY" - "$STATE" <<'EOF'
import struct, sys
try: data = open(sys.argv[1], "rb").read()
except OSError: sys.exit(1)
pos, n = 12, 0
while pos + 9 <= len(data):
    length = struct.unpack_from("<I", data, pos)[0]
    payload = data[pos + 9:pos + 9 + length]
    if len(payload) < length: break
    n += payload[:1] == b"\x1a"
    pos += 9 + length
sys.exit(0 if n >= 10 else 1)
EOF
}
wait_for 60 ranges_done || fail "the state file never recorded 10 finished ranges"
kill -9 "$vpid" 2>/dev/null
wait "$vpid" 2>/dev/null
"$DS" verify --source env:SOURCE_CS_URI --target env:TARGET_PG_URI --include "${PREFIX}*" \
  --docs_per_range 50 --parallel 1 --recheck_delay 300ms --state "$STATE" \
  --report "$WORK/resume.json" >"$WORK/resume2.out" 2>"$WORK/resume2.err"
rc=$?
[ $rc -eq 1 ] || fail "resumed verify: exit $rc, expected 1"
resumed=$(grep -o "resuming from .*" "$WORK/resume2.err")
[ -n "$resumed" ] || fail "the second run did not resume"
echo "$resumed" | grep -Eq "[1-9][0-9]* ranges already compared" || fail "resumed without finished ranges: $resumed"
check_report "$WORK/resume.json" "$THREE" || fail "resumed report is wrong"
grep -q '"resumed": true' "$WORK/resume.json" || fail "report does not say resumed"
# A finished run is not resumed again.
verify again --state "$STATE" --docs_per_range 50 --parallel 1
grep -q "holds a finished run; starting a new one" "$WORK/again.err" || fail "finished state was reused"
echo "  3. SIGKILL mid-run: ${resumed#resuming from $STATE: }; same three differences"

# 4. reconcile: dry run lists the extra; then it deletes it.
reconcile() {
  local name=$1; shift
  "$DS" reconcile --source env:SOURCE_CS_URI --target env:TARGET_PG_URI --include "${PREFIX}*" \
    --docs_per_range 500 "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
}
reconcile dry --dry_run || fail "reconcile --dry_run: exit $?"
[ "$(grep -c '^would delete' "$WORK/dry.out")" -eq 1 ] || fail "dry run should list one document"
grep -q "^would delete ${DB}.big _id \"extra-1\"$" "$WORK/dry.out" || fail "dry run does not list the extra"
grep -q ", 1 would be deleted (dry run)" "$WORK/dry.out" || fail "dry run summary"
reconcile real || fail "reconcile: exit $?"
grep -q "^deleted ${DB}.big _id \"extra-1\"$" "$WORK/real.out" || fail "reconcile did not delete the extra"
[ "$(grep -c '^deleted' "$WORK/real.out")" -eq 1 ] || fail "reconcile deleted more than the extra"
verify after_reconcile --report "$WORK/after.json"
rc=$?
[ $rc -eq 1 ] || fail "verify after reconcile: exit $rc, expected 1"
TWO='big changed 1234;mixed missing {"$oid": "64b7f0000000000000000004"}'
check_report "$WORK/after.json" "$TWO" || fail "after reconcile, the report should name only the changed and missing"
echo "  4. reconcile --dry_run listed the extra, reconcile deleted it; verify: only changed + missing remain"

# 5. Re-check against a spool while writes continue: capture and apply run; a writer
# updates documents on the source during verify. Only the two planted differences remain.
SPOOL="$WORK/spool"
"$DS" capture --source env:SOURCE_CS_URI --spool "$SPOOL" --include "${PREFIX}*" \
  --progress_interval 2s >"$WORK/capture.log" 2>&1 &
cap_pid=$!
pids="$pids $cap_pid"
capture_ready() { grep -q "capture: ready" "$WORK/capture.log"; }
wait_for 60 capture_ready || fail "capture did not become ready"
"$DS" apply --spool "$SPOOL" --target env:TARGET_PG_URI --checkpoint_interval 200ms \
  --progress_interval 2s >"$WORK/apply.log" 2>&1 &
app_pid=$!
pids="$pids $app_pid"
"$PY" - "$SRC" "$DB" "$WORK/writer.started" >"$WORK/writer.log" 2>&1 <<'EOF' &
import sys, time
from pymongo import MongoClient
db = MongoClient(sys.argv[1])[sys.argv[2]]
n = 0
end = time.time() + 6
while time.time() < end:
    i = 2000 + n % 900   # never the planted _ids
    db.big.update_one({"_id": i}, {"$inc": {"n": 1}, "$set": {"w": n}})
    db.small.insert_one({"_id": 1000 + n, "live": True})
    n += 1
    if n == 20: open(sys.argv[3], "w").close()
    time.sleep(0.01)
print("writer: %d rounds" % n)
EOF
wl_pid=$!
pids="$pids $wl_pid"
writer_started() { [ -f "$WORK/writer.started" ]; }
wait_for 30 writer_started || fail "the writer did not start"
verify live --spool "$SPOOL" --recheck_rounds 3 --recheck_timeout 60s --report "$WORK/live.json"
rc=$?
wait "$wl_pid"
[ $rc -eq 1 ] || fail "verify during writes: exit $rc, expected 1"
check_report "$WORK/live.json" "$TWO" || fail "verify during writes should report only the two planted differences"
first=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["first_pass_differences"])' "$WORK/live.json")
grep -q '"apply_caught_up": true' "$WORK/live.json" || fail "apply did not catch up within the re-check timeout"
echo "  5. with writes going on and --spool: $first differences in the first pass, 2 after re-checks ($(cat "$WORK/writer.log"))"
kill -TERM "$cap_pid" "$app_pid"
wait "$cap_pid" "$app_pid" 2>/dev/null

# 6. Errors.
"$DS" verify --source env:SOURCE_CS_URI \
  --target 'mongodb://vfuser:s3cretPW@127.0.0.1:1/?serverSelectionTimeoutMS=1500' \
  >"$WORK/unreach.out" 2>"$WORK/unreach.err"
rc=$?
[ $rc -eq 3 ] || fail "unreachable target: exit $rc, expected 3"
[ "$(wc -l <"$WORK/unreach.err")" -eq 1 ] || fail "unreachable target: expected one line: $(cat "$WORK/unreach.err")"
grep -q "target mongodb://vfuser:\*\*\*@127.0.0.1:1/" "$WORK/unreach.err" || fail "message does not name the target"
! grep -q s3cretPW "$WORK/unreach.out" "$WORK/unreach.err" || fail "the password was printed"
"$DS" reconcile --source env:SOURCE_CS_URI \
  --target 'mongodb://vfuser:s3cretPW@127.0.0.1:1/?serverSelectionTimeoutMS=1500' >"$WORK/unreach2.out" 2>&1
rc=$?
[ $rc -eq 3 ] || fail "reconcile, unreachable target: exit $rc, expected 3"
! grep -q s3cretPW "$WORK/unreach2.out" || fail "reconcile printed the password"
"$DS" verify --source env:SOURCE_CS_URI --target env:TARGET_PG_URI --parallel 0 >/dev/null 2>"$WORK/usage.err"
rc=$?
[ $rc -eq 2 ] || fail "--parallel 0: exit $rc, expected 2"
"$DS" verify --source env:SOURCE_CS_URI --target env:TARGET_PG_URI --map 'nodot' >/dev/null 2>"$WORK/usage2.err"
rc=$?
[ $rc -eq 2 ] || fail "bad --map: exit $rc, expected 2 ($(cat "$WORK/usage2.err"))"
"$DS" verify --target env:TARGET_PG_URI >/dev/null 2>"$WORK/usage3.err"
rc=$?
[ $rc -eq 2 ] || fail "no --source: exit $rc, expected 2"
echo "  6. unreachable target: exit 3, one line: $(cat "$WORK/unreach.err")"
echo "verify_test: PASS"

#!/usr/bin/env bash
# End-to-end: `docshift verify` and `docshift reconcile` with a DynamoDB source (issue #12)
# against a real moto server (DYNAMODB_URL) and mongo-java-server as the target
# (SOURCE_CS_URI: FerretDB drops the connection on Decimal128).
#
# tests/e2e/dynamodb_verify_data.py creates a hash-only and a hash + range table with
# items of every type, and writes the target documents they become by the documented
# mapping itself (pymongo; docshift writes nothing). Then:
#   1. verify --source dynamodb://us-east-1/T1,T2 --map ... exits 0, IDENTICAL; counts
#      are the scan's; --counts_only agrees;
#   2. one target document changed, one deleted, one added: exit 1 naming each with its
#      kind, on stdout and in the JSON report;
#   3. reconcile --dry_run names the extra; reconcile deletes it; verify then finds the
#      other two only;
#   4. an item with a number no BSON type holds: a difference naming the attribute;
#   5. a missing table: one line, exit 2; an unreachable endpoint: one line, exit 3; no
#      credentials: one line, exit 2. (moto accepts any credentials, so a refused key is
#      not tested here.)
#
# Usage: dynamodb_verify_test.sh DOCSHIFT. DYNAMODB_URL, SOURCE_CS_URI and TESTBED_PYTHON
# (with boto3 and pymongo) from build/testbed.env; unset: exit 77 (skipped), or fail
# when CI is set.
set -uo pipefail
DS=$1
if [ -z "${DYNAMODB_URL:-}" ] || [ -z "${SOURCE_CS_URI:-}" ] || [ -z "${TESTBED_PYTHON:-}" ]; then
  echo "dynamodb_verify_test: DYNAMODB_URL, SOURCE_CS_URI or TESTBED_PYTHON is not set; run scripts/testbed.sh up and source build/testbed.env"
  [ -n "${CI:-}" ] && exit 1
  exit 77
fi
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=$TESTBED_PYTHON
TGT=$SOURCE_CS_URI
WORK=${E2E_WORK:-$ROOT/build/e2e-tmp}/dynamodb_verify_$$
PREFIX="dv_e2e$$_"
DB="${PREFIX}0"
T1="${PREFIX}hash"
T2="${PREFIX}hashrange"
DATA="$HERE/dynamodb_verify_data.py"
rm -rf "$WORK"
mkdir -p "$WORK"
echo "dynamodb_verify_test: tables $T1 $T2, target db $DB, work dir $WORK"

# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
cleanup() {
  "$PY" "$DATA" drop "$DYNAMODB_URL" "$T1" "$T2" 2>/dev/null
  drop_prefix "$PREFIX" "$TGT" 2>/dev/null
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$WORK"/*.out "$WORK"/*.err; do
    [ -f "$f" ] && { echo "--- tail of $f" >&2; tail -20 "$f" >&2; }
  done
  exit 1
}

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=$DYNAMODB_URL
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_DYNAMODB
export DV_TARGET=$TGT
SRC="dynamodb://us-east-1/$T1,$T2"
MAP="dynamodb.$T1=$DB.h,dynamodb.$T2=$DB.hr"

# run NAME ARGS...: docshift ARGS with stdout/stderr in $WORK/NAME.{out,err}; sets rc.
run() {
  local name=$1; shift
  "$DS" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
  rc=$?
}
# The one status line verify prints last.
verdict() { grep '^verify: ' "$WORK/$1.out" | head -1; }

# 1. Identical.
"$PY" "$DATA" load "$DYNAMODB_URL" "$TGT" "$DB" "$T1" "$T2" || fail "cannot load the data"
run v1 verify --source "$SRC" --target env:DV_TARGET --map "$MAP" --recheck_delay 0 --parallel 3
[ "$rc" -eq 0 ] || fail "verify of identical data exited $rc"
verdict v1 | grep -q "IDENTICAL: 2 collections" || fail "verify did not say IDENTICAL: $(verdict v1)"
grep -Eq "^dynamodb\.$T1 -> $DB\.h +5 +5 " "$WORK/v1.out" || fail "no 5/5 row for $T1"
grep -Eq "^dynamodb\.$T2 -> $DB\.hr +6 +6 " "$WORK/v1.out" || fail "no 6/6 row for $T2"
run v1c verify --source "$SRC" --target env:DV_TARGET --map "$MAP" --counts_only
[ "$rc" -eq 0 ] || fail "verify --counts_only exited $rc"
grep -Eq "^dynamodb\.$T2 -> $DB\.hr +6 +6 " "$WORK/v1c.out" || fail "--counts_only: no 6/6 row for $T2"
# --include selects among the URI's tables.
run v1i verify --source "$SRC" --target env:DV_TARGET --map "$MAP" --include "dynamodb.$T2" --recheck_delay 0
[ "$rc" -eq 0 ] || fail "verify --include exited $rc"
verdict v1i | grep -q "IDENTICAL: 1 collections" || fail "--include: $(verdict v1i)"
echo "dynamodb_verify_test: 1. identical: ok"

# 2. One changed, one deleted, one added on the target.
"$PY" "$DATA" mutate "$TGT" "$DB" || fail "cannot change the target"
run v2 verify --source "$SRC" --target env:DV_TARGET --map "$MAP" --recheck_delay 0 --recheck_rounds 1 \
  --report "$WORK/report.json"
[ "$rc" -eq 1 ] || fail "verify of different data exited $rc, not 1"
verdict v2 | grep -q "DIFFERENT" || fail "verify did not say DIFFERENT: $(verdict v2)"
grep -Eq '^  changed +_id "b"$' "$WORK/v2.out" || fail "the changed document is not named"
grep -Eq '^  extra +_id "zz-extra"$' "$WORK/v2.out" || fail "the extra document is not named"
grep -Eq '^  missing +_id \{ ?"user" ?: ?2, ?"ts" ?: ?"2024-01-02" ?\}$' "$WORK/v2.out" \
  || fail "the missing hash + range document is not named"
[ "$(grep -Ec '^  (changed|extra|missing) ' "$WORK/v2.out")" -eq 3 ] || fail "not exactly 3 differences"
"$PY" - "$WORK/report.json" <<'EOF' || fail "the report is wrong"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["identical"] is False and r["differences"] == 3, r
kinds = sorted((d["kind"], json.dumps(d["_id"], sort_keys=True)) for c in r["collections"] for d in c["differences"])
assert kinds == [("changed", '"b"'), ("extra", '"zz-extra"'), ("missing", '{"ts": "2024-01-02", "user": 2}')], kinds
EOF
echo "dynamodb_verify_test: 2. changed, missing, extra named: ok"

# 3. reconcile: the extra goes, nothing else.
run r1 reconcile --source "$SRC" --target env:DV_TARGET --map "$MAP" --dry_run
[ "$rc" -eq 0 ] || fail "reconcile --dry_run exited $rc"
grep -q "would delete $DB.h _id \"zz-extra\"" "$WORK/r1.out" || fail "reconcile --dry_run did not name the extra"
[ "$(grep -c 'would delete' "$WORK/r1.out")" -eq 1 ] || fail "reconcile --dry_run named more than the extra"
run r2 reconcile --source "$SRC" --target env:DV_TARGET --map "$MAP"
[ "$rc" -eq 0 ] || fail "reconcile exited $rc"
grep -q "deleted $DB.h _id \"zz-extra\"" "$WORK/r2.out" || fail "reconcile did not delete the extra"
run v3 verify --source "$SRC" --target env:DV_TARGET --map "$MAP" --recheck_delay 0 --recheck_rounds 0
[ "$rc" -eq 1 ] || fail "verify after reconcile exited $rc"
[ "$(grep -Ec '^  (changed|missing) ' "$WORK/v3.out")" -eq 2 ] || fail "after reconcile: not the 2 remaining differences"
grep -q "extra +_id" "$WORK/v3.out" && fail "after reconcile: the extra is still there"
echo "dynamodb_verify_test: 3. reconcile: ok"

# 4. A number no BSON type holds: a difference naming the attribute, no crash.
"$PY" "$DATA" badnumber "$DYNAMODB_URL" "$T1" || fail "cannot write the bad number"
run v4 verify --source "$SRC" --target env:DV_TARGET --map "$MAP" --include "dynamodb.$T1" \
  --recheck_delay 0 --recheck_rounds 1 --report "$WORK/report4.json"
[ "$rc" -eq 1 ] || fail "verify with an unconvertible item exited $rc, not 1"
grep -Eq '^  missing +_id "bad-number" .*price.*34' "$WORK/v4.out" || fail "the unconvertible item is not named with its attribute"
grep -q '"problem": "DynamoDB attribute price' "$WORK/report4.json" || fail "the report has no problem for the unconvertible item"
echo "dynamodb_verify_test: 4. unconvertible item: ok"

# 5. Errors: one line each.
run e1 verify --source "dynamodb://us-east-1/$T1,${PREFIX}nosuch" --target env:DV_TARGET --map "$MAP"
[ "$rc" -eq 2 ] || fail "a missing table: exit $rc, not 2"
[ "$(wc -l <"$WORK/e1.err")" -eq 1 ] || fail "a missing table: not one line"
grep -q "${PREFIX}nosuch' does not exist" "$WORK/e1.err" || fail "a missing table is not named"
AWS_ENDPOINT_URL=http://127.0.0.1:9 run e2 verify --source "$SRC" --target env:DV_TARGET --map "$MAP"
[ "$rc" -eq 3 ] || fail "an unreachable endpoint: exit $rc, not 3"
[ "$(wc -l <"$WORK/e2.err")" -eq 1 ] || fail "an unreachable endpoint: not one line"
grep -q "cannot be reached" "$WORK/e2.err" || fail "an unreachable endpoint is not said"
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE=/nonexistent \
  AWS_CONFIG_FILE=/nonexistent "$DS" verify --source "$SRC" --target env:DV_TARGET --map "$MAP" \
  >"$WORK/e4.out" 2>"$WORK/e4.err"
rc=$?
[ "$rc" -eq 2 ] || fail "no credentials: exit $rc, not 2"
[ "$(wc -l <"$WORK/e4.err")" -eq 1 ] || fail "no credentials: not one line"
run e3 reconcile --source "dynamodb://us-east-1/${PREFIX}nosuch" --target env:DV_TARGET
[ "$rc" -eq 2 ] || fail "reconcile of a missing table: exit $rc, not 2"
echo "dynamodb_verify_test: 5. errors: ok"
echo "dynamodb_verify_test: PASS"

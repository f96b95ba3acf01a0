#!/usr/bin/env bash
# End-to-end: --dynamodb_numbers (issue #12 type mapping) on a real moto server, into
# mongo-java-server. One table, hash key pk, items before capture starts: "a" with a
# 38-digit number (no exact BSON type holds it), "b" with 7; "c<mode>" (38 digits again) is
# put while each part's capture runs, so it arrives through the stream.
#   1. default (decimal): snapshot dead-letters "a" naming the attribute (exit 1), apply
#      dead-letters the stream's "c" naming it, verify reports the difference (exit 1);
#      capture restarted on that spool with --dynamodb_numbers=string is refused (exit 3);
#   2. --dynamodb_numbers=string (capture, snapshot, verify): every item on the target,
#      the big numbers as their decimal strings (cdecimal by the snapshot, cstring by
#      the stream), b's 7 still an int32; verify identical;
#      a snapshot into that spool with the default mode is refused (exit 3).
# Usage: dynamodb_numbers_test.sh DOCSHIFT. DYNAMODB_URL, SOURCE_CS_URI and TESTBED_PYTHON
# from build/testbed.env; unset: exit 77 (skipped, reason printed), or fail under CI.
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init dynamodb_numbers DYNAMODB_URL SOURCE_CS_URI "e2edynum$$_"
export AWS_ACCESS_KEY_ID=AKIAE2ETESTKEY AWS_SECRET_ACCESS_KEY=e2eNumbersSecret AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=$SRC
unset AWS_PROFILE AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_DYNAMODB_STREAMS AWS_SESSION_TOKEN
TABLE=${PREFIX}t
URI="dynamodb://us-east-1/$TABLE"
BIG=12345678901234567890123456789012345678  # 38 significant digits
BIG_C=98765432109876543210987654321098765432
dy() { "$PY" - "$SRC" "$TABLE" "$@" <<'EOF'
import sys, boto3
d = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1",
                 aws_access_key_id="x", aws_secret_access_key="x")
t, what = sys.argv[2], sys.argv[3]
if what == "create":
    d.create_table(TableName=t, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                   BillingMode="PAY_PER_REQUEST",
                   StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
elif what == "put":
    d.put_item(TableName=t, Item={"pk": {"S": sys.argv[4]}, "n": {"N": sys.argv[5]}})
elif what == "drop":
    for name in d.list_tables()["TableNames"]:
        if name == t: d.delete_table(TableName=t)
EOF
}
e2e_on_exit() { dy drop 2>/dev/null; }
echo "dynamodb_numbers_test: table $TABLE, work dir $WORK"
dy create && dy put a "$BIG" && dy put b 7 || fail "cannot create the table and its items"

# run_mode MODE SPOOL DB [FLAG]: capture (ready), snapshot, put c, apply until drained.
# Leaves the snapshot's exit code in snap_rc.
run_mode() {
  local mode=$1 spool=$2 db=$3 flag=${4:-}
  # shellcheck disable=SC2086
  "$DS" capture --source "$URI" --spool "$spool" $flag >"$WORK/capture-$mode.log" 2>&1 &
  cap_pid=$!
  wait_for 60 grep -qs "capture: ready" "$WORK/capture-$mode.log" || fail "$mode: capture did not become ready"
  # shellcheck disable=SC2086
  "$DS" snapshot --source "$URI" --target "$TGT" --spool "$spool" --map "dynamodb.$TABLE=$db.t" --progress none \
    $flag >"$WORK/snapshot-$mode.log" 2>&1
  snap_rc=$?
  dy put "c$mode" "$BIG_C" || fail "$mode: cannot put c"
  in_spool() { "$DS" inspect dump --spool "$spool" 2>/dev/null | grep -q "\"c$mode\""; }
  wait_for 60 in_spool || fail "$mode: c never reached the spool"
  "$DS" apply --spool "$spool" --target "$TGT" --map "dynamodb.$TABLE=$db.t" --stop_when_drained \
    >"$WORK/apply-$mode.log" 2>&1
  apply_rc=$?
  [ "$apply_rc" -le 1 ] || fail "$mode: apply failed (exit $apply_rc)"
  kill -INT "$cap_pid"; wait "$cap_pid"; cap_pid=""
}

# --- 1. the default: dead letters naming the attribute ---
DSP=$WORK/spool-decimal
run_mode decimal "$DSP" "${PREFIX}dec"
[ "$snap_rc" -eq 1 ] || fail "decimal: snapshot exited $snap_rc, expected 1 (an item dead-lettered)"
"$DS" inspect deadletters --spool "$DSP" >"$WORK/dlq-decimal.out" 2>&1
grep -q "DynamoDB attribute n: number $BIG has 38 significant digits" "$WORK/dlq-decimal.out" ||
  fail "decimal: snapshot did not dead-letter a naming attribute n: $(head -c 600 "$WORK/dlq-decimal.out")"
grep -q "DynamoDB attribute n: number $BIG_C has 38 significant digits" "$WORK/dlq-decimal.out" ||
  fail "decimal: apply did not dead-letter c naming attribute n: $(head -c 600 "$WORK/dlq-decimal.out")"
echo "  decimal: a dead-lettered by snapshot, c by apply, both naming attribute n"
"$DS" verify --source "$URI" --target "$TGT" --map "dynamodb.$TABLE=${PREFIX}dec.t" >"$WORK/verify-decimal.log" 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "decimal: verify exited $rc, expected 1 (differences)"
grep -q "attribute n: number" "$WORK/verify-decimal.log" || fail "decimal: verify does not name the attribute"
echo "  decimal: verify reports the two items naming attribute n (exit 1)"
"$DS" capture --source "$URI" --spool "$DSP" --dynamodb_numbers=string >"$WORK/restart.out" 2>"$WORK/restart.err"
rc=$?
[ "$rc" -eq 3 ] && [ "$(grep -c . "$WORK/restart.err")" -eq 1 ] &&
  grep -q "was captured with --dynamodb_numbers=decimal, not string" "$WORK/restart.err" ||
  fail "decimal: a capture restart with another mode was not refused in one line (exit $rc): $(cat "$WORK/restart.err")"
echo "  decimal: capture restarted with --dynamodb_numbers=string refused (exit 3)"

# --- 2. string: the decimal text ---
SSP=$WORK/spool-string
run_mode string "$SSP" "${PREFIX}str" --dynamodb_numbers=string
[ "$snap_rc" -eq 0 ] || fail "string: snapshot exited $snap_rc: $(tail -3 "$WORK/snapshot-string.log")"
"$DS" inspect deadletters --spool "$SSP" >"$WORK/dlq-string.out" 2>&1
grep -q '"seq"\|attribute n' "$WORK/dlq-string.out" && fail "string: dead letters: $(head -c 600 "$WORK/dlq-string.out")"
"$PY" - "$TGT" "${PREFIX}str" "$BIG" "$BIG_C" <<'EOF' || fail "string: the target does not hold the strings"
import sys
from pymongo import MongoClient
from bson.int64 import Int64
c = MongoClient(sys.argv[1], serverSelectionTimeoutMS=5000)[sys.argv[2]]["t"]
docs = {d["_id"]: d for d in c.find()}
# cdecimal (put in part 1) is copied by this snapshot, cstring comes through the stream.
want = {"a": sys.argv[3], "b": 7, "cdecimal": sys.argv[4], "cstring": sys.argv[4]}
assert set(docs) == set(want), f"documents {sorted(docs)}"
for k, v in want.items():
    got = docs[k]["n"]
    assert type(got) is type(v) and got == v, f"{k}: n is {got!r} ({type(got).__name__}), want {v!r}"
EOF
echo "  string: a, cdecimal (snapshot) and cstring (stream) hold their 38 digits as strings, b's 7 is an int"
"$DS" verify --source "$URI" --target "$TGT" --map "dynamodb.$TABLE=${PREFIX}str.t" --dynamodb_numbers=string \
  >"$WORK/verify-string.log" 2>&1 || fail "string: verify found differences: $(tail -5 "$WORK/verify-string.log")"
echo "  string: verify --dynamodb_numbers=string: identical"
"$DS" snapshot --source "$URI" --target "$TGT" --spool "$SSP" --map "dynamodb.$TABLE=${PREFIX}str.t" --progress none \
  --restart >"$WORK/snap-mismatch.out" 2>"$WORK/snap-mismatch.err"
rc=$?
[ "$rc" -eq 3 ] && grep -q "was captured with --dynamodb_numbers=string, not decimal" "$WORK/snap-mismatch.err" ||
  fail "string: a snapshot with another mode was not refused (exit $rc): $(cat "$WORK/snap-mismatch.err")"
echo "  string: a snapshot into that spool with the default mode refused (exit 3)"
echo "dynamodb_numbers_test: passed"

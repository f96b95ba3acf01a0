#!/usr/bin/env bash
# End-to-end: a refused signature (issue #12: "wrong credentials (signature refused) -> one
# clear line and a non-zero exit; the secret key never printed"), against a server that
# checks signatures: a ministack of its own with AUTH=true.
#
# Why ministack and how: under AUTH=true ministack verifies the SigV4 signature of every
# request made with an IAM user's key (its root keys, the server's AWS_ACCESS_KEY_ID,
# "test" and account ids, are not checked), and answers a wrong one as DynamoDB does:
# HTTP 400 {"__type": "InvalidSignatureException", "message": "The request signature we
# calculated does not match ..."}, for DynamoDB and DynamoDB Streams alike. So the test
# creates an IAM user with a dynamodb:* policy and an access key through ministack's IAM
# API (root key), then runs docshift with that key id and its secret, or a wrong secret.
#   1. the right secret: capture becomes ready, snapshot copies, verify finds it identical;
#   2. a wrong secret: capture (a new spool and the existing one), snapshot and verify each
#      print one line naming the endpoint and InvalidSignatureException, exit 3; capture
#      creates no spool;
#      an unknown key id: capture says UnrecognizedClientException, exit 3;
#   3. neither the wrong nor the right secret appears in any output, log or spool file.
# Usage: dynamodb_auth_test.sh DOCSHIFT. TESTBED_MINISTACK_PYTHON (ministack's venv),
# SOURCE_CS_URI (a target) and TESTBED_PYTHON from build/testbed.env; unset: exit 77
# (skipped, reason printed), or fail under CI.
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init dynamodb_auth TESTBED_MINISTACK_PYTHON SOURCE_CS_URI "e2edyauth$$_"
MS_PY=$SRC
ms_pid=""
e2e_on_exit() { [ -n "$ms_pid" ] && kill "$ms_pid" 2>/dev/null && wait "$ms_pid" 2>/dev/null; }
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$port
ROOT_KEY=AKIAE2EROOT$$ ROOT_SECRET=e2eRootSecret$RANDOM
mkdir -p "$WORK/ministack"
AUTH=true BIND_HOST=127.0.0.1 GATEWAY_PORT=$port TMPDIR=$WORK/ministack PERSIST_STATE=0 \
  AWS_ACCESS_KEY_ID=$ROOT_KEY AWS_SECRET_ACCESS_KEY=$ROOT_SECRET "$MS_PY" -m ministack >"$WORK/ministack.log" 2>&1 &
ms_pid=$!
echo "dynamodb_auth_test: own ministack (AUTH=true) on $URL, work dir $WORK"
TABLE=${PREFIX}t
# Creates the table (3 items) and an IAM user allowed dynamodb:*; prints KEY_ID SECRET.
setup() { "$PY" - "$URL" "$ROOT_KEY" "$ROOT_SECRET" "$TABLE" <<'EOF'
import json, sys, time, boto3
url, rk, rs, table = sys.argv[1:5]
def client(svc):
    return boto3.client(svc, endpoint_url=url, region_name="us-east-1", aws_access_key_id=rk,
                        aws_secret_access_key=rs)
d = client("dynamodb")
for _ in range(150):  # readiness: up to 30 s
    try:
        d.list_tables()
        break
    except Exception:
        time.sleep(0.2)
d.create_table(TableName=table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
               AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
               StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
for i in range(3):
    d.put_item(TableName=table, Item={"pk": {"S": "k%d" % i}, "n": {"N": str(i)}})
iam = client("iam")
iam.create_user(UserName="docshift")
iam.put_user_policy(UserName="docshift", PolicyName="dynamodb", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}))
k = iam.create_access_key(UserName="docshift")["AccessKey"]
print(k["AccessKeyId"], k["SecretAccessKey"])
EOF
}
read -r KEY_ID RIGHT < <(setup 2>"$WORK/setup.err") || true
[ -n "${RIGHT:-}" ] || fail "ministack: cannot create the table and the IAM user: $(tail -3 "$WORK/setup.err")"
WRONG="e2eWrongSecret${RANDOM}x$$"
export AWS_ACCESS_KEY_ID=$KEY_ID AWS_REGION=us-east-1 AWS_ENDPOINT_URL=$URL
unset AWS_PROFILE AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_DYNAMODB_STREAMS AWS_SESSION_TOKEN
URI="dynamodb://us-east-1/$TABLE"
MAP="dynamodb.$TABLE=${PREFIX}db.t"

# --- 1. the right secret ---
export AWS_SECRET_ACCESS_KEY=$RIGHT
"$DS" capture --source "$URI" --spool "$SPOOL" >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -q "capture: ready" "$WORK/capture.log" || fail "right secret: capture did not become ready"
"$DS" snapshot --source "$URI" --target "$TGT" --spool "$SPOOL" --map "$MAP" --progress none \
  >"$WORK/snapshot.log" 2>&1 || fail "right secret: snapshot failed: $(tail -3 "$WORK/snapshot.log")"
stop_within 15 "$cap_pid" "capture"
cap_pid=""
"$DS" verify --source "$URI" --target "$TGT" --map "$MAP" --recheck_rounds 0 >"$WORK/verify.log" 2>&1 ||
  fail "right secret: verify: $(tail -3 "$WORK/verify.log")"
grep -q "IDENTICAL" "$WORK/verify.log" || fail "right secret: verify not identical"
echo "  right secret: capture ready, snapshot copied, verify identical"

# --- 2. a wrong secret ---
export AWS_SECRET_ACCESS_KEY=$WRONG
want_refusal="InvalidSignatureException: The request signature we calculated does not match"
# refused NAME CMD...: exit 3, exactly one stderr line naming the endpoint and the refusal.
refused() {
  local name=$1; shift
  "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
  local rc=$?
  [ "$rc" -eq 3 ] || fail "wrong secret: $name exited $rc, expected 3: $(cat "$WORK/$name.err")"
  [ "$(grep -c . "$WORK/$name.err")" -eq 1 ] || fail "wrong secret: $name: not one line: $(cat "$WORK/$name.err")"
  grep -q "$URL.*$want_refusal" "$WORK/$name.err" ||
    fail "wrong secret: $name does not name the endpoint and the refusal: $(cat "$WORK/$name.err")"
  echo "  $name (exit $rc): $(cut -c1-200 "$WORK/$name.err")"
}
refused capture-new "$DS" capture --source "$URI" --spool "$WORK/new-spool"
[ ! -e "$WORK/new-spool" ] || fail "wrong secret: capture created a spool"
refused capture-resume "$DS" capture --source "$URI" --spool "$SPOOL"
refused snapshot "$DS" snapshot --source "$URI" --target "$TGT" --spool "$SPOOL" --map "$MAP" --progress none --restart
refused verify "$DS" verify --source "$URI" --target "$TGT" --map "$MAP"
# A key the server does not know: UnrecognizedClientException, the same one line and exit.
want_refusal="UnrecognizedClientException: The security token included in the request is invalid"
AWS_ACCESS_KEY_ID=AKIAE2EUNKNOWN$$ refused capture-unknown-key "$DS" capture --source "$URI" --spool "$WORK/new-spool"

# --- 3. no secret anywhere ---
for s in "$WRONG" "$RIGHT"; do
  # The server's own files (its log, its TMPDIR) are not docshift's: not searched.
  if grep -rlF --exclude-dir=ministack --exclude=ministack.log -- "$s" "$WORK" >"$WORK/secret-hits.txt" 2>/dev/null; then
    fail "a secret access key appears in: $(cat "$WORK/secret-hits.txt")"
  fi
done
echo "  neither secret is in any output, log or spool file"
echo "dynamodb_auth_test: passed"

#!/usr/bin/env bash
# End-to-end: a live DynamoDB migration (issue #12) on a real moto server, into
# mongo-java-server (FerretDB drops the connection on Decimal128):
#   1. bad input: a missing table, a table without a stream, a KEYS_ONLY stream, an
#      unreachable endpoint -> one line each and a non-zero exit, no spool created;
#   2. two tables (hash-only, hash+range; every attribute type, numbers of 1 to 38 digits)
#      with items before capture starts; capture (DynamoDB Streams) is ready, snapshot
#      copies the tables, apply replays the spool while a workload puts, updates and
#      deletes; capture is SIGKILLed twice and apply once, each restarted;
#   3. after the writes stop (a marker item reaches the spool), cutover says SAFE TO
#      SWITCH (apply drained, its final verify reads the tables); the
#      independent checker (boto3 + pymongo, tests/workload/dynamodb_checker.py) finds
#      the target identical to the tables, `docshift verify` agrees, no dead letters;
#   4. the secret access key appears in no log, output or spool file;
#   5. ministack (MINISTACK_URL): a stream disabled while capture runs: capture reads
#      the closed shard to its end and stops, saying a new snapshot is needed; the stream
#      enabled again (a new stream ARN): a restart refuses the spool (history lost).
#
# Usage: dynamodb_live_test.sh DOCSHIFT. DYNAMODB_URL, MINISTACK_URL, SOURCE_CS_URI and
# TESTBED_PYTHON from build/testbed.env; unset: exit 77 (skipped, reason printed), or
# fail when CI is set.
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init dynamodb_live DYNAMODB_URL SOURCE_CS_URI "e2edylive$$_"
SECRET="e2eSecretKey${RANDOM}x$$"
export AWS_ACCESS_KEY_ID=AKIAE2ETESTKEY AWS_SECRET_ACCESS_KEY=$SECRET AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=$SRC
unset AWS_PROFILE AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_DYNAMODB_STREAMS AWS_SESSION_TOKEN
DB=${PREFIX}db
HASH=${PREFIX}hash
RANGE=${PREFIX}range
URI="dynamodb://us-east-1/$HASH,$RANGE"
MAPS="dynamodb.$HASH=$DB.hash,dynamodb.$RANGE=$DB.range"
WL="$ROOT/tests/workload/dynamodb_workload.py"
alive() { kill -0 "$1" 2>/dev/null; }
e2e_on_exit() {
  "$PY" - "$SRC" "$PREFIX" "${MINISTACK_URL:-}" <<'EOF' 2>/dev/null
import sys, boto3
for url in sys.argv[3:] + [sys.argv[1]]:
    if not url: continue
    d = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                     aws_access_key_id="x", aws_secret_access_key="x")
    for t in d.list_tables()["TableNames"]:
        if t.startswith(sys.argv[2]): d.delete_table(TableName=t)
EOF
}
echo "dynamodb_live_test: prefix $PREFIX, work dir $WORK"

# --- 1. bad input ---
"$PY" - "$SRC" "$PREFIX" <<'EOF' || fail "cannot create the bad-input tables"
import sys, boto3
d = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1",
                 aws_access_key_id="x", aws_secret_access_key="x")
key = dict(KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
           AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
d.create_table(TableName=sys.argv[2] + "nostream", **key)
d.create_table(TableName=sys.argv[2] + "keysonly", StreamSpecification={"StreamEnabled": True,
               "StreamViewType": "KEYS_ONLY"}, **key)
EOF
bad() {  # bad NAME EXPECTED-TEXT ARGS...: one line on stderr, non-zero exit, no spool
  local name=$1 want=$2; shift 2
  "$DS" capture --spool "$WORK/bad-$name" "$@" >"$WORK/bad-$name.out" 2>"$WORK/bad-$name.err"
  local rc=$?
  [ "$rc" -ne 0 ] || fail "capture with $name exited 0"
  [ "$(wc -l <"$WORK/bad-$name.err")" -eq 1 ] || fail "capture with $name: not one line: $(cat "$WORK/bad-$name.err")"
  grep -q -- "$want" "$WORK/bad-$name.err" || fail "capture with $name does not say '$want': $(cat "$WORK/bad-$name.err")"
  [ ! -e "$WORK/bad-$name" ] || fail "capture with $name created a spool"
  echo "  $name (exit $rc): $(cut -c1-160 "$WORK/bad-$name.err")"
}
bad missing-table "'${PREFIX}nope' .*ResourceNotFoundException" --source "dynamodb://us-east-1/${PREFIX}nope"
bad no-stream "has no stream enabled" --source "dynamodb://us-east-1/${PREFIX}nostream"
bad keys-only "KEYS_ONLY stream" --source "dynamodb://us-east-1/${PREFIX}keysonly"
AWS_ENDPOINT_URL=http://127.0.0.1:1 bad unreachable "Unavailable: .*127.0.0.1:1" --source "dynamodb://us-east-1/$HASH"
bad bad-uri "names no table" --source "dynamodb://us-east-1/"
bad kind-mismatch "needs a dynamodb://" --source "mongodb://127.0.0.1:1/" --source_kind dynamodb

# --- 2. tables, capture, snapshot, apply, workload with SIGKILLs ---
"$PY" "$WL" --endpoint "$SRC" --prefix "$PREFIX" --preload 150 --ops 0 --seed 41 >"$WORK/preload.log" 2>&1 \
  || fail "preload failed: $(tail -3 "$WORK/preload.log")"
start_capture() {
  "$DS" capture --source "$URI" --spool "$SPOOL" --progress_interval 2s >>"$WORK/capture.log" 2>&1 &
  cap_pid=$!
}
start_apply() {
  "$DS" apply --spool "$SPOOL" --target "$TGT" --map "$MAPS" --checkpoint_interval 300ms \
    --progress_interval 2s >>"$WORK/apply.log" 2>&1 &
  app_pid=$!
}
ready_count() { grep -c "capture: ready" "$WORK/capture.log" 2>/dev/null; }
ready_more_than() { [ "$(ready_count)" -gt "$1" ]; }
start_capture
wait_for 60 grep -q "capture: ready" "$WORK/capture.log" || fail "capture did not become ready"
"$DS" snapshot --source "$URI" --target "$TGT" --spool "$SPOOL" --map "$MAPS" --progress none \
  >"$WORK/snapshot.log" 2>&1 || fail "snapshot failed: $(tail -3 "$WORK/snapshot.log")"
start_apply
"$PY" "$WL" --endpoint "$SRC" --prefix "$PREFIX" --seconds 24 --rate 25 --seed 42 >"$WORK/workload.log" 2>&1 &
wl_pid=$!
kill9_capture() {  # waits for a capture that is ready (and has read something) first
  local n
  n=$(ready_count)
  kill -9 "$cap_pid"; wait "$cap_pid" 2>/dev/null
  start_capture
  wait_for 60 ready_more_than "$n" || fail "capture did not become ready after SIGKILL"
}
spool_events() { "$DS" inspect stats --spool "$SPOOL" 2>/dev/null | awk '$1=="TOTAL"{print $2}'; }
spool_more_than() { [ "$(spool_events)" -gt "$1" ]; }
wait_for 30 spool_more_than 300 || fail "capture spooled no workload events"
kill9_capture
echo "  capture SIGKILLed and restarted"
kill -9 "$app_pid"; wait "$app_pid" 2>/dev/null
start_apply
echo "  apply SIGKILLed and restarted"
n=$(spool_events)
wait_for 30 spool_more_than $((n + 50)) || fail "capture spooled nothing after its restart"
kill9_capture
echo "  capture SIGKILLed and restarted again"
wait "$wl_pid" || fail "the workload failed: $(tail -3 "$WORK/workload.log")"
wl_pid=""
echo "  workload: $(tail -1 "$WORK/workload.log")"

# --- 3. drain, check, verify ---
"$PY" - "$SRC" "$HASH" <<'EOF' || fail "cannot write the marker"
import sys, boto3
d = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1",
                 aws_access_key_id="x", aws_secret_access_key="x")
d.put_item(TableName=sys.argv[2], Item={"pk": {"S": "end-marker"}})
EOF
marker_in_spool() { "$DS" inspect dump --spool "$SPOOL" --ns "dynamodb.$HASH" 2>/dev/null | grep -q '"end-marker"'; }
wait_for 60 marker_in_spool || fail "the marker never reached the spool"
# Cutover with capture and apply running: writes have stopped, apply drains, the final
# verify reads the tables.
"$DS" cutover --spool "$SPOOL" --source "$URI" --target "$TGT" --map "$MAPS" \
  --max_lag 5s --quiet_period 3s --timeout 120s >"$WORK/cutover.log" 2>&1
rc=$?
[ $rc -eq 0 ] || fail "cutover exited $rc: $(tail -5 "$WORK/cutover.log")"
grep -q "SAFE TO SWITCH" "$WORK/cutover.log" || fail "cutover did not say SAFE TO SWITCH: $(tail -5 "$WORK/cutover.log")"
echo "  cutover: $(grep "SAFE TO SWITCH" "$WORK/cutover.log" | head -1)"
stop_within 10 "$app_pid" "apply"; app_pid=""
"$PY" "$ROOT/tests/workload/dynamodb_checker.py" --endpoint "$SRC" --target "$TGT" --table "$HASH" --table "$RANGE" \
  --map "$HASH=$DB.hash" --map "$RANGE=$DB.range" >"$WORK/checker.log" 2>&1 \
  || fail "the checker found differences: $(head -5 "$WORK/checker.log")"
echo "  $(tail -1 "$WORK/checker.log")"
"$DS" verify --source "$URI" --target "$TGT" --map "$MAPS" >"$WORK/verify.log" 2>&1 \
  || fail "verify does not agree: $(tail -5 "$WORK/verify.log")"
echo "  verify: $(grep -ci identical "$WORK/verify.log") identical line(s)"
"$DS" inspect deadletters --spool "$SPOOL" >"$WORK/dlq.out" 2>&1
grep -q '"seq"' "$WORK/dlq.out" && fail "apply dead-lettered events: $(head -c 600 "$WORK/dlq.out")"
stats=$("$DS" inspect stats --spool "$SPOOL" 2>/dev/null | grep -E "^(NAMESPACE|TOTAL)" | tr -s ' ' | paste -sd'|')
echo "  spool: $stats"

# --- 4. the secret is nowhere ---
stop_within 10 "$cap_pid" "capture"; cap_pid=""
if grep -rlF -- "$SECRET" "$WORK" >"$WORK/secret-hits.txt" 2>/dev/null; then
  fail "the secret access key appears in: $(cat "$WORK/secret-hits.txt")"
fi
echo "  the secret access key is in no log, output or spool file"

# --- 5. ministack: a disabled stream, then a new stream ARN ---
if [ -z "${MINISTACK_URL:-}" ]; then
  echo "dynamodb_live_test: MINISTACK_URL not set: the disabled-stream part is skipped"
  [ -n "${CI:-}" ] && fail "MINISTACK_URL must be set under CI"
  exit 0
fi
MS_SPOOL=$WORK/ms-spool
MS_TABLE=${PREFIX}ms
ms() { "$PY" - "$MINISTACK_URL" "$MS_TABLE" "$@" <<'EOF'
import sys, boto3
d = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1",
                 aws_access_key_id="x", aws_secret_access_key="x")
t, what = sys.argv[2], sys.argv[3]
if what == "create":
    d.create_table(TableName=t, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                   AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                   BillingMode="PAY_PER_REQUEST",
                   StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
elif what == "put":
    for i in range(int(sys.argv[4])):
        d.put_item(TableName=t, Item={"id": {"S": "%s-%d" % (sys.argv[5], i)}, "n": {"N": str(i)}})
elif what == "stream":
    spec = {"StreamEnabled": sys.argv[4] == "on"}
    if sys.argv[4] == "on": spec["StreamViewType"] = "NEW_IMAGE"
    d.update_table(TableName=t, StreamSpecification=spec)
EOF
}
ms create || fail "ministack: cannot create the table"
AWS_ENDPOINT_URL=$MINISTACK_URL "$DS" capture --source "dynamodb://us-east-1/$MS_TABLE" --spool "$MS_SPOOL" \
  >"$WORK/ms-capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -q "capture: ready" "$WORK/ms-capture.log" || fail "ministack: capture did not become ready"
ms put 20 a || fail "ministack: puts failed"
ms stream off || fail "ministack: cannot disable the stream"
wait_for 60 bash -c "! kill -0 $cap_pid 2>/dev/null" || fail "ministack: capture kept running on a disabled stream"
wait "$cap_pid"; rc=$?; cap_pid=""
[ "$rc" -ne 0 ] || fail "ministack: capture exited 0 on a disabled stream"
grep -q "was disabled and every record it holds is captured" "$WORK/ms-capture.log" \
  || fail "ministack: capture does not say the stream was disabled: $(tail -2 "$WORK/ms-capture.log")"
n=$("$DS" inspect stats --spool "$MS_SPOOL" 2>/dev/null | awk '$1=="TOTAL"{print $2}')
[ "${n:-0}" -eq 20 ] || fail "ministack: the spool holds ${n:-0} events of 20 written before the stream was disabled"
echo "  ministack: disabled stream read to its end (20 events), capture stopped (exit $rc)"
ms stream on || fail "ministack: cannot enable the stream again"
AWS_ENDPOINT_URL=$MINISTACK_URL "$DS" capture --source "dynamodb://us-east-1/$MS_TABLE" --spool "$MS_SPOOL" \
  >"$WORK/ms-restart.log" 2>&1
rc=$?
[ "$rc" -ne 0 ] || fail "ministack: capture resumed a spool across a new stream ARN"
grep -q "no longer holds the position this spool resumes from.*stream was disabled and enabled again" "$WORK/ms-restart.log" \
  || fail "ministack: the restart does not say history is lost: $(tail -2 "$WORK/ms-restart.log")"
echo "  ministack: a new stream ARN refused (exit $rc)"
echo "dynamodb_live_test: passed"

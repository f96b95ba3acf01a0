#!/usr/bin/env bash
# End-to-end: DynamoDB Streams' two clocks, on a ministack of the test's own whose clock
# libfaketime runs 1,000 times fast (issue #12: "ExpiredIterator -> a new iterator from
# the last sequence number, no gap. TrimmedDataAccess -> stop: history lost"). ministack
# expires a shard iterator 15 minutes after it issued it (0.9 s here) and trims records
# older than 24 hours (86 s here):
#   1. capture reads 10 records; stopped (SIGSTOP) for 3 s, its iterator expires; resumed
#      (SIGCONT) it logs the expiry, takes a new iterator after its last record and
#      captures 10 more: the spool holds the 20 records once each, in order;
#   2. capture SIGKILLed, 5 more records written, then the records after its position are
#      trimmed (polled until ministack says so): the restarted capture stops with exit 3,
#      saying the spool is no longer continuous and a new snapshot is needed, and the
#      spool is unchanged.
#
# Usage: dynamodb_expiry_test.sh DOCSHIFT. TESTBED_MINISTACK_PYTHON and TESTBED_PYTHON from
# build/testbed.env (unset: exit 77, or fail under CI); libfaketime (scripts/testbed.sh
# installs it).
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init dynamodb_expiry TESTBED_MINISTACK_PYTHON TESTBED_PYTHON "e2edyexp$$_"
MS_PY=$SRC
LIBFAKETIME=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -1)
[ -n "$LIBFAKETIME" ] || fail "libfaketime is not installed (scripts/testbed.sh up installs faketime)"
ms_pid=""
e2e_on_exit() { [ -n "$ms_pid" ] && kill "$ms_pid" 2>/dev/null && wait "$ms_pid" 2>/dev/null; }
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$port
mkdir -p "$WORK/ministack"
LD_PRELOAD=$LIBFAKETIME FAKETIME="+0 x1000" FAKETIME_NO_CACHE=1 BIND_HOST=127.0.0.1 GATEWAY_PORT=$port \
  TMPDIR=$WORK/ministack PERSIST_STATE=0 "$MS_PY" -m ministack >"$WORK/ministack.log" 2>&1 &
ms_pid=$!
echo "dynamodb_expiry_test: own ministack on $URL, its clock 1000x fast; work dir $WORK"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_ENDPOINT_URL=$URL
unset AWS_PROFILE AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_DYNAMODB_STREAMS AWS_SESSION_TOKEN
TABLE=${PREFIX}t
ms() { "$PY" - "$URL" "$TABLE" "$@" <<'EOF'
import sys, time, boto3
url, table, what = sys.argv[1], sys.argv[2], sys.argv[3]
kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
d = boto3.client("dynamodb", **kw)
if what == "create":
    for _ in range(150):  # readiness: up to 30 s
        try:
            d.list_tables()
            break
        except Exception:
            time.sleep(0.2)
    d.create_table(TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                   AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
                   StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
elif what == "put":
    for i in range(int(sys.argv[5])):
        d.put_item(TableName=table, Item={"id": {"S": "%s%02d" % (sys.argv[4], i)}})
elif what == "trimmed-after":  # exit 0 once the records after SEQ are trimmed
    s = boto3.client("dynamodbstreams", **kw)
    arn = d.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = s.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    try:
        s.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                             SequenceNumber=sys.argv[4])
        sys.exit(1)
    except s.exceptions.TrimmedDataAccessException:
        sys.exit(0)
EOF
}
ms create || fail "ministack: cannot create the table: $(tail -3 "$WORK/ministack.log")"
URI="dynamodb://us-east-1/$TABLE"
"$DS" capture --source "$URI" --spool "$SPOOL" >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -q "capture: ready" "$WORK/capture.log" || fail "capture did not become ready"
ids() { "$DS" inspect dump --spool "$SPOOL" 2>/dev/null | grep -o '"documentKey": { "_id" : "[a-z0-9]*" }' | cut -d'"' -f6; }
has_events() { [ "$(ids | wc -l)" -ge "$1" ]; }

# --- 1. an expired iterator ---
ms put a 10 || fail "puts failed"
wait_for 30 has_events 10 || fail "capture did not spool the first 10 records"
kill -STOP "$cap_pid"
SECONDS_STOPPED=3
t=$SECONDS; while [ $((SECONDS - t)) -lt $SECONDS_STOPPED ]; do sleep 0.5; done  # the condition itself: time passing
kill -CONT "$cap_pid"
ms put b 10 || fail "puts failed"
wait_for 30 has_events 20 || fail "capture did not spool the 10 records after its iterator expired: $(ids | wc -l)"
grep -q "the shard iterator expired; continuing after" "$WORK/capture.log" \
  || fail "capture did not meet an expired iterator (the test proves nothing): $(grep -c GetRecords "$WORK/capture.log")"
got=$(ids | paste -sd' ')
want=$(for p in a b; do for i in $(seq 0 9); do printf '%s%02d ' $p "$i"; done; done | sed 's/ $//')
[ "$got" = "$want" ] || fail "after the expiry the spool holds [$got], expected [$want]"
echo "  expired iterator renewed after the last record: 20 records once each, in order"

# --- 2. trimmed records ---
kill -9 "$cap_pid"; wait "$cap_pid" 2>/dev/null; cap_pid=""
last=$("$DS" inspect dump --spool "$SPOOL" 2>/dev/null | tail -1 | grep -o '"s" : "[0-9]*"' | cut -d'"' -f4)
[ -n "$last" ] || fail "no position in the spool"
ms put c 5 || fail "puts failed"
before=$(ids | wc -l)
trimmed() { ms trimmed-after "$last"; }
wait_for 150 trimmed || fail "ministack never trimmed the records after $last"
"$DS" capture --source "$URI" --spool "$SPOOL" >"$WORK/restart.log" 2>&1
rc=$?
[ $rc -eq 3 ] || fail "capture after trimming exited $rc, expected 3: $(tail -2 "$WORK/restart.log")"
grep -q "no longer holds the position this spool resumes from.*trimmed.*new snapshot" "$WORK/restart.log" \
  || fail "capture after trimming does not say history is lost: $(tail -2 "$WORK/restart.log")"
[ "$(ids | wc -l)" -eq "$before" ] || fail "the spool changed after history was lost"
echo "  trimmed records: capture stops (exit 3), history lost, spool unchanged"
echo "dynamodb_expiry_test: passed"

#!/usr/bin/env bash
# End-to-end: remote retention of a bucket spool (issue #13), `ship --bucket_retention`.
#
# capture (a segment a second) writes a local spool while the workload generator writes to
# the source; `docshift ship` commits every segment to gofakes3 with retention off. Two
# applies read the bucket: 'slow' stops at about half the events (--until), 'apply' drains
# everything. A shipper with --bucket_retention 1s then deletes exactly the segments the
# slowest checkpoint passed: the log has their `deleted` records (the independent reader
# tests/e2e/bucket_reader.py checks each names the oldest live segment), their objects are
# gone, the one holding slow's next event and every later one survive. 'slow' catches up;
# the next round deletes all but the newest. The target must be identical to the source
# (checker), `inspect manifest` on the bucket shows the deleted range, and a new apply
# (which starts at seq 1) stops with an error naming the oldest sequence left.
#
# Usage: bucket_retention_test.sh DOCSHIFT
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_need_s3 bucket_retention
e2e_init bucket_retention SOURCE_CS_URI TARGET_URI "e2eret$$_"
SEED=${E2E_SEED:-$$}
DURATION=${E2E_DURATION:-8}
RATE=${E2E_RATE:-60}
BKT=e2e-bucket-retention
KEYPREFIX=run$$/spool
BUCKET_URL="s3://$BKT/$KEYPREFIX"
REMOTE=$WORK/remote  # the applies' working directory: no spool here
mkdir -p "$REMOTE"
unset AWS_ENDPOINT_URL AWS_PROFILE
echo "bucket_retention_test: seed $SEED, prefix $PREFIX, bucket spool $BUCKET_URL, work dir $WORK"
reader() { "$PY" "$ROOT/tests/e2e/bucket_reader.py" "$S3_URL" "$BKT" "$KEYPREFIX" --deletions-ok; }
# Runs python code on the reader's JSON summary (stdin) as `v`.
field() { "$PY" -c 'import json,sys; v=json.load(sys.stdin); exec(sys.argv[1])' "$1"; }
objects() {  # the segment objects under segments/, one name a line
  "$PY" -c '
import sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="testing",
                  aws_secret_access_key="testing", config=Config(s3={"addressing_style": "path"}))
for p in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[2], Prefix=sys.argv[3] + "/segments/"):
    for o in p.get("Contents", []):
        print(o["Key"].rsplit("/", 1)[1])
' "$S3_URL" "$BKT" "$KEYPREFIX"
}
bapply() {  # bapply LOG ARGS...: an apply on the bucket, from the remote directory
  local log=$1
  shift
  (cd "$REMOTE" && "$DS" apply --spool "$BUCKET_URL" --target "$TGT" --bucket_poll_interval 100ms "$@") \
    >"$WORK/$log" 2>&1
}

"$PY" -c '
import sys
from pymongo import MongoClient
src, tgt, prefix = sys.argv[1:4]
for uri in (src, tgt):
    c = MongoClient(uri, serverSelectionTimeoutMS=5000)
    for d in c.list_database_names():
        if d.startswith(prefix): c.drop_database(d)
c = MongoClient(src)
for coll in ["c0", "c1", "c2"]:
    c[prefix + "0"].create_collection(coll)
' "$SRC" "$TGT" "$PREFIX" || fail "cannot prepare the servers"

echo "1. capture and ship (retention off)"
"$DS" capture --source "$SRC" --spool "$SPOOL" --include "${PREFIX}*" --segment_max_age 1s \
  --progress_interval 5s >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -qs "capture: ready" "$WORK/capture.log" || fail "capture did not become ready"
"$PY" "$ROOT/tests/workload/workload.py" --uri "$SRC" --db-prefix "$PREFIX" --dbs 1 --colls 3 \
  --load 100 --duration "$DURATION" --rate "$RATE" --seed "$SEED" >"$WORK/workload.log" 2>&1 \
  || fail "workload generator failed"
echo "  $(tail -1 "$WORK/workload.log")"
# A marker written after the workload: once it is in the spool, capture has every change.
"$PY" -c 'import sys; from pymongo import MongoClient
MongoClient(sys.argv[1])[sys.argv[2] + "0"]["c0"].insert_one({"_id": "end-marker-retention"})' "$SRC" "$PREFIX" \
  || fail "cannot write the marker"
marker_captured() { "$DS" inspect dump --spool "$SPOOL" 2>/dev/null | grep -q "end-marker-retention"; }
wait_for 60 marker_captured || fail "capture never got the marker"
kill -TERM "$cap_pid"
wait "$cap_pid"
rc=$?
cap_pid=""
[ $rc -eq 0 ] || fail "capture did not stop cleanly (exit $rc)"
"$DS" ship --spool "$SPOOL" --to "$BUCKET_URL" --stop_when_drained >"$WORK/ship.0.log" 2>&1 || fail "ship failed"
events=$("$DS" inspect stats --spool "$SPOOL" | awk '$1=="TOTAL"{print $2}')
summary=$(reader) || fail "the bucket does not read back: $summary"
nseg=$(echo "$summary" | field 'print(len(v["files"]))')
echo "  $events events in $nseg committed segments"
[ "${events:-0}" -ge 200 ] || fail "only ${events:-0} events captured"
[ "$nseg" -ge 4 ] || fail "only $nseg segments: too few to see retention keep some and delete others"

echo "2. a slow apply (--until half) and a full one"
half=$((events / 2))
bapply apply.slow.log --name slow --cache_dir "$REMOTE/cache-slow" --until "$half" --stop_when_drained \
  || fail "apply --name slow --until $half failed: $(tail -2 "$WORK/apply.slow.log")"
bapply apply.full.log --cache_dir "$REMOTE/cache" --stop_when_drained \
  || fail "apply failed: $(tail -2 "$WORK/apply.full.log")"
grep -q "checkpoint at seq $events," "$WORK/apply.full.log" \
  || fail "the full apply's checkpoint is not at $events: $(tail -1 "$WORK/apply.full.log")"
slow=$(grep -o "checkpoint at seq [0-9]*" "$WORK/apply.slow.log" | tail -1 | awk '{print $4}')
[ -n "$slow" ] && [ "$slow" -le "$half" ] && [ "$slow" -gt 0 ] \
  || fail "the slow apply's checkpoint (${slow:-none}) is not in 1..$half: $(tail -1 "$WORK/apply.slow.log")"
echo "  slow at seq $slow, apply at seq $events"

echo "3. retention: the slowest checkpoint holds deletion back"
"$DS" ship --spool "$SPOOL" --to "$BUCKET_URL" --stop_when_drained --bucket_retention 1s \
  --bucket_retention_interval 100ms >"$WORK/ship.1.log" 2>&1 || fail "ship --bucket_retention failed"
summary=$(reader) || fail "the bucket after retention does not read back: $summary"
# Every deleted segment was passed by slow; the first live one holds slow's next event.
echo "$summary" | field "
d, l = v['deleted'], v['live']
assert d, 'nothing was deleted'
assert all(s['last'] <= $slow for s in d), 'a segment slow has not passed was deleted: %s' % d
assert l[0]['first'] <= $slow + 1 <= l[0]['last'], 'the oldest live segment does not hold seq %d: %s' % ($slow + 1, l[0])
print('  deleted %d segment(s) through seq %d; oldest live %s (seq %d..%d)' % (len(d), d[-1]['last'], l[0]['file'], l[0]['first'], l[0]['last']))
" || fail "retention went wrong: $summary"
deleted_files=$(echo "$summary" | field 'print(" ".join(s["file"] for s in v["deleted"]))')
live_files=$(echo "$summary" | field 'print(" ".join(s["file"] for s in v["live"]))')
objects >"$WORK/objects.1" || fail "cannot list the segment objects"
for f in $deleted_files; do
  grep -qx "$f" "$WORK/objects.1" && fail "$f is recorded deleted but its object is still there"
done
for f in $live_files; do
  grep -qx "$f" "$WORK/objects.1" || fail "live segment $f has no object"
done
grep -q "ship: retention deleted .* recorded as log record" "$WORK/ship.1.log" || fail "ship logs no deletion"
grep -q "retention deleted [1-9][0-9]* segment(s), [1-9][0-9]* bytes" "$WORK/ship.1.log" \
  || fail "ship's summary does not count the deletions: $(tail -1 "$WORK/ship.1.log")"
grep -q "retention keeps .* checkpoint 'slow' has applied up to seq $slow" "$WORK/ship.1.log" \
  || fail "ship does not say the slow checkpoint holds retention back"

echo "4. slow catches up: all but the newest go"
bapply apply.slow2.log --name slow --cache_dir "$REMOTE/cache-slow" --stop_when_drained \
  || fail "apply --name slow (catching up) failed: $(tail -2 "$WORK/apply.slow2.log")"
grep -q "checkpoint at seq $events," "$WORK/apply.slow2.log" \
  || fail "slow did not catch up: $(tail -1 "$WORK/apply.slow2.log")"
"$DS" ship --spool "$SPOOL" --to "$BUCKET_URL" --stop_when_drained --bucket_retention 1s \
  --bucket_retention_interval 100ms >"$WORK/ship.2.log" 2>&1 || fail "the second ship --bucket_retention failed"
summary=$(reader) || fail "the bucket does not read back: $summary"
echo "$summary" | field "assert len(v['live']) == 1 and v['live'][0]['last'] == $events, v['live']" \
  || fail "not exactly the newest segment is left: $summary"
[ "$(objects | wc -l)" -eq 1 ] || fail "more than one segment object left: $(objects | tr '\n' ' ')"
oldest=$(echo "$summary" | field 'print(v["live"][0]["first"])')
echo "  one segment left, seq $oldest..$events"

echo "5. the target is identical; inspect shows the deleted range"
"$PY" "$ROOT/tests/workload/checker.py" --source "$SRC" --target "$TGT" --db-prefix "$PREFIX" \
  --ignore-empty-collections >"$WORK/checker.log" 2>&1
rc=$?
tail -1 "$WORK/checker.log"
[ $rc -eq 0 ] || fail "checker found differences (exit $rc): $(head -20 "$WORK/checker.log")"
(cd "$REMOTE" && "$DS" inspect manifest --spool "$BUCKET_URL") >"$WORK/inspect.manifest.log" 2>&1 \
  || fail "inspect manifest --spool $BUCKET_URL failed: $(tail -2 "$WORK/inspect.manifest.log")"
grep -Eq " deleted +[0-9]{20}\.seg seq 1\.\.$((oldest - 1)) " "$WORK/inspect.manifest.log" \
  || fail "inspect manifest does not show seq 1..$((oldest - 1)) deleted: $(cat "$WORK/inspect.manifest.log")"

echo "6. a new apply from seq 1 on the pruned bucket stops, naming the oldest sequence"
bapply apply.fresh.log --name fresh --cache_dir "$REMOTE/cache-fresh" --stop_when_drained
rc=$?
[ $rc -eq 3 ] || fail "a new apply on the pruned bucket exited $rc, not 3: $(tail -2 "$WORK/apply.fresh.log")"
grep -q "^docshift apply: .*'fresh' starts at seq 1, but retention .*the oldest replayable seq is $oldest;" \
  "$WORK/apply.fresh.log" \
  || fail "the refusal does not name seq 1 and the oldest sequence $oldest: $(tail -1 "$WORK/apply.fresh.log")"
# Refused before its claim: no checkpoint 'fresh' (at seq 0) is left to hold retention back.
"$PY" -c '
import sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="testing",
                  aws_secret_access_key="testing", config=Config(s3={"addressing_style": "path"}))
keys = [o["Key"] for o in s3.list_objects_v2(Bucket=sys.argv[2], Prefix=sys.argv[3] + "/checkpoints/").get("Contents", [])]
sys.exit(1 if any(k.endswith("/fresh.ckpt") for k in keys) else 0)
' "$S3_URL" "$BKT" "$KEYPREFIX" || fail "the refused apply left checkpoints/fresh.ckpt, which holds retention back"
echo "  $(tail -1 "$WORK/apply.fresh.log" | cut -c1-200)"
echo "bucket_retention_test: PASS: $events events, $nseg segments, retention held by the slow checkpoint at seq $slow, then all but the newest deleted, target identical"

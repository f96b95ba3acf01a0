#!/usr/bin/env bash
# End-to-end: status and cutover read a spool in a bucket (issue #13), from a directory
# that never sees the local spool.
#
# capture (--segment_max_age 1s) writes a local spool; `docshift ship` commits its
# segments (and uploads capture's status file) to gofakes3. Before any apply, `status
# --spool s3://` shows no checkpoint and the whole committed log as backlog, and
# `cutover --spool s3://` says NOT SAFE (exit 1: apply is not running). Then an apply on
# the bucket drains a workload; `status` (text and --json) shows its checkpoint at the
# committed end, zero lag and backlog, nothing unshipped, the shipper; `cutover` says SAFE
# TO SWITCH (exit 0) after its final verify. With apply stopped, `apply --from 1` replays
# the bucket (a 1 KiB cache, evicted behind the replay) and restores documents deleted on
# the target, leaving the checkpoint alone; --from past the committed end is refused. `verify --spool s3://`, started before the
# apply, re-checks once the bucket's checkpoints reach the committed end: IDENTICAL. A prefix with no spool, and a damaged
# capture status object, are one-line errors naming the bucket object.
#
# Usage: bucket_read_test.sh DOCSHIFT
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_need_s3 bucket_read
e2e_init bucket_read SOURCE_CS_URI TARGET_URI "e2ebrd$$_"
ship_pid=""
ver_pid=""
e2e_on_exit() { for p in $ship_pid $ver_pid; do kill -9 "$p" 2>/dev/null; done; }
BUCKET_URL="s3://e2e-bucket-read/run$$/spool"
BKT=e2e-bucket-read
REMOTE=$WORK/remote  # status/cutover/apply run here: no spool in sight
mkdir -p "$REMOTE"
echo "bucket_read_test: prefix $PREFIX, bucket spool $BUCKET_URL, work dir $WORK"

"$PY" - "$SRC" "$TGT" "$PREFIX" <<'PYEOF' || fail "cannot prepare the servers"
import sys
from pymongo import MongoClient
src, tgt, prefix = sys.argv[1:4]
for uri in (src, tgt):
    c = MongoClient(uri, serverSelectionTimeoutMS=5000)
    for d in c.list_database_names():
        if d.startswith(prefix): c.drop_database(d)
MongoClient(src)[prefix + "0"].create_collection("c")
MongoClient(tgt)[prefix + "0"].create_collection("c")  # verify: documents missing, not a collection
PYEOF
insert() {  # insert FIRST COUNT
  "$PY" - "$SRC" "$PREFIX" "$1" "$2" <<'PYEOF'
import sys
from pymongo import MongoClient
c = MongoClient(sys.argv[1])[sys.argv[2] + "0"]["c"]
first, n = int(sys.argv[3]), int(sys.argv[4])
c.insert_many([{"_id": i, "v": "x" * 50} for i in range(first, first + n)])
PYEOF
}
jget() {  # jget FILE PYTHON-EXPR-ON-j
  "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
rstatus() { (cd "$REMOTE" && "$DS" status --spool "$BUCKET_URL" "$@"); }

"$DS" capture --source "$SRC" --spool "$SPOOL" --include "${PREFIX}*" --segment_max_age 1s \
  --progress_interval 5s >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -qs "capture: ready" "$WORK/capture.log" || fail "capture did not become ready"
"$DS" ship --spool "$SPOOL" --to "$BUCKET_URL" --ship_poll_interval 200ms >"$WORK/ship.log" 2>&1 &
ship_pid=$!
insert 0 200 || fail "cannot write to the source"

# Before any apply: everything committed is backlog; no checkpoint.
committed_ge() {  # the bucket commits at least $1 events and capture's status is uploaded
  rstatus --json >"$WORK/st.json" 2>"$WORK/st.err" || return 1
  [ "$(jget "$WORK/st.json" 'j["bucket"]["committed_seq"] >= '"$1"' and j["capture"]["status_file"] and j["bucket"]["unshipped_events"] == 0')" = True ]
}
wait_for 60 committed_ge 200 || fail "the bucket never committed 200 events: $(cat "$WORK/st.err") $(cut -c1-400 "$WORK/st.json")"
end=$(jget "$WORK/st.json" 'j["bucket"]["committed_seq"]')
[ "$(jget "$WORK/st.json" 'j["apply"]["checkpoint_seq"]')" = None ] || fail "a checkpoint before any apply"
[ "$(jget "$WORK/st.json" 'j["apply"]["backlog_events"]')" = "$end" ] || fail "backlog is not the whole log ($end)"
[ "$(jget "$WORK/st.json" 'j["apply"]["gap_in_seconds"] > 0')" = True ] || fail "no apply lag while nothing is applied"
[ "$(jget "$WORK/st.json" 'j["apply"]["alive"]')" = False ] || fail "apply shown running"
[ "$(jget "$WORK/st.json" 'j["bucket"]["shipper_pid"]')" = "$ship_pid" ] || fail "the shipper's pid is not $ship_pid"
[ "$(jget "$WORK/st.json" 'j["spool"]["dir"]')" = "$BUCKET_URL" ] || fail "status names another spool"
grep -q "$SPOOL" "$WORK/st.json" && fail "status named the local spool"
echo "  before apply: committed up to seq $end, backlog $end events"
(cd "$REMOTE" && "$DS" cutover --spool "$BUCKET_URL" --final_verify=none --reconcile=never --timeout 3s) \
  >"$WORK/cutover.1.log" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "cutover with no apply exited $rc, not 1: $(tail -2 "$WORK/cutover.1.log")"
grep -q "NOT SAFE: apply 'apply' is not running (no checkpoint in the bucket" "$WORK/cutover.1.log" \
  || fail "cutover does not say apply is missing: $(tail -3 "$WORK/cutover.1.log")"

# verify --spool s3:// before apply runs: its first pass finds the 200 documents missing;
# its re-check waits (on the bucket alone) for an apply checkpoint at the committed end.
(cd "$REMOTE" && exec "$DS" verify --source "$SRC" --target "$TGT" --include "${PREFIX}*" --spool "$BUCKET_URL" \
  --recheck_timeout 120s) >"$WORK/verify.log" 2>&1 &
ver_pid=$!
wait_for 60 grep -qs "waiting for apply to reach spool seq $end (at 0)" "$WORK/verify.log" \
  || fail "verify --spool $BUCKET_URL does not wait for apply on the bucket: $(tail -2 "$WORK/verify.log")"

# Apply on the bucket drains it; status and cutover see it from the bucket alone.
(cd "$REMOTE" && exec "$DS" apply --spool "$BUCKET_URL" --target "$TGT" --cache_dir "$REMOTE/cache" \
  --bucket_poll_interval 200ms --checkpoint_interval 200ms) >"$WORK/apply.log" 2>&1 &
app_pid=$!
insert 200 100 || fail "cannot write to the source"
drained() {
  rstatus --json >"$WORK/st.json" 2>"$WORK/st.err" || return 1
  [ "$(jget "$WORK/st.json" 'j["bucket"]["committed_seq"] >= 300 and j["apply"]["checkpoint_seq"] == j["bucket"]["committed_seq"] and j["bucket"]["unshipped_events"] == 0')" = True ]
}
wait_for 90 drained || fail "apply never reached the bucket's end: $(cut -c1-600 "$WORK/st.json")"
wait "$ver_pid"; rc=$?
[ $rc -eq 0 ] || fail "verify --spool $BUCKET_URL exited $rc, not 0 (identical once apply caught up)"
grep -q "verify: IDENTICAL" "$WORK/verify.log" || fail "verify is not IDENTICAL: $(tail -2 "$WORK/verify.log")"
grep -q "re-check round 1/" "$WORK/verify.log" || fail "verify never re-checked"
echo "  verify --spool s3://: $(grep -o 're-check round 1/[^,]*' "$WORK/verify.log" | head -1), then IDENTICAL"
end=$(jget "$WORK/st.json" 'j["bucket"]["committed_seq"]')
for check in 'j["apply"]["alive"]' 'j["apply"]["backlog_events"] == 0' 'j["apply"]["gap_in_seconds"] == 0' \
             'j["gap_in_seconds"] == 0' 'j["capture"]["alive"]' 'j["apply"]["pid"] == '"$app_pid" \
             'j["bucket"]["last_commit_age_seconds"] < 60' 'j["bucket"]["log_records"] >= 3' \
             'len(j["bucket"]["shipper_writer_id"]) == 32' 'j["apply_names"] == ["apply"]'; do
  [ "$(jget "$WORK/st.json" "$check")" = True ] || fail "status --json: $check is not true: $(cut -c1-800 "$WORK/st.json")"
done
rstatus >"$WORK/st.txt" 2>&1 || fail "status (text) failed: $(tail -2 "$WORK/st.txt")"
grep -q "^bucket   committed up to seq $end " "$WORK/st.txt" || fail "status text has no bucket line at $end: $(cat "$WORK/st.txt")"
grep -q "checkpoint seq $end, lag 0.0 s, backlog 0 events" "$WORK/st.txt" || fail "status text: checkpoint not at $end: $(cat "$WORK/st.txt")"
grep -q "apply    'apply' running (pid $app_pid)" "$WORK/st.txt" || fail "status text: apply not running: $(cat "$WORK/st.txt")"
echo "  drained: $(grep '^bucket' "$WORK/st.txt")"

(cd "$REMOTE" && "$DS" cutover --spool "$BUCKET_URL" --source "$SRC" --target "$TGT" --include "${PREFIX}*" \
  --quiet_period 4s --timeout 90s) >"$WORK/cutover.2.log" 2>&1
rc=$?
[ $rc -eq 0 ] || fail "cutover after the drain exited $rc, not 0: $(tail -4 "$WORK/cutover.2.log")"
grep -q "SAFE TO SWITCH: the target holds every change up to spool sequence $end" "$WORK/cutover.2.log" \
  || fail "cutover is not safe at $end: $(tail -3 "$WORK/cutover.2.log")"
echo "  $(grep 'final verify' "$WORK/cutover.2.log" | head -1)"

# apply --from on the bucket: with the apply stopped, 50 documents deleted on the target
# come back from a replay of the whole committed log; the checkpoint stays where it was.
kill -TERM "$app_pid"; wait "$app_pid"; rc=$?
app_pid=""
[ $rc -eq 0 ] || fail "apply did not stop cleanly (exit $rc)"
"$PY" - "$TGT" "$PREFIX" <<'PYEOF' || fail "cannot delete on the target"
import sys
from pymongo import MongoClient
c = MongoClient(sys.argv[1])[sys.argv[2] + "0"]["c"]
assert c.delete_many({"_id": {"$lt": 50}}).deleted_count == 50
PYEOF
(cd "$REMOTE" && "$DS" apply --spool "$BUCKET_URL" --target "$TGT" --from $((end + 1)) --stop_when_drained) \
  >"$WORK/replay.past.log" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q -- "--from $((end + 1)) is past the end of $BUCKET_URL (committed up to seq $end)" "$WORK/replay.past.log" \
  || fail "a replay past the end exited $rc: $(tail -1 "$WORK/replay.past.log")"
(cd "$REMOTE" && XDG_CACHE_HOME=$WORK/xdg "$DS" apply --spool "$BUCKET_URL" --target "$TGT" --from 1 \
  --stop_when_drained --cache_max_bytes 1024) >"$WORK/replay.log" 2>&1 \
  || fail "apply --from 1 on $BUCKET_URL failed: $(tail -3 "$WORK/replay.log")"
grep -q "applied $end events (seq 1..$end), a replay: checkpoint 'apply' left alone" "$WORK/replay.log" \
  || fail "the replay did not apply seq 1..$end: $(tail -1 "$WORK/replay.log")"
"$PY" - "$TGT" "$PREFIX" <<'PYEOF' || fail "the replay did not bring the deleted documents back"
import sys
from pymongo import MongoClient
n = MongoClient(sys.argv[1])[sys.argv[2] + "0"]["c"].count_documents({})
assert n == 300, n
PYEOF
rstatus --json >"$WORK/st.json" 2>&1 || fail "status after the replay failed"
[ "$(jget "$WORK/st.json" 'j["apply"]["checkpoint_seq"]')" = "$end" ] || fail "the replay moved the checkpoint"
[ -d "$WORK/xdg/docshift/s3/$BKT/run$$/spool" ] || fail "the replay's cache was not under XDG_CACHE_HOME"
[ -z "$(ls -A "$WORK/xdg/docshift/s3/$BKT/run$$/spool")" ] || fail "the replay's temporary cache was left behind: $(ls "$WORK/xdg/docshift/s3/$BKT/run$$/spool")"
echo "  replay: $(tail -1 "$WORK/replay.log" | cut -c1-140)"

# Errors: a prefix with no spool; a damaged capture status object.
(cd "$REMOTE" && "$DS" status --spool "s3://$BKT/run$$/nothing") >"$WORK/st.none.log" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "no spool in s3://$BKT/run$$/nothing" "$WORK/st.none.log" \
  || fail "status of an empty prefix exited $rc: $(tail -1 "$WORK/st.none.log")"
kill -TERM "$ship_pid"; wait "$ship_pid"; ship_pid=""
"$PY" - "$S3_URL" "$BKT" "run$$/spool/status/capture.status" <<'PYEOF' || fail "cannot damage the status object"
import hashlib, sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="testing",
                  aws_secret_access_key="testing", config=Config(s3={"addressing_style": "path"}))
b = bytearray(s3.get_object(Bucket=sys.argv[2], Key=sys.argv[3])["Body"].read()); b[-3] ^= 1
s3.put_object(Bucket=sys.argv[2], Key=sys.argv[3], Body=bytes(b),
              Metadata={"docshift-md5": hashlib.md5(bytes(b)).hexdigest(), "docshift-writer": "e2e-flip"})
PYEOF
rstatus >"$WORK/st.bad.log" 2>&1
rc=$?
[ $rc -eq 4 ] && grep -q "Corruption: .*s3://$BKT/run$$/spool/status/capture.status" "$WORK/st.bad.log" \
  || fail "status over a damaged capture status exited $rc: $(tail -1 "$WORK/st.bad.log")"
kill -TERM "$cap_pid"; wait "$cap_pid"; cap_pid=""
echo "bucket_read_test: PASS: status/cutover --spool $BUCKET_URL: NOT SAFE before apply, checkpoint $end, SAFE TO SWITCH after"

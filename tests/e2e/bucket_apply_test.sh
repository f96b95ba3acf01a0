#!/usr/bin/env bash
# End-to-end: apply from a spool in a bucket (issue #13), reading the bucket only.
#
# capture (--segment_max_age 2s) writes a local spool while the workload generator writes
# to the source; `docshift ship` copies its sealed segments to gofakes3;
# `docshift apply --spool s3://...` runs in another working
# directory that never sees the local spool. A second apply of the same name is refused
# while the first runs; the first is SIGKILLed once mid-way and restarted (it takes its
# checkpoint back at once: same host, its old pid is gone). Then a marker's lag from
# source write to target is measured (limit E2E_LAG_MAX, default 10 s), everything is
# shipped, apply drains with --stop_when_drained, and the independent checker must find
# the target identical to the source. Last, a byte flipped in a segment object stops a new
# apply before that segment (exit 4, naming the object).
#
# Usage: bucket_apply_test.sh DOCSHIFT
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_need_s3 bucket_apply
e2e_init bucket_apply SOURCE_CS_URI TARGET_URI "e2ebkt$$_"
ship_pid=""
app2_pid=""
e2e_on_exit() { for p in $ship_pid $app2_pid; do kill -9 "$p" 2>/dev/null; done; }
SEED=${E2E_SEED:-$$}
DURATION=${E2E_DURATION:-20}
RATE=${E2E_RATE:-100}
LAG_MAX=${E2E_LAG_MAX:-10}
RANDOM=$SEED
BUCKET_URL="s3://e2e-bucket-apply/run$$/spool"
REMOTE=$WORK/remote  # apply's working directory: no spool here
mkdir -p "$REMOTE"
# The bucket by the AWS conventions; the keys are gofakes3's (it checks no signature).
echo "bucket_apply_test: seed $SEED, prefix $PREFIX, bucket spool $BUCKET_URL, work dir $WORK"

"$PY" - "$SRC" "$TGT" "$PREFIX" <<'EOF' || fail "cannot prepare the servers"
import sys
from pymongo import MongoClient
src, tgt, prefix = sys.argv[1:4]
for uri in (src, tgt):
    c = MongoClient(uri, serverSelectionTimeoutMS=5000)
    for d in c.list_database_names():
        if d.startswith(prefix): c.drop_database(d)
c = MongoClient(src)
for d in range(2):
    for coll in ["c0", "c1", "c2"] + (["marker"] if d == 0 else []):
        c[f"{prefix}{d}"].create_collection(coll)
EOF

"$DS" capture --source "$SRC" --spool "$SPOOL" --include "${PREFIX}*" --segment_max_age 2s \
  --progress_interval 5s >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -qs "capture: ready" "$WORK/capture.log" || fail "capture did not become ready"
"$DS" ship --spool "$SPOOL" --to "$BUCKET_URL" --stop_when_drained >"$WORK/ship.0.log" 2>&1 \
  || fail "cannot ship to $BUCKET_URL"  # record 1: apply finds a spool there
"$DS" ship --spool "$SPOOL" --to "$BUCKET_URL" --ship_poll_interval 200ms >"$WORK/ship.log" 2>&1 &
ship_pid=$!

apply_n=0
start_apply() {
  apply_n=$((apply_n + 1))
  (cd "$REMOTE" && exec "$DS" apply --spool "$BUCKET_URL" --target "$TGT" --cache_dir "$REMOTE/cache" \
    --bucket_poll_interval 500ms --checkpoint_interval 300ms --progress_interval 5s) \
    >"$WORK/apply.$apply_n.log" 2>&1 &
  app_pid=$!
}
alive() { kill -0 "$1" 2>/dev/null; }
start_apply
wait_for 30 grep -qs "cache dir $REMOTE/cache" "$WORK/apply.1.log" || fail "apply did not start on the bucket"
grep -q "$SPOOL" "$WORK/apply.1.log" && fail "apply named the local spool"

"$PY" "$ROOT/tests/workload/workload.py" --uri "$SRC" --db-prefix "$PREFIX" --dbs 2 --colls 3 \
  --load 200 --duration "$DURATION" --rate "$RATE" --seed "$SEED" >"$WORK/workload.log" 2>&1 &
wl_pid=$!

# A second apply of the same name (another machine's cache dir) while the first runs: refused.
wait_for 30 grep -qs "events/s" "$WORK/apply.1.log" || true
(cd "$REMOTE" && "$DS" apply --spool "$BUCKET_URL" --target "$TGT" --cache_dir "$WORK/other-cache") \
  >"$WORK/apply.second.log" 2>&1
rc=$?
[ $rc -ne 0 ] || fail "a second apply of the same name ran beside the first"
grep -q "held by another apply named 'apply' (host $(hostname), pid $app_pid" "$WORK/apply.second.log" \
  || fail "the second apply's refusal does not name the first: $(tail -2 "$WORK/apply.second.log")"
alive "$app_pid" || fail "apply died on its own (apply.$apply_n.log)"

# SIGKILL mid-way, restart.
sleep "$((DURATION / 3)).$((RANDOM % 10))"
alive "$app_pid" || fail "apply died on its own (apply.$apply_n.log)"
kill -9 "$app_pid"; wait "$app_pid" 2>/dev/null
echo "  SIGKILL apply, restarting"
start_apply
wait_for 30 grep -qs "cache dir $REMOTE/cache" "$WORK/apply.$apply_n.log" \
  || fail "apply did not restart: $(tail -3 "$WORK/apply.$apply_n.log")"

wait "$wl_pid"
wl_rc=$?
wl_pid=""
echo "  $(tail -1 "$WORK/workload.log")"
[ $wl_rc -eq 0 ] || fail "workload generator failed (exit $wl_rc)"
alive "$app_pid" || fail "apply died on its own (apply.$apply_n.log)"
alive "$ship_pid" || fail "the shipper died (ship.log)"

# Lag: a marker written to the source reaches the target through the bucket.
t0=$(date +%s.%N)
"$PY" - "$SRC" "$PREFIX" <<'EOF' || fail "cannot write the marker"
import sys
from pymongo import MongoClient
MongoClient(sys.argv[1])[sys.argv[2] + "0"]["marker"].insert_one({"_id": "end"})
EOF
marker_on_target() {
  "$PY" - "$TGT" "$PREFIX" <<'EOF'
import sys
from pymongo import MongoClient
sys.exit(0 if MongoClient(sys.argv[1])[sys.argv[2] + "0"]["marker"].find_one({"_id": "end"}) else 1)
EOF
}
wait_for 120 marker_on_target || fail "the marker never reached the target"
lag=$(echo "$(date +%s.%N) - $t0" | bc)
echo "  lag of the marker, source write to target through the bucket: ${lag} s (limit $LAG_MAX s)"
[ "$(echo "$lag <= $LAG_MAX" | bc)" -eq 1 ] || fail "lag ${lag} s is over $LAG_MAX s"

kill -TERM "$cap_pid"; wait "$cap_pid"; rc=$?
cap_pid=""
[ $rc -eq 0 ] || fail "capture did not stop cleanly (exit $rc)"
kill -TERM "$ship_pid"; wait "$ship_pid"; rc=$?
ship_pid=""
[ $rc -eq 0 ] || fail "ship did not stop cleanly (exit $rc)"
"$DS" ship --spool "$SPOOL" --to "$BUCKET_URL" --stop_when_drained >"$WORK/ship.last.log" 2>&1 \
  || fail "the last ship failed"
# Idle, the running apply still rewrites its checkpoint (the heartbeat that keeps its
# lease): once it holds every event, the object changes again within 15 s.
events=$("$DS" inspect stats --spool "$SPOOL" | awk '$1=="TOTAL"{print $2}')
"$PY" - "$S3_URL" "${BUCKET_URL#s3://}" "$events" <<'EOF' || fail "no heartbeat: the idle apply's checkpoint did not change"
import struct, sys, time, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="testing",
                  aws_secret_access_key="testing", config=Config(s3={"addressing_style": "path"}))
bucket, prefix = sys.argv[2].split("/", 1)
key, events = prefix + "/checkpoints/apply.ckpt", int(sys.argv[3])
def applied_seq(body):  # ApplyCheckpoint field 1 (varint), right after preamble (12) + record header (9)
    p, shift, v = 21 + 1, 0, 0
    assert body[21] == 0x08, "field 1 first"
    while True:
        b = body[p]; v |= (b & 0x7F) << shift; p += 1; shift += 7
        if b < 0x80: return v
deadline = time.time() + 60
while True:
    o = s3.get_object(Bucket=bucket, Key=key); body = o["Body"].read()
    if applied_seq(body) >= events: break
    assert time.time() < deadline, "apply never reached seq %d" % events
    time.sleep(0.2)
etag, t0 = o["ETag"], time.time()
while s3.head_object(Bucket=bucket, Key=key)["ETag"] == etag:
    if time.time() - t0 > 15: sys.exit(1)
    time.sleep(0.2)
print("  heartbeat: the idle apply rewrote its checkpoint after %.1f s" % (time.time() - t0))
EOF
kill -TERM "$app_pid"; wait "$app_pid"; rc=$?
app_pid=""
[ $rc -eq 0 ] || fail "apply did not stop cleanly on SIGTERM (exit $rc)"
(cd "$REMOTE" && "$DS" apply --spool "$BUCKET_URL" --target "$TGT" --cache_dir "$REMOTE/cache" --stop_when_drained) \
  >"$WORK/apply.drain.log" 2>&1 || fail "apply --stop_when_drained failed: $(tail -3 "$WORK/apply.drain.log")"
echo "  $(tail -1 "$WORK/apply.drain.log")"
grep -q "checkpoint at seq $events," "$WORK/apply.drain.log" \
  || fail "the drained apply's checkpoint is not at the spool's last event ($events)"

"$PY" "$ROOT/tests/workload/checker.py" --source "$SRC" --target "$TGT" --db-prefix "$PREFIX" \
  --ignore-empty-collections >"$WORK/checker.log" 2>&1
rc=$?
tail -3 "$WORK/checker.log"
[ $rc -eq 0 ] || fail "checker found differences (exit $rc): $(head -20 "$WORK/checker.log")"
[ "${events:-0}" -ge 300 ] || fail "only ${events:-0} events captured"

# inspect reads the bucket spool as it reads the local one.
(cd "$REMOTE" && "$DS" inspect verify --spool "$BUCKET_URL") >"$WORK/inspect.verify.log" 2>&1 \
  || fail "inspect verify --spool $BUCKET_URL: $(tail -3 "$WORK/inspect.verify.log")"
remote_events=$(cd "$REMOTE" && "$DS" inspect stats --spool "$BUCKET_URL" 2>/dev/null | awk '$1=="TOTAL"{print $2}')
[ "$remote_events" = "$events" ] || fail "inspect stats --spool $BUCKET_URL counts ${remote_events:-nothing}, the local spool $events"
(cd "$REMOTE" && "$DS" inspect manifest --spool "$BUCKET_URL") >"$WORK/inspect.manifest.log" 2>&1 \
  || fail "inspect manifest --spool $BUCKET_URL failed"
grep -q "apply" "$WORK/inspect.manifest.log" || fail "inspect manifest --spool $BUCKET_URL lists no checkpoint"

# A new apply with a 1 KiB cache: one segment at a time, evicted behind the checkpoint,
# and --stop_when_drained still waits for every segment the log commits.
BKT=${BUCKET_URL#s3://}; BKT=${BKT%%/*}
KEYPREFIX=${BUCKET_URL#s3://$BKT/}
(cd "$REMOTE" && "$DS" apply --spool "$BUCKET_URL" --target "$TGT" --name small --cache_dir "$REMOTE/cache-small" \
  --cache_max_bytes 1024 --bucket_poll_interval 50ms --stop_when_drained) >"$WORK/apply.small.log" 2>&1 \
  || fail "apply with a 1 KiB cache failed: $(tail -2 "$WORK/apply.small.log")"
grep -q "checkpoint at seq $events," "$WORK/apply.small.log" \
  || fail "apply with a 1 KiB cache stopped short: $(tail -1 "$WORK/apply.small.log")"
left=$(ls "$REMOTE/cache-small/segments" | wc -l)
[ "$left" -le 2 ] || fail "the 1 KiB cache still holds $left segments"
echo "  1 KiB cache: $(tail -1 "$WORK/apply.small.log"), $left segment(s) left in it"

# An apply whose checkpoint another writer overwrites stops at its next write (the
# heartbeat, within 10 s), exit 3, saying so.
(cd "$REMOTE" && exec "$DS" apply --spool "$BUCKET_URL" --target "$TGT" --name fenced \
  --cache_dir "$REMOTE/cache-fenced") >"$WORK/apply.fenced.log" 2>&1 &
app2_pid=$!
wait_for 30 grep -qs "cache dir $REMOTE/cache-fenced" "$WORK/apply.fenced.log" || fail "apply --name fenced did not start"
"$PY" - "$S3_URL" "$BKT" "$KEYPREFIX" <<'EOF' || fail "cannot overwrite the checkpoint"
import sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="testing",
                  aws_secret_access_key="testing", config=Config(s3={"addressing_style": "path"}))
other = s3.get_object(Bucket=sys.argv[2], Key=sys.argv[3] + "/checkpoints/small.ckpt")
s3.put_object(Bucket=sys.argv[2], Key=sys.argv[3] + "/checkpoints/fenced.ckpt", Body=other["Body"].read(),
              Metadata=other["Metadata"])
EOF
fenced_exited() { ! kill -0 "$app2_pid" 2>/dev/null; }
wait_for 30 fenced_exited || fail "the fenced apply did not stop"
wait "$app2_pid"; rc=$?
app2_pid=""
[ $rc -eq 3 ] || fail "the fenced apply exited $rc, not 3"
grep -q "another apply named 'fenced' took it over .*this one stops" "$WORK/apply.fenced.log" \
  || fail "the fenced apply does not say why: $(tail -1 "$WORK/apply.fenced.log")"
echo "  fenced: $(tail -1 "$WORK/apply.fenced.log" | cut -c1-160)"

# A byte flipped in a committed segment object (its MD5 metadata made to match, so only
# docshift's own checks can tell): a new apply stops before it, exit 4, naming the object.
bad=$("$PY" - "$S3_URL" "$BKT" "$KEYPREFIX" <<'EOF'
import hashlib, sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="testing",
                  aws_secret_access_key="testing", config=Config(s3={"addressing_style": "path"}))
keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=sys.argv[2], Prefix=sys.argv[3] + "/segments/")["Contents"])
key = keys[1]
obj = s3.get_object(Bucket=sys.argv[2], Key=key)
b = bytearray(obj["Body"].read()); b[len(b) // 2] ^= 1
s3.put_object(Bucket=sys.argv[2], Key=key, Body=bytes(b),
              Metadata={"docshift-md5": hashlib.md5(bytes(b)).hexdigest(), "docshift-writer": "e2e-flip"})
print(key)
EOF
) || fail "cannot damage a segment object"
(cd "$REMOTE" && "$DS" apply --spool "$BUCKET_URL" --target "$TGT" --name flipped --cache_dir "$REMOTE/cache-flipped" \
  --stop_when_drained) >"$WORK/apply.flipped.log" 2>&1
rc=$?
[ $rc -eq 4 ] || fail "apply over a damaged segment object exited $rc, not 4 (corruption)"
grep -q "^docshift apply: Corruption: s3://$BKT/$bad: .*offset" "$WORK/apply.flipped.log" \
  || fail "the corruption does not name s3://$BKT/$bad and an offset: $(tail -1 "$WORK/apply.flipped.log")"
[ ! -e "$REMOTE/cache-flipped/segments/$(basename "$bad")" ] || fail "the damaged segment reached the cache"
echo "  a flipped byte: $(tail -1 "$WORK/apply.flipped.log" | cut -c1-160)"
(cd "$REMOTE" && "$DS" inspect stats --spool "$BUCKET_URL") >"$WORK/inspect.flipped.log" 2>&1
rc=$?
[ $rc -eq 4 ] && grep -q "Corruption: s3://$BKT/$bad: " "$WORK/inspect.flipped.log" \
  || fail "inspect of the damaged bucket spool exited $rc: $(tail -1 "$WORK/inspect.flipped.log")"
echo "bucket_apply_test: PASS: $events events through $BUCKET_URL, 1 apply SIGKILL, second apply refused, lag ${lag} s, target identical"

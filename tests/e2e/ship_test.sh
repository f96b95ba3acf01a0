#!/usr/bin/env bash
# docshift ship (issue #13) against the test bed's gofakes3, with a live capture from the
# mongo-java-server change-stream source sealing a segment a second while a writer inserts:
#   0. bad input: one line, exit 2 (usage) or 3;
#   1. a shipper SIGKILLed mid-way and restarted commits every segment once, in order;
#   2. a second shipper on the same prefix takes the log over: the first stops (exit 3,
#      naming the other), exactly one continues;
#   3. the bucket read by an independent reader (tests/e2e/bucket_reader.py, written from
#      spool/FORMAT.md) holds every sealed segment byte for byte, committed in order;
#   4. another spool shipped to the prefix is refused; a local segment with a flipped byte
#      is refused (exit 4, naming the file and offset) before it is uploaded;
#   5. prune deletes shipped segments (no local apply needed), never unshipped ones;
#   6. capture --ship_to ships beside capture and commits the last segment on SIGTERM.
# Usage: ship_test.sh DOCSHIFT MAKE_SPOOL
set -uo pipefail
. "$(dirname "$0")/lib.sh"
DS=$1
MK=$2
e2e_init ship SOURCE_CS_URI TARGET_URI
if [ -z "${S3_URL:-}" ]; then
  echo "ship_test: S3_URL is not set; run scripts/testbed.sh up and source build/testbed.env"
  [ -n "${CI:-}" ] && exit 1
  exit 77
fi
export AWS_ENDPOINT_URL=$S3_URL AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
unset AWS_ENDPOINT_URL_S3 AWS_PROFILE
BKT=ship-$$-$RANDOM
TO=s3://$BKT/spools/one
shipA="" shipB=""
e2e_on_exit() { for p in $shipA $shipB; do kill -9 "$p" 2>/dev/null; done; }
checks=0
ok() { checks=$((checks + 1)); }
run() { "$@" >"$WORK/out" 2>"$WORK/err"; rc=$?; }
expect() {  # expect RC REGEX WHAT: exit code and a one-line stderr matching REGEX
  [ "$rc" -eq "$1" ] || { cat "$WORK/err" >&2; fail "$3: exit $rc, expected $1"; }
  [ "$(grep -vc '^I[0-9]' "$WORK/err")" -eq 1 ] || { cat "$WORK/err" >&2; fail "$3: not one line"; }
  grep -qE -- "$2" "$WORK/err" || { cat "$WORK/err" >&2; fail "$3: stderr lacks /$2/"; }
  ok
}
reader() { "$PY" "$ROOT/tests/e2e/bucket_reader.py" "$S3_URL" "$BKT" "${1:-spools/one}"; }
count_in() { grep -c "$2" "$1" 2>/dev/null || true; }

echo "0. bad input"
run "$DS" ship --spool "$WORK/none"
expect 2 "^docshift ship: .*--to is required" "no --to"
run "$DS" ship --spool "$WORK/none" --to "http://$BKT/x"
expect 2 "^docshift ship: .*--to 'http://.*not an s3:// URL" "an http URL"
run "$DS" ship --spool "$WORK/none" --to "s3://$BKT/a//b"
expect 2 "empty component" "an empty prefix component"
run "$DS" ship --spool "$WORK/none" --to "$TO"
expect 2 "no spool at $WORK/none" "no spool"

echo "1. capture + a shipper, SIGKILLed and restarted"
drop_prefix "$PREFIX" "$SRC" || fail "cannot reach the source"
"$PY" -c 'import sys; from pymongo import MongoClient
MongoClient(sys.argv[1])[sys.argv[2] + "0"].create_collection("docs")' "$SRC" "$PREFIX" || fail "create collection"
"$DS" capture --source "$SRC" --scope collection --spool "$SPOOL" --include "${PREFIX}0.*" \
  --segment_max_age 1s --segment_max_bytes 8192 >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -qs "capture: ready" "$WORK/capture.log" || fail "capture did not become ready"
N=1500
"$PY" - "$SRC" "$PREFIX" "$N" >"$WORK/writer.log" 2>&1 <<'PYEOF' &
import os, sys, time
from pymongo import MongoClient
c = MongoClient(sys.argv[1])[sys.argv[2] + "0"]["docs"]
for i in range(1, int(sys.argv[3]) + 1):
    c.insert_one({"_id": i, "pad": os.urandom(60).hex()})
    time.sleep(0.004)
PYEOF
wl_pid=$!
"$DS" ship --spool "$SPOOL" --to "$TO" >"$WORK/shipA1.log" 2>&1 &
shipA=$!
commits() { [ "$(count_in "$1" "ship: committed ")" -ge "$2" ]; }
wait_for 60 commits "$WORK/shipA1.log" 3 || fail "the shipper committed fewer than 3 segments in 60 s"
kill -9 "$shipA"; wait "$shipA" 2>/dev/null; shipA=""
"$DS" ship --spool "$SPOOL" --to "$TO" >"$WORK/shipA2.log" 2>&1 &
shipA=$!
wait_for 60 commits "$WORK/shipA2.log" 2 || fail "the restarted shipper committed fewer than 2 segments"
ok

echo "2. a second shipper on the prefix: the first stops"
"$DS" ship --spool "$SPOOL" --to "$TO" >"$WORK/shipB.log" 2>&1 &
shipB=$!
wait_for 60 grep -qs "ship: .* as writer" "$WORK/shipB.log" || fail "the second shipper did not start"
a_exited() { ! kill -0 "$shipA" 2>/dev/null; }
wait_for 60 a_exited || fail "the first shipper still runs 60 s after the second took over"
wait "$shipA"; rcA=$?; shipA=""
[ "$rcA" -eq 3 ] || fail "the first shipper exited $rcA, expected 3"
grep -qE "^docshift ship: FailedPrecondition: s3://$BKT/spools/one/log/[0-9]{20} was created first by writer [0-9a-f]{32} \(a shipper on host .*, pid $shipB\): another shipper writes to s3://$BKT/spools/one now, so this one stops" \
  "$WORK/shipA2.log" || { tail -3 "$WORK/shipA2.log" >&2; fail "the first shipper's message does not name the second"; }
ok
b_before=$(count_in "$WORK/shipB.log" "ship: committed ")
wait "$wl_pid"; wl_pid=""
all_captured() { [ "$("$DS" inspect stats --spool "$SPOOL" 2>/dev/null | awk '$1=="TOTAL"{print $2}')" = "$N" ]; }
wait_for 60 all_captured || fail "capture did not get the $N inserts"
kill -TERM "$cap_pid"; wait "$cap_pid" || fail "capture did not stop cleanly"; cap_pid=""
last_local=$(ls "$SPOOL/segments" | tail -1)
shipped_last() { grep -q "ship: committed $last_local" "$WORK/shipB.log"; }
wait_for 60 shipped_last || fail "the second shipper did not commit the last segment $last_local"
[ "$(count_in "$WORK/shipB.log" "ship: committed ")" -gt "$b_before" ] || fail "the second shipper committed nothing after the takeover"
kill -TERM "$shipB"; wait "$shipB" || fail "the second shipper did not stop cleanly on SIGTERM"; shipB=""
ok

echo "3. the bucket, read independently"
reader >"$WORK/reader.json" 2>"$WORK/reader.err" || { cat "$WORK/reader.err" >&2; fail "the independent reader refused the bucket"; }
"$PY" - "$WORK/reader.json" "$SPOOL" "$N" "$BKT" "$S3_URL" <<'PYEOF' || fail "the bucket does not hold the spool"
import json, os, sys, boto3
from botocore.config import Config
r = json.load(open(sys.argv[1])); spool = sys.argv[2]; n = int(sys.argv[3])
local = sorted(os.listdir(os.path.join(spool, "segments")))
assert r["files"] == local, ("committed", r["files"][:3], len(r["files"]), "local", local[:3], len(local))
assert r["last_seq"] == n, r["last_seq"]
assert r["shipper_runs"] == 3, r["shipper_runs"]           # A, A restarted, B
assert r["records"] == 1 + 3 + len(local), r["records"]     # created + 3 runs + one per segment
s3 = boto3.client("s3", endpoint_url=sys.argv[5], region_name="us-east-1", aws_access_key_id="testing",
                  aws_secret_access_key="testing", config=Config(s3={"addressing_style": "path"}))
for f in local:
    body = s3.get_object(Bucket=sys.argv[4], Key="spools/one/segments/" + f)["Body"].read()
    assert body == open(os.path.join(spool, "segments", f), "rb").read(), f
print("bucket: %d log records, %d segments = the local spool, sequences 1..%d" % (r["records"], len(local), n))
PYEOF
ok

echo "4. another spool refused; a damaged local segment refused"
"$MK" --spool "$WORK/other" --events 3000 --segment_max_bytes 100000 --source_id other >/dev/null 2>&1 || fail "make_spool"
run "$DS" ship --spool "$WORK/other" --to "$TO" --stop_when_drained
expect 3 "^docshift ship: FailedPrecondition: s3://$BKT/spools/one holds another spool \(source .*\), not the one in $WORK/other \(source other .*ship it to another prefix" "another spool"
first=$(ls "$WORK/other/segments" | head -1)
"$PY" -c 'import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 1; open(p, "wb").write(bytes(b))' \
  "$WORK/other/segments/$first"
run "$DS" ship --spool "$WORK/other" --to "s3://$BKT/spools/two" --stop_when_drained
expect 4 "^docshift ship: Corruption: $WORK/other/segments/$first: crc32c .*offset" "a flipped byte"
"$PY" - "$S3_URL" "$BKT" <<'PYEOF' || fail "the damaged segment reached the bucket"
import sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="testing",
                  aws_secret_access_key="testing", config=Config(s3={"addressing_style": "path"}))
keys = [o["Key"] for o in s3.list_objects_v2(Bucket=sys.argv[2], Prefix="spools/two/segments/").get("Contents", [])]
assert keys == [], keys
PYEOF
ok

echo "5. prune: shipped segments go, unshipped ones stay"
"$MK" --spool "$WORK/fresh" --events 3000 --segment_max_bytes 100000 --source_id fresh >/dev/null 2>&1 || fail "make_spool"
run "$DS" prune --spool "$WORK/fresh" --retention 0s
[ "$rc" -eq 0 ] && grep -q "nothing deleted" "$WORK/out" || { cat "$WORK/out" "$WORK/err" >&2; fail "prune deleted from an unshipped spool without checkpoints"; }
ok
before=$(ls "$SPOOL/segments" | wc -l)
run "$DS" prune --spool "$SPOOL" --retention 0s
[ "$rc" -eq 0 ] || { cat "$WORK/err" >&2; fail "prune of the shipped spool exited $rc"; }
grep -q "bucket(s) shipped to" "$WORK/out" || { cat "$WORK/out" >&2; fail "prune does not say it followed the shipped mark"; }
after=$(ls "$SPOOL/segments" | wc -l)
[ "$after" -eq 1 ] && [ "$before" -gt 1 ] || fail "prune kept $after of $before shipped segments (expected only the newest)"
ok
echo "6. capture --ship_to: every sealed segment committed, the last one after SIGTERM"
S2=$WORK/spool2
"$PY" -c 'import sys; from pymongo import MongoClient
MongoClient(sys.argv[1])[sys.argv[2] + "1"].create_collection("docs")' "$SRC" "$PREFIX" || fail "create collection"
"$DS" capture --source "$SRC" --scope collection --spool "$S2" --include "${PREFIX}1.*" \
  --segment_max_age 1s --segment_max_bytes 8192 --ship_to "s3://$BKT/spools/three" >"$WORK/capture2.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -qs "capture: ready" "$WORK/capture2.log" || fail "capture --ship_to did not become ready"
"$PY" - "$SRC" "$PREFIX" <<'PYEOF' || fail "cannot write to the source"
import os, sys
from pymongo import MongoClient
c = MongoClient(sys.argv[1])[sys.argv[2] + "1"]["docs"]
for i in range(1, 401):
    c.insert_one({"_id": i, "pad": os.urandom(60).hex()})
PYEOF
got_all() { [ "$("$DS" inspect stats --spool "$S2" 2>/dev/null | awk '$1=="TOTAL"{print $2}')" = 400 ]; }
wait_for 60 got_all || fail "capture --ship_to did not get the 400 inserts"
wait_for 60 grep -qs "ship: committed" "$WORK/capture2.log" || fail "capture --ship_to committed nothing while running"
kill -TERM "$cap_pid"; wait "$cap_pid"; rc=$?; cap_pid=""
[ "$rc" -eq 0 ] || fail "capture --ship_to exited $rc on SIGTERM"
reader spools/three >"$WORK/reader3.json" 2>"$WORK/reader3.err" || { cat "$WORK/reader3.err" >&2; fail "the reader refused spools/three"; }
"$PY" - "$WORK/reader3.json" "$S2" <<'PYEOF' || fail "capture --ship_to left segments uncommitted"
import json, os, sys
r = json.load(open(sys.argv[1]))
local = sorted(os.listdir(os.path.join(sys.argv[2], "segments")))
assert r["files"] == local and r["last_seq"] == 400, (r["files"], local, r["last_seq"])
print("capture --ship_to: %d segments, sequences 1..400, all committed" % len(local))
PYEOF
ok
echo "ship: $checks checks passed"

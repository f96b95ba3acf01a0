#!/usr/bin/env bash
# End-to-end: one snapshot copied by three workers through a bucket (issue #13), one of them
# SIGKILLed mid-copy; its ranges are taken over.
#
# The source holds three collections (E2E_DOCS small documents each, a secondary index on
# one) cut into many ranges (--docs_per_range). Capture writes a local spool that `docshift
# ship` copies to gofakes3, while a writer updates, deletes and inserts documents during
# the copy. Three `docshift snapshot --spool s3://...` workers run (each with its own load
# limit, so the copy lasts several seconds, and a 2 s --snapshot_lease); once some ranges
# are done, worker 1 is SIGKILLed. The two others must finish (exit 0), at least one of
# them must take over a range of worker 1, exactly one runs the finish step, the bucket
# must say finished (--progress_only), and an apply on the bucket then replays from the
# snapshot's start: the independent checker must find the target identical to the source,
# indexes included.
#
# Usage: snapshot_workers_test.sh DOCSHIFT
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_need_s3 snapshot_workers
e2e_init snapshot_workers SOURCE_CS_URI TARGET_URI "e2eswk$$_"
DOCS=${E2E_DOCS:-12000}
ship_pid="" w1="" w2="" w3=""
e2e_on_exit() { for p in $ship_pid $w1 $w2 $w3; do kill -9 "$p" 2>/dev/null; done; }
BUCKET_URL="s3://e2e-snapshot-workers/run$$/spool"
echo "snapshot_workers_test: prefix $PREFIX, bucket spool $BUCKET_URL, work dir $WORK"
alive() { kill -0 "$1" 2>/dev/null; }

"$PY" - "$SRC" "$TGT" "$PREFIX" "$DOCS" <<'PYEOF' || fail "cannot prepare the servers"
import sys
from bson.int64 import Int64
from pymongo import MongoClient, ASCENDING
src, tgt, prefix, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
for uri in (src, tgt):
    c = MongoClient(uri, serverSelectionTimeoutMS=5000)
    for d in c.list_database_names():
        if d.startswith(prefix): c.drop_database(d)
c = MongoClient(src)
for name in ("a", "b", "c"):
    coll = c[f"{prefix}db"][name]
    for start in range(0, n, 5000):
        coll.insert_many([{"_id": Int64(i), "n": i, "s": name * 20} for i in range(start, min(n, start + 5000))])
c[f"{prefix}db"]["a"].create_index([("n", ASCENDING)], name="n_1")
c[f"{prefix}db"]["marker"].insert_one({"_id": "start"})
PYEOF

"$DS" capture --source "$SRC" --spool "$SPOOL" --include "${PREFIX}*" --segment_max_age 1s \
  --progress_interval 5s >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -qs "capture: ready" "$WORK/capture.log" || fail "capture did not become ready"
"$DS" ship --spool "$SPOOL" --to "$BUCKET_URL" --stop_when_drained >"$WORK/ship.0.log" 2>&1 \
  || fail "cannot ship to $BUCKET_URL"
"$DS" ship --spool "$SPOOL" --to "$BUCKET_URL" --ship_poll_interval 200ms >"$WORK/ship.log" 2>&1 &
ship_pid=$!

# Writes during the copy: updates, deletes and inserts in every collection.
"$PY" - "$SRC" "$PREFIX" "$DOCS" >"$WORK/writer.log" 2>&1 <<'PYEOF' &
import random, sys, time
from bson.int64 import Int64
from pymongo import MongoClient
db = MongoClient(sys.argv[1])[sys.argv[2] + "db"]
n, stop_at = int(sys.argv[3]), time.time() + 15
rng, ops, nxt = random.Random(7), 0, int(sys.argv[3])
while time.time() < stop_at:
    coll = db[rng.choice("abc")]
    i, k = Int64(rng.randrange(n)), rng.random()
    if k < 0.5: coll.update_one({"_id": i}, {"$inc": {"v": 1}})
    elif k < 0.7: coll.delete_one({"_id": i})
    else:
        coll.insert_one({"_id": Int64(nxt), "n": nxt, "s": "new"}); nxt += 1
    ops += 1
    time.sleep(0.01)
print(f"writer: ops={ops}")
PYEOF
bw_pid=$!

start_worker() {  # start_worker N: worker N, its log in worker.N.log, its pid in wpid
  "$DS" snapshot --source "$SRC" --target "$TGT" --spool "$BUCKET_URL" --include "${PREFIX}*" \
    --docs_per_range 1000 --parallel 2 --max_docs_per_s 1500 --snapshot_lease 2s --progress lines \
    --progress_interval 1s >"$WORK/worker.$1.log" 2>&1 &
  wpid=$!
}
start_worker 1; w1=$wpid
start_worker 2; w2=$wpid
start_worker 3; w3=$wpid

progress() { "$DS" snapshot --spool "$BUCKET_URL" --progress_only 2>"$WORK/progress.err"; }
done_at_least() {  # done_at_least N: the bucket shows at least N ranges done
  local d
  d=$(progress | sed -n 's/.*ranges \([0-9]*\)\/[0-9]* done.*/\1/p')
  [ -n "$d" ] && [ "$d" -ge "$1" ]
}
wait_for 120 done_at_least 6 || fail "the workers did not finish 6 ranges: $(progress) $(cat "$WORK/progress.err")"
echo "  before the kill: $(progress)"
# status on the bucket shows the whole snapshot's progress too (claims and done objects).
"$DS" status --spool "$BUCKET_URL" --json >"$WORK/status.json" 2>"$WORK/status.err" ||
  fail "status --spool $BUCKET_URL failed: $(cat "$WORK/status.err")"
"$PY" - "$WORK/status.json" <<'PYEOF' || fail "status does not show the workers' progress: $(head -c 600 "$WORK/status.json")"
import json, sys
s = json.load(open(sys.argv[1]))["snapshot"]
w = (s or {}).get("workers") or {}
colls = sum(c["ranges_done"] for c in s["collections"])
total = sum(c["ranges_total"] for c in s["collections"])
print("  status: running %s, %s; collections %d/%d ranges done" % (s["running"], w.get("summary"), colls, total))
ok = (s["running"] and w.get("ranges_total") == total and w.get("ranges_done", 0) >= 6
      and colls == w["ranges_done"] and w.get("workers", 0) >= 1 and "ranges" in w.get("summary", ""))
sys.exit(0 if ok else 1)
PYEOF
"$DS" status --spool "$BUCKET_URL" 2>&1 | grep -q "by several workers: ranges" ||
  fail "text status has no 'by several workers' line: $("$DS" status --spool "$BUCKET_URL" 2>&1 | tail -6)"
alive "$w1" || fail "worker 1 finished or died before the kill: $(tail -3 "$WORK/worker.1.log")"
kill -9 "$w1"; wait "$w1" 2>/dev/null
w1=""
echo "  SIGKILL worker 1"

wait "$w2"; rc2=$?
wait "$w3"; rc3=$?
w2="" w3=""
[ $rc2 -eq 0 ] || fail "worker 2 exited $rc2: $(tail -3 "$WORK/worker.2.log")"
[ $rc3 -eq 0 ] || fail "worker 3 exited $rc3: $(tail -3 "$WORK/worker.3.log")"
final=$(progress)
echo "  after: $final"
case "$final" in *finished*) ;; *) fail "the snapshot is not finished: $final";; esac
takeovers=$(cat "$WORK/worker.2.log" "$WORK/worker.3.log" | grep -c "took over range")
[ "$takeovers" -ge 1 ] || fail "no range of the killed worker was taken over"
echo "  ranges taken over from the killed worker: $takeovers"
finishers=$(cat "$WORK/worker.2.log" "$WORK/worker.3.log" | grep -c "marked it finished")
[ "$finishers" -eq 1 ] || fail "$finishers workers ran the finish step (want exactly 1)"

wait "$bw_pid"; rc=$?
bw_pid=""
echo "  $(tail -1 "$WORK/writer.log")"
[ $rc -eq 0 ] || fail "the writer failed (exit $rc)"
"$PY" - "$SRC" "$PREFIX" <<'PYEOF' || fail "cannot write the marker"
import sys
from pymongo import MongoClient
MongoClient(sys.argv[1])[sys.argv[2] + "db"]["marker"].insert_one({"_id": "end"})
PYEOF
marker_in_spool() { "$DS" inspect dump --spool "$SPOOL" --ns "${PREFIX}db.marker" 2>/dev/null | grep -q '"end"'; }
wait_for 60 marker_in_spool || fail "the marker never reached the spool"
kill -TERM "$cap_pid"; wait "$cap_pid"; cap_pid=""
kill -TERM "$ship_pid"; wait "$ship_pid"; ship_pid=""
"$DS" ship --spool "$SPOOL" --to "$BUCKET_URL" --stop_when_drained >"$WORK/ship.last.log" 2>&1 \
  || fail "the last ship failed"
mkdir -p "$WORK/remote"
(cd "$WORK/remote" && "$DS" apply --spool "$BUCKET_URL" --target "$TGT" --cache_dir "$WORK/remote/cache" \
  --stop_when_drained) >"$WORK/apply.log" 2>&1 || fail "apply on the bucket failed: $(tail -3 "$WORK/apply.log")"
echo "  $(tail -1 "$WORK/apply.log")"

"$PY" "$ROOT/tests/workload/checker.py" --source "$SRC" --target "$TGT" --db-prefix "$PREFIX" \
  --ignore-empty-collections --indexes >"$WORK/checker.log" 2>&1
rc=$?
tail -1 "$WORK/checker.log"
[ $rc -eq 0 ] || fail "checker found differences (exit $rc): $(head -20 "$WORK/checker.log")"
echo "snapshot_workers_test: PASS: 3 workers, one killed, $takeovers range(s) taken over, target identical"

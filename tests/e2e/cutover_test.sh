#!/usr/bin/env bash
# End-to-end: the whole workflow ends in cutover, which must refuse while the source is
# still written to, and say "SAFE TO SWITCH" only once writes stopped, apply drained and
# the final verify found the target identical. It must also refuse, naming the document,
# when the target was changed behind docshift's back, and when apply is not running.
#
# Usage: cutover_test.sh DOCSHIFT. URIs from SOURCE_CS_URI, TARGET_PG_URI and
# TESTBED_PYTHON (scripts/testbed.sh up writes them to build/testbed.env). Unset: exit 77
# (ctest: skipped, with the reason printed), or fail when CI is set.
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init cutover SOURCE_CS_URI TARGET_PG_URI "e2ecut$$_"
echo "cutover_test: prefix $PREFIX, work dir $WORK"
start_apply() {
  "$DS" apply --spool "$SPOOL" --target "$TGT" --checkpoint_interval 300ms --progress_interval 2s \
    >>"$WORK/apply.log" 2>&1 &
  app_pid=$!
}
cutover() {  # cutover LOG [flags...]: runs cutover, returns its exit code
  local log=$1; shift
  "$DS" cutover --spool "$SPOOL" --source "$SRC" --target "$TGT" --include "${PREFIX}*" \
    --max_lag 5s --quiet_period 3s "$@" >"$WORK/$log" 2>&1
}

drop_prefix "$PREFIX" "$SRC" "$TGT"
"$PY" "$ROOT/tests/workload/workload.py" --uri "$SRC" --db-prefix "$PREFIX" --dbs 1 --colls 3 \
  --load 600 --duration 0 --seed 21 >"$WORK/load.log" 2>&1 || fail "preload failed"
"$DS" capture --source "$SRC" --spool "$SPOOL" --include "${PREFIX}*" --progress_interval 2s \
  >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -q "capture: ready" "$WORK/capture.log" || fail "capture did not become ready"
"$DS" snapshot --source "$SRC" --target "$TGT" --spool "$SPOOL" --include "${PREFIX}*" \
  --progress none >"$WORK/snapshot.log" 2>&1 || fail "snapshot failed"
start_apply

# While the application writes, cutover must refuse, saying so.
"$PY" "$ROOT/tests/workload/workload.py" --uri "$SRC" --db-prefix "$PREFIX" --dbs 1 --colls 3 \
  --duration 20 --rate 40 --seed 22 >"$WORK/workload.log" 2>&1 &
wl_pid=$!
cutover cutover.busy.log --timeout 10s
rc=$?
[ $rc -eq 1 ] || fail "cutover during writes exited $rc, want 1: $(tail -3 "$WORK/cutover.busy.log")"
grep -q "NOT SAFE: writes to the source continue" "$WORK/cutover.busy.log" \
  || fail "cutover during writes did not say writes continue: $(tail -3 "$WORK/cutover.busy.log")"
echo "  while writing: $(grep "NOT SAFE:" "$WORK/cutover.busy.log" | head -1 | sed 's/^ *//')"
wait "$wl_pid" || fail "workload generator failed"
wl_pid=""

# Writes stopped: safe.
cutover cutover.ok.log --timeout 120s
rc=$?
[ $rc -eq 0 ] || fail "cutover after writes stopped exited $rc: $(tail -5 "$WORK/cutover.ok.log")"
grep -q "^SAFE TO SWITCH" "$WORK/cutover.ok.log" || fail "no SAFE TO SWITCH line"
grep "ok: " "$WORK/cutover.ok.log" | sed 's/^/ /'

# A Cosmos DB source never reports deletes: cutover's reconciliation pass (automatic for
# a cosmos spool, forced here) deletes a target document the source does not have.
"$PY" - "$TGT" "$PREFIX" <<'EOF' || fail "cannot add a document to the target"
import sys
from pymongo import MongoClient
MongoClient(sys.argv[1])[sys.argv[2] + "0"]["c1"].insert_one({"_id": "deleted-at-source", "x": 1})
EOF
cutover cutover.reconcile.log --timeout 120s --reconcile always
rc=$?
[ $rc -eq 0 ] || fail "cutover --reconcile always exited $rc: $(tail -5 "$WORK/cutover.reconcile.log")"
grep -q "ok: reconciled deletes: 1 target documents" "$WORK/cutover.reconcile.log" \
  || fail "the reconciliation pass did not delete the extra document: $(grep "ok:" "$WORK/cutover.reconcile.log")"
echo "  $(grep "ok: reconciled" "$WORK/cutover.reconcile.log" | sed 's/^ *//')"

# A document changed on the target behind docshift's back: the final verify names it.
tampered=$("$PY" - "$TGT" "$PREFIX" <<'EOF'
import sys
from pymongo import MongoClient
c = MongoClient(sys.argv[1])[sys.argv[2] + "0"]["c0"]
d = c.find_one({"_id": {"$type": "long"}})
c.update_one({"_id": d["_id"]}, {"$set": {"tampered": True}})
print(d["_id"])
EOF
) || fail "cannot change the target"
cutover cutover.tampered.log --timeout 120s
rc=$?
[ $rc -eq 1 ] || fail "cutover with a tampered target exited $rc, want 1: $(tail -3 "$WORK/cutover.tampered.log")"
grep -q "NOT SAFE: the final verify found differences: ${PREFIX}0.c0: .* 1 changed, e.g. _id $tampered)" \
  "$WORK/cutover.tampered.log" || fail "the tampered document was not reported: $(tail -3 "$WORK/cutover.tampered.log")"
echo "  tampered target: $(grep "NOT SAFE:" "$WORK/cutover.tampered.log" | head -1 | sed 's/^ *//')"

# Apply not running: refused at once, naming it.
kill -TERM "$app_pid"; wait "$app_pid"
app_pid=""
cutover cutover.noapply.log --timeout 20s
rc=$?
[ $rc -eq 1 ] || fail "cutover without apply exited $rc, want 1"
grep -q "NOT SAFE: apply 'apply' is not running" "$WORK/cutover.noapply.log" \
  || fail "cutover without apply did not say so: $(tail -3 "$WORK/cutover.noapply.log")"
echo "cutover_test: PASS: refused during writes, safe after, reconciled an extra document, refused on a tampered target and without apply"

#!/usr/bin/env bash
# End-to-end: `--source_kind cosmos` (the change-stream pipeline Azure Cosmos DB for MongoDB
# requires: $match on insert/update/replace, $project, updateLookup, one stream per
# collection). There is no Cosmos DB server on this test bed (TESTBED.md), so the pipeline
# runs against mongo-java-server's change streams, which accept it. What must hold:
#   - capture warns that this source reports no deletes;
#   - the spool holds inserts/updates/replaces and no delete event, although the workload
#     deletes (the $match filters them, as Cosmos DB would never send them);
#   - snapshot + apply + cutover end SAFE TO SWITCH with the target identical to the
#     source: cutover's automatic reconciliation pass (a cosmos spool) deletes on the
#     target what the source deleted.
#
# Usage: cosmos_mode_test.sh DOCSHIFT. URIs from SOURCE_CS_URI, TARGET_PG_URI and
# TESTBED_PYTHON. Unset: exit 77 (skipped, reason printed), or fail when CI is set.
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init cosmos SOURCE_CS_URI TARGET_PG_URI "e2ecos$$_"
echo "cosmos_mode_test: prefix $PREFIX, work dir $WORK"

drop_prefix "$PREFIX" "$SRC" "$TGT"
"$PY" "$ROOT/tests/workload/workload.py" --uri "$SRC" --db-prefix "$PREFIX" --dbs 1 --colls 2 \
  --load 400 --duration 0 --seed 31 >"$WORK/load.log" 2>&1 || fail "preload failed"
"$DS" capture --source "$SRC" --source_kind cosmos --spool "$SPOOL" --include "${PREFIX}*" \
  --progress_interval 2s >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -q "capture: ready" "$WORK/capture.log" || fail "capture did not become ready"
grep -q "change streams report no deletes" "$WORK/capture.log" || fail "capture did not warn that Cosmos DB reports no deletes"
"$DS" snapshot --source "$SRC" --target "$TGT" --spool "$SPOOL" --include "${PREFIX}*" \
  --progress none >"$WORK/snapshot.log" 2>&1 || fail "snapshot failed"
"$DS" apply --spool "$SPOOL" --target "$TGT" --checkpoint_interval 300ms --progress_interval 2s \
  >"$WORK/apply.log" 2>&1 &
app_pid=$!

"$PY" "$ROOT/tests/workload/workload.py" --uri "$SRC" --db-prefix "$PREFIX" --dbs 1 --colls 2 \
  --duration 12 --rate 40 --seed 32 >"$WORK/workload.log" 2>&1 || fail "workload generator failed"
# A marker tells when capture has everything.
"$PY" - "$SRC" "$PREFIX" <<'PYEOF' || fail "cannot write the marker"
import sys
from pymongo import MongoClient
MongoClient(sys.argv[1])[sys.argv[2] + "0"]["c0"].insert_one({"_id": "end-marker"})
PYEOF
marker_in_spool() { "$DS" inspect dump --spool "$SPOOL" --ns "${PREFIX}0.c0" 2>/dev/null | grep -q '"end-marker"'; }
wait_for 120 marker_in_spool || fail "the marker never reached the spool"

"$DS" inspect stats --spool "$SPOOL" >"$WORK/stats.log" 2>&1 || fail "inspect stats failed"
deletes_done=$(grep -o "delete=[0-9]*" "$WORK/workload.log" | tail -1 | cut -d= -f2)
# inspect stats prints a column per operation that occurs; no "delete" column = none.
spool_deletes=$(awk '$1=="NAMESPACE"{for(i=1;i<=NF;i++) if($i=="delete") col=i} $1=="TOTAL"{print (col ? $col : 0)}' "$WORK/stats.log")
echo "  workload: $(tail -1 "$WORK/workload.log"); spool: $(grep -E "^(NAMESPACE|TOTAL)" "$WORK/stats.log" | tr -s ' ' | paste -sd'|')"
[ "${deletes_done:-0}" -gt 0 ] || fail "the workload made no deletes; the test proves nothing"
[ "${spool_deletes:-0}" -eq 0 ] || fail "the spool holds $spool_deletes delete events; the cosmos pipeline should filter them"

"$DS" cutover --spool "$SPOOL" --source "$SRC" --target "$TGT" --include "${PREFIX}*" \
  --max_lag 5s --quiet_period 3s --timeout 120s >"$WORK/cutover.log" 2>&1
rc=$?
[ $rc -eq 0 ] || fail "cutover exited $rc: $(tail -5 "$WORK/cutover.log")"
grep -q "ok: reconciled deletes: [1-9][0-9]* target documents" "$WORK/cutover.log" \
  || fail "cutover's reconciliation deleted nothing: $(grep "ok:" "$WORK/cutover.log")"
echo "  $(grep "ok: reconciled" "$WORK/cutover.log" | sed 's/^ *//')"
grep -q "^SAFE TO SWITCH" "$WORK/cutover.log" || fail "no SAFE TO SWITCH line"

"$PY" "$ROOT/tests/workload/checker.py" --source "$SRC" --target "$TGT" --db-prefix "$PREFIX" \
  --ignore-empty-collections >"$WORK/checker.log" 2>&1
rc=$?
tail -2 "$WORK/checker.log"
[ $rc -eq 0 ] || fail "checker found differences (exit $rc): $(head -20 "$WORK/checker.log")"
echo "cosmos_mode_test: PASS: no delete in the spool ($deletes_done deletes at the source), reconciled by cutover, target identical"

#!/usr/bin/env bash
# End-to-end: apply never writes a namespace outside the spool's recorded filter, and a
# capture restarted with another filter is refused (issue #11, item 2.1).
#
# 1. A synthetic spool (bench/make_spool) records --include 'ycsb.*' but, as a capture
#    that did not filter would, also holds events of app.sessions and app.users. apply
#    (to a real target, databases mapped under PREFIX) writes ycsb's and none of app's:
#    each of those is in the dead-letter file with the reason, as many as the events of
#    app.* in the spool (counted from a dry run of the same stream without a filter).
# 2. capture --include A on a new spool, stopped; restarted with --include B: refused
#    with one line naming both filters; `inspect manifest` shows the recorded one.
#
# Usage: spool_filter_test.sh DOCSHIFT MAKE_SPOOL. URIs from SOURCE_CS_URI, TARGET_URI
# and TESTBED_PYTHON (build/testbed.env). Unset: exit 77 with the reason, or fail under CI.
set -uo pipefail
DS=$1
MK=$2
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init spool_filter SOURCE_CS_URI TARGET_URI "h2flt$$_"
echo "spool_filter_test: prefix $PREFIX, work dir $WORK"
drop_prefix "$PREFIX" "$SRC" "$TGT"

# --- 1. events outside the recorded filter are dead-lettered, never written ---
"$MK" --spool "$SPOOL" --events 600 --include 'ycsb.*' >"$WORK/mk.log" 2>&1 || fail "make_spool failed"
"$MK" --spool "$WORK/twin" --events 600 >"$WORK/mk_twin.log" 2>&1 || fail "make_spool (twin) failed"
outside=$("$DS" apply --spool "$WORK/twin" --dry_run --stop_when_drained 2>/dev/null | grep -c '"ns": "app\.')
[ "$outside" -gt 0 ] || fail "the synthetic stream has no app.* events to exclude"
"$DS" inspect manifest --spool "$SPOOL" >"$WORK/manifest.out" 2>&1 || fail "inspect manifest failed"
grep -q "filter: --include 'ycsb.\*'" "$WORK/manifest.out" \
  || fail "inspect manifest does not show the recorded filter: $(grep created "$WORK/manifest.out")"

"$DS" apply --spool "$SPOOL" --target "$TGT" --stop_when_drained \
  --map "ycsb=${PREFIX}ycsb,app=${PREFIX}app" >"$WORK/apply.log" 2>&1 || fail "apply failed"
counts=$("$PY" - "$TGT" "$PREFIX" <<'EOF'
import sys
from pymongo import MongoClient
c = MongoClient(sys.argv[1])
p = sys.argv[2]
app = sum(c[p + "app"][n].count_documents({}) for n in c[p + "app"].list_collection_names())
print(c[p + "ycsb"]["usertable"].count_documents({}), app)
EOF
) || fail "cannot count the target's documents"
read -r ycsb app <<<"$counts"
[ "$ycsb" -gt 0 ] || fail "nothing of ycsb.* reached the target"
[ "$app" -eq 0 ] || fail "$app documents of app.* (outside the spool's filter) were written to the target"
"$DS" inspect deadletters --spool "$SPOOL" >"$WORK/dlq.out" 2>&1
dead=$(grep -c "outside the spool's filter (--include 'ycsb.\*'); not written" "$WORK/dlq.out")
[ "$dead" -eq "$outside" ] \
  || fail "$dead dead letters name the filter, the spool holds $outside events of app.*: $(head -2 "$WORK/dlq.out")"
grep -q "dead letter: seq .* namespace app\..* is outside the spool's filter" "$WORK/apply.log" \
  || fail "apply did not log the dead letters"
echo "spool_filter_test: $ycsb ycsb documents written, $dead app.* events dead-lettered"

# --- 2. a capture restarted with another filter is refused ---
CAP=$WORK/capspool
"$DS" capture --source "$SRC" --spool "$CAP" --include "${PREFIX}a.*" >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -q "capture: ready" "$WORK/capture.log" || fail "capture did not become ready"
stop_within 30 "$cap_pid" "capture"; cap_pid=""
timeout 60 "$DS" capture --source "$SRC" --spool "$CAP" --include "${PREFIX}b.*" >"$WORK/capture2.log" 2>&1
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "capture with another filter was not refused (exit $rc)"
grep -q "was captured with --include '${PREFIX}a\.\*', not --include '${PREFIX}b\.\*'; restart capture with the spool's filter or use a new --spool directory" \
  "$WORK/capture2.log" || fail "the refusal does not name both filters and the fix"
"$DS" inspect manifest --spool "$CAP" | grep -q "filter: --include '${PREFIX}a\.\*'" \
  || fail "inspect manifest does not show capture's filter"
echo "spool_filter_test: PASS"

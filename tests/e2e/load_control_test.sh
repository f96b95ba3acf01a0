#!/usr/bin/env bash
# End-to-end: load control (issue #14) against the real servers.
#
# 1. apply --max_ops_per_s 40 (4 lanes, one bucket) over an 800-event spool: the rate
#    achieved (events / wall time of the run) is within 10% of 40 (a run of ~20 s; the
#    limit is well below what the target takes, ~150 events/s of this mix on a loaded
#    test machine, so the limit and not the target sets the pace); the
#    metrics endpoint serves the limit while it runs, and the status file the achieved
#    rate (within 10% too).
# 2. snapshot --max_docs_per_s 100 (4 ranges in parallel, one bucket) of 2,000 documents:
#    within 10% of 100 (~20 s); verify --max_docs_per_s 400 of the same 2,000 documents
#    takes at least (2000 - 400) / 400 s and says the rate it read at.
# 3. Server push-back: tests/e2e/throttle_proxy.py between apply and the target answers
#    every 3rd write command with Cosmos DB's 16500 "Request rate is large ...
#    RetryAfterMs=300" (alternately as a command error and as a writeErrors entry per
#    statement) instead of forwarding it. apply (one lane) retries each after the
#    server's 300 ms, not its own 100 ms first backoff (the proxy measures the gap to the
#    retry), counts them (status throttled_total, docshift_apply_throttled_total), writes
#    no dead letter, and the target is identical to part 1's unthrottled apply of the
#    same spool.
# 4. The same proxy in front of snapshot: each throttled insert batch retried after the
#    300 ms, counted, no dead letter, and verify finds the copy identical to the source.
#
# Usage: load_control_test.sh DOCSHIFT MAKE_SPOOL. URIs from SOURCE_CS_URI, TARGET_URI and
# TESTBED_PYTHON (build/testbed.env); unset: exit 77, or fail under CI.
set -uo pipefail
DS=$1
MK=$2
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init load_control SOURCE_CS_URI TARGET_URI "e2eload$$_"
echo "load_control_test: prefix $PREFIX, work dir $WORK"
proxy_pid=""
e2e_on_exit() { [ -n "$proxy_pid" ] && kill -9 "$proxy_pid" 2>/dev/null; }
now() { date +%s.%N; }
# within PCT WANT GOT WHAT: |GOT - WANT| <= PCT% of WANT.
within() {
  "$PY" -c "import sys; w, g = float(sys.argv[2]), float(sys.argv[3]); sys.exit(0 if abs(g - w) <= w * float(sys.argv[1]) / 100 else 1)" "$@" ||
    fail "$4: $3, not within $1% of $2"
  echo "load_control_test: $4: $3 (limit $2)"
}
json_field() {  # json_field FILE PYTHON-EXPR-ON-j
  "$PY" -c "import json, sys; j = json.load(open(sys.argv[1])); print($2)" "$1"
}

EVENTS=800
"$MK" --spool "$SPOOL" --events $EVENTS --batch_events 50 --single_namespace --update_lookup \
  --source_id e2e >"$WORK/mk.log" 2>&1 || fail "make_spool: $(tail -3 "$WORK/mk.log")"

# --- 1. apply --max_ops_per_s -------------------------------------------------------------
MPORT=${LOAD_METRICS_PORT:-28541}
t0=$(now)
"$DS" apply --spool "$SPOOL" --target "$TGT" --name rate --map "ycsb=${PREFIX}rate" --lanes 4 \
  --max_ops_per_s 40 --stop_when_drained --metrics_port "$MPORT" >"$WORK/apply_rate.log" 2>&1 &
app_pid=$!
metrics() { curl -sf "http://127.0.0.1:$MPORT/metrics" >"$WORK/metrics.txt" && grep -q "^docshift_apply_rate_limit_ops_per_second 40$" "$WORK/metrics.txt"; }
wait_for 15 metrics || fail "the metrics endpoint does not serve docshift_apply_rate_limit_ops_per_second 40"
grep -q "^docshift_apply_rate_achieved_ops_per_second " "$WORK/metrics.txt" || fail "no achieved rate in the metrics"
wait "$app_pid"; rc=$?; app_pid=""
t1=$(now)
[ "$rc" -eq 0 ] || fail "apply --max_ops_per_s exited $rc"
grep -q "applied $EVENTS events" "$WORK/apply_rate.log" || fail "apply did not apply $EVENTS events"
rate=$("$PY" -c "import sys; print(round($EVENTS / ($t1 - $t0), 1))")
within 10 40 "$rate" "apply --max_ops_per_s 40: events / wall time"
"$DS" status --spool "$SPOOL" --name rate --json >"$WORK/status_rate.json" || fail "status --json failed"
within 10 40 "$(json_field "$WORK/status_rate.json" 'j["apply"]["rate_achieved_ops_per_second"]')" \
  "apply --max_ops_per_s 40: the status file's achieved rate"
[ "$(json_field "$WORK/status_rate.json" 'int(j["apply"]["rate_limit_ops_per_second"])')" = 40 ] ||
  fail "status does not show the limit 40"

# --- 2. snapshot --max_docs_per_s, verify --max_docs_per_s ---------------------------------
DOCS=2000
"$PY" - "$SRC" "$PREFIX" $DOCS <<'EOF' || fail "cannot prepare the source"
import sys
from bson.int64 import Int64
from pymongo import MongoClient
coll = MongoClient(sys.argv[1], serverSelectionTimeoutMS=5000)[sys.argv[2] + "snap"]["docs"]
coll.insert_many([{"_id": Int64(i), "pad": "x" * 200} for i in range(int(sys.argv[3]))])
EOF
SNAP_SPOOL=$WORK/snap_spool
"$DS" capture --source "$SRC" --spool "$SNAP_SPOOL" --include "${PREFIX}snap.*" >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -q "capture: ready" "$WORK/capture.log" || fail "capture did not become ready"
t0=$(now)
"$DS" snapshot --source "$SRC" --target "$TGT" --spool "$SNAP_SPOOL" --include "${PREFIX}snap.*" \
  --docs_per_range 500 --parallel 4 --max_docs_per_s 100 --progress lines --progress_interval 5s \
  >"$WORK/snapshot.log" 2>&1 || fail "snapshot --max_docs_per_s exited $?"
t1=$(now)
grep -q "$DOCS documents" "$WORK/snapshot.log" || fail "snapshot did not copy $DOCS documents"
grep -q "docs/s (limit 100.0)" "$WORK/snapshot.log" || fail "snapshot does not report its load and limit"
rate=$("$PY" -c "import sys; print(round($DOCS / ($t1 - $t0), 1))")
within 10 100 "$rate" "snapshot --max_docs_per_s 100: documents / wall time"
"$DS" status --spool "$SNAP_SPOOL" --json >"$WORK/status_snap.json" || fail "status --json failed"
within 10 100 "$(json_field "$WORK/status_snap.json" 'j["snapshot"]["rate_achieved_docs_per_second"]')" \
  "snapshot --max_docs_per_s 100: status's achieved rate"
[ "$(json_field "$WORK/status_snap.json" 'int(j["snapshot"]["rate_limit_docs_per_second"])')" = 100 ] ||
  fail "status does not show the snapshot's limit 100"
kill -INT "$cap_pid"; wait "$cap_pid"; cap_pid=""

t0=$(now)
"$DS" verify --source "$SRC" --target "$TGT" --include "${PREFIX}snap.*" --max_docs_per_s 400 \
  --recheck_rounds 0 >"$WORK/verify.log" 2>&1 || fail "verify after the snapshot exited $?"
t1=$(now)
grep -q "verify: IDENTICAL" "$WORK/verify.log" || fail "verify does not find the snapshot identical"
grep -q "source read at .* docs/s (limit 400.0)" "$WORK/verify.log" || fail "verify does not say the rate it read at"
"$PY" -c "import sys; sys.exit(0 if $t1 - $t0 >= (2000 - 400) / 400 else 1)" ||
  fail "verify --max_docs_per_s 400 read 2000 documents in $("$PY" -c "print(round($t1 - $t0, 2))") s, under (2000-400)/400 s"
ok_verify=$("$PY" -c "print(round($t1 - $t0, 2))")
echo "load_control_test: verify --max_docs_per_s 400 of $DOCS documents: $ok_verify s"

# --- 3. server push-back through the throttling proxy --------------------------------------
read -r THOST TPORT < <("$PY" -c "import sys; from pymongo.uri_parser import parse_uri; h, p = parse_uri(sys.argv[1])['nodelist'][0]; print(h, p)" "$TGT")
"$PY" "$HERE/throttle_proxy.py" "$THOST" "$TPORT" "$WORK/proxy.json" 3 20 300 >"$WORK/proxy.log" 2>&1 &
proxy_pid=$!
wait_for 10 test -s "$WORK/proxy.json" || fail "the throttling proxy did not start"
PPORT=$(json_field "$WORK/proxy.json" 'j["port"]')
# The target URI with the proxy's address (options and credentials kept).
PTGT=$("$PY" -c "
import sys
scheme, rest = sys.argv[1].split('://', 1)
hosts, _, tail = rest.partition('/')
cred = hosts.rpartition('@')[0]
print(scheme + '://' + (cred + '@' if cred else '') + '127.0.0.1:' + sys.argv[2] + '/' + tail)" "$TGT" "$PPORT")
t0=$(now)
"$DS" apply --spool "$SPOOL" --target "$PTGT" --name thr --map "ycsb=${PREFIX}thr" --lanes 1 \
  --batch_max_ops 50 --stop_when_drained >"$WORK/apply_thr.log" 2>&1 || fail "apply through the throttling proxy exited $?"
t1=$(now)
grep -q "applied $EVENTS events" "$WORK/apply_thr.log" || fail "apply through the proxy did not apply $EVENTS events"
injected=$(json_field "$WORK/proxy.json" 'j["injected"]')
min_gap=$(json_field "$WORK/proxy.json" 'j["min_gap_ms"]')
[ "$injected" -ge 10 ] || fail "the proxy throttled only $injected write commands"
[ "$min_gap" -ge 270 ] || fail "a throttled write was retried after $min_gap ms, before the server's RetryAfterMs=300"
"$DS" status --spool "$SPOOL" --name thr --json >"$WORK/status_thr.json" || fail "status --json failed"
throttled=$(json_field "$WORK/status_thr.json" 'j["apply"]["throttled_total"]')
dead=$(json_field "$WORK/status_thr.json" 'j["apply"]["dead_letters"]')
[ "$throttled" -ge 1 ] && [ "$throttled" -le "$injected" ] ||
  fail "status throttled_total $throttled, for $injected throttled answers"
[ "$dead" -eq 0 ] || fail "$dead dead letters after push-back (it must never dead-letter)"
grep -q "writes throttled by the target (retried)" "$WORK/apply_thr.log" || fail "apply's summary does not count the throttled writes"
"$PY" -c "import sys; sys.exit(0 if $t1 - $t0 >= $throttled * 0.3 else 1)" ||
  fail "apply did not slow down: $throttled throttled writes in $("$PY" -c "print(round($t1 - $t0, 2))") s"
"$PY" - "$TGT" "${PREFIX}rate" "${PREFIX}thr" <<'EOF' || fail "the throttled apply's target differs from the unthrottled one's"
import sys
from pymongo import MongoClient
c = MongoClient(sys.argv[1], serverSelectionTimeoutMS=5000)
a = list(c[sys.argv[2]]["usertable"].find().sort("_id", 1))
b = list(c[sys.argv[3]]["usertable"].find().sort("_id", 1))
norm = lambda docs: [sorted(d.items()) for d in docs]
if not a or norm(a) != norm(b):
    print(f"unthrottled {len(a)} documents, throttled {len(b)}")
    sys.exit(1)
print(f"identical: {len(a)} documents")
EOF
echo "load_control_test: push-back: $injected injected, $throttled counted, min retry gap $min_gap ms, $(
  "$PY" -c "print(round($t1 - $t0, 1))") s"

# --- 4. snapshot through the throttling proxy: the same push-back, a new proxy -------------
kill -9 "$proxy_pid" 2>/dev/null; wait "$proxy_pid" 2>/dev/null
"$PY" "$HERE/throttle_proxy.py" "$THOST" "$TPORT" "$WORK/proxy2.json" 3 12 300 >"$WORK/proxy2.log" 2>&1 &
proxy_pid=$!
wait_for 10 test -s "$WORK/proxy2.json" || fail "the second throttling proxy did not start"
PTGT2=${PTGT/127.0.0.1:$PPORT/127.0.0.1:$(json_field "$WORK/proxy2.json" 'j["port"]')}
"$DS" snapshot --source "$SRC" --target "$PTGT2" --spool "$SNAP_SPOOL" --include "${PREFIX}snap.*" \
  --map "${PREFIX}snap=${PREFIX}snapthr" --restart --batch_docs 50 --parallel 2 --progress none \
  >"$WORK/snapshot_thr.log" 2>&1 || fail "snapshot through the throttling proxy exited $?"
injected=$(json_field "$WORK/proxy2.json" 'j["injected"]')
min_gap=$(json_field "$WORK/proxy2.json" 'j["min_gap_ms"]')
[ "$injected" -ge 6 ] || fail "the proxy throttled only $injected of the snapshot's inserts"
[ "$min_gap" -ge 270 ] || fail "a throttled insert was retried after $min_gap ms, before the server's RetryAfterMs=300"
grep -qE "[1-9][0-9]* writes throttled by the target \(retried\)" "$WORK/snapshot_thr.log" ||
  fail "snapshot does not count the throttled writes"
grep -q "documents not written" "$WORK/snapshot_thr.log" && fail "snapshot dead-lettered documents after push-back"
"$DS" status --spool "$SNAP_SPOOL" --json >"$WORK/status_snap_thr.json" || fail "status --json failed"
[ "$(json_field "$WORK/status_snap_thr.json" 'j["snapshot"]["throttled_total"]')" -ge 1 ] ||
  fail "status does not count the snapshot's throttled writes"
"$DS" verify --source "$SRC" --target "$TGT" --include "${PREFIX}snap.*" --map "${PREFIX}snap=${PREFIX}snapthr" \
  --recheck_rounds 0 >"$WORK/verify_thr.log" 2>&1 || fail "verify of the throttled snapshot exited $?"
grep -q "verify: IDENTICAL" "$WORK/verify_thr.log" || fail "the throttled snapshot is not identical to the source"
echo "load_control_test: snapshot push-back: $injected injected, min retry gap $min_gap ms, target identical"
echo "load_control_test: PASS"

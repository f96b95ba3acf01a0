#!/usr/bin/env bash
# End-to-end: apply's positions, locks and dead letters (issue #16, items 1, 2, 4, 5, 6).
#
# Capture (change streams from mongo-java-server, small segments) takes 60 inserts, 12 of
# them documents FerretDB refuses (nested arrays: dead letters), then stops. Against that
# spool and the FerretDB target:
#   1. --from past the end is refused (exit 2, naming --from and the spool's range) and
#      recorded nowhere: a later plain apply of the name applies all 60 events.
#   2. Range flags: --from 30 --until 20, --until 0, --until 1970-01-01T00:00:00Z,
#      --until 2000-01-01T00:00:00Z and --from 2099-01-01T00:00:00Z are refused (exit 2)
#      and move no checkpoint; a replay (--from 10 --until 40) prints what it applied
#      (31 events, seq 10..40) and leaves the name's checkpoint (30) alone; the next
#      plain apply resumes at 31; a time range (--from/--until the last event's second)
#      prints the events of that second only, not the earlier ones it skipped.
#   4. A second apply of a running name is refused at start (exit 3) naming the
#      running one's pid.
#   6. Replaying the events already dead-lettered (twice) records no more copies (12,
#      not 36).
#   5. prune --retention 0 deletes nothing while an apply of a new name is starting up
#      (stuck connecting to a target that accepts and never answers), nor while a
#      following replay from seq 1 runs; once they are gone it deletes, and --from a
#      pruned sequence is then refused naming the range left.
# Every check runs (a failed one does not stop the rest); the script fails at the end,
# saying how many failed.
#
# Usage: apply_positions_test.sh DOCSHIFT. URIs from SOURCE_CS_URI, TARGET_URI and
# TESTBED_PYTHON (build/testbed.env). Unset: exit 77 with the reason, or fail under CI.
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_init apply_positions SOURCE_CS_URI TARGET_URI "e2eap$$_"
echo "apply_positions_test: prefix $PREFIX, work dir $WORK"
N=60
BAD=12
hole_pid=""
e2e_on_exit() { [ -n "$hole_pid" ] && kill -9 "$hole_pid" 2>/dev/null; }

failures=0
checks=0
check() {  # check DESCRIPTION CMD...: runs CMD; a failure is counted, not fatal
  local what=$1; shift
  checks=$((checks + 1))
  if "$@"; then
    echo "  ok: $what"
  else
    failures=$((failures + 1))
    echo "  FAILED: $what" >&2
    [ -f "$WORK/err" ] && sed 's/^/      stderr: /' "$WORK/err" | tail -3 >&2
  fi
}
# run ARGS...: docshift with stdout in $WORK/out, stderr in $WORK/err, exit code in rc.
run() { "$DS" "$@" >"$WORK/out" 2>"$WORK/err"; rc=$?; }
rc_is() { [ "$rc" -eq "$1" ]; }
err_has() { grep -qE -- "$1" "$WORK/err"; }
one_line_err() { [ "$(grep -cv '^$' "$WORK/err")" -eq 1 ]; }
# The last line of stderr: docshift's summary or its error.
summary_is() { tail -1 "$WORK/err" | grep -qE -- "$1"; }
ckpt_of() {  # ckpt_of NAME: the checkpoint's applied_seq, or "none"
  "$DS" inspect manifest --spool "$SPOOL" 2>/dev/null |
    awk -v n="  $1:" 'index($0, n) == 1 { print $5; found = 1 } END { if (!found) print "none" }'
}
ckpt_is() { [ "$(ckpt_of "$1")" = "$2" ] || { echo "      checkpoint $1 is $(ckpt_of "$1"), not $2" >&2; return 1; }; }
live_segments() { "$DS" inspect manifest --spool "$SPOOL" | awk '/live sealed segments/ { print $1 }'; }
dead_letters_of() {  # records of apply NAME in the dead-letter files
  "$DS" inspect deadletters --spool "$SPOOL" 2>/dev/null | grep -c "\"apply\": \"$1\", \"seq\""
}

# --- the spool: 60 inserts, every fifth one refused by FerretDB.
drop_prefix "$PREFIX" "$SRC" "$TGT" || fail "cannot reach the servers"
"$PY" -c 'import sys; from pymongo import MongoClient
MongoClient(sys.argv[1])[sys.argv[2] + "0"].create_collection("docs")' "$SRC" "$PREFIX" \
  || fail "cannot create the source collection"
"$DS" capture --source "$SRC" --scope collection --spool "$SPOOL" --include "${PREFIX}0.*" \
  --batch_max_events 5 --segment_max_bytes 2048 >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -q "capture: ready" "$WORK/capture.log" || fail "capture did not become ready"
"$PY" - "$SRC" "$PREFIX" "$N" <<'EOF' || fail "cannot write to the source"
import os, sys, time
from pymongo import MongoClient
c = MongoClient(sys.argv[1])[sys.argv[2] + "0"]["docs"]
n = int(sys.argv[3])
for i in range(1, n + 1):
    if i == n // 2 + 1:  # the second half in a later source second than the first
        second = int(time.time())
        while int(time.time()) == second:
            time.sleep(0.01)
    doc = {"_id": i, "pad": os.urandom(100).hex()}  # incompressible: several segments
    if i % 5 == 0:
        doc["nested"] = [[i], [i, i]]  # FerretDB refuses nested arrays: a dead letter
    c.insert_one(doc)
EOF
all_captured() { [ "$("$DS" inspect stats --spool "$SPOOL" 2>/dev/null | awk '$1=="TOTAL"{print $2}')" = "$N" ]; }
wait_for 60 all_captured || fail "capture did not get the $N inserts"
kill -TERM "$cap_pid"; wait "$cap_pid" || fail "capture did not stop cleanly"; cap_pid=""
segs=$(live_segments)
[ "${segs:-0}" -ge 4 ] || fail "expected several sealed segments, got ${segs:-0}"
echo "spool: $N events in $segs sealed segments"

# --- 1. --from past the end of the spool.
echo "1. --from past the end"
run apply --spool "$SPOOL" --target "$TGT" --name far --from 99999999 --stop_when_drained
check "--from 99999999 exits 2" rc_is 2
check "... with one line naming --from and the range seq 1..$N" \
  eval 'one_line_err && err_has "--from 99999999.*seq 1\.\.$N"'
check "... and writes no checkpoint" ckpt_is far none
run apply --spool "$SPOOL" --target "$TGT" --name far --from $((N + 1)) --stop_when_drained
check "--from $((N + 1)) (one past the last event) exits 2" rc_is 2
run apply --spool "$SPOOL" --target "$TGT" --name far --stop_when_drained
check "a later plain apply of the name applies all $N events" \
  eval 'rc_is 0 && summary_is "applied $N events, checkpoint at seq $N, $BAD dead letters"'
check "... dead-lettering $BAD events once each" eval '[ "$(dead_letters_of far)" -eq $BAD ]'

# --- 2. Range flags against each other and the spool.
echo "2. range flags"
run apply --spool "$SPOOL" --target "$TGT" --name main --until 30 --stop_when_drained
check "--until 30 applies 1..30 and checkpoints at 30" \
  eval 'rc_is 0 && summary_is "applied 30 events, checkpoint at seq 30" && ckpt_is main 30'
for args in "--from 30 --until 20" "--until 0" "--until 1970-01-01T00:00:00Z" \
            "--until 2000-01-01T00:00:00Z" "--from 2099-01-01T00:00:00Z" "--until 20"; do
  # shellcheck disable=SC2086
  run apply --spool "$SPOOL" --target "$TGT" --name main $args --stop_when_drained
  flag=${args%% *}
  check "$args exits 2, one line naming $flag" eval 'rc_is 2 && one_line_err && err_has "^docshift apply: .*$flag"'
  check "... and leaves checkpoint main at 30" ckpt_is main 30
done
run apply --spool "$SPOOL" --target "$TGT" --name main --from 10 --until 40 --stop_when_drained
check "a replay --from 10 --until 40 prints what it applied (31 events, seq 10..40)" \
  eval 'rc_is 0 && summary_is "applied 31 events \(seq 10\.\.40\), a replay: checkpoint .main. left alone"'
check "... and leaves checkpoint main at 30" ckpt_is main 30
run apply --spool "$SPOOL" --target "$TGT" --name main --stop_when_drained
check "the next plain apply resumes at 31" \
  eval 'rc_is 0 && summary_is "applied 30 events, checkpoint at seq $N"'

# A time range counts what it applied, not the earlier events it skipped: --from the
# source second of the last event applies the events of that second only.
read -r A T < <("$DS" inspect dump --spool "$SPOOL" |
  sed -nE 's/^\{"seq": ([0-9]+),.*"\$timestamp": \{"t": ([0-9]+),.*/\1 \2/p' |
  awk -v n=$N '{ seq[NR] = $1; t[NR] = $2 } END { a = n; while (a > 1 && t[a - 1] == t[n]) a--; print a, t[n] }')
TLAST=$(date -u -d "@$T" +%Y-%m-%dT%H:%M:%SZ)
run apply --spool "$SPOOL" --target "$TGT" --name timed --from "$TLAST" --until "$TLAST" --stop_when_drained
check "--from/--until $TLAST prints the $((N - A + 1)) events of that second (seq $A..$N)" \
  eval 'rc_is 0 && summary_is "applied $((N - A + 1)) events \(seq $A\.\.$N\), a replay"'
check "... and writes no checkpoint" ckpt_is timed none

# --- 6. Dead letters of replayed events are not recorded again.
echo "6. dead letters"
for replay in 1 2; do
  run apply --spool "$SPOOL" --target "$TGT" --name far --from 1 --stop_when_drained
  check "replay $replay of all $N events of 'far' succeeds" eval 'rc_is 0 && summary_is "applied $N events \(seq 1\.\.$N\)"'
done
check "... and 'far' has $BAD dead-letter records, one per event however often replayed" \
  eval '[ "$(dead_letters_of far)" -eq $BAD ] || { echo "      $(dead_letters_of far) records" >&2; false; }'

# --- 4. Two applies of one name at once.
echo "4. one apply per name"
"$DS" apply --spool "$SPOOL" --target "$TGT" --name live >"$WORK/live.log" 2>&1 &
app_pid=$!
wait_for 60 grep -q "apply: starting at sequence" "$WORK/live.log" || fail "the following apply did not start"
run apply --spool "$SPOOL" --target "$TGT" --name live --stop_when_drained
check "a second apply --name live is refused (exit 3)" rc_is 3
check "... in one line naming the running one's pid $app_pid" eval 'one_line_err && err_has "pid $app_pid\b"'
kill -TERM "$app_pid"; wait "$app_pid"; app_pid=""
run apply --spool "$SPOOL" --target "$TGT" --name live --stop_when_drained
check "once it has stopped, apply --name live runs again" rc_is 0

# --- 5. prune keeps what a running apply reads.
echo "5. prune and running applies"
# A target that accepts connections and never answers: an apply of a new name stays in
# its start-up (connecting) until it gives up.
HOLE_PORT_FILE=$WORK/hole.port
"$PY" - "$HOLE_PORT_FILE" <<'EOF' >"$WORK/hole.log" 2>&1 &
import socket, sys, os
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1])); os.rename(sys.argv[1] + ".tmp", sys.argv[1])
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
    open(sys.argv[1] + ".accepted", "a").write("1\n")
EOF
hole_pid=$!
wait_for 30 test -s "$HOLE_PORT_FILE" || fail "the silent listener did not start"
HOLE="mongodb://127.0.0.1:$(cat "$HOLE_PORT_FILE")/?serverSelectionTimeoutMS=60000&connectTimeoutMS=60000&socketTimeoutMS=60000"
"$DS" apply --spool "$SPOOL" --target "$HOLE" --name fresh --stop_when_drained >"$WORK/fresh.log" 2>&1 &
app_pid=$!
wait_for 30 test -s "$HOLE_PORT_FILE.accepted" || fail "the starting apply never connected"
before=$(live_segments)
run prune --spool "$SPOOL" --retention 0
check "prune beside a starting apply (no checkpoint yet) exits 0" rc_is 0
check "... and deletes nothing ($before segments)" eval '[ "$(live_segments)" = "$before" ] || { cat "$WORK/out" >&2; false; }'
kill -9 "$app_pid"; wait "$app_pid" 2>/dev/null; app_pid=""
kill -9 "$hole_pid"; wait "$hole_pid" 2>/dev/null; hole_pid=""

"$DS" apply --spool "$SPOOL" --target "$TGT" --name replay --from 1 >"$WORK/replay.log" 2>&1 &
app_pid=$!
wait_for 60 grep -q "apply: starting at sequence" "$WORK/replay.log" || fail "the replay did not start"
run prune --spool "$SPOOL" --retention 0
check "prune beside a running replay from seq 1 deletes nothing" \
  eval 'rc_is 0 && [ "$(live_segments)" = "$before" ] || { cat "$WORK/out" >&2; false; }'
kill -TERM "$app_pid"; wait "$app_pid"; app_pid=""
run prune --spool "$SPOOL" --retention 0
check "once no apply runs, prune deletes what every checkpoint passed" \
  eval 'rc_is 0 && [ "$(live_segments)" -lt "$before" ]'
first=$("$DS" inspect manifest --spool "$SPOOL" |
  awk '$2=="deleted" { split($5, r, "[.][.]"); if (r[2] + 0 > m) m = r[2] + 0 } END { print m + 1 }')
run apply --spool "$SPOOL" --target "$TGT" --name far --from 1 --stop_when_drained
check "--from a pruned sequence exits 2 naming the range left (seq $first..$N)" \
  eval 'rc_is 2 && err_has "--from 1 .*seq $first\.\.$N"'

echo "apply_positions_test: $((checks - failures)) of $checks checks passed"
[ "$failures" -eq 0 ] || fail "$failures of $checks checks failed"
echo "apply_positions_test: PASS"

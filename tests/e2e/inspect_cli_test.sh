#!/usr/bin/env bash
# End-to-end test of `docshift inspect` and `docshift prune` on a spool written by the
# real SpoolWriter (bench/make_spool). Every check can fail; the first failure stops the
# test with a message saying what was expected.
# Usage: inspect_cli_test.sh DOCSHIFT MAKE_SPOOL TMPDIR
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
offline_init inspect_cli "$@"
S=$TMP/spool
expect_rc() { [ "$rc" -eq "$1" ] || { cat "$TMP/out" "$TMP/err" >&2; fail "$2: exit $rc, expected $1"; }; ok; }
expect_out() { grep -qE -- "$1" "$TMP/out" || { cat "$TMP/out" >&2; fail "$2: stdout lacks /$1/"; }; ok; }
expect_err() { grep -qE -- "$1" "$TMP/err" || { cat "$TMP/err" >&2; fail "$2: stderr lacks /$1/"; }; ok; }

# --- a spool with several sealed segments and an open one
run "$MK" --spool "$S" --events 6000 --batch_events 100 --segment_max_bytes 300000 --source_id e2e --leave_open
expect_rc 0 "make_spool"
nseg=$(ls "$S"/segments/*.seg | wc -l)
[ "$nseg" -ge 3 ] || fail "expected several segments, got $nseg"; ok

run "$DS" inspect segments --spool "$S"
expect_rc 0 "inspect segments"
expect_out "^00000000000000000001\.seg +sealed +1\.\." "first segment sealed from seq 1"
expect_out "^$nseg segments, 6000 events" "segment summary line"

run "$DS" inspect stats --spool "$S"
expect_rc 0 "inspect stats"
total=$(awk '$1=="TOTAL"{print $2}' "$TMP/out")
[ "$total" = "6000" ] || fail "stats TOTAL is '$total', expected 6000"; ok
expect_out "sequence range 1\.\.6000" "stats sequence range"

run "$DS" inspect manifest --spool "$S"
expect_rc 0 "inspect manifest"
expect_out "created +format=1 source_kind=synthetic source_id=e2e" "manifest created record"
expect_out "no apply has checkpointed" "no checkpoints yet"

# dump: JSON lines, filters, limit
run "$DS" inspect dump --spool "$S" --limit 5
expect_rc 0 "dump --limit"
[ "$(wc -l <"$TMP/out")" -eq 5 ] || fail "dump --limit 5 printed $(wc -l <"$TMP/out") lines"; ok
python3 -c '
import json, sys
for i, line in enumerate(open(sys.argv[1])):
    e = json.loads(line)
    assert e["seq"] == i + 1, e["seq"]
    assert "ns" in e and "op" in e and "documentKey" in e, e
' "$TMP/out" || fail "dump output is not JSON lines with seq 1..5"; ok

run "$DS" inspect dump --spool "$S" --op delete --from_seq 100 --until_seq 3000
expect_rc 0 "dump --op delete"
python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert lines, "no deletes printed"
assert all(e["op"] == "delete" and 100 <= e["seq"] <= 3000 for e in lines), lines[:3]
' "$TMP/out" || fail "--op/--from_seq/--until_seq filter"; ok

first_ns=$(python3 -c '
import json, sys; print(json.loads(open(sys.argv[1]).readline())["ns"])' "$TMP/out")
run "$DS" inspect dump --spool "$S" --ns "$first_ns"
python3 -c '
import json, sys
ns = sys.argv[2]
lines = [json.loads(l) for l in open(sys.argv[1])]
assert lines and all(e["ns"] == ns for e in lines)
' "$TMP/out" "$first_ns" || fail "--ns filter"; ok

run "$DS" inspect verify --spool "$S"
expect_rc 0 "verify on an intact spool"
expect_out "no problems" "verify summary"

# apply --dry_run needs no database: prints the writes it would make
run "$DS" apply --spool "$S" --dry_run --until 20
expect_rc 0 "apply --dry_run"
python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert [e["seq"] for e in lines] == list(range(1, 21)), [e["seq"] for e in lines]
ops = {k for e in lines for k in e.get("write", {}) if k != "ns"}
assert ops <= {"replaceOne", "updateOne", "deleteOne"} and "replaceOne" in ops, ops
' "$TMP/out" || fail "dry run prints seq 1..20 as writes"; ok
run "$DS" apply --spool "$S" --dry_run --from 100 --until 104 --map "${first_ns%%.*}=renamed_db"
expect_rc 0 "apply --dry_run --from --map"
python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert [e["seq"] for e in lines] == [100, 101, 102, 103, 104], [e["seq"] for e in lines]
' "$TMP/out" || fail "--from/--until"; ok
[ ! -e "$S/checkpoints/apply.ckpt" ] || fail "a dry run wrote a checkpoint"; ok
run "$DS" apply --spool "$S" --dry_run --map nodot
expect_rc 2 "bad --map"

# bad input: one line, non-zero exit, names the input
run "$DS" inspect dump --spool "$S" --op frobnicate
expect_rc 2 "unknown --op"
expect_err "unknown operation type 'frobnicate'" "--op error names the input"
run "$DS" inspect dump --spool "$S" --from_time yesterday
expect_rc 2 "bad --from_time"
expect_err "from_time.*yesterday" "--from_time error names the input"
run "$DS" inspect segments --spool "$TMP/nope"
expect_rc 2 "missing spool"
expect_err "no spool at" "missing spool message"
run "$DS" inspect explode --spool "$S"
expect_rc 2 "unknown action"
run "$DS" inspect segments --spool "$S" --target mongodb://x
expect_rc 2 "flag of another command"
expect_err "unknown flag --target" "unknown flag message"
[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "error is not one line"; ok

# prune: nothing applied → nothing deleted
run "$DS" prune --spool "$S" --retention 0s
expect_rc 0 "prune without checkpoint"
expect_out "nothing deleted" "prune refuses without a checkpoint"
[ "$(ls "$S"/segments/*.seg | wc -l)" -eq "$nseg" ] || fail "prune deleted segments with no checkpoint"; ok
run "$DS" prune --spool "$S" --retention forever
expect_rc 2 "bad --retention"

# --- corruption: flip one byte inside a batch record of a sealed segment
cp -r "$S" "$TMP/pristine"
seg=$(ls "$S"/segments/*.seg | sed -n 2p)
segname=$(basename "$seg")
size=$(stat -c %s "$seg")
off=$((size / 2))
printf '\xa5' | dd of="$seg" bs=1 seek="$off" conv=notrunc status=none
cmp -s "$seg" "$TMP/pristine/segments/$segname" && fail "byte flip did not change the file"

run "$DS" inspect verify --spool "$S"
expect_rc 1 "verify finds the flipped byte"
# Usually a checksum mismatch; a byte landing in a record header reads as a bad length.
expect_out "PROBLEM: Corruption: $segname: .* at offset [0-9]+" "verify names file and offset"
reported=$(grep -oE "PROBLEM: Corruption: $segname: .* at offset [0-9]+" "$TMP/out" | head -1 | awk '{print $NF}')
[ "$reported" -le "$off" ] || fail "reported offset $reported is after the flipped byte $off"; ok

run "$DS" inspect dump --spool "$S"
expect_rc 4 "dump stops at corruption"
expect_err "Corruption: $segname: .* at offset $reported" "dump error names file and offset"
# Everything before the corrupt record was printed, nothing after it.
last=$(tail -1 "$TMP/out" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["seq"])')
first_bad=$((10#${segname%.seg}))
[ "$last" -lt 6000 ] || fail "dump printed events past the corruption"; ok
[ "$last" -ge $((first_bad - 1)) ] || fail "dump stopped before the corrupt segment ($last < $first_bad)"; ok

# --- wrong magic on a sealed segment
cp "$TMP/pristine/segments/$segname" "$seg"
printf 'XXXX' | dd of="$seg" bs=1 seek=0 conv=notrunc status=none
run "$DS" inspect verify --spool "$S"
expect_rc 1 "verify finds the bad magic"
expect_out "$segname: wrong magic .* at offset 0" "bad magic named with offset 0"
cp "$TMP/pristine/segments/$segname" "$seg"

# --- a segment and a manifest from a newer format version: NotSupported, exit 5, one line
printf '\x02' | dd of="$seg" bs=1 seek=8 conv=notrunc status=none
run "$DS" inspect dump --spool "$S"
expect_rc 5 "dump of a segment from a newer format"
expect_err "^docshift inspect: NotSupported: $segname: written by a newer docshift \(format version 2, this build reads up to 1\); upgrade docshift" "newer segment named"
[ "$(grep -c . "$TMP/err")" -eq 1 ] || fail "newer-format error is not one line: $(cat "$TMP/err")"; ok
run "$DS" inspect verify --spool "$S"
expect_rc 5 "verify of a segment from a newer format says upgrade, not damage"
expect_out "PROBLEM: NotSupported: $segname: written by a newer docshift" "verify lists the newer segment"
cp "$TMP/pristine/segments/$segname" "$seg"
cp "$S/MANIFEST" "$TMP/MANIFEST.keep"
printf '\x07' | dd of="$S/MANIFEST" bs=1 seek=8 conv=notrunc status=none
run "$DS" status --spool "$S"
expect_rc 5 "status on a manifest from a newer format"
expect_err "NotSupported: MANIFEST: written by a newer docshift \(format version 7, this build reads up to 1\); upgrade docshift" "newer manifest named"
cp "$TMP/MANIFEST.keep" "$S/MANIFEST"

# --- torn tail of the open segment is a note, not a problem
open_seg=$(ls "$S"/segments/*.seg | tail -1)
printf '\x10\x00\x00\x00\x00\x00' >>"$open_seg"
run "$DS" inspect verify --spool "$S"
expect_rc 0 "torn tail in the open segment is not corruption"
expect_out "ends in a torn record" "torn tail reported as a note"
run "$DS" inspect segments --spool "$S"
expect_out "open\*" "segments marks the torn open segment"

# --- corrupt manifest
printf '\x00' | dd of="$S/MANIFEST" bs=1 seek=20 conv=notrunc status=none
run "$DS" inspect segments --spool "$S"
expect_rc 4 "corrupt manifest"
expect_err "MANIFEST: .* at offset 12" "manifest corruption named with offset"

echo "inspect_cli_test: $checks checks passed"

#!/usr/bin/env bash
# Every ranged flag of every command (cli/flag_ranges.cc), walked offline: a value just
# below its range, at each end, and just above. A bad value must exit 2 with exactly one
# stderr line naming the flag and the valid range; a good one must get past flag
# checking (any exit but 2: the commands that need a server are pointed at a closed port
# and fail with 3, the others run on a spool from bench/make_spool). The rows below must
# be exactly the flags `docshift CMD --help` lists with a range, so a new ranged flag
# without a row here fails the test.
# Usage: flags_cli_test.sh DOCSHIFT MAKE_SPOOL TMPDIR
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
offline_init flags_cli "$@"
S=$TMP/spool

"$MK" --spool "$S" --events 50 --batch_events 10 --source_id e2e >"$TMP/mk.log" 2>&1 ||
  fail "make_spool: $(tail -3 "$TMP/mk.log")"

DEAD='mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300&connectTimeoutMS=200'
# The rest of a command line that runs the command with every other flag valid.
base() {
  case $1 in
    # --bucket_retention needs --ship_to (a dead endpoint: capture fails on the source first).
    capture) echo "capture --source $DEAD --spool $TMP/cap${2:+ --ship_to s3://flags-cli/x}" ;;
    apply) echo "apply --spool $S --dry_run --stop_when_drained" ;;
    snapshot) echo "snapshot --source $DEAD --target $DEAD --spool $S --progress none" ;;
    verify) echo "verify --source $DEAD --target $DEAD" ;;
    reconcile) echo "reconcile --source $DEAD --target $DEAD" ;;
    cutover) echo "cutover --spool $S --final_verify none --reconcile never --timeout 1s" ;;
    inspect) echo "inspect stats --spool $S" ;;
    prune) echo "prune --spool $S" ;;
    status) echo "status --spool $S" ;;
  esac
}

bucket_flag() { case $1 in bucket_retention*) echo yes ;; esac; }
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=flags AWS_SECRET_ACCESS_KEY=flags AWS_ENDPOINT_URL=http://127.0.0.1:9
unset AWS_ENDPOINT_URL_S3 AWS_PROFILE
# bad CMD FLAG VALUE: exit 2, one stderr line naming --FLAG and what to use.
bad() {
  local cmd=$1 flag=$2 value=$3
  # shellcheck disable=SC2046
  run "$DS" $(base "$cmd" "$(bucket_flag "$flag")") "--$flag=$value"
  [ "$rc" -eq 2 ] || { cat "$TMP/err" >&2; fail "$cmd --$flag=$value: exit $rc, expected 2"; }
  local lines
  lines=$(grep -c . "$TMP/err")
  [ "$lines" -eq 1 ] || { cat "$TMP/err" >&2; fail "$cmd --$flag=$value: $lines stderr lines, expected 1"; }
  grep -qE -- "^docshift $cmd: InvalidArgument: --$flag '.*' .*: (use|give) " "$TMP/err" ||
    { cat "$TMP/err" >&2; fail "$cmd --$flag=$value: the error does not name --$flag and the valid range"; }
  ok
}
# good CMD FLAG VALUE: gets past flag checking (not exit 2).
good() {
  local cmd=$1 flag=$2 value=$3
  # shellcheck disable=SC2046
  if [ "$flag" = watch ]; then
    # --watch prints until a signal: stop it after its first report.
    run timeout -s INT 1 "$DS" $(base "$cmd" "$(bucket_flag "$flag")") "--$flag=$value"
  else
    run "$DS" $(base "$cmd" "$(bucket_flag "$flag")") "--$flag=$value"
  fi
  [ "$rc" -ne 2 ] || { cat "$TMP/err" >&2; fail "$cmd --$flag=$value: exit 2, but the value is in range"; }
  ok
}

now=$(date +%s)
name64=$(printf 'n%.0s' $(seq 64))
# CMD FLAG BELOW MIN MAX ABOVE  (- = no value below the range; a choice: its first and last
# choices, and a value that is none). apply --from must also name
# an event the spool holds (apply/positions.h): its top is the spool's last event, 50.
rows="
capture start_at 0 1 $now $((now + 86400))
capture batch_max_events 0 1 1000000 1000001
capture batch_max_bytes 0 1 67108864 67108865
capture batch_max_time 0ms 1ms 1m 60001ms
capture segment_max_bytes 1023 1024 68719476736 68719476737
capture segment_max_age 99ms 100ms 30d 2592000001ms
capture zstd_level 0 1 22 1000
capture oplog_max_await 99ms 100ms 1h 3600001ms
capture capture_retention -1s 0 3650d 3651d
capture bucket_retention -1s 0 3650d 3651d
capture bucket_retention_interval 99ms 100ms 1d 86400001ms
capture progress_interval 99ms 100ms 1d 86400001ms
capture metrics_port -1 0 65535 65536
capture http_listen - 1 127.0.0.1:65535 127.0.0.1:65536
apply progress_interval 0 100ms 1d 2d
apply metrics_port -1 0 65535 65536
apply http_listen - [::1]:1 65535 0.0.0.0:0
apply lanes 0 1 64 65
apply batch_max_ops 0 1 100000 100001
apply max_update_statements -2 -1 100000 100001
apply from 0 1 50 18446744073709551616
apply until 0 1 9223372036854775807 9223372036854775808
apply checkpoint_interval 9ms 10ms 1h 3600001ms
apply max_ops_per_s -1 0 1000000000 1000000001
apply name - a $name64 ${name64}x
apply slot 3/3 0/1 63/64 0/65
apply cache_max_bytes 1023 1024 1099511627776 1099511627777
apply bucket_poll_interval 9ms 10ms 1m 60001ms
status name - a $name64 ${name64}x
cutover name - a $name64 ${name64}x
snapshot progress_interval 0 100ms 1d 2d
snapshot parallel 0 1 64 65
snapshot docs_per_range 0 1 1000000000 1000000001
snapshot batch_docs 0 1 100000 100001
snapshot max_rcu -1 0 1000000000 1000000001
snapshot max_docs_per_s -1 0 1000000000 1000000001
snapshot max_mb_per_s -1 0 1000000 1000001
verify max_docs_per_s -1 0 1000000000 1000000001
verify max_mb_per_s -1 0 1000000 1000001
reconcile max_docs_per_s -1 0 1000000000 1000000001
reconcile max_mb_per_s -1 0 1000000 1000001
verify parallel 0 1 256 257
verify docs_per_range 0 1 1000000000 1000000001
verify recheck_rounds -1 0 100 101
verify recheck_timeout -1s 0 1d 86400001ms
verify recheck_delay -1s 0 1h 3600001ms
verify max_print -1 0 1000000 1000001
reconcile parallel 0 1 256 257
reconcile docs_per_range 0 1 1000000000 1000000001
reconcile interval -1s 0 30d 31d
cutover parallel 0 1 256 257
cutover max_lag 99ms 100ms 1d 86400001ms
cutover quiet_period 99ms 100ms 1d 86400001ms
cutover timeout 999ms 1s 30d 2592000001ms
inspect from_seq -1 0 9223372036854775807 9223372036854775808
inspect until_seq -1 0 9223372036854775807 18446744073709551616
inspect limit -1 0 9223372036854775807 9223372036854775808
inspect from_time - 2026-11-22T01:00:00Z 1700000000 yesterday
inspect until_time - 2026-11-22T01:00:00Z 1700000000 2026-13-45
prune retention -1s 0 3650d 3651d
capture dynamodb_numbers - decimal double float
snapshot dynamodb_numbers - decimal double DECIMAL
snapshot snapshot_lease 999ms 1s 1h 3600001ms
verify dynamodb_numbers - decimal double exact
reconcile dynamodb_numbers - decimal double none
status watch 99ms 100ms 1d 86400001ms
"

# The rows are exactly the flags the binary reports a range for.
for cmd in capture apply snapshot verify reconcile cutover inspect prune status; do
  "$DS" "$cmd" --help | awk -v c="$cmd" '/^  --/{f=substr($1, 3)} /^      range: /{print c, f}'
done | sort >"$TMP/help_ranged"
awk 'NF{print $1, $2}' <<<"$rows" | sort >"$TMP/rows"
diff "$TMP/help_ranged" "$TMP/rows" >"$TMP/diff" ||
  { cat "$TMP/diff" >&2; fail "the ranged flags in --help (<) and this test's rows (>) differ"; }
ok

while read -r cmd flag below min max above; do
  [ -n "$cmd" ] || continue
  [ "$below" = - ] || bad "$cmd" "$flag" "$below"
  good "$cmd" "$flag" "$min"
  good "$cmd" "$flag" "$max"
  bad "$cmd" "$flag" "$above"
  bad "$cmd" "$flag" "not a value"
done <<<"$rows"

# The choice between the ends of a choice row.
good capture dynamodb_numbers string
good verify dynamodb_numbers string

# Values accepted before this table existed, each now a usage error.
bad apply batch_max_ops -5
bad apply max_update_statements -7
bad capture batch_max_events -1
bad apply name ""
bad apply name ../../x
bad apply name a/b
bad status name ../x
bad apply from yesterday
# The old std::stoull abort (exit 134) on a sequence number past 2^64.
run "$DS" apply --spool "$S" --dry_run --from 18446744073709551616
[ "$rc" -eq 2 ] || fail "apply --from 18446744073709551616: exit $rc, expected 2"; ok
[ ! -e "$TMP/x.ckpt" ] && [ ! -e "$S/../x.ckpt" ] || fail "--name ../../x wrote outside the spool"; ok

# Two flags bounding one range: an empty range is a usage error naming both.
order() {
  [ "$rc" -eq 2 ] && [ "$(grep -c . "$TMP/err")" -eq 1 ] && grep -qE -- "$1 .* is after $2 " "$TMP/err" ||
    { cat "$TMP/err" >&2; fail "$1 after $2: exit $rc, expected 2 and one line naming both"; }
  ok
}
run "$DS" inspect dump --spool "$S" --from_seq 100 --until_seq 50
order --from_seq --until_seq
run "$DS" inspect dump --spool "$S" --from_time 2026-11-22T02:00:00Z --until_time 2026-11-22T01:00:00Z
order --from_time --until_time
run "$DS" apply --spool "$S" --dry_run --from 10 --until 5
[ "$rc" -eq 2 ] && [ "$(grep -c . "$TMP/err")" -eq 1 ] && grep -qE -- "--until 5 is before --from 10" "$TMP/err" ||
  { cat "$TMP/err" >&2; fail "apply --from 10 --until 5: exit $rc, expected 2 and one line naming both"; }
ok
run "$DS" inspect dump --spool "$S" --from_seq 5 --until_seq 5
[ "$rc" -eq 0 ] || fail "inspect dump --from_seq 5 --until_seq 5: exit $rc"; ok

# CLI conventions (issue #14): --flag-name is --flag_name; --flagfile; a misspelled flag
# names the nearest one; --version names the libraries.
run "$DS" apply --spool "$S" --dry_run --stop_when_drained
[ "$rc" -eq 0 ] || fail "apply --dry_run: exit $rc"
cp "$TMP/out" "$TMP/underscored.out"; ok
run "$DS" apply --spool "$S" --dry-run --stop-when-drained
[ "$rc" -eq 0 ] && cmp -s "$TMP/out" "$TMP/underscored.out" ||
  { cat "$TMP/err" >&2; fail "apply --dry-run --stop-when-drained: exit $rc or other output than with underscores"; }
ok
printf '# apply flags\n\n--dry_run\n  --stop-when-drained  \n' >"$TMP/flags.txt"
run "$DS" apply --spool "$S" --flagfile "$TMP/flags.txt"
[ "$rc" -eq 0 ] && cmp -s "$TMP/out" "$TMP/underscored.out" ||
  { cat "$TMP/err" >&2; fail "apply --flagfile: exit $rc or other output than with the flags given"; }
ok
printf -- '--dry_run\nstop_when_drained\n' >"$TMP/badflags.txt"
run "$DS" apply --spool "$S" --flagfile="$TMP/badflags.txt"
[ "$rc" -eq 2 ] && [ "$(grep -c . "$TMP/err")" -eq 1 ] && grep -q "flagfile $TMP/badflags.txt: 'stop_when_drained' is not a flag" "$TMP/err" ||
  { cat "$TMP/err" >&2; fail "a flag file with a line that is not a flag: exit $rc, expected 2 and one line naming it"; }
ok
printf -- '--flagfile=%s\n' "$TMP/self.txt" >"$TMP/self.txt"
run "$DS" apply --spool "$S" --flagfile "$TMP/self.txt"
[ "$rc" -eq 2 ] && grep -q "nest more than" "$TMP/err" ||
  { cat "$TMP/err" >&2; fail "a flag file naming itself: exit $rc, expected 2"; }
ok
run "$DS" apply --spool "$S" --stop_when_drainde
[ "$rc" -eq 2 ] && [ "$(grep -c . "$TMP/err")" -eq 1 ] && grep -q "did you mean --stop_when_drained?" "$TMP/err" ||
  { cat "$TMP/err" >&2; fail "a misspelled flag: exit $rc, expected 2 and the nearest flag named"; }
ok
run "$DS" --version
[ "$rc" -eq 0 ] && grep -q "^docshift " "$TMP/out" && grep -q "libmongoc .*libbson" "$TMP/out" &&
  grep -q "zstd .*protobuf" "$TMP/out" && grep -q "libcurl" "$TMP/out" && grep -q "OpenSSL" "$TMP/out" ||
  { cat "$TMP/out" >&2; fail "docshift --version does not name the libraries"; }
ok

echo "PASS: flags_cli ($checks checks)"

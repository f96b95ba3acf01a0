#!/usr/bin/env bash
# Credentials in connection strings never show: the userinfo password and the values of
# tlsCertificateKeyFilePassword, sslClientCertificateKeyPassword and
# authMechanismProperties (AWS_SESSION_TOKEN), in any letter case, given as --flag URI or
# --flag=URI. Offline: every URI points at a closed port, so each command fails (exit 3,
# or 2 for a URI libmongoc refuses); none of the secrets may appear in stdout, stderr,
# glog's log files (--log_dir, --v=2, libmongoc's own messages included) or anything
# written under the spool, nor in /proc/PID/cmdline of a capture still waiting for its
# server.
# Usage: credentials_cli_test.sh DOCSHIFT MAKE_SPOOL TMPDIR
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
offline_init credentials_cli "$@"
mkdir -p "$TMP/logs"

"$MK" --spool "$TMP/spool" --events 20 --batch_events 10 --source_id e2e >"$TMP/mk.out" 2>&1 ||
  fail "make_spool: $(tail -3 "$TMP/mk.out")"

SECRETS="PwSecret1q TlsSecret2q SslSecret3q TokSecret4q AwsSecret5q"
opts="connectTimeoutMS=200"
U_TLS="mongodb://migrator:PwSecret1q@127.0.0.1:9/?serverSelectionTimeoutMS=300&$opts&tlsCertificateKeyFilePassword=TlsSecret2q"
U_SSL="mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300&$opts&SSLCLIENTCERTIFICATEKEYPASSWORD=SslSecret3q"
U_AWS="mongodb://AKIAEXAMPLE:AwsSecret5q@127.0.0.1:9/?serverSelectionTimeoutMS=300&$opts&authMechanism=MONGODB-AWS&authmechanismproperties=AWS_SESSION_TOKEN:TokSecret4q"
# libmongoc refuses both spellings of the key password at once: its message quotes them.
U_BOTH="mongodb://127.0.0.1:9/?tlsCertificateKeyFilePassword=TlsSecret2q&sslClientCertificateKeyPassword=SslSecret3q"

n=0
# run EXPECTED_RC CMD ARGS...: the command fails as expected, with one stderr line.
run() {
  local want=$1; shift
  n=$((n + 1))
  "$DS" "$@" --log_dir "$TMP/logs" --v=2 >"$TMP/out.$n" 2>"$TMP/err.$n"
  local rc=$?
  [ "$rc" -eq "$want" ] || { cat "$TMP/err.$n" >&2; fail "$1: exit $rc, expected $want"; }
  [ "$(grep -c . "$TMP/err.$n")" -eq 1 ] || { cat "$TMP/err.$n" >&2; fail "$1: not one stderr line"; }
  grep -q '\*\*\*' "$TMP/err.$n" || { cat "$TMP/err.$n" >&2; fail "$1: the error does not show the redacted URI"; }
  ok
}

for u in "$U_TLS" "$U_SSL" "$U_AWS"; do
  run 3 capture --source "$u" --spool "$TMP/cap"
  run 3 capture "--source=$u" --spool "$TMP/cap"
  run 3 apply --spool "$TMP/spool" --target "$u" --stop_when_drained
  run 3 apply --spool "$TMP/spool" "--target=$u" --stop_when_drained
  run 3 verify --source "$u" --target "$u"
  run 3 reconcile "--source=$u" --target "$u"
done
run 2 capture --source "$U_BOTH" --spool "$TMP/cap"
run 2 snapshot --source "$U_BOTH" --target "$U_BOTH" --spool "$TMP/spool"

[ -n "$(ls "$TMP/logs")" ] || fail "--log_dir got no log files; the log check would prove nothing"; ok
for s in $SECRETS; do
  hits=$(grep -rlia -- "$s" "$TMP" || true)
  [ -z "$hits" ] || fail "secret $s appears in: $hits"
  ok
done

# A running capture's command line shows none of them once its flags are parsed.
slow="serverSelectionTimeoutMS=5000"
"$DS" capture --source "${U_TLS/serverSelectionTimeoutMS=300/$slow}" --spool "$TMP/c1" >"$TMP/c1.out" 2>&1 &
c1=$!
"$DS" capture "--source=${U_AWS/serverSelectionTimeoutMS=300/$slow}" --spool "$TMP/c2" >"$TMP/c2.out" 2>&1 &
c2=$!
"$DS" apply --spool "$TMP/spool" --target "${U_SSL/serverSelectionTimeoutMS=300/$slow}" >"$TMP/a1.out" 2>&1 &
a1=$!
pids="$c1 $c2 $a1"
# scrubbed PID: the process is ours (its URI is there) and no secret is left in it.
scrubbed() {
  local cmdline
  cmdline=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *127.0.0.1:9* ]] || return 1
  for s in $SECRETS; do [[ ${cmdline,,} == *${s,,}* ]] && return 1; done
  return 0
}
for p in $c1 $c2 $a1; do
  wait_for 4 scrubbed "$p" || fail "pid $p: a secret stayed in /proc/$p/cmdline: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
  kill -0 "$p" 2>/dev/null || fail "pid $p exited before its command line was checked"
  ok
done
wait $c1 $c2 $a1
pids=""
for s in $SECRETS; do
  hits=$(grep -rlia -- "$s" "$TMP" || true)
  [ -z "$hits" ] || fail "secret $s appears in: $hits"
  ok
done
echo "PASS: credentials_cli ($checks checks)"

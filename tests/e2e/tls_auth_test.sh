#!/usr/bin/env bash
# End-to-end: TLS and authentication (issue #14). Starts FerretDB v1.24 servers of its own
# (cmd/ferretdb, built by scripts/testbed.sh) with a PKI made now by make_pki.sh:
#
#   port T    "scram"   TLS (server certificate by the test CA) + SCRAM users
#                       (--test-enable-new-auth; user dsuser in admin); oplog source
#   port T+1            the same server's plain TCP listener (SCRAM still required)
#   port T+2  "mtls"    TLS requiring a client certificate by the test CA
#                       (--listen-tls-ca-file: FerretDB then sets RequireAndVerifyClientCert)
#   port T+3  "expired" TLS with an expired server certificate
#   port T+4  "othername" TLS with a certificate for db.example.invalid only
#   port T+5            capture's --metrics_port
#
# Checks:
# - a whole migration through TLS URIs: capture (oplog) from "scram" over TLS with
#   SCRAM-SHA-256 and authSource, the source URI (also carrying an AWS_SESSION_TOKEN in
#   authMechanismProperties) from a file:PATH (mode 600); snapshot, apply (URI on its
#   command line), verify, reconcile and cutover to "mtls" with a client certificate
#   whose key is encrypted (tlsCertificateKeyFilePassword), the target URI from env:VAR;
#   status. SAFE TO SWITCH.
# - secrets (the SCRAM password, the key password, the token) in no file under the work directory
#   (logs with --v=2, spool, status files, verify report), no metrics scrape, and no
#   /proc/PID/cmdline of the running capture and apply.
# - wrong CA, expired certificate, hostname mismatch, wrong password, no client
#   certificate, MONGODB-X509 (FerretDB has no `authenticate`): exit 3 with one stderr line
#   naming the endpoint, the password redacted, within 20 s (never a hang); SCRAM-SHA-1
#   works; tlsAllowInvalidHostnames lets the mismatched name through.
# - file:PATH refused when group/other-readable or missing: exit 2, one line, the fix.
# - Amazon DocumentDB's documented URI shape (tls, a CA bundle, replicaSet=rs0,
#   readPreference=secondaryPreferred, retryWrites=false) passes docshift's URI checks.
#
# Usage: tls_auth_test.sh DOCSHIFT. Needs TESTBED_FERRETDB_CLI, TESTBED_TLS_PORT and
# TESTBED_PYTHON (build/testbed.env); unset: exit 77, or 1 under CI.
set -uo pipefail
DS=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
if [ -z "${TESTBED_FERRETDB_CLI:-}" ] || [ -z "${TESTBED_TLS_PORT:-}" ] || [ ! -x "${TESTBED_FERRETDB_CLI:-/}" ]; then
  echo "tls_auth_test: TESTBED_FERRETDB_CLI or TESTBED_TLS_PORT is not set (or not built); run scripts/testbed.sh up and source build/testbed.env"
  [ -n "${CI:-}" ] && exit 1
  exit 77
fi
e2e_init tls_auth SOURCE_OPLOG_URI TARGET_URI "e2etls$$_"
echo "tls_auth_test: prefix $PREFIX, work dir $WORK"
T=$TESTBED_TLS_PORT
PKI=$WORK/pki
"$HERE/make_pki.sh" "$PKI" || fail "make_pki.sh failed: $(tail -5 "$PKI/openssl.log")"
checks=0
ok() { checks=$((checks + 1)); }

# Secrets of this run: none may show anywhere but where they are given.
PW="Scram$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
KEYPW=$(cat "$PKI/client-enc.pass")
# An AWS session token in authMechanismProperties: libmongoc ignores it under SCRAM, so it
# can ride along on the source URI of a real run as the third kind of secret.
TOKEN="Tok$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

srv_pids=""
# On exit: the servers stopped; the keys and the URI file (this run's secrets) removed.
e2e_on_exit() {
  for p in $srv_pids; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$PKI" "$WORK/src.uri"
}

# start_fdb NAME ARGS...: a FerretDB (SQLite) of this test; logs to $WORK/srv-NAME.log.
start_fdb() {
  local name=$1; shift
  mkdir -p "$WORK/srv-$name"
  "$TESTBED_FERRETDB_CLI" --handler=sqlite --sqlite-url="file:$WORK/srv-$name/" \
    --state-dir="$WORK/srv-$name" --debug-addr=- --telemetry=disable --log-level=error \
    "$@" >"$WORK/srv-$name.log" 2>&1 &
  srv_pids="$srv_pids $!"
  last_srv=$!
}
cert() { echo "--listen-tls-cert-file=$PKI/$1.pem --listen-tls-key-file=$PKI/$1.key"; }
# shellcheck disable=SC2046
FERRETDB_SETUP_PASSWORD=$PW start_fdb scram --listen-addr=127.0.0.1:$((T + 1)) \
  --listen-tls=127.0.0.1:$T $(cert server) \
  --test-enable-new-auth --setup-database=admin --setup-username=dsuser
scram_pid=$last_srv
# shellcheck disable=SC2046
start_fdb mtls --listen-addr= --listen-tls=127.0.0.1:$((T + 2)) $(cert server) --listen-tls-ca-file="$PKI/ca.pem"
mtls_pid=$last_srv
# shellcheck disable=SC2046
start_fdb expired --listen-addr= --listen-tls=127.0.0.1:$((T + 3)) $(cert server-expired)
expired_pid=$last_srv
# shellcheck disable=SC2046
start_fdb othername --listen-addr= --listen-tls=127.0.0.1:$((T + 4)) $(cert server-othername)
othername_pid=$last_srv

H="127.0.0.1"
CA="tlsCAFile=$PKI/ca.pem"
SCRAM_URI="mongodb://dsuser:$PW@$H:$T/?directConnection=true&tls=true&$CA&authSource=admin&authMechanism=SCRAM-SHA-256"
MTLS_URI="mongodb://$H:$((T + 2))/?directConnection=true&tls=true&$CA&tlsCertificateKeyFile=$PKI/client-enc.pem&tlsCertificateKeyFilePassword=$KEYPW"
# Readiness: a real round trip through each server's TLS (pymongo), with a deadline.
wait_ready() {  # URI PID
  "$PY" "$TESTBED_READY" wait "$1" --deadline 60 --pid "$2" --ferretdb >>"$WORK/ready.log" 2>&1
}
wait_ready "$SCRAM_URI" "$scram_pid" || fail "the TLS+SCRAM server did not start: $(tail -5 "$WORK/srv-scram.log")"
wait_ready "mongodb://$H:$((T + 2))/?directConnection=true&tls=true&$CA&tlsCertificateKeyFile=$PKI/client.pem" "$mtls_pid" \
  || fail "the client-certificate server did not start: $(tail -5 "$WORK/srv-mtls.log")"
for pp in "$((T + 3)) $expired_pid" "$((T + 4)) $othername_pid"; do
  set -- $pp
  wait_ready "mongodb://$H:$1/?directConnection=true&tls=true&tlsInsecure=true" "$2" || fail "the server on port $1 did not start"
done
"$PY" "$TESTBED_READY" ensure-oplog "$SCRAM_URI" --size 8388608 >>"$WORK/ready.log" 2>&1 || fail "cannot create the oplog"

# ------------------------------------------------------------ refused connections
# refused NAME EXPECTED_RC ENDPOINT CMD...: docshift exits EXPECTED_RC within 20 s with one
# stderr line naming ENDPOINT, no secret in it.
refused() {
  local name=$1 want=$2 endpoint=$3; shift 3
  local t0=$SECONDS rc
  timeout 60 "$DS" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
  rc=$?
  local took=$((SECONDS - t0)) line
  line=$(head -1 "$WORK/$name.err")
  [ "$rc" -eq "$want" ] || fail "$name: exit $rc, want $want: $(cat "$WORK/$name.err")"
  [ "$took" -le 20 ] || fail "$name: took $took s (limit 20 s)"
  [ "$(grep -c . "$WORK/$name.err")" -eq 1 ] || fail "$name: not one stderr line: $(cat "$WORK/$name.err")"
  [[ $line == *"$endpoint"* ]] || fail "$name: the line does not name $endpoint: $line"
  [[ $line == *"$PW"* || $line == *"$KEYPW"* || $line == *"$TOKEN"* ]] && fail "$name: a secret in the message: $line"
  printf '  %-18s exit %d in %2d s: %s\n' "$name" "$rc" "$took" "${line:0:230}"
  ok
}
EMPTY=$WORK/empty-spool
refused wrong_ca 3 "$H:$T" verify --counts_only --include "${PREFIX}*" \
  --source "${SCRAM_URI/ca.pem/other-ca.pem}" --target "$MTLS_URI"
grep -q "certificate verify failed" "$WORK/wrong_ca.err" || fail "wrong_ca: the line does not say the certificate failed"
refused expired 3 "$H:$((T + 3))" capture --source_kind oplog --spool "$EMPTY" \
  --source "mongodb://$H:$((T + 3))/?directConnection=true&tls=true&$CA"
grep -q "expired" "$WORK/expired.err" || fail "expired: the line does not say the certificate expired"
refused wrong_password 3 "$H:$T" capture --source_kind oplog --spool "$EMPTY" \
  --source "${SCRAM_URI/$PW/Wrong$PW}"
grep -q "dsuser:\*\*\*@" "$WORK/wrong_password.err" || fail "wrong_password: the URI is not shown redacted"
grep -qi "authentication failed" "$WORK/wrong_password.err" || fail "wrong_password: the line does not say authentication failed"
refused no_client_cert 3 "$H:$((T + 2))" verify --counts_only --include "${PREFIX}*" \
  --source "$SCRAM_URI" --target "mongodb://$H:$((T + 2))/?directConnection=true&tls=true&$CA"
grep -q "tlsCertificateKeyFile" "$WORK/no_client_cert.err" || fail "no_client_cert: no hint to give a client certificate"
[ ! -e "$EMPTY/MANIFEST" ] || fail "a refused capture created a spool"
# Amazon DocumentDB's documented URI, as given (a CA bundle, replicaSet=rs0,
# secondaryPreferred, retryWrites=false): docshift's URI checks accept it (exit 3, a
# connection failure, not 2). The server then answers as a standalone with no replica-set
# name, so the driver finds no member of rs0 within serverSelectionTimeoutMS (set to 3 s
# here to keep the test short; DocumentDB itself reports setName rs0).
DOCDB_URI="mongodb://dsuser:$PW@$H:$T/?tls=true&tlsCAFile=$PKI/bundle.pem&replicaSet=rs0&readPreference=secondaryPreferred&retryWrites=false&serverSelectionTimeoutMS=3000"
refused documentdb_uri 3 "$H:$T" verify --counts_only --include "${PREFIX}*" --source "$DOCDB_URI" --target "$MTLS_URI"
grep -q "not a valid MongoDB connection string" "$WORK/documentdb_uri.err" && fail "documentdb_uri: refused as invalid"

# file:PATH secrets: refused unless private.
echo "$SCRAM_URI&authMechanismProperties=AWS_SESSION_TOKEN:$TOKEN" >"$WORK/src.uri"
chmod 644 "$WORK/src.uri"
refused file_world_readable 2 "$WORK/src.uri" verify --counts_only --source "file:$WORK/src.uri" --target "$MTLS_URI"
grep -q "chmod 600 $WORK/src.uri" "$WORK/file_world_readable.err" || fail "file_world_readable: no 'chmod 600 PATH' in the message"
refused file_missing 2 "$WORK/nope.uri" capture --spool "$EMPTY" --source "file:$WORK/nope.uri"
chmod 600 "$WORK/src.uri"

# SCRAM-SHA-1 and tlsAllowInvalidHostnames connect (verify of an empty selection: exit 0).
"$DS" verify --counts_only --include "${PREFIX}*" --source "${SCRAM_URI/SCRAM-SHA-256/SCRAM-SHA-1}" \
  --target "mongodb://$H:$((T + 4))/?directConnection=true&tls=true&$CA&tlsAllowInvalidHostnames=true" \
  >"$WORK/sha1.out" 2>&1 || fail "SCRAM-SHA-1 / tlsAllowInvalidHostnames: $(tail -3 "$WORK/sha1.out")"
ok

# ------------------------------------------------------------ a migration over TLS
export TLS_E2E_TARGET=$MTLS_URI
SRCF="file:$WORK/src.uri"
TGTE="env:TLS_E2E_TARGET"
MPORT=$((T + 5))
"$PY" "$ROOT/tests/workload/workload.py" --uri "$SCRAM_URI" --db-prefix "$PREFIX" --dbs 1 --colls 2 \
  --load 300 --duration 0 --seed 31 >"$WORK/load.log" 2>&1 || fail "preload over TLS failed"
mkdir -p "$WORK/logs"
"$DS" capture --source "$SRCF" --source_kind oplog --spool "$SPOOL" --include "${PREFIX}*" \
  --progress_interval 2s --metrics_port "$MPORT" --log_dir "$WORK/logs" --alsologtostderr --v=2 >"$WORK/capture.log" 2>&1 &
cap_pid=$!
wait_for 60 grep -q "capture: ready" "$WORK/capture.log" || fail "capture over TLS+SCRAM did not become ready"
"$DS" snapshot --source "$SRCF" --target "$TGTE" --spool "$SPOOL" --include "${PREFIX}*" --progress none \
  --log_dir "$WORK/logs" >"$WORK/snapshot.log" 2>&1 || fail "snapshot over TLS failed"
"$DS" apply --spool "$SPOOL" --target "$MTLS_URI" --checkpoint_interval 300ms --progress_interval 2s \
  --log_dir "$WORK/logs" --alsologtostderr --v=2 >"$WORK/apply.log" 2>&1 &
app_pid=$!
"$PY" "$ROOT/tests/workload/workload.py" --uri "$SCRAM_URI" --db-prefix "$PREFIX" --dbs 1 --colls 2 \
  --duration 4 --rate 50 --seed 32 >"$WORK/workload.log" 2>&1 || fail "workload over TLS failed"

# While both run: no secret in their command lines or in a metrics scrape.
for p in $cap_pid $app_pid; do
  args=$(tr '\0' ' ' <"/proc/$p/cmdline") || fail "pid $p is gone"
  [[ $args == *"$PW"* || $args == *"$KEYPW"* || $args == *"$TOKEN"* ]] && fail "a secret in /proc/$p/cmdline: $args"
  ok
done
ps -o args= -p "$cap_pid,$app_pid" >"$WORK/ps.txt"
[ "$(grep -c . "$WORK/ps.txt")" -eq 2 ] || fail "ps did not list capture and apply"
"$PY" - "http://127.0.0.1:$MPORT/metrics" >"$WORK/metrics.txt" <<'EOF' || fail "no metrics scrape"
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())
EOF
grep -q docshift_ "$WORK/metrics.txt" || fail "the metrics scrape has no docshift_ metric"
"$DS" status --spool "$SPOOL" --json >"$WORK/status.json" 2>"$WORK/status.err" || fail "status failed: $(cat "$WORK/status.err")"
ok

"$DS" cutover --spool "$SPOOL" --source "$SRCF" --target "$TGTE" --include "${PREFIX}*" \
  --max_lag 5s --quiet_period 3s --timeout 120s >"$WORK/cutover.log" 2>&1
rc=$?
[ $rc -eq 0 ] || fail "cutover over TLS exited $rc: $(tail -5 "$WORK/cutover.log")"
grep -q "^SAFE TO SWITCH" "$WORK/cutover.log" || fail "no SAFE TO SWITCH line"
ok
# cutover and snapshot refused as the others (the spool and its processes are in place).
refused cutover_wrong_password 3 "$H:$T" cutover --spool "$SPOOL" --source "${SCRAM_URI/$PW/Wrong$PW}" \
  --target "$TGTE" --include "${PREFIX}*" --max_lag 5s --quiet_period 1s --timeout 60s
refused snapshot_wrong_ca 3 "$H:$((T + 2))" snapshot --spool "$SPOOL" --include "${PREFIX}*" --progress none \
  --source "$SRCF" --target "${MTLS_URI/ca.pem/other-ca.pem}"
"$DS" verify --source "$SRCF" --target "$TGTE" --include "${PREFIX}*" --report "$WORK/verify.json" \
  >"$WORK/verify.log" 2>&1 || fail "verify over TLS found differences or failed: $(tail -5 "$WORK/verify.log")"
"$DS" reconcile --source "$SRCF" --target "$TGTE" --include "${PREFIX}*" --dry_run \
  >"$WORK/reconcile.log" 2>&1 || fail "reconcile over TLS failed: $(tail -3 "$WORK/reconcile.log")"
ok
docs=$("$PY" - "$MTLS_URI" "$PREFIX" <<'EOF'
import sys
from pymongo import MongoClient
c = MongoClient(sys.argv[1])
print(sum(c[d].command("count", n)["n"] for d in c.list_database_names() if d.startswith(sys.argv[2])
          for n in c[d].list_collection_names()))
EOF
)
[ "${docs:-0}" -ge 300 ] || fail "the target holds ${docs:-0} documents, want >= 300"
echo "  migrated over TLS: $docs documents; capture (file: URI, SCRAM-SHA-256) -> apply (URI on argv, client certificate, encrypted key); cutover, verify, reconcile (env: URI): SAFE TO SWITCH, identical"
ok
stop_within 10 "$cap_pid" "capture"; cap_pid=""
stop_within 10 "$app_pid" "apply"; app_pid=""

# apply (it needs a spool) refused by a target whose name does not match its certificate,
# and by MONGODB-X509 authentication: FerretDB v1.24 has no `authenticate` command (the
# TLS-level client certificate check works, as above; x509 *authentication* does not).
refused othername 3 "$H:$((T + 4))" apply --spool "$SPOOL" --stop_when_drained --name refused \
  --target "mongodb://$H:$((T + 4))/?directConnection=true&tls=true&$CA"
refused x509_mechanism 3 "$H:$((T + 2))" apply --spool "$SPOOL" --stop_when_drained --name refused \
  --target "mongodb://$H:$((T + 2))/?directConnection=true&tls=true&$CA&tlsCertificateKeyFile=$PKI/client.pem&authMechanism=MONGODB-X509"

[ -n "$(ls "$WORK/logs")" ] || fail "--log_dir got no log files; the leak check would prove nothing"
# The search itself finds a secret where one is (the URI file, the PKI's password file).
grep -rqaF -- "$PW" "$WORK/src.uri" && grep -rqaF -- "$TOKEN" "$WORK/src.uri" && grep -rqaF -- "$KEYPW" "$WORK/pki" || fail "the leak search finds nothing even where a secret is"
for s in "$PW" "$KEYPW" "$TOKEN"; do
  hits=$(grep -rlaF --exclude-dir=pki --exclude-dir='srv-*' --exclude=src.uri --exclude='srv-*.log' \
    --exclude=ready.log --exclude=load.log --exclude=workload.log -- "$s" "$WORK" || true)
  [ -z "$hits" ] || fail "a secret appears in: $hits"
  ok
done
echo "  no secret in $(find "$WORK" -type f -not -path '*/pki/*' -not -path '*/srv-*' | wc -l) files (logs --v=2, spool, status, metrics scrape, verify report, stderr), nor in /proc/PID/cmdline of capture and apply"
echo "PASS: tls_auth ($checks checks)"

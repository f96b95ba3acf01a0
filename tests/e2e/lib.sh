# Shared by the end-to-end scripts (sourced). Needs PY (the test bed's python).

# wait_for SECONDS CMD...: polls CMD every 0.2 s until it succeeds (a readiness check,
# not a fixed sleep); fails after SECONDS.
wait_for() {
  local secs=$1; shift
  local deadline=$((SECONDS + secs))
  until "$@"; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.2
  done
}

# stop_within SECONDS PID WHAT: SIGINTs PID and waits for it; fails (fail) unless it exits
# 0 within SECONDS. Leaves the time it took in stopped_in. WHAT names it in messages
# ("capture during a stall").
stop_within() {
  local secs=$1 pid=$2 what=$3 t rc
  t=$SECONDS
  kill -INT "$pid"; wait "$pid"; rc=$?
  stopped_in=$((SECONDS - t))
  [ "$rc" -eq 0 ] || fail "$what exited $rc on SIGINT"
  [ "$stopped_in" -le "$secs" ] || fail "$what took $stopped_in s to stop (limit $secs s)"
}

# drop_prefix PREFIX URI...: drops every database whose name starts with PREFIX.
drop_prefix() {
  "$PY" - "$@" <<'EOF'
import sys
from pymongo import MongoClient
prefix = sys.argv[1]
for uri in sys.argv[2:]:
    c = MongoClient(uri, serverSelectionTimeoutMS=5000)
    for d in c.list_database_names():
        if d.startswith(prefix): c.drop_database(d)
EOF
}

# e2e_need_s3 NAME: the bucket tests' start: S3_URL (gofakes3, build/testbed.env) is
# required (unset: prints why and exits 77, or 1 under CI), and docshift gets the test
# bed's endpoint, dummy credentials and region the AWS way (AWS_ENDPOINT_URL_S3, ...).
e2e_need_s3() {
  if [ -z "${S3_URL:-}" ]; then
    echo "${1}_test: S3_URL is not set; run scripts/testbed.sh up and source build/testbed.env"
    [ -n "${CI:-}" ] && exit 1
    exit 77
  fi
  export AWS_ENDPOINT_URL_S3=$S3_URL AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
}

# e2e_init NAME SRC_VAR TGT_VAR [PREFIX]: the start every test-bed script shares.
# - SRC and TGT come from the named variables, PY from TESTBED_PYTHON (build/testbed.env);
#   unset: prints why and exits 77 (ctest: skipped), or 1 under CI, where the test bed
#   must be up.
# - ROOT is the checkout; WORK=build/e2e-tmp/NAME_PID is fresh; SPOOL=$WORK/spool;
#   PREFIX (default e2eNAMEPID_) names every database the test creates.
# - On exit, SIGKILLs the processes in cap_pid, app_pid, wl_pid, bw_pid, snap_pid, runs
#   e2e_on_exit if the script defines one, and drops PREFIX's databases on both servers.
# - fail MSG: prints FAIL[NAME]: MSG and the tail of every $WORK/*.log, exits 1.
e2e_init() {
  E2E_NAME=$1
  SRC=${!2:-}
  TGT=${!3:-}
  if [ -z "$SRC" ] || [ -z "$TGT" ] || [ -z "${TESTBED_PYTHON:-}" ]; then
    echo "${E2E_NAME}_test: $2, $3 or TESTBED_PYTHON is not set; run scripts/testbed.sh up and source build/testbed.env"
    [ -n "${CI:-}" ] && exit 1
    exit 77
  fi
  ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  PY=$TESTBED_PYTHON
  WORK=$ROOT/build/e2e-tmp/${E2E_NAME}_$$
  SPOOL=$WORK/spool
  PREFIX=${4:-e2e${E2E_NAME}$$_}
  rm -rf "$WORK"
  mkdir -p "$WORK"
  cap_pid="" app_pid="" wl_pid="" bw_pid="" snap_pid=""
  trap e2e_cleanup EXIT
}
e2e_cleanup() {
  for p in $cap_pid $app_pid $wl_pid $bw_pid $snap_pid; do kill -9 "$p" 2>/dev/null; done
  declare -F e2e_on_exit >/dev/null && e2e_on_exit
  drop_prefix "$PREFIX" "$SRC" "$TGT" 2>/dev/null
}
fail() {
  echo "FAIL[$E2E_NAME]: $*" >&2
  for f in "$WORK"/*.log; do
    [ -f "$f" ] && { echo "--- tail of $f" >&2; tail -"${E2E_TAIL_LINES:-8}" "$f" >&2; }
  done
  exit 1
}

# offline_init NAME DOCSHIFT MAKE_SPOOL TMPDIR: the start the offline scripts (no server)
# share: DS and MK (bench/make_spool); TMP=TMPDIR/NAME.PID, fresh, removed on exit after
# the processes in $pids are SIGKILLed; checks=0; fail MSG exits 1; ok counts a check;
# run CMD... leaves stdout in $TMP/out, stderr in $TMP/err and the exit code in rc.
offline_init() {
  DS=$2
  MK=$3
  TMP=$4/$1.$$
  rm -rf "$TMP"
  mkdir -p "$TMP"
  checks=0
  pids=""
  trap 'for p in $pids; do kill -9 "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT
  fail() { echo "FAIL: $*" >&2; exit 1; }
  ok() { checks=$((checks + 1)); }
  run() {
    "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
  }
}

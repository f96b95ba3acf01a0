#!/usr/bin/env bash
# Test bed: real MongoDB-API, DynamoDB-API and S3-API servers on loopback for docshift's tests.
#
#   scripts/testbed.sh up       install, build (cached), start, wait for readiness,
#                               write build/testbed.env
#   scripts/testbed.sh down     stop everything this script started
#   scripts/testbed.sh status   show each server; exit 0 only if all are ready
#   scripts/testbed.sh reset    down, wipe all server data, up (empty servers)
#
# Servers (ports overridable by env; see tests/README.md):
#   SOURCE_OPLOG_URI  FerretDB v1.24 / SQLite with a capped local.oplog.rs  TESTBED_OPLOG_PORT     27101
#   TARGET_URI        FerretDB v1.24 / SQLite                               TESTBED_TARGET_PORT    27102
#   TARGET_PG_URI     FerretDB v1.24 / PostgreSQL 15                        TESTBED_PG_TARGET_PORT 27103
#   SOURCE_CS_URI     mongo-java-server 1.47.0, oplog on (change streams)   TESTBED_JAVA_PORT      27104
#   (PostgreSQL 15 private cluster for TARGET_PG_URI)                       TESTBED_PG_PORT        5433
#   DYNAMODB_URL      moto 5.2.5, server mode (DynamoDB + Streams)          TESTBED_MOTO_PORT      27105
#   MINISTACK_URL     ministack 1.5.33 (DynamoDB + Streams)                 TESTBED_MINISTACK_PORT 27106
#   S3_URL            gofakes3 v1.2.0, in memory, buckets made on first use TESTBED_S3_PORT        27107
#
# DynamoDB: moto is the main DynamoDB source (parallel Scan with Segment/TotalSegments,
# Streams with all view types; one shard that never splits or closes, iterators never
# expire, no trimming, no-op writes make MODIFY records, numbers come back as written).
# ministack covers what moto lacks: iterator expiry (15 min), 24 h trimming, a shard
# closed when the stream is disabled and a new stream ARN when re-enabled, no record for
# no-op writes, normalized numbers. moto lives in build/venv (with boto3 for the
# workload); ministack pins its own botocore, so it has build/venv-ministack.
#
# S3: gofakes3 (Go module, embedded in tests/testbed/gofakes3/main.go like FerretDB) is
# the S3 server: conditional writes (If-None-Match: *, If-Match) with one winner under
# a race, Content-MD5 checked, ListObjectsV2 with continuation tokens and start-after.
# It checks no signature and ignores x-amz-checksum-* (see tests/README.md).
#
# TLS and SCRAM: FerretDB's own command (cmd/ferretdb v1.24.0) is built too, as
# build/testbed/bin/ferretdb-cli (TESTBED_FERRETDB_CLI), but not started: e2e.tls_auth
# starts servers of its own on TESTBED_TLS_PORT (27140) and the 5 ports after it.
#
# Everything it writes (binaries, jar, venv, data, logs, pid files) is under build/.
# A failed `up` prints the failing server's log tail, stops everything and exits 1.
set -euo pipefail
umask 022

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build
TB=$BUILD/testbed
BIN=$TB/bin
RUN=$TB/run
LOG=$TB/log
DATA=$TB/data
VENV=$BUILD/venv
VENV_MS=$BUILD/venv-ministack
ENV_FILE=$BUILD/testbed.env
SRC=$ROOT/tests/testbed

HOST=127.0.0.1
OPLOG_PORT=${TESTBED_OPLOG_PORT:-27101}
TARGET_PORT=${TESTBED_TARGET_PORT:-27102}
PG_TARGET_PORT=${TESTBED_PG_TARGET_PORT:-27103}
JAVA_PORT=${TESTBED_JAVA_PORT:-27104}
MOTO_PORT=${TESTBED_MOTO_PORT:-27105}
MINISTACK_PORT=${TESTBED_MINISTACK_PORT:-27106}
S3_PORT=${TESTBED_S3_PORT:-27107}
PG_PORT=${TESTBED_PG_PORT:-5433}
TLS_PORT=${TESTBED_TLS_PORT:-27140}           # e2e.tls_auth's servers: this port and the next 5
READY_DEADLINE=${TESTBED_READY_DEADLINE:-60}   # seconds per server
STOP_DEADLINE=${TESTBED_STOP_DEADLINE:-15}     # seconds before SIGKILL
OPLOG_SIZE=${TESTBED_OPLOG_SIZE:-8388608}      # bytes, capped local.oplog.rs (see tests/README.md)
OPLOG_TRIM=${TESTBED_OPLOG_TRIM_INTERVAL:-5s}  # how often fdb-oplog trims it back under the cap
JAVA_OPTS=${TESTBED_JAVA_OPTS:--Xmx1g}
MAVEN_REPO=${TESTBED_MAVEN_REPO:-}             # empty: Maven's default (~/.m2)
# SQLite without fsync on commit: ~2.5x faster inserts; a killed server loses nothing
# (the OS keeps the writes), only a machine crash could. Test data is disposable.
SQLITE_OPTS="-sqlite-params _pragma=synchronous(off)"

PG_BIN=/usr/lib/postgresql/15/bin
PG_DATA=$DATA/pg
FDB_BIN=$BIN/ferretdb-testbed
FDB_CLI=$BIN/ferretdb-cli
GF_BIN=$BIN/gofakes3-testbed
JAVA_JAR=$TB/javaserver/javaserver-1.jar
PY=$VENV/bin/python
READY=$SRC/mongo_ready.py
DY_READY=$SRC/dynamodb_ready.py
S3_READY=$SRC/s3_ready.py
PY_MS=$VENV_MS/bin/python

# name -> port, for the four wire-protocol servers, the two DynamoDB-API servers and
# the S3-API server.
SERVERS=(fdb-oplog fdb-target fdb-pg java-cs moto ministack gofakes3)
declare -A PORT=([fdb-oplog]=$OPLOG_PORT [fdb-target]=$TARGET_PORT
                 [fdb-pg]=$PG_TARGET_PORT [java-cs]=$JAVA_PORT
                 [moto]=$MOTO_PORT [ministack]=$MINISTACK_PORT [gofakes3]=$S3_PORT)

# Messages go to stderr and, once build/testbed/log exists, to its testbed.log.
say() {
  echo "testbed: $*" >&2
  [[ -d $LOG ]] && echo "$(date -u +%FT%TZ) $*" >>"$LOG/testbed.log"
  return 0
}
die() { say "ERROR: $*"; exit 1; }

uri() { echo "mongodb://$HOST:$1/?directConnection=true"; }
http_url() { echo "http://$HOST:$1"; }
is_dynamodb() { [[ $1 == moto || $1 == ministack ]]; }
is_s3() { [[ $1 == gofakes3 ]]; }
# The address of server $1: a MongoDB URI, or the HTTP endpoint of a DynamoDB-API or
# S3-API server.
server_url() {
  if is_dynamodb "$1" || is_s3 "$1"; then http_url "${PORT[$1]}"; else uri "${PORT[$1]}"; fi
}
pg_url() { echo "postgres://postgres@$HOST:$PG_PORT/ferretdb"; }

# Prints the last lines of a log file, framed, to stderr.
tail_log() {
  local f=$1
  [[ -f $f ]] || { say "(no log at $f)"; return 0; }
  say "---- last 40 lines of $f ----"
  tail -n 40 "$f" >&2 || true
  say "---- end of $f ----"
}

# sha256 over the named files' contents plus extra strings (tool versions, flags).
stamp_of() {
  local files=() extra=()
  while (($#)); do
    if [[ $1 == -- ]]; then shift; extra=("$@"); break; fi
    files+=("$1"); shift
  done
  { for f in "${files[@]}"; do echo "== $f"; cat "$f"; done
    printf '%s\n' "${extra[@]}"; } | sha256sum | cut -d' ' -f1
}

# ---------------------------------------------------------------- installs

apt_ensure() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  say "apt-get install ${missing[*]}"
  local aptlog=$LOG/apt.log
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${missing[@]}" >"$aptlog" 2>&1; then
    # Stale or missing package lists: refresh once and retry.
    DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$aptlog" 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      "${missing[@]}" >>"$aptlog" 2>&1 || { tail_log "$aptlog"; die "apt-get install failed"; }
  fi
}

ensure_tools() {
  local pkgs=(postgresql-15)
  command -v javac >/dev/null || pkgs+=(openjdk-17-jdk-headless)
  command -v mvn >/dev/null || pkgs+=(maven)
  command -v runuser >/dev/null || pkgs+=(util-linux)
  command -v flock >/dev/null || pkgs+=(util-linux)
  command -v faketime >/dev/null || pkgs+=(faketime)  # e2e.clock_skew
  python3 -c 'import ensurepip, venv' 2>/dev/null || pkgs+=(python3-venv)
  apt_ensure "${pkgs[@]}"
  [[ -x $PG_BIN/initdb ]] || die "postgresql-15 installed but $PG_BIN/initdb missing"
  command -v go >/dev/null || die "go (>= 1.24) not on PATH; FerretDB v1.24 and gofakes3 v1.2.0 need it"
  local gov
  gov=$(go env GOVERSION)            # e.g. go1.26.8
  gov=${gov#go}
  local major=${gov%%.*} rest=${gov#*.}
  local minor=${rest%%.*}
  # FerretDB v1.24 needs 1.22, gofakes3 v1.2.0 (its go.mod) 1.24.
  ((major > 1 || (major == 1 && minor >= 24))) || die "go $gov too old; need >= 1.24"
}

ensure_venv() {
  local req=$ROOT/tests/workload/requirements.txt st
  st=$(stamp_of "$req" -- "$(python3 --version 2>&1)" "$(command -v python3)")
  if [[ -x $PY && -f $VENV/.testbed-stamp && $(<"$VENV/.testbed-stamp") == "$st" ]]; then
    return 0
  fi
  say "creating venv $VENV ($(python3 --version 2>&1))"
  rm -rf "$VENV"
  python3 -m venv "$VENV" >"$LOG/venv.log" 2>&1 || { tail_log "$LOG/venv.log"; die "venv failed"; }
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$req" >>"$LOG/venv.log" 2>&1 \
    || { tail_log "$LOG/venv.log"; die "pip install failed"; }
  echo "$st" >"$VENV/.testbed-stamp"
}

# ministack 1.5.33 pins botocore 1.43.106, moto's boto3 needs 1.44.x: a venv of its own.
ensure_ministack_venv() {
  local req=$SRC/ministack/requirements.txt st
  st=$(stamp_of "$req" -- "$(python3 --version 2>&1)" "$(command -v python3)")
  if [[ -x $PY_MS && -f $VENV_MS/.testbed-stamp && $(<"$VENV_MS/.testbed-stamp") == "$st" ]]; then
    return 0
  fi
  say "creating venv $VENV_MS (ministack)"
  rm -rf "$VENV_MS"
  python3 -m venv "$VENV_MS" >"$LOG/venv-ministack.log" 2>&1 \
    || { tail_log "$LOG/venv-ministack.log"; die "ministack venv failed"; }
  "$VENV_MS/bin/pip" install -q --disable-pip-version-check -r "$req" \
    >>"$LOG/venv-ministack.log" 2>&1 \
    || { tail_log "$LOG/venv-ministack.log"; die "pip install (ministack) failed"; }
  echo "$st" >"$VENV_MS/.testbed-stamp"
}

# ---------------------------------------------------------------- builds

ferretdb_stamp() {
  stamp_of "$SRC/ferretdb/go.mod" "$SRC/ferretdb/go.sum" "$SRC/ferretdb/main.go" \
    -- "$(go env GOVERSION)" "flags:-trimpath"
}

build_ferretdb() {
  local st; st=$(ferretdb_stamp)
  if [[ -x $FDB_BIN && -f $FDB_BIN.stamp && $(<"$FDB_BIN.stamp") == "$st" ]]; then
    return 0
  fi
  say "building FerretDB v1.24 launcher (go build -trimpath)"
  local t0=$SECONDS
  (cd "$SRC/ferretdb" &&
    GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-} -trimpath -mod=readonly" \
      go build -o "$FDB_BIN.tmp" .) >"$LOG/build-ferretdb.log" 2>&1 \
    || { tail_log "$LOG/build-ferretdb.log"; return 1; }
  mv -f "$FDB_BIN.tmp" "$FDB_BIN"
  echo "$st" >"$FDB_BIN.stamp"
  say "built $FDB_BIN in $((SECONDS - t0))s"
}

gofakes3_stamp() {
  stamp_of "$SRC/gofakes3/go.mod" "$SRC/gofakes3/go.sum" "$SRC/gofakes3/main.go" \
    -- "$(go env GOVERSION)" "flags:-trimpath"
}

build_gofakes3() {
  local st; st=$(gofakes3_stamp)
  if [[ -x $GF_BIN && -f $GF_BIN.stamp && $(<"$GF_BIN.stamp") == "$st" ]]; then
    return 0
  fi
  say "building gofakes3 v1.2.0 launcher (go build -trimpath)"
  local t0=$SECONDS
  (cd "$SRC/gofakes3" &&
    GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-} -trimpath -mod=readonly" \
      go build -o "$GF_BIN.tmp" .) >"$LOG/build-gofakes3.log" 2>&1 \
    || { tail_log "$LOG/build-gofakes3.log"; return 1; }
  mv -f "$GF_BIN.tmp" "$GF_BIN"
  echo "$st" >"$GF_BIN.stamp"
  say "built $GF_BIN in $((SECONDS - t0))s"
}

javaserver_stamp() {
  local files
  mapfile -t files < <(find "$SRC/javaserver/src" -type f | LC_ALL=C sort)
  stamp_of "$SRC/javaserver/pom.xml" "${files[@]}" \
    -- "$(java -version 2>&1 | head -n1)" "$(mvn -v 2>/dev/null | head -n1)"
}

build_javaserver() {
  local st; st=$(javaserver_stamp)
  if [[ -f $JAVA_JAR && -f $JAVA_JAR.stamp && $(<"$JAVA_JAR.stamp") == "$st" ]]; then
    return 0
  fi
  say "building mongo-java-server 1.47.0 launcher (mvn package)"
  local t0=$SECONDS args=(-B -q -Dstyle.color=never "-Djavaserver.build.dir=$TB/javaserver")
  [[ -n $MAVEN_REPO ]] && args+=("-Dmaven.repo.local=$MAVEN_REPO")
  rm -f "$JAVA_JAR.stamp"
  (cd "$SRC/javaserver" && mvn "${args[@]}" package) >"$LOG/build-javaserver.log" 2>&1 \
    || { tail_log "$LOG/build-javaserver.log"; return 1; }
  [[ -f $JAVA_JAR ]] || { tail_log "$LOG/build-javaserver.log"; return 1; }
  echo "$st" >"$JAVA_JAR.stamp"
  say "built $JAVA_JAR in $((SECONDS - t0))s"
}

# FerretDB's own command (cmd/ferretdb v1.24.0), for tests that start servers of their own
# with what the embedded package lacks: SCRAM users (--test-enable-new-auth, --setup-*),
# TLS with required client certificates (--listen-tls-ca-file), --repl-set-name
# (e2e.tls_auth). Not started by `up`. Built from a copy of the module's source with
# build/version/version.txt written: the command panics without it when it is the main
# module, and the module cache is read-only (and `-overlay` refuses files in it).
ferretdb_cli_stamp() {
  stamp_of "$SRC/ferretdb/go.mod" "$SRC/ferretdb/go.sum" \
    -- "$(go env GOVERSION)" "flags:-trimpath -buildvcs=false" "cli:v1.24.0"
}

build_ferretdb_cli() {
  local st; st=$(ferretdb_cli_stamp)
  if [[ -x $FDB_CLI && -f $FDB_CLI.stamp && $(<"$FDB_CLI.stamp") == "$st" ]]; then
    return 0
  fi
  say "building FerretDB v1.24 cmd/ferretdb (TLS and SCRAM servers for e2e.tls_auth)"
  local t0=$SECONDS mod copy=$TB/src/ferretdb-v1.24.0
  mod=$(cd "$SRC/ferretdb" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly \
          go list -m -f '{{.Dir}}' github.com/FerretDB/FerretDB) || return 1
  [[ -d $mod ]] || { say "FerretDB module source not found ($mod)"; return 1; }
  rm -rf "$copy"
  mkdir -p "$(dirname "$copy")"
  cp -r "$mod" "$copy" && chmod -R u+w "$copy"
  echo v1.24.0 >"$copy/build/version/version.txt"
  (cd "$copy" &&
    GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-} -trimpath -mod=readonly -buildvcs=false" \
      go build -o "$FDB_CLI.tmp" ./cmd/ferretdb) >"$LOG/build-ferretdb-cli.log" 2>&1 \
    || { tail_log "$LOG/build-ferretdb-cli.log"; return 1; }
  mv -f "$FDB_CLI.tmp" "$FDB_CLI"
  echo "$st" >"$FDB_CLI.stamp"
  say "built $FDB_CLI in $((SECONDS - t0))s"
}

# The Go builds (one after the other: they share Go's caches) in parallel with Maven: on
# a cold machine both are mostly download-bound.
build_all() {
  local pf pj
  { build_ferretdb && build_gofakes3 && build_ferretdb_cli; } & pf=$!
  build_javaserver & pj=$!
  local rc=0
  wait "$pf" || { say "FerretDB or gofakes3 build failed"; rc=1; }
  wait "$pj" || { say "javaserver build failed"; rc=1; }
  return "$rc"
}

# ---------------------------------------------------------------- processes

# True if $1 is a live (non-zombie) process.
pid_alive() {
  local pid=$1 state
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ $state != Z ]]
}

# Prints the pid recorded for server $1 if that process is alive and still runs the
# command we recorded (guards against pid reuse); prints nothing otherwise.
server_pid() {
  local name=$1 pid cmd
  [[ -f $RUN/$name.pid && -f $RUN/$name.cmd ]] || return 0
  pid=$(<"$RUN/$name.pid")
  pid_alive "$pid" || return 0
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 0
  [[ "$cmd" == "$(<"$RUN/$name.cmd") " ]] && echo "$pid"
  return 0
}

# Sends SIGTERM, waits up to STOP_DEADLINE, then SIGKILL and waits again.
stop_pid() {
  local name=$1 pid=$2 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_DEADLINE * 10; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  say "$name (pid $pid) ignored SIGTERM for ${STOP_DEADLINE}s; SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  say "$name (pid $pid) still alive after SIGKILL"
  return 1
}

stop_server() {
  local name=$1 pid
  pid=$(server_pid "$name")
  if [[ -n $pid ]]; then
    say "stopping $name (pid $pid)"
    stop_pid "$name" "$pid" || return 1
  fi
  rm -f "$RUN/$name.pid" "$RUN/$name.cmd" "$RUN/$name.env" "$RUN/$name.stamp"
}

# Command line of server $1.
server_cmd() {
  case $1 in
    fdb-oplog)  echo "$FDB_BIN -listen-addr $HOST:$OPLOG_PORT -handler sqlite -sqlite-dir $DATA/fdb-oplog $SQLITE_OPTS -oplog-trim-interval $OPLOG_TRIM" ;;
    fdb-target) echo "$FDB_BIN -listen-addr $HOST:$TARGET_PORT -handler sqlite -sqlite-dir $DATA/fdb-target $SQLITE_OPTS" ;;
    fdb-pg)     echo "$FDB_BIN -listen-addr $HOST:$PG_TARGET_PORT -handler postgresql -postgresql-url $(pg_url)" ;;
    java-cs)    echo "java $JAVA_OPTS -jar $JAVA_JAR --host $HOST --port $JAVA_PORT" ;;
    # `python -m`, not the console script: /proc/PID/cmdline must equal the recorded
    # command, and a script's shebang would put the interpreter in front of it.
    moto)       echo "$PY -m moto.server -H $HOST -p $MOTO_PORT" ;;
    # ministack takes no flags: address from the environment (server_env); it binds
    # 0.0.0.0 unless BIND_HOST is set.
    ministack)  echo "$PY_MS -m ministack" ;;
    gofakes3)   echo "$GF_BIN -listen-addr $HOST:$S3_PORT" ;;
  esac
}

# Environment assignments for server $1 (recorded beside the command line; a change
# restarts the server). ministack writes its pid file under TMPDIR: keep it in build/.
server_env() {
  case $1 in
    ministack) echo "BIND_HOST=$HOST GATEWAY_PORT=$MINISTACK_PORT TMPDIR=$DATA/ministack PERSIST_STATE=0" ;;
    *)         echo "" ;;
  esac
}

server_build_stamp() {
  case $1 in
    java-cs)   cat "$JAVA_JAR.stamp" ;;
    moto)      cat "$VENV/.testbed-stamp" ;;
    ministack) cat "$VENV_MS/.testbed-stamp" ;;
    gofakes3)  cat "$GF_BIN.stamp" ;;
    *)         cat "$FDB_BIN.stamp" ;;
  esac
}

# One readiness attempt (2 s) against server $1.
server_ping() {
  if is_dynamodb "$1"; then
    "$PY" "$DY_READY" ping "$(server_url "$1")" 2>/dev/null
  elif is_s3 "$1"; then
    "$PY" "$S3_READY" ping "$(server_url "$1")" 2>/dev/null
  else
    "$PY" "$READY" ping "$(server_url "$1")" 2>/dev/null
  fi
}

# Polls server $1 (pid $2) until ready, READY_DEADLINE at most.
server_wait() {
  local name=$1 pid=$2
  case $name in
    moto|ministack)
      "$PY" "$DY_READY" wait "$(server_url "$name")" --deadline "$READY_DEADLINE" --pid "$pid" ;;
    gofakes3)
      "$PY" "$S3_READY" wait "$(server_url "$name")" --deadline "$READY_DEADLINE" --pid "$pid" ;;
    java-cs)
      "$PY" "$READY" wait "$(server_url "$name")" --deadline "$READY_DEADLINE" --pid "$pid" ;;
    *)
      "$PY" "$READY" wait "$(server_url "$name")" --deadline "$READY_DEADLINE" --pid "$pid" \
        --ferretdb ;;
  esac
}

# Starts server $1 unless an identical one (same command, same build) already runs and
# answers; then waits for readiness. On death or deadline: log tail, return 1.
start_server() {
  local name=$1 cmd env stamp pid
  cmd=$(server_cmd "$name")
  env=$(server_env "$name")
  stamp=$(server_build_stamp "$name")
  pid=$(server_pid "$name")
  if [[ -n $pid ]]; then
    if [[ -f $RUN/$name.stamp && $(<"$RUN/$name.stamp") == "$stamp" &&
          $(<"$RUN/$name.cmd") == "$cmd" &&
          $(cat "$RUN/$name.env" 2>/dev/null) == "$env" ]] &&
       server_ping "$name"; then
      say "$name already running (pid $pid), reused"
      return 0
    fi
    say "$name (pid $pid) is stale or not answering; restarting"
  fi
  stop_server "$name" || return 1

  local log=$LOG/$name.log
  echo "==== $(date -u +%FT%TZ) start: ${env:+$env }$cmd" >>"$log"
  rm -f "$RUN/$name.pid"
  [[ $name == ministack ]] && mkdir -p "$DATA/ministack"
  # The inner shell records its own pid, then execs the server in place, so the pid
  # file names the server even if setsid had to fork. setsid: survive the caller's
  # process group (CI job control, terminals). fd 9 (the lock) is not inherited. `env`
  # sets the server's variables and execs the shell in place (same pid).
  # shellcheck disable=SC2086,SC2016  # cmd/env split on purpose (no paths with spaces); $$ is for the inner shell
  setsid env $env bash -c 'echo $$ >"$0"; exec "$@"' "$RUN/$name.pid" $cmd </dev/null >>"$log" 2>&1 9>&- &
  local i
  for ((i = 0; i < 100; i++)); do [[ -s $RUN/$name.pid ]] && break; sleep 0.05; done
  [[ -s $RUN/$name.pid ]] || { tail_log "$log"; say "$name: no pid file"; return 1; }
  pid=$(<"$RUN/$name.pid")
  echo "$cmd" >"$RUN/$name.cmd"
  echo "$env" >"$RUN/$name.env"
  if ! server_wait "$name" "$pid"; then
    tail_log "$log"
    say "$name failed to become ready (pid $pid, port ${PORT[$name]})"
    return 1
  fi
  echo "$stamp" >"$RUN/$name.stamp"
  say "$name ready on $(server_url "$name") (pid $pid)"
}

# ---------------------------------------------------------------- postgres

# fd 9 (the lock) is closed so the postmaster does not inherit it.
pg() { runuser -u postgres -- "$PG_BIN/$1" "${@:2}" 9>&-; }

pg_running() { [[ -f $PG_DATA/PG_VERSION ]] && pg pg_ctl -D "$PG_DATA" status >/dev/null 2>&1; }

pg_start() {
  local log=$LOG/postgres.log
  # The postgres user must be able to traverse down to its data dir and log.
  chmod a+x "$BUILD" "$TB" "$DATA" "$LOG"
  if [[ ! -f $PG_DATA/PG_VERSION ]]; then
    say "initdb $PG_DATA"
    rm -rf "$PG_DATA"
    mkdir -p "$PG_DATA"
    chown postgres:postgres "$PG_DATA"
    chmod 700 "$PG_DATA"
    pg initdb -D "$PG_DATA" -U postgres --auth=trust --no-locale -E UTF8 \
      >"$LOG/postgres-initdb.log" 2>&1 || { tail_log "$LOG/postgres-initdb.log"; return 1; }
    # Loopback TCP only; no Unix socket (nothing to clean up in /var/run). Durability
    # off: this is a disposable test cluster and tests should be fast.
    cat >>"$PG_DATA/postgresql.conf" <<'EOF'

# --- docshift test bed (scripts/testbed.sh) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  fi
  touch "$log" && chown postgres:postgres "$log"
  if pg_running; then
    if pg pg_isready -q -h "$HOST" -p "$PG_PORT"; then
      say "postgres already running on $HOST:$PG_PORT, reused"
    else
      say "postgres running but not on $HOST:$PG_PORT; restarting"
      pg_stop || return 1
    fi
  fi
  if ! pg_running; then
    # pg_ctl -w polls the server itself (bounded by -t), not a sleep.
    pg pg_ctl -D "$PG_DATA" -l "$log" -o "-p $PG_PORT" -w -t "$READY_DEADLINE" start \
      >>"$LOG/pg_ctl.log" 2>&1 || { tail_log "$log"; say "postgres failed to start"; return 1; }
  fi
  local i
  for ((i = 0; i < READY_DEADLINE * 5; i++)); do
    pg pg_isready -q -h "$HOST" -p "$PG_PORT" && break
    sleep 0.2
  done
  pg pg_isready -q -h "$HOST" -p "$PG_PORT" || { tail_log "$log"; say "postgres not ready"; return 1; }
  if [[ $(pg psql -h "$HOST" -p "$PG_PORT" -U postgres -tAc \
          "SELECT 1 FROM pg_database WHERE datname = 'ferretdb'") != 1 ]]; then
    pg createdb -h "$HOST" -p "$PG_PORT" -U postgres ferretdb || return 1
  fi
  say "postgres ready on $HOST:$PG_PORT"
}

pg_stop() {
  [[ -f $PG_DATA/PG_VERSION ]] || return 0
  pg_running || return 0
  say "stopping postgres"
  if pg pg_ctl -D "$PG_DATA" -m fast -w -t "$STOP_DEADLINE" stop >>"$LOG/pg_ctl.log" 2>&1; then
    return 0
  fi
  local pid
  pid=$(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)
  if [[ -n $pid ]] && pid_alive "$pid"; then
    say "postgres (pid $pid) did not stop in ${STOP_DEADLINE}s; SIGQUIT then SIGKILL"
    kill -QUIT "$pid" 2>/dev/null || true
    stop_pid postgres "$pid"
  fi
}

# ---------------------------------------------------------------- commands

write_env() {
  local tmp=$ENV_FILE.tmp
  cat >"$tmp" <<EOF
# Written by scripts/testbed.sh up; sourceable (set -a; . build/testbed.env; set +a).
SOURCE_CS_URI=$(uri "$JAVA_PORT")
SOURCE_OPLOG_URI=$(uri "$OPLOG_PORT")
TARGET_URI=$(uri "$TARGET_PORT")
TARGET_PG_URI=$(uri "$PG_TARGET_PORT")
TESTBED_POSTGRES_URL=$(pg_url)
TESTBED_PYTHON=$PY
# The mongo-java-server launcher, for a test that needs a server of its own.
TESTBED_JAVA_JAR=$JAVA_JAR
# FerretDB v1.24's own command (TLS listener, SCRAM users), for e2e.tls_auth, which starts
# its servers on TESTBED_TLS_PORT and the 5 ports after it (T+5: a metrics port).
TESTBED_FERRETDB_CLI=$FDB_CLI
TESTBED_TLS_PORT=$TLS_PORT
TESTBED_READY=$READY
# The ports, so a test that restarts a server (testbed.sh up) with this file sourced
# brings it back where it was, not on the defaults.
TESTBED_OPLOG_PORT=$OPLOG_PORT
TESTBED_TARGET_PORT=$TARGET_PORT
TESTBED_PG_TARGET_PORT=$PG_TARGET_PORT
TESTBED_JAVA_PORT=$JAVA_PORT
TESTBED_PG_PORT=$PG_PORT
# DynamoDB-API servers (region us-east-1, any credentials): moto 5.2.5, ministack 1.5.33.
DYNAMODB_URL=$(http_url "$MOTO_PORT")
MINISTACK_URL=$(http_url "$MINISTACK_PORT")
TESTBED_MOTO_PORT=$MOTO_PORT
TESTBED_MINISTACK_PORT=$MINISTACK_PORT
# ministack's own venv, for a test that needs a server of its own (e.g. AUTH=true:
# signature checks, e2e.dynamodb_auth): \$TESTBED_MINISTACK_PYTHON -m ministack.
TESTBED_MINISTACK_PYTHON=$PY_MS
# S3-API server (region us-east-1, path style, any credentials): gofakes3 v1.2.0.
S3_URL=$(http_url "$S3_PORT")
TESTBED_S3_PORT=$S3_PORT
EOF
  mv -f "$tmp" "$ENV_FILE"
}

UP_DONE=0
up_exit() {
  local rc=$?
  if ((UP_DONE == 0)); then
    say "up failed; stopping everything"
    set +e
    do_down
    rm -f "$ENV_FILE"
    ((rc == 0)) && rc=1
  fi
  exit "$rc"
}

do_up() {
  local t0=$SECONDS
  trap up_exit EXIT
  ensure_tools
  ensure_venv
  ensure_ministack_venv
  build_all || die "build failed"
  pg_start || die "postgres failed"
  local s
  for s in "${SERVERS[@]}"; do
    start_server "$s" || die "$s failed"
  done
  "$PY" "$READY" ensure-oplog "$(uri "$OPLOG_PORT")" --size "$OPLOG_SIZE" \
    || die "could not create local.oplog.rs on fdb-oplog"
  write_env
  UP_DONE=1
  trap - EXIT
  say "up in $((SECONDS - t0))s; connection strings in $ENV_FILE:"
  grep -E '_URI=|^(DYNAMODB|MINISTACK|S3)_URL=' "$ENV_FILE" | sed 's/^/  /' >&2
}

do_down() {
  local s rc=0
  for ((i = ${#SERVERS[@]} - 1; i >= 0; i--)); do
    stop_server "${SERVERS[i]}" || rc=1
  done
  pg_stop || rc=1
  return "$rc"
}

do_status() {
  local s pid rc=0 state
  for s in "${SERVERS[@]}"; do
    pid=$(server_pid "$s")
    if [[ -z $pid ]]; then
      state=stopped; rc=1
    elif [[ -x $PY ]] && server_ping "$s"; then
      state=ready
    else
      state="running, not answering"; rc=1
    fi
    printf '%-10s %-40s pid %-8s %s\n' "$s" "$(server_url "$s")" "${pid:--}" "$state"
  done
  if pg_running && pg pg_isready -q -h "$HOST" -p "$PG_PORT"; then
    state=ready
  elif pg_running; then
    state="running, not answering"; rc=1
  else
    state=stopped; rc=1
  fi
  printf '%-10s %-40s pid %-8s %s\n' postgres "$(pg_url)" \
    "$(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null || echo -)" "$state"
  return "$rc"
}

main() {
  local cmd=${1:-}
  case $cmd in
    up|down|status|reset) ;;
    -h|--help|help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; return 0 ;;
    *) echo "usage: $0 up|down|status|reset" >&2; return 2 ;;
  esac
  mkdir -p "$BIN" "$RUN" "$LOG" "$DATA"
  # One testbed.sh at a time per build/ tree.
  exec 9>"$TB/lock"
  flock -w 600 9 || die "another testbed.sh holds $TB/lock"
  case $cmd in
    up) do_up ;;
    down) do_down; rm -f "$ENV_FILE"; say "down" ;;
    status) do_status ;;
    reset)
      do_down
      rm -rf "$DATA"
      mkdir -p "$DATA"
      do_up ;;
  esac
}

main "$@"

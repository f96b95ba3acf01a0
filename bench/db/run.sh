#!/usr/bin/env bash
# Database benchmarks (issue #6): docshift snapshot and apply on the test bed, every
# figure a ratio to a plain-libmongoc baseline (bench/db/db_baseline) measured in this run.
#
#   bench/db/run.sh [--quick] [--check] [--build DIR]
#
# Brings nothing up: expects the test bed's env (scripts/testbed.sh up; set -a;
# . build/testbed.env; set +a): SOURCE_OPLOG_URI (FerretDB/SQLite) is the source, the
# target is TARGET_PG_URI (FerretDB/PostgreSQL), else TARGET_URI (FerretDB/SQLite).
# Without them it prints why and exits 77 (skipped). BENCH_TARGET_URI overrides the target
# (e.g. BENCH_TARGET_URI=$TARGET_URI). Both docshift apply and the plain bulk client cap
# update commands on a FerretDB target (32 / connections statements): without the cap
# FerretDB v1.24 deadlocks (tests/README.md).
#
# Environment knobs: SECTIONS (default "baseline snapshot apply"; snapshot and apply
# imply the baselines they need), DOCS (source documents, default 100000, --quick 5000),
# EVENTS (events per apply spool, default 100000, --quick 5000), CONNECTIONS (default 4:
# docshift's --parallel/--lanes and the baselines' connection count), LANES (docshift
# apply's --lanes, default CONNECTIONS), CASES (apply spools, default "insert_only
# update_heavy mixed hot"), WORK (scratch dir, default BUILD/bench-db), DOCSHIFT (the binary
# measured, default BUILD/docshift).
#
# --check: exit 1 unless every selected section printed all its ratio lines (the ctest
# bench.db_quick; timing goals are never asserted). Exit 0 otherwise, also when goals
# are missed (the table says so).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$ROOT/build
QUICK=0
CHECK=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --check) CHECK=1 ;;
    --build) BUILD=$2; shift ;;
    *) echo "usage: bench/db/run.sh [--quick] [--check] [--build DIR]" >&2; exit 2 ;;
  esac
  shift
done

SRC=${SOURCE_OPLOG_URI:-}
TGT=${BENCH_TARGET_URI:-${TARGET_PG_URI:-${TARGET_URI:-}}}
if [ -z "$SRC" ] || [ -z "$TGT" ]; then
  echo "bench/db/run.sh: SOURCE_OPLOG_URI and TARGET_PG_URI/TARGET_URI are not set; run" \
       "scripts/testbed.sh up and: set -a; . build/testbed.env; set +a" >&2
  exit 77
fi
case "$TGT" in
  "${TARGET_PG_URI:-none}") TGT_KIND="FerretDB/PostgreSQL" ;;
  "${TARGET_URI:-none}") TGT_KIND="FerretDB/SQLite" ;;
  *) TGT_KIND="other" ;;
esac

DS=${DOCSHIFT:-$BUILD/docshift}
DBB=$BUILD/bench/db/db_baseline
MS=$BUILD/bench/make_spool
for b in "$DS" "$DBB" "$MS"; do
  [ -x "$b" ] || { echo "bench/db/run.sh: $b is not built (ninja -C $BUILD)" >&2; exit 1; }
done

if [ $QUICK = 1 ]; then DEF=5000; else DEF=100000; fi
DOCS=${DOCS:-$DEF}
EVENTS=${EVENTS:-$DEF}
CONN=${CONNECTIONS:-4}
LANES=${LANES:-$CONN}
CASES=${CASES:-insert_only update_heavy mixed hot}
SECTIONS=${SECTIONS:-baseline snapshot apply}
WORK=${WORK:-$BUILD/bench-db}
rm -rf "$WORK"
mkdir -p "$WORK"
has() { [[ " $SECTIONS " == *" $1 "* ]]; }

# Peak RSS: GNU time -v (installed if missing), else not measured.
TIMEV=""
if [ ! -x /usr/bin/time ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo -n"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq time >/dev/null 2>&1 || true
fi
[ -x /usr/bin/time ] && TIMEV="/usr/bin/time -v -o"

SRC_DB=dbbench_src
SNAP_DB=dbbench_snap
APPLY_DBS=ycsb,app   # the synthetic stream's databases (bench/synth.h)

CAPTURE_PID=
trap '[ -n "$CAPTURE_PID" ] && kill -TERM $CAPTURE_PID 2>/dev/null; true' EXIT
say() { echo "bench/db: $*" >&2; }
now() { date +%s.%N; }
# key=value lines of a file; val FILE KEY
val() { sed -n "s/^$2=//p" "$1" | tail -n1; }
rss_mb() {  # GNU time -v output → MB, or n/a
  local f=$1
  if [ -s "$f" ]; then awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2/1024}' "$f"
  else echo n/a; fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b) ? a : b }'; }
# drop URI DBS [COLLS]: drop the databases, then create COLLS (db.coll,...) empty.
drop() { "$DBB" --mode drop --uri "$1" --db "$2" --create "${3:-}"; }
# The synthetic stream's namespaces, created empty before every apply/insert measurement:
# FerretDB v1 stalls (no reply, all its PostgreSQL connections idle) when several
# connections create one collection at once by writing to it.
APPLY_COLLS=ycsb.usertable,ycsb.usertable.archive,app.sessions,app.users
timed() {  # timed NAME CMD...: runs CMD, stdout+stderr to WORK/NAME.log, RSS to WORK/NAME.time
  local name=$1; shift
  local t0 t1
  t0=$(now)
  if [ -n "$TIMEV" ]; then
    $TIMEV "$WORK/$name.time" "$@" >"$WORK/$name.log" 2>&1 || { tail -20 "$WORK/$name.log" >&2; return 1; }
  else
    "$@" >"$WORK/$name.log" 2>&1 || { tail -20 "$WORK/$name.log" >&2; return 1; }
  fi
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

say "source $SRC, target $TGT ($TGT_KIND), $DOCS docs, $EVENTS events/spool, $CONN connections, $LANES lanes, sections: $SECTIONS, apply cases: $CASES"
RESULTS=$WORK/results.txt
: >"$RESULTS"
out() { echo "$*" | tee -a "$RESULTS"; }

need_baseline=0
for s in baseline snapshot apply; do has $s && need_baseline=1; done

# ---- load + baselines ----
if [ $need_baseline = 1 ]; then
  say "loading $DOCS YCSB documents into $SRC_DB on the source"
  drop "$SRC" "$SRC_DB" "$SRC_DB.usertable,$SRC_DB.usertable.archive,$SRC_DB.sessions,$SRC_DB.users"
  "$DBB" --mode ins --uri "$SRC" --db "$SRC_DB" --docs "$DOCS" --connections "$CONN" --label LOAD \
    >"$WORK/load.out"
  LOAD_MB=$(awk -v d="$(val "$WORK/load.out" LOAD_MB_PER_S)" -v s="$(val "$WORK/load.out" LOAD_SECONDS)" \
    'BEGIN { printf "%.3f", d * s }')
  say "measuring B_scan (source) and B_ins (target)"
  "$DBB" --mode scan --uri "$SRC" --db "$SRC_DB" --docs "$DOCS" --connections "$CONN" >"$WORK/bscan.out"
  drop "$TGT" "$APPLY_DBS" "$APPLY_COLLS"
  "$DBB" --mode ins --uri "$TGT" --docs "$DOCS" --connections "$CONN" >"$WORK/bins.out"
  drop "$TGT" "$APPLY_DBS"
  B_SCAN=$(val "$WORK/bscan.out" B_SCAN_DOCS_PER_S)
  B_INS=$(val "$WORK/bins.out" B_INS_DOCS_PER_S)
  out "B_SCAN_DOCS_PER_S=$B_SCAN"
  out "B_SCAN_MB_PER_S=$(val "$WORK/bscan.out" B_SCAN_MB_PER_S)"
  out "B_INS_DOCS_PER_S=$B_INS"
  out "B_INS_MB_PER_S=$(val "$WORK/bins.out" B_INS_MB_PER_S)"
fi

declare -A RATIO GOAL
ORDER=()
goal() { ORDER+=("$1"); RATIO[$1]=$2; GOAL[$1]=$3; }

# ---- snapshot ----
if has snapshot; then
  say "docshift snapshot $SRC_DB → $SNAP_DB"
  drop "$TGT" "$SNAP_DB" "$SNAP_DB.usertable,$SNAP_DB.usertable.archive,$SNAP_DB.sessions,$SNAP_DB.users"
  # A snapshot is coordinated with a capture on the same spool (it needs capture's start
  # position): capture runs (idle: nothing writes the source) for the snapshot's length.
  "$DS" capture --source "$SRC" --source_kind oplog --spool "$WORK/snapspool" \
    --include "$SRC_DB.*" >"$WORK/capture.log" 2>&1 &
  CAPTURE_PID=$!
  for _ in $(seq 1 600); do
    grep -q "capture: ready" "$WORK/capture.log" && break
    kill -0 $CAPTURE_PID 2>/dev/null || break
    sleep 0.1
  done
  grep -q "capture: ready" "$WORK/capture.log" || { tail "$WORK/capture.log" >&2; exit 1; }
  secs=$(timed snapshot "$DS" snapshot --source "$SRC" --target "$TGT" --spool "$WORK/snapspool" \
    --include "$SRC_DB.*" --map "$SRC_DB=$SNAP_DB" --parallel "$CONN" --progress lines)
  kill -TERM $CAPTURE_PID; wait $CAPTURE_PID || true
  CAPTURE_PID=
  drop "$TGT" "$SNAP_DB"
  dps=$(awk -v n="$DOCS" -v s="$secs" 'BEGIN { printf "%.1f", n / s }')
  mbs=$(awk -v m="$LOAD_MB" -v s="$secs" 'BEGIN { printf "%.2f", m / s }')
  base=$(min "$B_SCAN" "$B_INS")
  out "SNAPSHOT_SECONDS=$secs"
  out "SNAPSHOT_DOCS_PER_S=$dps"
  out "SNAPSHOT_MB_PER_S=$mbs"
  out "SNAPSHOT_PEAK_RSS_MB=$(rss_mb "$WORK/snapshot.time")"
  r=$(ratio "$dps" "$base")
  out "RATIO_SNAPSHOT_VS_MIN_SCAN_INS=$r"
  goal snapshot "$r" 0.9
fi

# ---- apply ----
# case: name, make_spool flags, baseline (bins | bulk)
APPLY_CASES=(
  "insert_only|--insert_pct 100 --update_pct 0 --replace_pct 0 --delete_pct 0|bins|0.9"
  "update_heavy|--insert_pct 20 --update_pct 70 --replace_pct 5 --delete_pct 5|bulk|0.7"
  "mixed||bulk|0.7"
  "hot|--single_namespace|bins|0.6"
)
if has apply; then
  for c in "${APPLY_CASES[@]}"; do
    IFS='|' read -r name flags basis goalv <<<"$c"
    [[ " $CASES " == *" $name "* ]] || continue
    spool=$WORK/spool_$name
    # shellcheck disable=SC2086
    "$MS" --spool "$spool" --events "$EVENTS" $flags >"$WORK/make_spool_$name.log"
    say "apply $name: docshift apply"
    drop "$TGT" "$APPLY_DBS" "$APPLY_COLLS"
    secs=$(timed "apply_$name" "$DS" apply --spool "$spool" --target "$TGT" --lanes "$LANES" \
      --stop_when_drained --name "bench")
    eps=$(awk -v n="$EVENTS" -v s="$secs" 'BEGIN { printf "%.1f", n / s }')
    say "apply $name: plain bulk client"
    drop "$TGT" "$APPLY_DBS" "$APPLY_COLLS"
    "$DBB" --mode bulk --uri "$TGT" --spool "$spool" --connections "$CONN" >"$WORK/bulk_$name.out"
    drop "$TGT" "$APPLY_DBS"
    bulk=$(val "$WORK/bulk_$name.out" B_BULK_EVENTS_PER_S)
    up=$(echo "$name" | tr a-z A-Z)
    out "APPLY_${up}_SECONDS=$secs"
    out "APPLY_${up}_EVENTS_PER_S=$eps"
    out "APPLY_${up}_PEAK_RSS_MB=$(rss_mb "$WORK/apply_$name.time")"
    out "B_BULK_${up}_EVENTS_PER_S=$bulk"
    out "RATIO_APPLY_${up}_VS_BULK=$(ratio "$eps" "$bulk")"
    if [ "$basis" = bins ]; then
      r=$(ratio "$eps" "$B_INS")
      out "RATIO_APPLY_${up}_VS_B_INS=$r"
      goal "apply_$name" "$r" "$goalv"
    else
      r=$(ratio "$eps" "$bulk")
      goal "apply_$name" "$r" "$goalv"
    fi
  done
fi

# ---- table ----
echo
printf "%-22s %8s %6s  %s\n" figure ratio goal verdict
for k in "${ORDER[@]}"; do
  v=$(awk -v r="${RATIO[$k]}" -v g="${GOAL[$k]}" 'BEGIN { if (r == "n/a") print "n/a"; else if (r + 0 >= g + 0) print "met"; else printf "missed (%.0f%% of goal)", 100 * r / g }')
  printf "%-22s %8s %6s  %s\n" "$k" "${RATIO[$k]}" "≥${GOAL[$k]}" "$v"
done
echo "bench/db: results in $RESULTS, logs in $WORK" >&2

if [ $CHECK = 1 ]; then
  want=()
  has snapshot && want+=(RATIO_SNAPSHOT_VS_MIN_SCAN_INS)
  if has apply; then
    [[ " $CASES " == *" insert_only "* ]] && want+=(RATIO_APPLY_INSERT_ONLY_VS_B_INS)
    [[ " $CASES " == *" update_heavy "* ]] && want+=(RATIO_APPLY_UPDATE_HEAVY_VS_BULK)
    [[ " $CASES " == *" mixed "* ]] && want+=(RATIO_APPLY_MIXED_VS_BULK)
    [[ " $CASES " == *" hot "* ]] && want+=(RATIO_APPLY_HOT_VS_B_INS)
  fi
  for k in "${want[@]}"; do
    v=$(val "$RESULTS" "$k")
    if [ -z "$v" ] || [ "$v" = n/a ]; then
      echo "bench/db: FAIL: no value for $k" >&2
      exit 1
    fi
  done
  echo "bench/db: all ${#want[@]} ratio lines printed" >&2
fi

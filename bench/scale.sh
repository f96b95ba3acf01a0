#!/usr/bin/env bash
# Scale curves (issue #15, goal 5): wall time and peak RSS of docshift snapshot, apply and
# verify at growing sizes, written as KEY=value lines and plotted as PNGs.
#
#   scripts/testbed.sh up; set -a; . build/testbed.env; set +a
#   bench/scale.sh [--sizes "10000 100000"] [--out DIR] [--build DIR] [--no_plot]
#
# For each size N (1000000 works too, but takes long on FerretDB):
#   snapshot  N YCSB documents loaded into scale_src on SOURCE_OPLOG_URI (db_baseline), copied
#             by `docshift snapshot --parallel SC_PARALLEL (4)` into scale_snap on the target
#             (SC_TARGET_URI, default TARGET_PG_URI), beside an idle capture on the same spool;
#   verify    `docshift verify` of scale_src against scale_snap (full: hashes every document);
#   apply     `docshift apply --stop_when_drained` of a make_spool spool of N events
#             (SC_APPLY_FLAGS, default insert-only: FerretDB runs an update as a collection
#             scan, so a mixed stream measures the server) into the emptied target.
# Each under /usr/bin/time -v: wall seconds and peak RSS (its "Maximum resident set size").
# Output: OUT/scale.txt (SCALE_<STEP>_<N>_SECONDS / _PEAK_RSS_MB / _DOCS_PER_S), and with
# matplotlib (installed into BUILD/venv-plot on first use) OUT/scale_time.png and
# OUT/scale_rss.png. Exit 0 done; 1 a step failed; 2 bad arguments; 77 no test bed env.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build
SIZES="10000 100000"
OUT=""
PLOT=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --sizes) SIZES=$2; shift ;;
    --out) OUT=$2; shift ;;
    --build) BUILD=$2; shift ;;
    --no_plot) PLOT=0 ;;
    *) echo "scale.sh: unknown argument $1 (usage: bench/scale.sh [--sizes \"10000 100000\"] [--out DIR] [--build DIR] [--no_plot])" >&2; exit 2 ;;
  esac
  shift
done
OUT=${OUT:-$BUILD/bench-scale}
SRC=${SOURCE_OPLOG_URI:-}
TGT=${SC_TARGET_URI:-${TARGET_PG_URI:-}}
if [[ -z $SRC || -z $TGT ]]; then
  echo "scale.sh: SOURCE_OPLOG_URI and TARGET_PG_URI are not set; run scripts/testbed.sh up and: set -a; . build/testbed.env; set +a" >&2
  exit 77
fi
DS=$BUILD/docshift
MS=$BUILD/bench/make_spool
DBB=$BUILD/bench/db/db_baseline
for b in "$DS" "$MS" "$DBB"; do
  [[ -x $b ]] || { echo "scale.sh: $b is not built (ninja -C $BUILD docshift make_spool db_baseline)" >&2; exit 2; }
done
[[ -x /usr/bin/time ]] || { echo "scale.sh: needs GNU time (apt-get install time)" >&2; exit 2; }
PAR=${SC_PARALLEL:-4}
APPLY_FLAGS=${SC_APPLY_FLAGS:---insert_pct 100 --update_pct 0 --replace_pct 0 --delete_pct 0}
mkdir -p "$OUT"
RES=$OUT/scale.txt
: >"$RES"
kv() { echo "$1=$2"; echo "$1=$2" >>"$RES"; }
say() { echo "scale.sh: $*" >&2; }
COLLS4() { echo "$1.usertable,$1.usertable.archive,$1.sessions,$1.users"; }
APPLY_COLLS=ycsb.usertable,ycsb.usertable.archive,app.sessions,app.users
CAP=""
trap '[[ -n $CAP ]] && kill -TERM $CAP 2>/dev/null; true' EXIT
# timed STEP N CMD...: /usr/bin/time -v; records seconds and peak RSS
timed() {
  local step=$1 n=$2; shift 2
  local log=$OUT/${step}_$n.log tv=$OUT/${step}_$n.time
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -v -o "$tv" "$@" >"$log" 2>&1 || { tail -5 "$log" >&2; echo "scale.sh: $step at $n failed (log $log)" >&2; exit 1; }
  t1=$(date +%s%N)
  local secs; secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  kv "SCALE_${step^^}_${n}_SECONDS" "$secs"
  kv "SCALE_${step^^}_${n}_PEAK_RSS_MB" "$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$tv")"
  kv "SCALE_${step^^}_${n}_DOCS_PER_S" "$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.1f", n / s }')"
}

kv SCALE_SIZES "$SIZES"
kv SCALE_LOADAVG_START "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')"
for n in $SIZES; do
  say "size $n: load the source"
  "$DBB" --mode drop --uri "$SRC" --db scale_src --create "$(COLLS4 scale_src)" >/dev/null
  "$DBB" --mode ins --uri "$SRC" --db scale_src --docs "$n" --connections 4 --label LOAD >"$OUT/load_$n.out"
  "$DBB" --mode drop --uri "$TGT" --db scale_snap --create "$(COLLS4 scale_snap)" >/dev/null
  spool=$OUT/snapspool_$n
  rm -rf "$spool"
  "$DS" capture --source "$SRC" --source_kind oplog --spool "$spool" --include "scale_src.*" >"$OUT/capture_$n.log" 2>&1 &
  CAP=$!
  for _ in $(seq 1 600); do
    grep -q "capture: ready" "$OUT/capture_$n.log" && break
    kill -0 "$CAP" 2>/dev/null || break
    sleep 0.1
  done
  grep -q "capture: ready" "$OUT/capture_$n.log" || { tail -5 "$OUT/capture_$n.log" >&2; exit 1; }
  say "size $n: snapshot"
  timed snapshot "$n" "$DS" snapshot --source "$SRC" --target "$TGT" --spool "$spool" --include "scale_src.*" \
    --map "scale_src=scale_snap" --parallel "$PAR" --progress lines
  kill -TERM "$CAP"; wait "$CAP" || true
  CAP=""
  say "size $n: verify"
  timed verify "$n" "$DS" verify --source "$SRC" --target "$TGT" --include "scale_src.*" --map "scale_src=scale_snap" \
    --report "$OUT/verify_$n.json"
  "$DBB" --mode drop --uri "$TGT" --db scale_snap >/dev/null
  "$DBB" --mode drop --uri "$SRC" --db scale_src >/dev/null
  say "size $n: apply"
  aspool=$OUT/applyspool_$n
  rm -rf "$aspool"
  # shellcheck disable=SC2086
  "$MS" --spool "$aspool" --events "$n" $APPLY_FLAGS >"$OUT/make_spool_$n.log"
  "$DBB" --mode drop --uri "$TGT" --db ycsb,app --create "$APPLY_COLLS" >/dev/null
  timed apply "$n" "$DS" apply --spool "$aspool" --target "$TGT" --stop_when_drained --name scale
  "$DBB" --mode drop --uri "$TGT" --db ycsb,app >/dev/null
  rm -rf "$aspool" "$spool"
done
kv SCALE_LOADAVG_END "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')"

if ((PLOT)); then
  PY=$BUILD/venv-plot/bin/python
  if ! "$PY" -c 'import matplotlib' 2>/dev/null; then
    say "installing matplotlib into $BUILD/venv-plot"
    python3 -m venv "$BUILD/venv-plot" >/dev/null && "$BUILD/venv-plot/bin/pip" install -q --disable-pip-version-check matplotlib \
      || { echo "scale.sh: could not install matplotlib into $BUILD/venv-plot (figures are in $RES)" >&2; exit 1; }
  fi
  "$PY" "$ROOT/bench/plot_scale.py" "$RES" "$OUT"
fi
say "results in $RES"

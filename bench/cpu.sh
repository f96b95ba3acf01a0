#!/usr/bin/env bash
# CPU per event (issue #15, goal 3): the process's own user+sys time (every thread) per
# event, which leaves out the time it spends blocked on the network or the disk.
#
#   bench/cpu.sh [--quick] [--perf TARGET] [--no_capture] [--build DIR] [--out DIR]
#
# Apply: for each spool case (CPU_CASES, default "insert_only mixed"; make_spool, CPU_EVENTS
# events, default 20000, --quick 2000) and each target (CPU_TARGETS, default "sqlite pg
# java": TARGET_URI FerretDB/SQLite, TARGET_PG_URI FerretDB/PostgreSQL, SOURCE_CS_URI
# mongo-java-server), `docshift apply --stop_when_drained --lanes CPU_LANES (4)` into
# freshly dropped databases; the figure is apply's own final line ("cpu S s user+sys ...,
# U us/event, wall W s", getrusage at exit: the whole process, start-up included).
# Capture: `bench/db/lag.sh --throughput_only` (CPU of capture from /proc when its N-th
# event is durable: oplog source, FerretDB/SQLite; change-stream source, mongo-java-server).
# --perf TARGET: `perf record --call-graph dwarf` of the insert-only apply into that target, top symbols
# (flat, self time), shares per library and the callers of the first suspects (UTF-8
# validation, copies) in OUT/perf_apply_TARGET.txt.
#
# Prints KEY=value lines (also OUT/cpu.txt, default BUILD/bench-cpu); timing is reported,
# never asserted. Needs the test bed's environment (exit 77 without it: skipped).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build
QUICK=0
PERF_TARGET=""
CAPTURE=1
OUT=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1 ;;
    --perf) PERF_TARGET=$2; shift ;;
    --no_capture) CAPTURE=0 ;;
    --build) BUILD=$2; shift ;;
    --out) OUT=$2; shift ;;
    *) echo "cpu.sh: unknown argument $1 (usage: bench/cpu.sh [--quick] [--perf sqlite|pg|java] [--no_capture] [--build DIR] [--out DIR])" >&2; exit 2 ;;
  esac
  shift
done
OUT=${OUT:-$BUILD/bench-cpu}
for v in SOURCE_OPLOG_URI TARGET_URI; do
  if [[ -z ${!v:-} ]]; then
    echo "cpu.sh: $v is not set; run scripts/testbed.sh up and: set -a; . build/testbed.env; set +a" >&2
    exit 77
  fi
done
DS=$BUILD/docshift
MS=$BUILD/bench/make_spool
DBB=$BUILD/bench/db/db_baseline
for b in "$DS" "$MS" "$DBB"; do
  [[ -x $b ]] || { echo "cpu.sh: $b is not built (ninja -C $BUILD docshift make_spool db_baseline)" >&2; exit 2; }
done
if [[ -n $PERF_TARGET ]] && ! command -v perf >/dev/null; then
  echo "cpu.sh: --perf needs perf (apt-get install linux-perf)" >&2
  exit 2
fi

if ((QUICK)); then DEF=2000; else DEF=20000; fi
EVENTS=${CPU_EVENTS:-$DEF}
CASES=${CPU_CASES:-insert_only mixed}
TARGETS=${CPU_TARGETS:-sqlite pg java}
LANES=${CPU_LANES:-4}
mkdir -p "$OUT"
RES=$OUT/cpu.txt
: >"$RES"
kv() { echo "$1=$2"; echo "$1=$2" >>"$RES"; }
say() { echo "cpu.sh: $*" >&2; }

target_uri() {
  case $1 in
    sqlite) echo "${TARGET_URI:-}" ;;
    pg) echo "${TARGET_PG_URI:-}" ;;
    java) echo "${SOURCE_CS_URI:-}" ;;
    *) echo "cpu.sh: unknown target '$1' (sqlite, pg or java)" >&2; exit 2 ;;
  esac
}
case_flags() {
  case $1 in
    insert_only) echo "--insert_pct 100 --update_pct 0 --replace_pct 0 --delete_pct 0" ;;
    update_heavy) echo "--insert_pct 20 --update_pct 70 --replace_pct 5 --delete_pct 5" ;;
    mixed) echo "" ;;
    *) echo "cpu.sh: unknown case '$1' (insert_only, update_heavy or mixed)" >&2; exit 2 ;;
  esac
}
# The synthetic stream's namespaces (bench/synth.h), created empty first (FerretDB v1
# stalls when several connections create one collection at once: bench/db/run.sh).
APPLY_DBS=ycsb,app
APPLY_COLLS=ycsb.usertable,ycsb.usertable.archive,app.sessions,app.users
drop() { "$DBB" --mode drop --uri "$1" --db "$APPLY_DBS" --create "${2:-}" >/dev/null; }
# field N of apply's final line: "...; cpu 1.234 s user+sys (user 1.1 s, sys 0.1 s), 61.7 us/event, wall 5.6 s"
final_field() {
  local line; line=$(grep '^docshift apply: applied' "$1" | tail -1)
  case $2 in
    cpu) sed -n 's/.*; cpu \([0-9.]*\) s user+sys.*/\1/p' <<<"$line" ;;
    user) sed -n 's/.*(user \([0-9.]*\) s,.*/\1/p' <<<"$line" ;;
    sys) sed -n 's/.*, sys \([0-9.]*\) s).*/\1/p' <<<"$line" ;;
    us) sed -n 's/.*, \([0-9.]*\) us\/event.*/\1/p' <<<"$line" ;;
    wall) sed -n 's/.*, wall \([0-9.]*\) s$/\1/p' <<<"$line" ;;
    events) sed -n 's/^docshift apply: applied \([0-9]*\) events.*/\1/p' <<<"$line" ;;
  esac
}

kv CPU_MACHINE_CPUS "$(nproc)"
kv CPU_LOADAVG_START "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')"
kv CPU_EVENTS "$EVENTS"

for c in $CASES; do
  spool=$OUT/spool_$c
  rm -rf "$spool"
  # shellcheck disable=SC2046
  "$MS" --spool "$spool" --events "$EVENTS" $(case_flags "$c") >"$OUT/make_spool_$c.log"
  for t in $TARGETS; do
    uri=$(target_uri "$t")
    [[ -n $uri ]] || { say "no URI for target $t: skipped"; continue; }
    key=APPLY_CPU_${t^^}_${c^^}
    say "apply $c into $t ($EVENTS events)"
    drop "$uri" "$APPLY_COLLS"
    log=$OUT/apply_${t}_$c.log
    "$DS" apply --spool "$spool" --target "$uri" --lanes "$LANES" --stop_when_drained --name "cpu_$t" >"$log" 2>&1 \
      || { tail -5 "$log" >&2; echo "cpu.sh: apply $c into $t failed (log $log)" >&2; exit 1; }
    n=$(final_field "$log" events)
    [[ $n == "$EVENTS" ]] || { echo "cpu.sh: apply $c into $t applied ${n:-?} of $EVENTS events (log $log)" >&2; exit 1; }
    kv "${key}_US_PER_EVENT" "$(final_field "$log" us)"
    kv "${key}_CPU_S" "$(final_field "$log" cpu)"
    kv "${key}_USER_S" "$(final_field "$log" user)"
    kv "${key}_SYS_S" "$(final_field "$log" sys)"
    kv "${key}_WALL_S" "$(final_field "$log" wall)"
    kv "${key}_EVENTS_PER_S" "$(awk -v n="$EVENTS" -v w="$(final_field "$log" wall)" 'BEGIN { if (w > 0) printf "%.1f", n / w }')"
    if [[ $t == "$PERF_TARGET" && $c == insert_only ]]; then
      say "perf record of apply $c into $t"
      drop "$uri" "$APPLY_COLLS"
      perf record -q -F 1999 --call-graph dwarf,16384 -o "$OUT/perf_apply_$t.data" -- "$DS" apply --spool "$spool" --target "$uri" \
        --lanes "$LANES" --stop_when_drained --name "cpuperf_$t" >"$OUT/apply_${t}_perf.log" 2>&1 \
        || { tail -5 "$OUT/apply_${t}_perf.log" >&2; echo "cpu.sh: perf record failed" >&2; exit 1; }
      {
        echo "# perf record -F 1999 --call-graph dwarf: docshift apply of $EVENTS insert-only events into $t, $(final_field "$OUT/apply_${t}_perf.log" cpu) s CPU"
        echo "## by library (self)"
        perf report -i "$OUT/perf_apply_$t.data" --no-children --stdio --sort dso -g none 2>/dev/null \
          | grep '%' | grep -v '^#' | head -15
        echo "## top symbols (self)"
        perf report -i "$OUT/perf_apply_$t.data" --no-children --stdio --sort dso,sym -g none 2>/dev/null \
          | grep '%' | grep -v '^#' | head -30
        echo "## callers of the first suspects (UTF-8 validation, copies)"
        # memmove's name depends on the CPU (__memmove_avx512_unaligned_erms, ..._evex_...).
        for sym in $(perf report -i "$OUT/perf_apply_$t.data" --no-children --stdio --sort sym -g none 2>/dev/null \
                     | grep -oE '(bson_utf8_validate|__memmove_[a-z0-9_]+|bson_new_from_data|_int_free)' | sort -u); do
          perf report -i "$OUT/perf_apply_$t.data" --no-children --stdio -S "$sym" -G 2>/dev/null \
            | grep -v '^#' | grep -v '^$' | head -40
        done
      } >"$OUT/perf_apply_$t.txt"
      kv PERF_APPLY_REPORT "$OUT/perf_apply_$t.txt"
    fi
    drop "$uri"
  done
done

if ((CAPTURE)); then
  say "capture: bench/db/lag.sh --throughput_only"
  qflag=(); ((QUICK)) && qflag=(--quick)
  bash "$ROOT/bench/db/lag.sh" "${qflag[@]}" --throughput_only --build "$BUILD" >"$OUT/lag_throughput.txt" 2>&1 \
    || { tail -5 "$OUT/lag_throughput.txt" >&2; echo "cpu.sh: lag.sh --throughput_only failed" >&2; exit 1; }
  get() { sed -n "s/^$1=//p" "$OUT/lag_throughput.txt" | tail -1; }
  kv CAPTURE_CPU_OPLOG_US_PER_EVENT "$(get CAPTURE_CPU_US_PER_EVENT)"
  kv CAPTURE_CPU_OPLOG_EVENTS "$(get PRELOAD_ENTRIES)"
  kv CAPTURE_OPLOG_WALL_S "$(get CAPTURE_SECONDS)"
  kv CAPTURE_CPU_CS_US_PER_EVENT "$(get CS_CAPTURE_CPU_US_PER_EVENT)"
  kv CAPTURE_CPU_CS_EVENTS "$(get CS_PRELOAD_EVENTS)"
  kv CAPTURE_CS_WALL_S "$(get CS_CAPTURE_SECONDS)"
fi
kv CPU_LOADAVG_END "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')"
say "results in $RES"

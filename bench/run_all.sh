#!/usr/bin/env bash
# Every performance goal of issue #15 that has a bench, in one command, on the test bed.
#
#   scripts/testbed.sh up; set -a; . build/testbed.env; set +a
#   ninja -C build docshift make_spool db_baseline load_gen oplog_tail cs_tail
#   bench/run_all.sh [--quick] [--out DIR] [--build DIR]
#
# Calls the benches that exist (it copies none of them), each into OUT (default
# BUILD/bench-all, --quick BUILD/bench-all-quick):
#   bench/db/run.sh   per target (FerretDB/SQLite TARGET_URI, FerretDB/PostgreSQL
#                     TARGET_PG_URI, mongo-java-server SOURCE_CS_URI): apply insert-only vs
#                     B_ins (the plain client: unordered insert_many, RA_CONNECTIONS=2
#                     connections, 1000 a batch), update-heavy and mixed vs the plain bulk
#                     client issuing the same ops; on FerretDB/PostgreSQL also the snapshot
#                     (source FerretDB/SQLite) vs the combined ceiling 1/(1/B_scan+1/B_ins)
#   bench/tools/compare.sh  snapshot vs mongodump|mongorestore, only if build/tools/ holds
#                     them (bench/tools/build_tools.sh) and not --quick
#   bench/cpu.sh      CPU per event (user+sys) of apply into each target and of capture
#   bench/db/lag.sh --lag_only   p99 end-to-end lag at half of B_ins (oplog source)
# Goals without a bench are listed as NOT MEASURED with the reason; the scale curves (goal 5)
# are bench/scale.sh's PNGs, run on their own.
#
# Prints one line per goal, `goal | measured | target | MET/MISSED`, and writes
# OUT/summary.json: {"quick", "machine", "load_avg_start", "load_avg_end", "goals": [{"name",
# "description", "value", "unit", "goal", "op", "met", "detail"} or {"name", "description",
# "value": null, "met": null, "reason"}]}. Sizes: RA_DOCS, RA_EVENTS (apply and snapshot;
# default 20000, --quick 1000), RA_CPU_EVENTS (default 20000, --quick 2000); RA_LANES
# (docshift apply --lanes, default 4, its own default).
#
# Exit status: 0 every bench ran (whatever the goals say); 1 a bench failed (its figures
# are NOT MEASURED, the reason names its log); 2 bad arguments; 77 no test bed environment.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build
QUICK=0
OUT=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1 ;;
    --out) OUT=$2; shift ;;
    --build) BUILD=$2; shift ;;
    *) echo "run_all.sh: unknown argument $1 (usage: bench/run_all.sh [--quick] [--out DIR] [--build DIR])" >&2; exit 2 ;;
  esac
  shift
done
for v in SOURCE_OPLOG_URI TARGET_URI TARGET_PG_URI SOURCE_CS_URI; do
  if [[ -z ${!v:-} ]]; then
    echo "run_all.sh: $v is not set; run scripts/testbed.sh up and: set -a; . build/testbed.env; set +a" >&2
    exit 77
  fi
done
for b in docshift bench/make_spool bench/db/db_baseline bench/load_gen bench/oplog_tail bench/cs_tail; do
  [[ -x $BUILD/$b ]] || { echo "run_all.sh: $BUILD/$b is not built (ninja -C $BUILD docshift make_spool db_baseline load_gen oplog_tail cs_tail)" >&2; exit 2; }
done
if ((QUICK)); then
  OUT=${OUT:-$BUILD/bench-all-quick}; DEF=1000; CPU_DEF=2000; QFLAG=(--quick)
else
  OUT=${OUT:-$BUILD/bench-all}; DEF=20000; CPU_DEF=20000; QFLAG=()
fi
DOCS=${RA_DOCS:-$DEF}
EVENTS=${RA_EVENTS:-$DEF}
CPU_EVENTS=${RA_CPU_EVENTS:-$CPU_DEF}
CONN=${RA_CONNECTIONS:-2}
LANES=${RA_LANES:-4}
mkdir -p "$OUT"
GOALS=$OUT/goals.tsv
: >"$GOALS"
FAILED=0
say() { echo "run_all: $*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
LOAD_START=$(loadavg)
# KEY from a KEY=value file
val() { [[ -f $2 ]] && sed -n "s/^$1=//p" "$2" | tail -n1; }
# measured NAME DESCRIPTION VALUE UNIT OP GOAL DETAIL   (a figure against its goal; without
# a number, NOT MEASURED with WHY: the bench that should have printed it and its log)
WHY=""
measured() {
  if ! [[ $3 =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
    not_measured "$1" "$2" "no figure (got '$3'): $WHY"
    return
  fi
  printf 'M\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" >>"$GOALS"
}
# not_measured NAME DESCRIPTION REASON
not_measured() { printf 'N\t%s\t%s\t%s\n' "$1" "$2" "$3" >>"$GOALS"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.3f", a / b }'; }

say "out $OUT; docs $DOCS, events $EVENTS, cpu events $CPU_EVENTS, $CONN plain-client connections, $LANES apply lanes; load $LOAD_START"

# ---- (1) apply vs the plain bulk client, per target; (2) snapshot vs the combined ceiling
declare -A TURI=([sqlite]=$TARGET_URI [pg]=$TARGET_PG_URI [java]=$SOURCE_CS_URI)
declare -A TNAME=([sqlite]="FerretDB/SQLite" [pg]="FerretDB/PostgreSQL" [java]="mongo-java-server")
for t in sqlite pg java; do
  sections="baseline apply"
  [[ $t == pg ]] && sections="baseline snapshot apply"
  work=$OUT/db_$t
  say "bench/db/run.sh, target ${TNAME[$t]} (sections: $sections)"
  if BENCH_TARGET_URI=${TURI[$t]} SECTIONS=$sections DOCS=$DOCS EVENTS=$EVENTS CONNECTIONS=$CONN LANES=$LANES \
     CASES="insert_only update_heavy mixed" WORK=$work \
     bash "$ROOT/bench/db/run.sh" --build "$BUILD" >"$OUT/db_$t.out" 2>"$OUT/db_$t.err"; then
    WHY="bench/db/run.sh printed none (see $OUT/db_$t.err)"
  else
    FAILED=1
    WHY="bench/db/run.sh failed: $(tail -n1 "$OUT/db_$t.err") (log $OUT/db_$t.err)"
  fi
  r=$work/results.txt
  bins=$(val B_INS_DOCS_PER_S "$r")
  ins=$(val APPLY_INSERT_ONLY_EVENTS_PER_S "$r")
  measured "apply_insert_only_${t}" "apply insert-only / plain insert_many client (${TNAME[$t]})" \
    "$(val RATIO_APPLY_INSERT_ONLY_VS_B_INS "$r")" ratio ">=" 0.9 \
    "${ins:-?} vs ${bins:-?} events/s"
  for c in update_heavy mixed; do
    C=${c^^}
    measured "apply_${c}_${t}" "apply ${c/_/-} / plain bulk client, same ops (${TNAME[$t]})" \
      "$(val RATIO_APPLY_${C}_VS_BULK "$r")" ratio ">=" 0.7 \
      "$(val APPLY_${C}_EVENTS_PER_S "$r") vs $(val B_BULK_${C}_EVENTS_PER_S "$r") events/s"
  done
  if [[ $t == pg ]]; then
    bscan=$(val B_SCAN_DOCS_PER_S "$r")
    snap=$(val SNAPSHOT_DOCS_PER_S "$r")
    ceil=$(awk -v s="$bscan" -v i="$bins" 'BEGIN { if (s > 0 && i > 0) printf "%.1f", 1 / (1 / s + 1 / i) }')
    measured snapshot_vs_combined_ceiling "snapshot / 1/(1/B_scan+1/B_ins) (FerretDB/SQLite → FerretDB/PostgreSQL)" \
      "$(ratio "$snap" "$ceil")" ratio ">=" 0.8 \
      "${snap:-?} docs/s vs ceiling ${ceil:-?} (B_scan ${bscan:-?}, B_ins ${bins:-?})"
  fi
done

# ---- (2b) snapshot vs mongodump | mongorestore
MD_DESC="snapshot / mongodump|mongorestore (FerretDB/SQLite → FerretDB/PostgreSQL)"
if ((QUICK)); then
  not_measured snapshot_vs_mongodump "$MD_DESC" "not in --quick (bench/tools/compare.sh builds and runs mongo-tools)"
elif [[ ! -x $BUILD/tools/mongodump || ! -x $BUILD/tools/mongorestore ]]; then
  not_measured snapshot_vs_mongodump "$MD_DESC" "$BUILD/tools/mongodump is not built (bench/tools/build_tools.sh)"
else
  say "bench/tools/compare.sh"
  WHY="bench/tools/compare.sh printed no ratio (see $OUT/compare.out)"
  if bash "$ROOT/bench/tools/compare.sh" --docs "$DOCS" --rounds 1 --no_verify >"$OUT/compare.out" 2>&1; then
    measured snapshot_vs_mongodump "$MD_DESC" \
      "$(sed -n 's/^compare: ratio docshift \/ mongodump|mongorestore = //p' "$OUT/compare.out")" ratio ">=" 1.5 \
      "$(grep '^compare: median' "$OUT/compare.out")"
  else
    FAILED=1
    not_measured snapshot_vs_mongodump "$MD_DESC" "bench/tools/compare.sh failed (log $OUT/compare.out)"
  fi
fi

# ---- (3) CPU per event
say "bench/cpu.sh"
cpu=$OUT/cpu/cpu.txt
if CPU_EVENTS=$CPU_EVENTS CPU_LANES=$LANES bash "$ROOT/bench/cpu.sh" "${QFLAG[@]}" --build "$BUILD" --out "$OUT/cpu" \
   >"$OUT/cpu.out" 2>"$OUT/cpu.err"; then
  WHY="bench/cpu.sh printed none (see $OUT/cpu.err)"
else
  FAILED=1
  WHY="bench/cpu.sh failed: $(tail -n1 "$OUT/cpu.err") (log $OUT/cpu.err)"
fi
for t in sqlite pg java; do
  for c in insert_only mixed; do
    k=APPLY_CPU_${t^^}_${c^^}
    measured "cpu_apply_${c}_${t}" "apply CPU per event, ${c/_/-} (${TNAME[$t]})" \
      "$(val ${k}_US_PER_EVENT "$cpu")" us/event "<=" 10 \
      "user $(val ${k}_USER_S "$cpu") s + sys $(val ${k}_SYS_S "$cpu") s over $CPU_EVENTS events, wall $(val ${k}_WALL_S "$cpu") s"
  done
done
measured cpu_capture_oplog "capture CPU per event (oplog source, FerretDB/SQLite)" \
  "$(val CAPTURE_CPU_OPLOG_US_PER_EVENT "$cpu")" us/event "<=" 10 \
  "$(val CAPTURE_CPU_OPLOG_EVENTS "$cpu") events, wall $(val CAPTURE_OPLOG_WALL_S "$cpu") s"
measured cpu_capture_change_stream "capture CPU per event (change streams, mongo-java-server)" \
  "$(val CAPTURE_CPU_CS_US_PER_EVENT "$cpu")" us/event "<=" 10 \
  "$(val CAPTURE_CPU_CS_EVENTS "$cpu") events, wall $(val CAPTURE_CS_WALL_S "$cpu") s"

# ---- (4) lag
say "bench/db/lag.sh --lag_only"
lag=$OUT/lag.out
if KEEP=0 bash "$ROOT/bench/db/lag.sh" "${QFLAG[@]}" --lag_only --build "$BUILD" >"$lag" 2>&1; then
  WHY="lag.sh printed none (see $lag)"
else
  FAILED=1
  WHY="bench/db/lag.sh failed (log $lag)"
fi
measured lag_p99_half_b_ins_oplog "end-to-end lag p99 at half of B_ins (oplog source FerretDB/SQLite → FerretDB/SQLite)" \
  "$(val LAG_HALF_P99_S "$lag")" s "<=" 1 \
  "p50 $(val LAG_HALF_P50_S "$lag") s at $(val LAG_HALF_OFFERED_OPS_PER_S "$lag") ops/s offered ($(val LAG_HALF_ACHIEVED_OPS_PER_S "$lag") achieved), B_ins $(val B_INS_DOCS_PER_S "$lag")"
not_measured lag_p99_half_b_ins_change_stream "end-to-end lag p99 at half of B_ins (change-stream source)" \
  "no bench yet: bench/db/lag.sh part (b) runs capture on the oplog source only"

# ---- (5) and the rest: no bench yet
not_measured scale_curves "time and peak RSS at 10k/100k/1M for snapshot/apply/verify, as PNGs" \
  "curves, not a ratio: bench/scale.sh draws them (minutes at 100k; run it on its own)"
not_measured apply_aimd "apply's adaptive concurrency (AIMD) under push-back" "not built yet: another session's work"

LOAD_END=$(loadavg)
python3 - "$GOALS" "$OUT/summary.json" "$QUICK" "$LOAD_START" "$LOAD_END" <<'EOF' | tee "$OUT/table.txt"
import json, os, platform, sys
goals_tsv, out, quick, l0, l1 = sys.argv[1:6]
goals = []
for line in open(goals_tsv, encoding="utf-8"):
    f = line.rstrip("\n").split("\t")
    if f[0] == "M":
        name, desc, value, unit, op, goal, detail = f[1:8]
        v, g = float(value), float(goal)
        goals.append({"name": name, "description": desc, "value": v, "unit": unit, "op": op, "goal": g,
                      "met": v >= g if op == ">=" else v <= g, "detail": detail})
    else:
        goals.append({"name": f[1], "description": f[2], "value": None, "met": None, "reason": f[3]})
cpu = ""
try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
except (OSError, StopIteration):
    pass
summary = {"quick": quick == "1", "machine": {"cpus": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
           "note": "shared machine: other jobs ran beside these benches; compare ratios measured in one run"},
           "load_avg_start": l0, "load_avg_end": l1, "goals": goals}
json.dump(summary, open(out, "w", encoding="utf-8"), indent=1, ensure_ascii=False)
w = max(len(g["name"]) for g in goals)
print(f"{'goal':<{w}} | {'measured':>14} | {'target':>14} | verdict")
for g in goals:
    if g["value"] is None:
        print(f"{g['name']:<{w}} | {'-':>14} | {'-':>14} | NOT MEASURED: {g['reason']}")
        continue
    unit = "" if g["unit"] == "ratio" else " " + g["unit"]
    meas = f"{g['value']:.2f}{unit}"
    tgt = f"{g['op']} {g['goal']:g}{unit}"
    verdict = "MET" if g["met"] else "MISSED"
    if not g["met"]:
        verdict += f" (by {abs(g['value'] / g['goal'] - 1) * 100:.0f}%)" if g["op"] == ">=" else f" ({g['value'] / g['goal']:.1f}x the budget)"
    print(f"{g['name']:<{w}} | {meas:>14} | {tgt:>14} | {verdict}")
print(f"load average {l0} at the start, {l1} at the end; summary: {out}")
EOF
exit "$FAILED"

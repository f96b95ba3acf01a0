#!/usr/bin/env bash
# docshift snapshot vs `mongodump --archive | mongorestore --archive` (issue #6), on the
# test bed. Loads the same YCSB-like documents into a source database, then alternates
# the two initial loads into the same (emptied) target database, checks document counts
# (and, unless --no_verify, runs `docshift verify`) after each, and prints docs/s per run,
# medians, and the ratio docshift / (mongodump|mongorestore). Results: bench/RESULTS.md.
#
#   bench/tools/build_tools.sh                    # once: build/tools/mongo{dump,restore}
#   scripts/testbed.sh up; set -a; . build/testbed.env; set +a
#   bench/tools/compare.sh [--docs 100000] [--colls 1] [--parallel 4] [--rounds 2]
#                          [--target pg|sqlite] [--docs_per_range N] [--db bench_tools]
#                          [--no_verify] [--skip_load] [--work DIR]
#
# Source: SOURCE_OPLOG_URI (FerretDB v1.24 / SQLite). Target: TARGET_PG_URI (--target pg,
# the default; FerretDB v1.24 / PostgreSQL 15) or TARGET_URI (--target sqlite).
# Parallelism is matched: docshift --parallel P (P copy workers, a pool of P+2 connections
# per side) vs mongodump --numParallelCollections P and mongorestore
# --numParallelCollections min(P, colls) --numInsertionWorkersPerCollection ceil(P/colls).
# docshift --docs_per_range defaults to ceil(docs / colls / P), so each collection splits
# into P ranges the way mongorestore gets P insertion workers per collection.
# docshift needs a spool whose capture recorded its start position: each docshift run
# gets a fresh spool, `docshift capture --source_kind oplog` is started, waited for
# ("capture: ready") and stopped, and only `docshift snapshot` is timed.
#
# Exit: 0 done (whatever the ratio), 1 a run failed or counts differ, 2 usage or missing
# prerequisites (the message says what to run).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DOCS=100000 COLLS=1 PAR=4 ROUNDS=2 TARGET=pg DPR= DB=bench_tools VERIFY=1 LOAD=1
WORK=$ROOT/build/bench-tools
usage() { sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while (($#)); do
  case $1 in
    --docs) DOCS=$2; shift 2 ;;
    --colls) COLLS=$2; shift 2 ;;
    --parallel) PAR=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --target) TARGET=$2; shift 2 ;;
    --docs_per_range) DPR=$2; shift 2 ;;
    --db) DB=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --no_verify) VERIFY=0; shift ;;
    --skip_load) LOAD=0; shift ;;
    -h|--help) usage ;;
    *) echo "compare.sh: unknown argument $1" >&2; usage ;;
  esac
done
for v in DOCS COLLS PAR ROUNDS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: --${v,,} must be a positive integer" >&2; exit 2; }
done
[[ -z $DPR ]] && DPR=$(( (DOCS + COLLS * PAR - 1) / (COLLS * PAR) ))

missing() { echo "compare.sh: missing prerequisite: $*" >&2; exit 2; }
DS=$ROOT/build/docshift
DUMP=$ROOT/build/tools/mongodump
RESTORE=$ROOT/build/tools/mongorestore
[[ -x $DS ]] || missing "$DS; build it: cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo && ninja -C build docshift"
[[ -x $DUMP && -x $RESTORE ]] || missing "$DUMP / $RESTORE; build them: bench/tools/build_tools.sh (needs the Go module proxy; takes minutes)"
[[ -n ${SOURCE_OPLOG_URI:-} ]] || missing "SOURCE_OPLOG_URI unset; run: scripts/testbed.sh up; set -a; . build/testbed.env; set +a"
case $TARGET in
  pg) DST=${TARGET_PG_URI:-}; [[ -n $DST ]] || missing "TARGET_PG_URI unset (test bed env, see above)" ;;
  sqlite) DST=${TARGET_URI:-}; [[ -n $DST ]] || missing "TARGET_URI unset (test bed env, see above)" ;;
  *) echo "compare.sh: --target must be pg or sqlite" >&2; exit 2 ;;
esac
SRC=$SOURCE_OPLOG_URI
PY=${TESTBED_PYTHON:-$ROOT/build/venv/bin/python}
"$PY" -c 'import pymongo' 2>/dev/null || missing "python with pymongo ($PY); run scripts/testbed.sh up"
"$PY" - "$SRC" "$DST" <<'EOF' || missing "test bed servers not answering; run scripts/testbed.sh up"
import sys, pymongo
for u in sys.argv[1:]:
    pymongo.MongoClient(u, serverSelectionTimeoutMS=5000).admin.command("ping")
EOF

mkdir -p "$WORK"
RESTORE_COLLS=$(( PAR < COLLS ? PAR : COLLS ))
RESTORE_WORKERS=$(( (PAR + COLLS - 1) / COLLS ))
now() { date +%s.%N; }
count() {  # count URI -> total documents in $DB
  "$PY" - "$1" "$DB" <<'EOF'
import sys, pymongo
db = pymongo.MongoClient(sys.argv[1])[sys.argv[2]]
print(sum(db[c].count_documents({}) for c in db.list_collection_names() if not c.startswith("system.")))
EOF
}
drop_target() {
  "$PY" -c 'import sys, pymongo; pymongo.MongoClient(sys.argv[1]).drop_database(sys.argv[2])' "$DST" "$DB"
}
verify() {  # verify LABEL
  ((VERIFY)) || return 0
  if "$DS" verify --source "$SRC" --target "$DST" --include "$DB.*" --parallel "$PAR" \
       >"$WORK/verify-$1.log" 2>&1; then
    echo "  verify: identical"
  else
    echo "  verify: FAILED (exit $?), see $WORK/verify-$1.log"; return 1
  fi
}

echo "compare: docs=$DOCS colls=$COLLS parallel=$PAR rounds=$ROUNDS target=$TARGET ($DST) db=$DB"
echo "compare: mongo-tools $(cat "$ROOT/build/tools/VERSION" 2>/dev/null || echo '?'); $("$DUMP" --version 2>&1 | head -n1)"
echo "compare: machine: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
if ((LOAD)); then
  "$PY" "$ROOT/bench/tools/load_ycsb.py" --uri "$SRC" --db "$DB" --docs "$DOCS" --colls "$COLLS" --drop
fi
src_count=$(count "$SRC")
[[ $src_count == "$DOCS" ]] || { echo "compare: source holds $src_count documents, expected $DOCS" >&2; exit 1; }

declare -a TOOLS_RATES=() DS_RATES=() DS_COPY_RATES=()
fail=0

run_tools() {  # run_tools ROUND
  local r=$1 t0 t1 n rate
  drop_target
  local log=$WORK/tools-$r.log
  t0=$(now)
  if ! { "$DUMP" --uri "$SRC" --db "$DB" --archive --numParallelCollections "$PAR" 2>"$log.dump" |
         "$RESTORE" --uri "$DST" --archive --numParallelCollections "$RESTORE_COLLS" \
           --numInsertionWorkersPerCollection "$RESTORE_WORKERS" --stopOnError 2>"$log"; }; then
    echo "  mongodump|mongorestore FAILED; see $log, $log.dump"; tail -n 5 "$log" "$log.dump"; fail=1; return 0
  fi
  t1=$(now)
  n=$(count "$DST")
  rate=$("$PY" -c "print(round($DOCS / ($t1 - $t0)))")
  printf '  round %d mongodump|mongorestore: %d docs in %.2f s = %d docs/s (target count %s)\n' \
    "$r" "$DOCS" "$("$PY" -c "print($t1 - $t0)")" "$rate" "$n"
  [[ $n == "$DOCS" ]] || { echo "  COUNT MISMATCH: target $n, source $DOCS"; fail=1; }
  verify "tools-$r" || fail=1
  TOOLS_RATES+=("$rate")
}

run_docshift() {  # run_docshift ROUND
  local r=$1 t0 t1 n rate spool=$WORK/spool-$r cap_pid i
  drop_target
  rm -rf "$spool"
  : >"$WORK/capture-$r.log"
  "$DS" capture --source "$SRC" --source_kind oplog --spool "$spool" --include "$DB.*" \
    >"$WORK/capture-$r.log" 2>&1 &
  cap_pid=$!
  for ((i = 0; i < 600; i++)); do
    grep -q "capture: ready" "$WORK/capture-$r.log" && break
    kill -0 "$cap_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q "capture: ready" "$WORK/capture-$r.log"; then
    kill "$cap_pid" 2>/dev/null || true; wait "$cap_pid" 2>/dev/null || true
    echo "  docshift capture did not become ready; see $WORK/capture-$r.log"; fail=1; return 0
  fi
  kill -TERM "$cap_pid"; wait "$cap_pid" 2>/dev/null || true
  local log=$WORK/snapshot-$r.log
  t0=$(now)
  if ! "$DS" snapshot --source "$SRC" --target "$DST" --spool "$spool" --include "$DB.*" \
       --parallel "$PAR" --docs_per_range "$DPR" --progress lines >"$log" 2>&1; then
    echo "  docshift snapshot FAILED; see $log"; tail -n 5 "$log"; fail=1; return 0
  fi
  t1=$(now)
  n=$(count "$DST")
  rate=$("$PY" -c "print(round($DOCS / ($t1 - $t0)))")
  printf '  round %d docshift snapshot:      %d docs in %.2f s = %d docs/s (target count %s)\n' \
    "$r" "$DOCS" "$("$PY" -c "print($t1 - $t0)")" "$rate" "$n"
  # Phases from the log's glog timestamps: planning = start .. "starts after spool
  # sequence" (listCollections, count + split points, target emptiness checks); copy = the rest.
  local phases
  phases=$("$PY" - "$log" "$t0" "$t1" "$DOCS" <<'EOF'
import datetime, re, sys
log, t0, t1, docs = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
day = datetime.datetime.fromtimestamp(t0).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
plan_end = None
for line in open(log, errors="replace"):
    m = re.match(r"^[IWEF](?:\d{8}|\d{4}) (\d\d):(\d\d):(\d\d\.\d+) ", line)
    if m and "starts after spool sequence" in line:
        plan_end = day + int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
if plan_end is None:
    print("  phases: (no planning line in the log)")
    print("COPY_RATE -")
else:
    p, c = plan_end - t0, t1 - plan_end
    print(f"  phases: planning {p:.2f} s ({100 * p / (t1 - t0):.0f}%), copy + indexes {c:.2f} s = {docs / c:.0f} docs/s")
    print(f"COPY_RATE {round(docs / c)}")
EOF
)
  grep -v '^COPY_RATE' <<<"$phases"
  local cr; cr=$(sed -n 's/^COPY_RATE //p' <<<"$phases")
  [[ $cr != - ]] && DS_COPY_RATES+=("$cr")
  [[ $n == "$DOCS" ]] || { echo "  COUNT MISMATCH: target $n, source $DOCS"; fail=1; }
  verify "docshift-$r" || fail=1
  DS_RATES+=("$rate")
}

echo "compare: mongorestore --numParallelCollections $RESTORE_COLLS --numInsertionWorkersPerCollection $RESTORE_WORKERS; docshift --parallel $PAR --docs_per_range $DPR"
for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2)); then run_tools "$r"; run_docshift "$r"; else run_docshift "$r"; run_tools "$r"; fi
done
drop_target

"$PY" - "${TOOLS_RATES[*]:-}" "${DS_RATES[*]:-}" "${DS_COPY_RATES[*]:-}" <<'EOF'
import statistics, sys
t = [int(x) for x in sys.argv[1].split()]
d = [int(x) for x in sys.argv[2].split()]
if not t or not d:
    print("compare: not enough successful runs for a ratio"); sys.exit(0)
mt, md = statistics.median(t), statistics.median(d)
print(f"compare: median mongodump|mongorestore {mt:.0f} docs/s {t}; median docshift snapshot {md:.0f} docs/s {d}")
print(f"compare: ratio docshift / mongodump|mongorestore = {md / mt:.2f}")
c = [int(x) for x in sys.argv[3].split()]
if c:
    mc = statistics.median(c)
    print(f"compare: docshift copy phase alone (after planning): median {mc:.0f} docs/s {c}, "
          f"ratio {mc / mt:.2f} to mongodump|mongorestore end to end")
EOF
exit "$fail"

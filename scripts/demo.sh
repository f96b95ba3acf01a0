#!/usr/bin/env bash
# The README's first command: installs dependencies, builds, and runs the main job: a whole
# live migration between local servers (scripts/testbed.sh), with its progress printed.
#
#   source: mongo-java-server (change streams)  →  spool  →  target: FerretDB (PostgreSQL)
#
# 1. load data into the source: a 10,000-document collection with an index, and the
#    independent workload generator's 6 collections;
# 2. start `docshift capture`; once it is ready, the workload generator keeps writing;
# 3. `docshift snapshot` copies the existing data and indexes, in parallel;
# 4. `docshift apply` replays every change since the snapshot started;
# 5. `docshift status` is printed every few seconds while writes go on;
# 6. writes stop; `docshift cutover` waits for the lag to fall, checks writes have stopped,
#    drains, runs the final verify and prints "SAFE TO SWITCH";
# 7. the independent checker compares source and target document by document.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

scripts/install-deps.sh
scripts/build.sh >/dev/null
scripts/testbed.sh up
set -a
# shellcheck disable=SC1091
. build/testbed.env
set +a
PY=$TESTBED_PYTHON
DS=build/docshift
W=build/demo
rm -rf "$W"
mkdir -p "$W"
SPOOL=$W/spool
SRC=$SOURCE_CS_URI
DST=$TARGET_PG_URI
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
pids=""
trap 'for p in $pids; do kill -TERM $p 2>/dev/null; done; wait 2>/dev/null; "$ROOT/scripts/testbed.sh" down >/dev/null 2>&1 || true' EXIT

say "source $SRC → target $DST (spool $SPOOL)"
"$PY" - "$SRC" "$DST" <<'PYEOF'
import sys
from pymongo import MongoClient
for uri in sys.argv[1:]:
    c = MongoClient(uri)
    for d in c.list_database_names():
        if d.startswith("demo_"): c.drop_database(d)
PYEOF
say "1. the application's data: 10,000 events (with an index) and 6 small collections"
"$PY" - "$SRC" <<'PYEOF'
import sys
from pymongo import MongoClient
events = MongoClient(sys.argv[1])["demo_big"]["events"]
for start in range(0, 10000, 5000):
    events.insert_many([{"_id": i, "kind": ["click", "view", "buy"][i % 3], "user": i % 977,
                         "payload": {"page": f"/p/{i % 50}", "ms": i % 1000}, "pad": "x" * 300}
                        for i in range(start, start + 5000)])
events.create_index([("kind", 1), ("user", -1)], name="kind_user")
print("demo_big.events: 10000 documents, index kind_user")
PYEOF
"$PY" tests/workload/workload.py --uri "$SRC" --db-prefix demo_ --dbs 2 --colls 3 \
  --load 1200 --duration 0 --seed 41 | tail -1

say "2. docshift capture (from now on every change is captured), while the application writes"
$DS capture --source "$SRC" --spool "$SPOOL" --include 'demo_*' --progress_interval 10s \
  2>"$W/capture.log" &
cap=$!
pids="$pids $cap"
for _ in $(seq 1 300); do grep -q "capture: ready" "$W/capture.log" && break; sleep 0.2; done
grep -q "capture: ready" "$W/capture.log" || { tail "$W/capture.log"; exit 1; }
"$PY" tests/workload/workload.py --uri "$SRC" --db-prefix demo_ --dbs 2 --colls 3 \
  --duration 40 --rate 100 --seed 42 >"$W/workload.log" 2>&1 &
wl=$!

say "3. docshift snapshot: copy what exists, in parallel _id ranges, then the indexes"
$DS snapshot --source "$SRC" --target "$DST" --spool "$SPOOL" --include 'demo_*' \
  --docs_per_range 4000 --progress_interval 2s

say "4. docshift apply: replay every change since the snapshot started"
$DS apply --spool "$SPOOL" --target "$DST" --progress_interval 10s 2>"$W/apply.log" &
app=$!
pids="$pids $app"

say "5. docshift status while the application keeps writing"
while kill -0 $wl 2>/dev/null; do
  sleep 5
  say "status $(date +%T)"
  $DS status --spool "$SPOOL" || true
done
wait $wl
tail -1 "$W/workload.log"

say "6. the application stopped writing: docshift cutover"
$DS cutover --spool "$SPOOL" --source "$SRC" --target "$DST" --include 'demo_*' --quiet_period 5s
$DS status --spool "$SPOOL"
kill -TERM $cap; wait $cap || true
kill -TERM $app; wait $app || true
pids=""

say "7. independent check: source vs target, document by document, indexes too"
"$PY" tests/workload/checker.py --source "$SRC" --target "$DST" --db-prefix demo_ --indexes
say "demo finished: the target is identical to the source; switch the application over"

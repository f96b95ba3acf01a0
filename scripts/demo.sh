#!/usr/bin/env bash
# The README's first command: installs dependencies, builds, and runs the main job: a live
# migration between local servers (scripts/testbed.sh), with its progress printed.
#
#   source: mongo-java-server (change streams)  →  spool  →  target: FerretDB (SQLite)
#
# 1. start `docshift capture` and `docshift apply`;
# 2. the independent workload generator loads 2,000 documents and keeps writing for 20 s;
# 3. the spool's state is printed while it runs (segments, checkpoint);
# 4. writes stop; capture and apply drain; the independent checker compares source and
#    target document by document.
# Not yet part of it (issue #5): `snapshot` (copy data that existed before capture
# started), `status`, `verify` and `cutover`. This demo therefore starts from empty
# databases, and prints status from `docshift inspect` and the processes' own logs.
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
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
pids=""
trap 'for p in $pids; do kill -TERM $p 2>/dev/null; done; wait 2>/dev/null; "$ROOT/scripts/testbed.sh" down >/dev/null 2>&1 || true' EXIT

say "source $SOURCE_CS_URI → target $TARGET_URI (spool $SPOOL)"
"$PY" - "$SOURCE_CS_URI" "$TARGET_URI" <<'PYEOF'
import sys
from pymongo import MongoClient
for uri in sys.argv[1:]:
    c = MongoClient(uri)
    for d in c.list_database_names():
        if d.startswith("demo_"): c.drop_database(d)
c = MongoClient(sys.argv[1])
for d in range(2):
    for coll in range(3):
        c[f"demo_{d}"].create_collection(f"c{coll}")
PYEOF

say "starting docshift capture and docshift apply"
$DS capture --source "$SOURCE_CS_URI" --spool "$SPOOL" --scope collection --include 'demo_*' \
  --progress_interval 5s 2>"$W/capture.log" &
cap=$!
pids="$pids $cap"
for _ in $(seq 1 300); do grep -q "capture: ready" "$W/capture.log" && break; sleep 0.2; done
grep -q "capture: ready" "$W/capture.log" || { tail "$W/capture.log"; exit 1; }
$DS apply --spool "$SPOOL" --target "$TARGET_URI" --lanes 4 --progress_interval 5s 2>"$W/apply.log" &
app=$!
pids="$pids $app"

say "workload: load 2000 documents, then 20 s of inserts/updates/replaces/deletes at 200 ops/s"
"$PY" tests/workload/workload.py --uri "$SOURCE_CS_URI" --db-prefix demo_ --dbs 2 --colls 3 \
  --load 2000 --duration 20 --rate 200 --seed 42 >"$W/workload.log" 2>&1 &
wl=$!
while kill -0 $wl 2>/dev/null; do
  sleep 5
  say "status $(date +%T)"
  { grep -h "capture: [0-9]* events/s" "$W/capture.log" || true; } | tail -1 | sed 's/^.*capture: /capture: /'
  { grep -h "apply: [0-9]* events/s" "$W/apply.log" || true; } | tail -1 | sed 's/^.*apply: /apply:   /'
  $DS inspect segments --spool "$SPOOL" | tail -2 || true
done
wait $wl
tail -1 "$W/workload.log"

say "writes stopped: draining"
"$PY" - "$SOURCE_CS_URI" <<'PYEOF'
import sys
from pymongo import MongoClient
MongoClient(sys.argv[1])["demo_0"]["c0"].insert_one({"_id": "demo-end-marker"})
PYEOF
for _ in $(seq 1 600); do
  if $DS inspect dump --spool "$SPOOL" --ns demo_0.c0 --op insert 2>/dev/null | grep -q demo-end-marker; then break; fi
  sleep 0.2
done
kill -TERM $cap; wait $cap
kill -TERM $app; wait $app
$DS apply --spool "$SPOOL" --target "$TARGET_URI" --stop_when_drained 2>&1 | tail -1
pids=""

say "spool"
$DS inspect segments --spool "$SPOOL"
$DS inspect stats --spool "$SPOOL"
$DS inspect manifest --spool "$SPOOL" | sed -n '/CHECKPOINTS/,$p'

say "independent check: source vs target, document by document"
"$PY" tests/workload/checker.py --source "$SOURCE_CS_URI" --target "$TARGET_URI" --db-prefix demo_ \
  --ignore-empty-collections
say "demo finished: live migration done, target identical to source"

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

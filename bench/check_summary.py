#!/usr/bin/env python3
"""Checks bench/run_all.sh's summary.json: every figure it promises is there, numeric and
positive, with its goal; each goal it cannot measure yet is listed with a reason. Values
are never judged against their goals (timing is not a test).

  check_summary.py SUMMARY.json [--quick]
Exit 0 all present; 1 something missing or malformed (each problem on its own line)."""
import json
import math
import sys

TARGETS = ("sqlite", "pg", "java")
MEASURED = (
    [f"apply_{c}_{t}" for t in TARGETS for c in ("insert_only", "update_heavy", "mixed")]
    + ["snapshot_vs_combined_ceiling"]
    + [f"cpu_apply_{c}_{t}" for t in TARGETS for c in ("insert_only", "mixed")]
    + ["cpu_capture_oplog", "cpu_capture_change_stream", "lag_p99_half_b_ins_oplog"]
)
# Listed, measured or not (mongodump only when bench/tools/ built mongo-tools, never in --quick).
MAYBE = ["snapshot_vs_mongodump"]
NOT_YET = ["lag_p99_half_b_ins_change_stream", "scale_curves", "apply_aimd"]


def problems(summary, quick):
    out = []
    goals = {g.get("name"): g for g in summary.get("goals", [])}
    for k in ("load_avg_start", "load_avg_end", "machine"):
        if not summary.get(k):
            out.append(f"summary has no {k}")
    for name in MEASURED:
        g = goals.get(name)
        if g is None:
            out.append(f"{name}: missing")
            continue
        v = g.get("value")
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v <= 0:
            out.append(f"{name}: no positive figure ({g.get('reason') or v!r})")
            continue
        if not isinstance(g.get("goal"), (int, float)) or g.get("op") not in (">=", "<=") \
                or not isinstance(g.get("met"), bool) or not g.get("unit"):
            out.append(f"{name}: no goal, op, unit or verdict")
    for name in MAYBE + NOT_YET:
        g = goals.get(name)
        if g is None:
            out.append(f"{name}: missing (it must be listed, measured or NOT MEASURED with a reason)")
        elif g.get("value") is None and not g.get("reason"):
            out.append(f"{name}: NOT MEASURED without a reason")
        elif name in NOT_YET and g.get("value") is not None:
            out.append(f"{name}: has a value but no bench produces it; update check_summary.py")
    if quick and not summary.get("quick"):
        out.append("summary is not from a --quick run")
    return out


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        summary = json.load(f)
    p = problems(summary, "--quick" in sys.argv[2:])
    for line in p:
        print("FAIL: " + line)
    if not p:
        print(f"check_summary: all {len(MEASURED)} figures present, {len(MAYBE) + len(NOT_YET)} other goals listed")
    return 1 if p else 0


if __name__ == "__main__":
    sys.exit(main())

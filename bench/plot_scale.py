#!/usr/bin/env python3
"""Plots bench/scale.sh's figures: OUT/scale_time.png (wall seconds against size) and
OUT/scale_rss.png (peak RSS against size), one line per step (snapshot, apply, verify),
both axes logarithmic.

  plot_scale.py SCALE.txt OUT_DIR"""
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STEPS = ("snapshot", "apply", "verify")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    figs = {}
    load = {}
    for line in open(sys.argv[1], encoding="utf-8"):
        key, _, value = line.strip().partition("=")
        m = re.fullmatch(r"SCALE_([A-Z]+)_(\d+)_(SECONDS|PEAK_RSS_MB)", key)
        if m and value:
            figs.setdefault((m.group(1).lower(), m.group(3)), {})[int(m.group(2))] = float(value)
        elif key.startswith("SCALE_LOADAVG_"):
            load[key[len("SCALE_LOADAVG_"):].lower()] = value
    note = f"shared 2-core machine, load average {load.get('start', '?')} → {load.get('end', '?')}"
    for what, ylabel, name in (("SECONDS", "wall time (s)", "scale_time.png"),
                               ("PEAK_RSS_MB", "peak RSS (MB)", "scale_rss.png")):
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for step in STEPS:
            pts = sorted(figs.get((step, what), {}).items())
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=step)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("documents / events")
        ax.set_ylabel(ylabel)
        ax.set_title(f"docshift {ylabel} by size\n{note}", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(f"{sys.argv[2]}/{name}", dpi=100)
        print(f"plot_scale: wrote {sys.argv[2]}/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

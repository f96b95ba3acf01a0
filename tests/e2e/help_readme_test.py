#!/usr/bin/env python3
"""`docshift CMD --help` and README.md must not drift apart (issue #14).

For every command `docshift --help` lists:
  1. every flag its --help lists appears in the README, in the command's own section
     (### `docshift CMD ...`, up to the next ### or ## heading) or in the "Flag ranges"
     table on a row naming the command;
  2. every flag the README lists for the command exists in its --help: the first column
     of the flag tables in its section (`--batch_max_events/bytes/time` is three flags),
     the flags of the section's heading synopsis, and the "Flag ranges" rows naming it;
  3. the "Flag ranges" table is exactly the (flag, command) pairs --help prints a range for.
And 4: every --flag written anywhere in the README's "Commands" chapter is a flag of some
command, or one of the global ones (--help, --version, --flagfile, glog's logging flags):
a renamed or removed flag cannot linger in prose.

Usage: help_readme_test.py DOCSHIFT README.md    Exit 0, or 1 listing every drift found.
"""
import re
import subprocess
import sys

GLOBAL = {"help", "version", "flagfile", "v", "log_dir", "minloglevel", "logtostderr",
          "alsologtostderr", "stderrthreshold", "logbufsecs"}
# --words the Commands chapter writes on purpose that are no docshift flag (check 4).
NOT_FLAGS = {
    "flag": "the syntax: --flag=value or --flag value",
    "flag_name": "the syntax: --flag_name or --flag-name",
    "batch_max_event": "the example of a misspelled flag",
    "x": "the example of an unknown flag's error",
    "events_json": "a flag of bench/make_spool",
    "watch_status": "seed 000's --watch-status, which status --json follows",
    "ship_to": "named as not done yet",
}


def run(*args):
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def help_flags(ds, cmd):
    """{flag: has_range} from `docshift CMD --help`."""
    flags, last = {}, None
    for line in run(ds, cmd, "--help").splitlines():
        m = re.match(r"^  --([a-z0-9_]+) \(", line)
        if m:
            last = m.group(1)
            flags[last] = False
        elif last and line.startswith("      range: "):
            flags[last] = True
    return flags


def expand(token):
    """'batch_max_events/bytes/time' -> batch_max_events, batch_max_bytes, batch_max_time."""
    parts = token.split("/")
    out = [parts[0]]
    stem = parts[0].rsplit("_", 1)[0] if "_" in parts[0] else ""
    for p in parts[1:]:
        if re.fullmatch(r"[a-z0-9_]+", p):
            out.append(f"{stem}_{p}" if stem else p)
    return out


def norm(flag):
    return flag.replace("-", "_")


def flags_in(text):
    """Every --flag written in text, with a/b/c shorthands expanded."""
    found = set()
    for m in re.finditer(r"(?<![\w-])--(?:no)?([a-z][a-z0-9_-]*(?:/[a-z0-9_]+)*)", text):
        for f in expand(m.group(1)):
            found.add(norm(f))
    return found


def main():
    ds, readme_path = sys.argv[1], sys.argv[2]
    readme = open(readme_path).read()
    top = run(ds, "--help")
    block = re.search(r"^Commands:\n((?:  \S.*\n)+)", top, re.M)
    commands = [l.split()[0] for l in block.group(1).splitlines()]
    helps = {c: help_flags(ds, c) for c in commands}
    all_flags = set().union(*[set(h) for h in helps.values()]) | GLOBAL
    problems = []

    # The "Flag ranges" table: | `--flag` | cmd, cmd | accepts |
    ranges_sec = re.search(r"^### Flag ranges\n(.*?)(?=^##)", readme, re.M | re.S)
    if not ranges_sec:
        print("FAIL: README has no '### Flag ranges' section")
        return 1
    range_rows = set()
    for m in re.finditer(r"^\| `--([a-z0-9_]+)` \| ([a-z, ]+) \|", ranges_sec.group(1), re.M):
        for c in m.group(2).split(","):
            range_rows.add((m.group(1), c.strip()))
    help_ranged = {(f, c) for c in commands for f, r in helps[c].items() if r}
    for f, c in sorted(help_ranged - range_rows):
        problems.append(f"Flag ranges table: `{c} --help` prints a range for --{f}, the table has no row for it")
    for f, c in sorted(range_rows - help_ranged):
        problems.append(f"Flag ranges table: the row --{f} | {c}: `{c} --help` prints no range for --{f}")

    for c in commands:
        # A command may have several sections ("docshift apply --spool DIR" and
        # "docshift apply --spool s3://..."): together they are its section.
        headings = list(re.finditer(rf"^### `docshift {c}\b[^\n]*\n", readme, re.M))
        if not headings:
            problems.append(f"{c}: README has no section '### `docshift {c} ...`'")
            continue
        heading_text, body = "", ""
        for heading in headings:
            rest = readme[heading.end():]
            end = re.search(r"^#{2,3} ", rest, re.M)
            heading_text += heading.group(0)
            body += rest[: end.start()] if end else rest
        section = heading_text + body
        mentioned = flags_in(section)
        in_ranges = {f for f, cc in range_rows if cc == c}
        # 1. --help → README
        for f in sorted(helps[c]):
            if f not in mentioned and f not in in_ranges:
                problems.append(f"{c}: --{f} is in `docshift {c} --help` but not in the README's {c} section")
        # 2. README's lists for the command → --help
        listed = set(flags_in(heading_text))
        for m in re.finditer(r"^\| ([^|]*) \|", body, re.M):
            cell = m.group(1)
            if cell.strip() in ("flag", "---", "metric", "state"):
                continue
            listed |= flags_in(cell.split(" ", 1)[0] if cell.startswith("`--") and "`, `" not in cell else cell)
        listed |= in_ranges
        for f in sorted(listed - set(helps[c]) - GLOBAL):
            problems.append(f"{c}: the README lists --{f} for {c}, but `docshift {c} --help` has no such flag")

    # 4. No flag in the Commands chapter that no command has.
    chapter = re.search(r"^## Commands\n(.*?)(?=^## )", readme, re.M | re.S)
    for f in sorted(flags_in(chapter.group(1)) - all_flags - set(NOT_FLAGS)):
        problems.append(f"README, Commands chapter: --{f} is no flag of any command")

    checked = sum(len(h) for h in helps.values())
    if problems:
        print(f"FAIL: {len(problems)} drift(s) between --help and README.md:")
        for p in problems:
            print("  " + p)
        return 1
    print(f"help_readme: {len(commands)} commands, {checked} flags, {len(range_rows)} flag-range rows: no drift")
    return 0


if __name__ == "__main__":
    sys.exit(main())

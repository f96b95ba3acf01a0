#!/usr/bin/env python3
"""Writes docshift(1), a roff man page, from the binary's own help texts.

The page is `docshift --help`, then `docshift CMD --help` for every command the top help
lists, verbatim (so it says exactly what the binary says), then the sections a packaged
service needs: FILES (units, environment file, spool), SIGNALS and SEE ALSO.

Usage: gen_manpage.py DOCSHIFT OUT   (OUT ending in .gz is gzipped, reproducibly)
The date on the page is SOURCE_DATE_EPOCH's if set, else none.
"""
import gzip
import os
import re
import subprocess
import sys
import time


def run(binary, *args):
    r = subprocess.run([binary, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"gen_manpage: `docshift {' '.join(args)}` exited {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def roff_text(line):
    """One line of help as literal roff text."""
    line = line.replace("\\", "\\e").replace("-", "\\-")
    if line.startswith((".", "'")):
        line = "\\&" + line
    return line


def verbatim(text):
    return [".nf"] + [roff_text(l) for l in text.rstrip("\n").split("\n")] + [".fi"]


def main():
    binary, out = sys.argv[1], sys.argv[2]
    top = run(binary, "--help")
    version = run(binary, "--version").split("\n")[0].split()[-1]
    block = re.search(r"^Commands:\n((?:  \S.*\n)+)", top, re.M)
    if not block:
        sys.exit("gen_manpage: no 'Commands:' list in `docshift --help`")
    commands = [(l.split()[0], l.split(None, 1)[1]) for l in block.group(1).splitlines()]
    date = ""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        date = time.strftime("%Y-%m-%d", time.gmtime(int(os.environ["SOURCE_DATE_EPOCH"])))
    summary = top.split("\n")[0].split(": ", 1)[1].rstrip(".")
    page = [
        f'.TH DOCSHIFT 1 "{date}" "docshift {version}" "User Commands"',
        ".SH NAME",
        "docshift \\- " + roff_text(summary),
        ".SH SYNOPSIS",
        ".B docshift",
        ".I command",
        "[\\fIflags\\fR]",
        ".br",
        ".B docshift",
        ".I command",
        ".B \\-\\-help",
        ".SH DESCRIPTION",
        *verbatim(top),
        ".SH COMMANDS",
    ]
    for name, what in commands:
        page += [f".SS docshift {roff_text(name)}", roff_text(what), ".PP", *verbatim(run(binary, name, "--help"))]
    page += [
        ".SH SERVICE",
        "The package installs two systemd template units, one instance per migration NAME:",
        ".BR docshift\\-capture@NAME.service " "and",
        ".BR docshift\\-apply@NAME.service .",
        "Both read",
        ".IR /etc/docshift/NAME.env ,",
        "run as the user",
        ".BR docshift ,",
        "and keep the spool in",
        ".IR /var/lib/docshift/NAME .",
        "They are Type=notify: capture is ready once it logs \"capture: ready\", apply once it",
        "reads the spool; both send WATCHDOG=1 keep-alives (WatchdogSec), STATUS= progress lines",
        "and STOPPING=1 on SIGTERM.",
        ".SH SIGNALS",
        ".TP",
        ".B SIGINT, SIGTERM",
        "finish the batch in hand, write the checkpoint or seal the open segment, exit 0;",
        "a second one exits at once.",
        ".TP",
        ".B SIGHUP",
        "flush the logs and, with \\-\\-log_dir, close the log files and continue in new ones",
        "(systemctl reload). Nothing is re\\-read; the process goes on.",
        ".SH FILES",
        ".TP",
        ".I /etc/docshift/NAME.env",
        "SOURCE, TARGET, SPOOL, CAPTURE_FLAGS, APPLY_FLAGS of migration NAME (credentials: mode 0600);",
        "an example is in /usr/share/doc/docshift/example.env.",
        ".TP",
        ".I /usr/lib/systemd/system/docshift\\-capture@.service, docshift\\-apply@.service",
        "the template units.",
        ".TP",
        ".I /var/lib/docshift/NAME",
        "the spool of migration NAME.",
        ".SH SEE ALSO",
        ".BR systemctl (1),",
        ".BR systemd.service (5),",
        "/usr/share/doc/docshift/README.md",
    ]
    text = "\n".join(page) + "\n"
    if out.endswith(".gz"):
        with open(out, "wb") as f:
            with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as g:
                g.write(text.encode())
    else:
        with open(out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()

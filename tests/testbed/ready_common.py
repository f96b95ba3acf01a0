"""What the readiness probes of scripts/testbed.sh share (mongo_ready.py, dynamodb_ready.py,
s3_ready.py): the wait loop, the liveness check of the server's process and the `wait` /
`ping` command line. Each probe supplies only its own round trip."""

import argparse
import os
import sys
import time


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) is not alive for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def wait(target, deadline_s, pid, probe, errors):
    """Calls probe() until it returns without one of `errors`, the deadline passes, or the
    process pid exits. Returns 0 when ready, 1 on deadline, 3 when pid died."""
    deadline = time.monotonic() + deadline_s
    last = "no attempt"
    while True:
        if pid and not pid_alive(pid):
            print(f"process {pid} exited before {target} became ready (last: {last})",
                  file=sys.stderr)
            return 3
        try:
            probe()
            return 0
        except errors as e:
            last = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        if time.monotonic() >= deadline:
            print(f"{target} not ready after {deadline_s}s (last: {last})", file=sys.stderr)
            return 1
        time.sleep(0.2)  # poll interval between real probes, not a readiness stand-in


def ping(probe, errors):
    """One attempt: 0 when probe() answers, 1 when it raises one of `errors`."""
    try:
        probe()
        return 0
    except errors:
        return 1


def wait_ping_main(doc, probe, errors):
    """The `wait URL --deadline S [--pid PID]` and `ping URL` command line of a probe whose
    round trip is probe(url, timeout_s)."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("wait")
    w.add_argument("url")
    w.add_argument("--deadline", type=float, default=60)
    w.add_argument("--pid", type=int, default=0)
    g = sub.add_parser("ping")
    g.add_argument("url")
    a = p.parse_args()
    if a.cmd == "wait":
        return wait(a.url, a.deadline, a.pid, lambda: probe(a.url, 1), errors)
    return ping(lambda: probe(a.url, 2), errors)

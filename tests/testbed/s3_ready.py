#!/usr/bin/env python3
"""Readiness probe for the S3-API server of scripts/testbed.sh (gofakes3).

  s3_ready.py wait URL --deadline SECONDS [--pid PID]
      Polls the endpoint until a PUT then a GET of s3://testbed-ready/probe round-trips
      (path-style addressing), the deadline passes, or the process PID exits. Exit 0
      when ready, 1 on deadline, 3 when PID died.

  s3_ready.py ping URL
      One attempt; exit 0 if the round trip completes within 2 s.

Region us-east-1, dummy credentials (gofakes3 checks no signature). The probe bucket is
created on first use (the server runs with WithAutoBucket).
"""

import argparse
import os
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError


def probe(url, timeout):
    # when_required: no default CRC32 trailer (aws-chunked), a plain PUT as docshift sends.
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"},
                 connect_timeout=timeout, read_timeout=timeout,
                 s3={"addressing_style": "path"},
                 request_checksum_calculation="when_required",
                 response_checksum_validation="when_required")
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                      aws_access_key_id="testbed", aws_secret_access_key="testbed", config=cfg)
    s3.put_object(Bucket="testbed-ready", Key="probe", Body=b"ready")
    body = s3.get_object(Bucket="testbed-ready", Key="probe")["Body"].read()
    if body != b"ready":
        raise ClientError({"Error": {"Code": "Probe", "Message": f"read back {body!r}"}}, "GetObject")


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def cmd_wait(a):
    deadline = time.monotonic() + a.deadline
    last = "no attempt"
    while True:
        if a.pid and not pid_alive(a.pid):
            print(f"process {a.pid} exited before {a.url} became ready (last: {last})",
                  file=sys.stderr)
            return 3
        try:
            probe(a.url, 1)
            return 0
        except (BotoCoreError, ClientError) as e:
            last = str(e).splitlines()[0][:200]
        if time.monotonic() >= deadline:
            print(f"{a.url} not ready after {a.deadline}s (last: {last})", file=sys.stderr)
            return 1
        time.sleep(0.2)  # poll interval between real probes, not a readiness stand-in


def cmd_ping(a):
    try:
        probe(a.url, 2)
        return 0
    except (BotoCoreError, ClientError):
        return 1


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("wait")
    w.add_argument("url")
    w.add_argument("--deadline", type=float, default=60)
    w.add_argument("--pid", type=int, default=0)
    w.set_defaults(fn=cmd_wait)
    g = sub.add_parser("ping")
    g.add_argument("url")
    g.set_defaults(fn=cmd_ping)
    a = p.parse_args()
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())

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

import sys

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from ready_common import wait_ping_main


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


if __name__ == "__main__":
    sys.exit(wait_ping_main(__doc__, probe, (BotoCoreError, ClientError)))

#!/usr/bin/env python3
"""Readiness probe for the DynamoDB-API servers of scripts/testbed.sh (moto, ministack).

  dynamodb_ready.py wait URL --deadline SECONDS [--pid PID]
      Polls the endpoint until it answers DynamoDB `ListTables` and DynamoDB Streams
      `ListStreams` (both services the tests use), the deadline passes, or the process
      PID exits. Exit 0 when ready, 1 on deadline, 3 when PID died.

  dynamodb_ready.py ping URL
      One attempt; exit 0 if both calls answer within 2 s.

Region us-east-1, dummy credentials (neither server checks signatures by default).
"""

import sys

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from ready_common import wait_ping_main


def probe(url, timeout):
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"},
                 connect_timeout=timeout, read_timeout=timeout)
    kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="testbed",
              aws_secret_access_key="testbed", config=cfg)
    boto3.client("dynamodb", **kw).list_tables(Limit=1)
    boto3.client("dynamodbstreams", **kw).list_streams(Limit=1)


if __name__ == "__main__":
    sys.exit(wait_ping_main(__doc__, probe, (BotoCoreError, ClientError)))

#!/usr/bin/env python3
"""An independent reader of a spool in a bucket (spool/FORMAT.md, "Bucket layout"),
written from the format document alone: it lists PREFIX/log/, checks each record's
framing (magic DSHBLG01, version 1, length, masked CRC-32C, type 11), decodes the
BucketLogRecord protobuf by hand (wire format), folds the log as the format says, then
downloads every committed segment and checks its size and CRC-32C against its record.

Usage: bucket_reader.py ENDPOINT BUCKET PREFIX [--deletions-ok]  -> prints a JSON summary;
exit 1 and a line naming the object on anything the format forbids. A `deleted` record
(retention) is refused unless --deletions-ok: then it must name the oldest live segment,
which leaves the summary's "files" and is listed under "deleted".
"""
import json
import struct
import sys

import boto3
from botocore.config import Config


def crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


TABLE = crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def unmask(m):
    r = (m - 0xA282EAD8) & 0xFFFFFFFF
    return ((r >> 17) | (r << 15)) & 0xFFFFFFFF


def varint(buf, i):
    shift = v = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def fields(buf):
    """protobuf wire format -> {field number: [values]} (varints as int, bytes as bytes)."""
    out, i = {}, 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(buf, i)
        elif wt == 2:
            n, i = varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 5:
            v, i = struct.unpack_from("<I", buf, i)[0], i + 4
        elif wt == 1:
            v, i = struct.unpack_from("<Q", buf, i)[0], i + 8
        else:
            raise ValueError("wire type %d" % wt)
        out.setdefault(num, []).append(v)
    return out


def die(msg):
    print("bucket_reader: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    endpoint, bucket, prefix = sys.argv[1:4]
    deletions_ok = "--deletions-ok" in sys.argv[4:]
    deleted = []
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing",
                      config=Config(s3={"addressing_style": "path"}))
    base = prefix + "/" if prefix else ""
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base + "log/"):
        keys += [o["Key"] for o in page.get("Contents", [])]
    keys.sort()
    segments, writers, expected_seq, created = [], [], 1, None
    for n, key in enumerate(keys, start=1):
        name = key[len(base) + 4:]
        if name != "%020d" % n:
            die("s3://%s/%s: expected log record %d here" % (bucket, key, n))
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if body[:8] != b"DSHBLG01" or struct.unpack_from("<I", body, 8)[0] != 1:
            die("s3://%s/%s: bad preamble" % (bucket, key))
        length, masked = struct.unpack_from("<II", body, 12)
        rtype = body[20]
        payload = body[21:21 + length]
        if rtype != 11 or len(payload) != length or 21 + length != len(body):
            die("s3://%s/%s: bad record framing" % (bucket, key))
        if crc32c(bytes([rtype]) + payload) != unmask(masked):
            die("s3://%s/%s: record CRC mismatch" % (bucket, key))
        rec = fields(payload)
        if rec.get(1, [0])[0] != n:
            die("s3://%s/%s: number %s" % (bucket, key, rec.get(1)))
        writer = rec.get(2, [b""])[0].decode()
        if n == 1:
            if 4 not in rec:
                die("record 1 has no SpoolCreated")
            created = fields(rec[4][0])
        elif 4 in rec:
            die("SpoolCreated in record %d" % n)
        if 5 in rec:
            writers.append(writer)
        if 6 in rec:
            s = fields(rec[6][0])
            fname, first, last = s[1][0].decode(), s.get(2, [0])[0], s.get(3, [0])[0]
            fbytes, fcrc = s.get(7, [0])[0], s.get(9, [0])[0]
            if first != expected_seq or fname != "%020d.seg" % first:
                die("record %d: segment %s at %d, expected %d" % (n, fname, first, expected_seq))
            expected_seq = last + 1
            segments.append({"file": fname, "first": first, "last": last, "bytes": fbytes, "crc": fcrc})
        if 7 in rec:
            if not deletions_ok:
                die("record %d: a deletion (not expected in this test)" % n)
            d = fields(rec[7][0])
            dname, dfirst, dlast = d[1][0].decode(), d.get(2, [0])[0], d.get(3, [0])[0]
            if not segments or (segments[0]["file"], segments[0]["first"], segments[0]["last"]) != (dname, dfirst, dlast):
                die("record %d: deletion of %s, which is not the oldest live segment" % (n, dname))
            deleted.append(segments.pop(0))
    for s in segments:
        key = base + "segments/" + s["file"]
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if len(data) != s["bytes"] or crc32c(data) != s["crc"]:
            die("s3://%s/%s: does not match its commit record (size %d vs %d)" % (bucket, key, len(data), s["bytes"]))
    print(json.dumps({
        "records": len(keys),
        "source_id": created[2][0].decode() if created and 2 in created else "",
        "segments": len(segments),
        "files": [s["file"] for s in segments],
        "last_seq": expected_seq - 1,
        "shipper_runs": len(writers),
        "deleted": [{"file": s["file"], "last": s["last"]} for s in deleted],
        "live": [{"file": s["file"], "first": s["first"], "last": s["last"]} for s in segments],
    }))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Readiness probe and oplog setup for scripts/testbed.sh (test infrastructure only).

  mongo_ready.py wait URI --deadline SECONDS [--pid PID] [--ferretdb]
      Polls the server until it answers `isMaster` (and, with --ferretdb, `ping` plus
      `listDatabases`, which reaches the storage backend), the deadline passes, or the
      process PID exits. Exit 0 when ready, 1 on deadline, 3 when PID died.
      `isMaster` rather than `hello`: mongo-java-server has no `hello`.

  mongo_ready.py ensure-oplog URI --size BYTES
      Creates a capped local.oplog.rs (FerretDB records writes there only when it
      exists). Leaves an existing capped one alone; fails if it exists uncapped.

  mongo_ready.py ping URI
      One attempt; exit 0 if the server answers isMaster within 2 s.
"""

import argparse
import sys

import pymongo
from pymongo.errors import PyMongoError
from ready_common import ping, wait


def client(uri, timeout_ms):
    return pymongo.MongoClient(
        uri,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=max(timeout_ms, 10000),
    )


def probe(uri, ferretdb):
    with client(uri, 1000) as c:
        c.admin.command("isMaster")
        if ferretdb:
            c.admin.command("ping")
            c.admin.command("listDatabases", nameOnly=True)


def cmd_wait(a):
    return wait(a.uri, a.deadline, a.pid, lambda: probe(a.uri, a.ferretdb), PyMongoError)


def cmd_ensure_oplog(a):
    with client(a.uri, 5000) as c:
        local = c["local"]
        infos = list(local.list_collections(filter={"name": "oplog.rs"}))
        if infos:
            opts = infos[0].get("options", {})
            if not opts.get("capped"):
                print("local.oplog.rs exists but is not capped", file=sys.stderr)
                return 1
            if opts.get("size") != a.size:
                print(f"note: local.oplog.rs keeps its size {opts.get('size')} (asked {a.size}); "
                      "scripts/testbed.sh reset recreates it", file=sys.stderr)
        else:
            local.command("create", "oplog.rs", capped=True, size=a.size)
        # A real replica set's oplog is never empty (a new primary writes a no-op entry,
        # then one every 10 s while idle). FerretDB's starts empty, and capture waits for
        # a first entry to take its position from, so give it one, as a primary would.
        if local["oplog.rs"].find_one() is None:
            c["testbed"]["seed"].insert_one({"note": "first oplog entry, as a primary writes"})
        return 0


def ping_once(uri):
    with client(uri, 2000) as c:
        c.admin.command("isMaster")


def cmd_ping(a):
    return ping(lambda: ping_once(a.uri), PyMongoError)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("wait")
    w.add_argument("uri")
    w.add_argument("--deadline", type=float, required=True)
    w.add_argument("--pid", type=int, default=0)
    w.add_argument("--ferretdb", action="store_true")
    o = sub.add_parser("ensure-oplog")
    o.add_argument("uri")
    o.add_argument("--size", type=int, default=8 * 1024 * 1024)
    g = sub.add_parser("ping")
    g.add_argument("uri")
    a = p.parse_args()
    try:
        return {"wait": cmd_wait, "ensure-oplog": cmd_ensure_oplog, "ping": cmd_ping}[a.cmd](a)
    except PyMongoError as e:
        print(f"{a.cmd} {a.uri}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

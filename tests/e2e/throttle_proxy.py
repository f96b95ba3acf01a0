#!/usr/bin/env python3
"""A MongoDB wire-protocol proxy on loopback that throttles writes (test tool only).

  throttle_proxy.py UPSTREAM_HOST UPSTREAM_PORT STATE_FILE EVERY MAX RETRY_AFTER_MS

Listens on an ephemeral 127.0.0.1 port and forwards every connection to the upstream,
message by message. Of the write commands it sees (OP_MSG insert, update, delete), every
EVERY-th one, up to MAX in all, is not forwarded: the proxy answers it itself the way
Azure Cosmos DB for MongoDB answers when a collection's request units are spent, with
error 16500 and "RetryAfterMs=RETRY_AFTER_MS" in the message. It alternates the two
shapes that answer takes: the whole command refused ({ok: 0, code: 16500, ...}), and
{ok: 1, n: 0, writeErrors: [one 16500 entry per statement]} (nothing written either way,
since nothing reached the server).

STATE_FILE is rewritten (atomically) after every write command as JSON: the listening
port, writes seen, injected, forwarded, and the gaps (ms) between each injected
writeErrors answer and the command's retry (the next write command of the same name and
statement count: min_gap_ms, -1 until there is one), so a test can tell a retry-after
honoured from an immediate retry without timing docshift. (Only those: libmongoc 1.23
loses a command error of an unordered bulk when a later command of the bulk succeeds, so
the client cannot know that answer was push-back; docshift then writes the bulk's writes
one by one at once, see apply/applier.cc.)
"""
import json
import os
import socket
import struct
import sys
import threading
import time

import bson

upstream = (sys.argv[1], int(sys.argv[2]))
state_path = sys.argv[3]
every = int(sys.argv[4])
max_inject = int(sys.argv[5])
retry_after_ms = int(sys.argv[6])

OP_MSG = 2013
WRITES = ("insert", "update", "delete")
SEQ_FIELD = {"insert": "documents", "update": "updates", "delete": "deletes"}

lock = threading.Lock()
stats = {"port": 0, "writes": 0, "injected": 0, "forwarded": 0, "min_gap_ms": -1, "gaps": 0}
injected_at = {}  # (command, statements) -> monotonic time of its injected answer, until retried
next_request_id = 1 << 30


def write_state():
    tmp = state_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(stats, f)
    os.replace(tmp, state_path)


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def parse_op_msg(msg):
    """(command name, statement count) of an OP_MSG, or (None, 0)."""
    flags = struct.unpack_from("<I", msg, 16)[0]
    end = len(msg) - (4 if flags & 1 else 0)
    pos = 20
    body = None
    sequences = {}
    while pos < end:
        kind = msg[pos]
        pos += 1
        if kind == 0:
            size = struct.unpack_from("<i", msg, pos)[0]
            body = bson.decode(msg[pos:pos + size])
            pos += size
        elif kind == 1:
            size = struct.unpack_from("<i", msg, pos)[0]
            section_end = pos + size
            p = pos + 4
            name_end = msg.index(b"\x00", p)
            ident = msg[p:name_end].decode()
            p = name_end + 1
            n = 0
            while p < section_end:
                p += struct.unpack_from("<i", msg, p)[0]
                n += 1
            sequences[ident] = n
            pos = section_end
        else:
            return None, 0
    if not body:
        return None, 0
    name = next(iter(body))
    if name not in WRITES:
        return None, 0
    field = SEQ_FIELD[name]
    count = sequences.get(field, len(body.get(field, [])))
    return name, max(1, count)


def reply(request_id, doc):
    global next_request_id
    payload = struct.pack("<I", 0) + b"\x00" + bson.encode(doc)
    with lock:
        next_request_id += 1
        rid = next_request_id
    return struct.pack("<iiii", 16 + len(payload), rid, request_id, OP_MSG) + payload


def throttled_answer(request_id, count, shape):
    errmsg = ("Error=16500, RetryAfterMs=%d, Details='Request rate is large. More Request Units may be "
              "needed, so no changes were made. Please retry this request later.'" % retry_after_ms)
    if shape == 0:
        doc = {"ok": 0.0, "errmsg": errmsg, "code": 16500, "codeName": "RequestRateTooLarge"}
    else:
        doc = {"ok": 1.0, "n": 0,
               "writeErrors": [{"index": i, "code": 16500, "errmsg": errmsg} for i in range(count)]}
    return reply(request_id, doc)


def client_to_server(client, server):
    try:
        while True:
            header = recv_exact(client, 16)
            if header is None:
                return
            length, request_id, _, op = struct.unpack("<iiii", header)
            rest = recv_exact(client, length - 16)
            if rest is None:
                return
            msg = header + rest
            name, count = parse_op_msg(msg) if op == OP_MSG else (None, 0)
            if name is None:
                server.sendall(msg)
                continue
            now = time.monotonic()
            with lock:
                stats["writes"] += 1
                at = injected_at.pop((name, count), None)
                if at is not None:
                    gap = int((now - at) * 1000)
                    stats["min_gap_ms"] = gap if stats["min_gap_ms"] < 0 else min(stats["min_gap_ms"], gap)
                    stats["gaps"] += 1
                inject = stats["writes"] % every == 0 and stats["injected"] < max_inject
                if inject:
                    shape = stats["injected"] % 2
                    stats["injected"] += 1
                else:
                    stats["forwarded"] += 1
                write_state()
            if inject:
                answer = throttled_answer(request_id, count, shape)
                if shape == 1:
                    with lock:  # before the send: the client cannot have the answer earlier
                        injected_at[(name, count)] = time.monotonic()
                client.sendall(answer)
                print(f"injected 16500 ({'command error' if shape == 0 else 'writeErrors'}) for {name} "
                      f"of {count} statements", flush=True)
            else:
                server.sendall(msg)
    except OSError:
        pass
    finally:
        for s in (client, server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def server_to_client(client, server):
    try:
        while True:
            data = server.recv(65536)
            if not data:
                return
            client.sendall(data)
    except OSError:
        pass
    finally:
        for s in (client, server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(256)
    with lock:
        stats["port"] = lsock.getsockname()[1]
        write_state()
    while True:
        client, _ = lsock.accept()
        try:
            server = socket.create_connection(upstream, timeout=5)
            server.settimeout(None)
        except OSError:
            client.close()
            continue
        threading.Thread(target=client_to_server, args=(client, server), daemon=True).start()
        threading.Thread(target=server_to_client, args=(client, server), daemon=True).start()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A TCP proxy on loopback that can black-hole its open connections (test tool only).

  blackhole_proxy.py UPSTREAM_HOST UPSTREAM_PORT STATE_FILE

Listens on an ephemeral 127.0.0.1 port and forwards every connection to the upstream.
On SIGUSR1 every connection open at that moment is black-holed: it stays open, but
nothing more is forwarded in either direction (bytes from the client are read and
dropped), as a dead network path or a hung server looks to the client. Connections made
afterwards are forwarded normally. STATE_FILE is rewritten (atomically) with
"port P\\nblackholes N\\nswallowed B\\n": the listening port, how many times SIGUSR1 came,
and how many client bytes were swallowed since the last one (so a test can see a request
is stuck in the black hole rather than sleep and hope).
"""
import os
import selectors
import signal
import socket
import sys
import threading

upstream = (sys.argv[1], int(sys.argv[2]))
state_path = sys.argv[3]
lock = threading.Lock()
conns = []  # [client, server, holed]
blackholes = 0
swallowed = 0


def write_state(port):
    tmp = state_path + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"port {port}\nblackholes {blackholes}\nswallowed {swallowed}\n")
    os.replace(tmp, state_path)


def pump(entry, port):
    global swallowed
    client, server = entry[0], entry[1]
    sel = selectors.DefaultSelector()
    sel.register(client, selectors.EVENT_READ, server)
    sel.register(server, selectors.EVENT_READ, client)
    try:
        while True:
            for key, _ in sel.select():
                data = key.fileobj.recv(65536)
                if not data:
                    return
                if entry[2]:
                    if key.fileobj is client:
                        with lock:
                            swallowed += len(data)
                            write_state(port)
                    continue  # black-holed: dropped, never answered
                key.data.sendall(data)
    except OSError:
        pass
    finally:
        if not entry[2]:
            for s in (client, server):
                try:
                    s.close()
                except OSError:
                    pass


def main():
    global blackholes, swallowed
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(256)
    port = lsock.getsockname()[1]

    def on_usr1(signum, frame):
        global blackholes, swallowed
        with lock:
            for e in conns:
                e[2] = True
            blackholes += 1
            swallowed = 0
            write_state(port)

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    with lock:
        write_state(port)
    while True:
        try:
            client, _ = lsock.accept()
        except InterruptedError:
            continue
        try:
            server = socket.create_connection(upstream, timeout=5)
            server.settimeout(None)
        except OSError:
            client.close()
            continue
        entry = [client, server, False]
        with lock:
            conns.append(entry)
        threading.Thread(target=pump, args=(entry, port), daemon=True).start()


if __name__ == "__main__":
    main()

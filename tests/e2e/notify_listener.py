"""A stand-in for systemd's notification socket (sd_notify protocol), for e2e.service.

Binds a Unix datagram socket at PATH and appends every datagram it receives to OUT as
one line, its newlines written as '|' (READY=1|STATUS=capture: ready: ...). Runs until
killed. Prints "listening" on stdout once bound, so the test waits on that, not a sleep.

Usage: notify_listener.py PATH OUT
"""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
print("listening", flush=True)
with open(out, "a", buffering=1) as f:
    while True:
        data = s.recv(65536)
        f.write(data.decode("utf-8", "replace").replace("\n", "|") + "\n")

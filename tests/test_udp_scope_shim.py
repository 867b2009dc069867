"""sin6_scope_id on sendto through the shim (issue 5): a link-scoped destination leaves by
the interface its scope id names.  Two stack hosts on a wire segment (no namespace, no
real network): a shimmed sender on one, a shimmed receiver on the other."""
from __future__ import annotations

import subprocess
import sys
import uuid

PORT = 47201

RECEIVER = f"""
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", {PORT}))
s.settimeout(20)
print("ready", flush=True)
data, src = s.recvfrom(100)
eth = socket.if_nametoindex("eth0")
print(data.decode(), src[0].startswith("fe80:"), src[3] == eth, flush=True)
s.sendto(b"reply:" + data, src)          # back to the sender's link-local address
"""

SENDER = f"""
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
eth = socket.if_nametoindex("eth0")
for scope in (1, 99):                   # lo has no IPv6 multicast route; no such interface
    try:
        s.sendto(b"x", ("ff02::1", {PORT}, 0, scope))
        print(scope, "sent")
    except OSError as e:
        print(scope, e.errno)
print(s.sendto(b"scoped", ("ff02::1", {PORT}, 0, eth)))
s.settimeout(20)
data, src = s.recvfrom(100)
print(data.decode(), src[3] == eth, flush=True)
"""


def test_link_scoped_sendto_uses_the_scope_id(rn) -> None:
    seg = "sc" + uuid.uuid4().hex[:6]
    hosts = (("sa", "fd71::1/64"), ("sb", "fd71::2/64"))
    try:
        for name, a6 in hosts:
            r = rn.run("host", "start", name, "--eth", f"wire:{seg}", "--addr", a6)
            assert r.returncode == 0, r.stderr
        rx = rn.popen("run", "--host", "sb", "--", sys.executable, "-c", RECEIVER,
                      stdout=subprocess.PIPE, text=True)
        try:
            assert rx.stdout.readline().strip() == "ready"
            tx = rn.run("run", "--host", "sa", "--", sys.executable, "-c", SENDER, timeout=60)
            assert tx.stdout.split("\n")[:4] == [
                "1 101", "99 101", "6", "reply:scoped True"], tx.stdout + tx.stderr
            assert rx.wait(30) == 0
            assert rx.stdout.read().split("\n")[0] == "scoped True True"
        finally:
            rx.kill()
    finally:
        for name, _a6 in hosts:
            rn.run("host", "stop", name)

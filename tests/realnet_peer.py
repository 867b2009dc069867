"""Test peer program (run natively or under the shim): TCP server/client exchanging
data both ways with a hash check, connect-error and UDP-error probes."""
from __future__ import annotations

import hashlib
import os
import socket
import sys


def family(addr: str) -> int:
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def server(addr: str, port: int, n: int) -> None:
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1)
    print("listening", flush=True)
    c, _ = s.accept()
    got = bytearray()
    while len(got) < n:
        d = c.recv(1 << 16)
        if not d:
            break
        got += d
    c.sendall(hashlib.sha256(got).digest() + bytes(got[::-1]))
    c.close()
    sys.exit(0 if len(got) == n else 1)


def client(addr: str, port: int, n: int) -> None:
    data = os.urandom(n)
    c = socket.create_connection((addr, port), timeout=60)
    c.sendall(data)
    got = bytearray()
    while True:
        d = c.recv(1 << 16)
        if not d:
            break
        got += d
    if got[:32] != hashlib.sha256(data).digest() or got[32:] != data[::-1]:
        print("mismatch", len(got))
        sys.exit(1)
    print("client ok", len(got))


def refused(addr: str, port: int) -> None:
    try:
        socket.create_connection((addr, port), timeout=20)
        print("connected")
    except OSError as e:
        print(e.errno)


def udp_refused(addr: str, port: int) -> None:
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.connect((addr, port))
    s.settimeout(5)
    s.send(b"x")
    try:
        s.recv(16)
        print("answered")
    except OSError as e:
        print(e.errno)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "server":
        server(args[0], int(args[1]), int(args[2]))
    elif cmd == "client":
        client(args[0], int(args[1]), int(args[2]))
    elif cmd == "refused":
        refused(args[0], int(args[1]))
    else:
        udp_refused(args[0], int(args[1]))

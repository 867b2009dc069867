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
    # connect is bounded by the SYN retransmissions themselves, as natively (~127 s):
    # a first ARP reply corrupted on the wire leaves a wrong neighbor address for its
    # reachable time (Linux keeps it too), so the SYN that gets through can be the one
    # at 63 s
    c = socket.create_connection((addr, port))
    # after it each call may wait 60 s (sendall's timeout would bound the whole transfer)
    c.settimeout(60)
    view = memoryview(data)
    sent = 0
    while sent < n:
        sent += c.send(view[sent : sent + (1 << 20)])
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


def udp_server(addr: str, port: int, n: int) -> None:
    """Answer n distinct datagrams (each reversed, to its sender), then exit."""
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.bind((addr, port))
    s.settimeout(60)
    print("listening", flush=True)
    seen: set[bytes] = set()
    while len(seen) < n:
        d, peer = s.recvfrom(65536)
        seen.add(d)
        s.sendto(d[::-1], peer)
    print("udp server ok", len(seen), flush=True)


def udp_client(addr: str, port: int, n: int) -> None:
    """n datagrams of growing size; each answered reversed (resent after a timeout)."""
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.settimeout(1.0)
    for i in range(n):
        data = b"%06d" % i + os.urandom(100 + 97 * i)
        for _ in range(5):
            s.sendto(data, (addr, port))
            try:
                while True:
                    got, peer = s.recvfrom(65536)
                    if got == data[::-1]:
                        break
            except socket.timeout:
                continue
            break
        else:
            print("no answer", i)
            sys.exit(1)
        if peer[1] != port:
            print("wrong source", peer)
            sys.exit(1)
    print("udp client ok", n)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "server":
        server(args[0], int(args[1]), int(args[2]))
    elif cmd == "client":
        client(args[0], int(args[1]), int(args[2]))
    elif cmd == "udpserver":
        udp_server(args[0], int(args[1]), int(args[2]))
    elif cmd == "udpclient":
        udp_client(args[0], int(args[1]), int(args[2]))
    elif cmd == "refused":
        refused(args[0], int(args[1]))
    else:
        udp_refused(args[0], int(args[1]))

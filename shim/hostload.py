"""The workload that decides which interpreter hosts the stack (shim/hostpick.py): run
as a shimmed program (`rocketnet run -- PYTHON -m shim.hostload`), so every byte and
every connection crosses a stack host through its channels as a user's programs do.

A forked server process serves two listeners on loopback (ports the stack chooses): a
sink that reads a connection to its end and answers with the byte count, and an echo.
The client then runs, first for WARM seconds unmeasured (a host's first second: the
JIT of a PyPy host compiles), then measured for SECONDS each: a bulk transfer (one
connection, 128 KiB sends, rate counted once the sink confirmed every byte),
request/response (64-byte messages on one connection) and new connections (connect,
one 64-byte exchange, close).  Prints one JSON object:
{"bulk_mbit": .., "rr_per_s": .., "crr_per_s": ..}.
Usage: python -m shim.hostload [SECONDS] [WARM]
"""
from __future__ import annotations

import json
import os
import selectors
import socket
import struct
import sys
import time
from typing import Callable

CHUNK = 128 * 1024
MSG = 64
COUNT = struct.Struct("!Q")
LOOPBACK = "127.0.0.1"


def serve(sink: socket.socket, echo: socket.socket, stop: int) -> None:
    """The server: until ``stop`` (a pipe) reads EOF."""
    sel = selectors.DefaultSelector()
    sel.register(sink, selectors.EVENT_READ, "sink")
    sel.register(echo, selectors.EVENT_READ, "echo")
    sel.register(stop, selectors.EVENT_READ, "stop")
    got: dict[socket.socket, int] = {}
    buf = bytearray(CHUNK)
    while True:
        for key, _ in sel.select():
            what, obj = key.data, key.fileobj
            if what == "stop":
                return
            if what in ("sink", "echo"):
                conn, _addr = obj.accept()  # type: ignore[union-attr]
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                got[conn] = 0
                sel.register(conn, selectors.EVENT_READ, f"{what} data")
                continue
            conn = obj  # type: ignore[assignment]
            n = conn.recv_into(buf)
            if n and what == "echo data":
                conn.sendall(memoryview(buf)[:n])
            elif n:
                got[conn] += n
            else:
                if what == "sink data":
                    conn.sendall(COUNT.pack(got[conn]))
                sel.unregister(conn)
                del got[conn]
                conn.close()


def recv_exactly(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        got = s.recv(n - len(out))
        if not got:
            raise ConnectionError("the server closed the connection early")
        out += got
    return out


def connect(port: int) -> socket.socket:
    s = socket.create_connection((LOOPBACK, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def bulk(port: int, seconds: float) -> float:
    """Mbit/s through one connection: bytes the sink confirmed / time to confirmation."""
    data = memoryview(b"\x5a" * CHUNK)
    s = connect(port)
    sent = 0
    start = time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        s.sendall(data)
        sent += CHUNK
    s.shutdown(socket.SHUT_WR)
    (got,) = COUNT.unpack(recv_exactly(s, COUNT.size))
    elapsed = time.monotonic() - start
    s.close()
    if got != sent:
        raise ConnectionError(f"the sink counted {got} bytes of {sent}")
    return got * 8 / elapsed / 1e6


def rr(port: int, seconds: float) -> float:
    """Request/response transactions per second on one connection."""
    msg = b"q" * MSG
    s = connect(port)
    n = 0
    start = time.monotonic()
    end = start + seconds
    while True:
        s.sendall(msg)
        recv_exactly(s, MSG)
        n += 1
        if n % 32 == 0 and time.monotonic() >= end:
            break
    elapsed = time.monotonic() - start
    s.close()
    return n / elapsed


def crr(port: int, seconds: float) -> float:
    """Connections per second, each: connect, one request/response, close."""
    msg = b"c" * MSG
    n = 0
    start = time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        s = connect(port)
        s.sendall(msg)
        recv_exactly(s, MSG)
        s.close()
        n += 1
    return n / (time.monotonic() - start)


def workload(sink_port: int, echo_port: int, seconds: float, warm: float) -> dict[str, float]:
    cases: dict[str, Callable[[float], float]] = {
        "bulk_mbit": lambda t: bulk(sink_port, t),
        "rr_per_s": lambda t: rr(echo_port, t),
        "crr_per_s": lambda t: crr(echo_port, t),
    }
    for run in cases.values():      # the mix, unmeasured, for the host's first `warm` s
        run(warm / len(cases))
    return {name: run(seconds) for name, run in cases.items()}


def main(argv: list[str]) -> int:
    seconds = float(argv[0]) if argv else 0.5
    warm = float(argv[1]) if len(argv) > 1 else 1.0
    listeners = []
    for _ in range(2):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((LOOPBACK, 0))
        s.listen(64)
        listeners.append(s)
    sink, echo = listeners
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        try:
            serve(sink, echo, r)
        finally:
            os._exit(0)
    os.close(r)
    try:
        result = workload(sink.getsockname()[1], echo.getsockname()[1], seconds, warm)
    finally:
        os.close(w)
        os.waitpid(pid, 0)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

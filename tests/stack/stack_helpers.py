from __future__ import annotations

from rocketnet import constants as C
from rocketnet.phy import LoopbackDevice
from rocketnet.phy.netbuf import NetBuf
from rocketnet.stack import NetStack


class DropDevice(LoopbackDevice):
    """Loopback that drops frames chosen by ``drop(frame_bytes) -> bool``."""

    def __init__(self) -> None:
        super().__init__()
        self.drop = None
        self.dropped: list[bytes] = []

    def send(self, buf: NetBuf) -> None:
        if self.drop is not None:
            frame = bytes(buf.view[: buf.length])
            if self.drop(frame):
                self.dropped.append(frame)
                buf.pool.dealloc(buf)
                return
        super().send(buf)


def tcp_flags(frame: bytes) -> int:
    """TCP flags byte of an Ethernet+IPv4/IPv6 frame from the loopback."""
    ip = 14
    if frame[12:14] == b"\x08\x00":
        return frame[ip + (frame[ip] & 0x0F) * 4 + 13]
    return frame[ip + 40 + 13]


def tcp_payload_len(frame: bytes) -> int:
    ip = 14
    if frame[12:14] == b"\x08\x00":
        ihl = (frame[ip] & 0x0F) * 4
        total = int.from_bytes(frame[ip + 2 : ip + 4], "big")
        t = ip + ihl
        return total - ihl - (frame[t + 12] >> 4) * 4
    plen = int.from_bytes(frame[ip + 4 : ip + 6], "big")
    t = ip + 40
    return plen - (frame[t + 12] >> 4) * 4


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def step(self, stack: NetStack, dt: float = 0.001) -> None:
        self.now += dt
        stack.poll(self.now)


def make_pair(stack: NetStack, clock: Clock, family: int = C.AF_INET, port: int = 5001):
    host = "127.0.0.1" if family == C.AF_INET else "::1"
    lst = stack.socket(family, C.SOCK_STREAM, 0)
    lst.bind((host, port))
    lst.listen(8)
    cli = stack.socket(family, C.SOCK_STREAM, 0)
    cli.connect((host, port), clock.now)
    clock.step(stack)
    srv = lst.accept()
    assert srv is not None
    assert cli.state == "ESTABLISHED" and srv.state == "ESTABLISHED"
    return lst, cli, srv


def pump(stack: NetStack, clock: Clock, src, dst, data: bytes, chunk: int = 1 << 20) -> bytes:
    """Move all of data from src to dst (both draining), return what dst received."""
    sent = 0
    out = bytearray()
    for _ in range(100000):
        if sent < len(data):
            sent += src.send(data[sent : sent + chunk])
        clock.step(stack)
        out += dst.recv(1 << 22)
        if len(out) >= len(data):
            break
    return bytes(out)

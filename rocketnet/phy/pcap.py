"""Capture any device to a pcap file (libpcap format, LINKTYPE_ETHERNET), readable by
Wireshark/tshark. ``PcapDevice(inner, file, clock)`` records every frame sent and
received through ``inner``; ``clock()`` gives the timestamp (the owner passes one in:
the stack itself has no clock)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import BinaryIO

from .device import DeviceCapabilities, NetDevice
from .netbuf import NetBuf

GLOBAL = struct.Struct("<IHHiIII")
RECORD = struct.Struct("<IIII")
MAGIC = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1


class PcapWriter:
    def __init__(self, f: BinaryIO, snaplen: int = 262144) -> None:
        self.f = f
        self.snaplen = snaplen
        f.write(GLOBAL.pack(MAGIC, 2, 4, 0, 0, snaplen, LINKTYPE_ETHERNET))
        f.flush()

    def write(self, frame: bytes | memoryview, ts: float) -> None:
        n = len(frame)
        cap = n if n <= self.snaplen else self.snaplen
        sec = int(ts)
        self.f.write(RECORD.pack(sec, int((ts - sec) * 1e6), cap, n))
        self.f.write(frame[:cap])

    def flush(self) -> None:
        self.f.flush()

    def close(self) -> None:
        self.f.close()


def read_pcap(data: bytes) -> list[bytes]:
    """Frames of a pcap written by PcapWriter (for tests)."""
    magic, _maj, _min, _tz, _sig, _snap, _lt = GLOBAL.unpack_from(data, 0)
    if magic != MAGIC:
        raise ValueError("not a little-endian microsecond pcap")
    out = []
    off = GLOBAL.size
    while off + RECORD.size <= len(data):
        _s, _us, cap, _n = RECORD.unpack_from(data, off)
        off += RECORD.size
        out.append(data[off : off + cap])
        off += cap
    return out


class PcapDevice(NetDevice):
    """Pass-through device that records traffic. Delegates everything else (fileno,
    on_readable, tick...) to the wrapped device."""

    def __init__(self, inner: NetDevice, f: BinaryIO, clock: Callable[[], float],
                 record_rx: bool = True,
                 fixup: Callable[[memoryview], bytes] | None = None) -> None:
        self.inner = inner
        # e.g. checksum completion for an offloading device: the frame as on a wire
        self.fixup = fixup
        self.writer = PcapWriter(f)
        self.clock = clock
        self.record_rx = record_rx    # False on loopback: what is sent is what is received
        self.dirty = False

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def capabilities(self) -> DeviceCapabilities:
        return self.inner.capabilities()

    def mac_address(self) -> bytes:
        return self.inner.mac_address()

    def can_send(self) -> bool:
        return self.inner.can_send()

    def can_recv(self) -> bool:
        return self.inner.can_recv()

    def max_send_buf_num(self) -> int:
        return self.inner.max_send_buf_num()

    def max_recv_buf_num(self) -> int:
        return self.inner.max_recv_buf_num()

    def recycle_rx_buffer(self, buf: NetBuf) -> None:
        self.inner.recycle_rx_buffer(buf)

    def recycle_tx_buffers(self) -> None:
        self.inner.recycle_tx_buffers()

    def send(self, buf: NetBuf) -> None:
        frame = buf.view[: buf.length]
        self.writer.write(frame if self.fixup is None else self.fixup(frame), self.clock())
        self.dirty = True
        self.inner.send(buf)

    def recv(self) -> NetBuf | None:
        buf = self.inner.recv()
        if buf is not None and self.record_rx:
            frame = buf.view[: buf.length]
            self.writer.write(frame if self.fixup is None else self.fixup(frame), self.clock())
            self.dirty = True
        return buf

    def alloc_tx_buffer(self, size: int) -> NetBuf | None:
        return self.inner.alloc_tx_buffer(size)

    def tick(self, now: float) -> float | None:
        if self.dirty:
            self.dirty = False
            self.writer.flush()
        return self.inner.tick(now)

    def close(self) -> None:
        self.writer.close()
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()

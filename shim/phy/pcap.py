"""Capture any device to a pcap file (libpcap format, LINKTYPE_ETHERNET), readable by
Wireshark/tshark. ``PcapDevice(inner, file, clock)`` records every frame sent and
received through ``inner`` (a :class:`MonitorDevice` with the file as its first tap);
``clock()`` gives the timestamp (the owner passes one in: the stack itself has no
clock)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import BinaryIO

from rocketnet.phy.device import NetDevice
from rocketnet.phy.monitor import MonitorDevice

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


class PcapDevice(MonitorDevice):
    """A MonitorDevice whose first tap writes ``writer`` (a PcapWriter on ``f``, which
    the owner may swap), stamped with ``clock()``."""

    def __init__(self, inner: NetDevice, f: BinaryIO, clock: Callable[[], float],
                 record_rx: bool = True,
                 fixup: Callable[[memoryview], bytes] | None = None) -> None:
        super().__init__(inner, record_rx, fixup)
        self.writer = PcapWriter(f)
        self.clock = clock
        self.dirty = False
        self.taps.append(self)

    def frame(self, data: bytes | memoryview, outbound: bool) -> None:
        self.writer.write(data, self.clock())
        self.dirty = True

    def flush(self) -> None:
        if self.dirty:
            self.dirty = False
            self.writer.flush()

    def close(self) -> None:
        self.writer.close()
        super().close()

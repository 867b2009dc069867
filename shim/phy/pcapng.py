"""pcapng writer (the Wireshark/tshark format that names interfaces): a section header,
one interface description per interface (name, LINKTYPE_ETHERNET, snaplen), then an
enhanced packet block per frame with its direction. Microsecond timestamps, the
format's default resolution. The caller opens the file and gives the times."""

from __future__ import annotations

import struct
from typing import BinaryIO

SHB = struct.Struct("<IIIHHq")
IDB = struct.Struct("<IIHHI")
EPB = struct.Struct("<IIIIIII")
OPT = struct.Struct("<HH")
U32 = struct.Struct("<I")
BYTE_ORDER_MAGIC = 0x1A2B3C4D
LINKTYPE_ETHERNET = 1
OPT_ENDOFOPT = 0
IF_NAME = 2
EPB_FLAGS = 2
INBOUND, OUTBOUND = 1, 2


def _pad(n: int) -> int:
    return (4 - n % 4) % 4


class PcapngWriter:
    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.snaplens: list[int] = []
        f.write(SHB.pack(0x0A0D0D0A, SHB.size + 4, BYTE_ORDER_MAGIC, 1, 0, -1) +
                U32.pack(SHB.size + 4))

    def add_interface(self, name: str, snaplen: int = 262144) -> int:
        """Describe an interface; returns its id for :meth:`write`."""
        raw = name.encode()
        opts = OPT.pack(IF_NAME, len(raw)) + raw + b"\0" * _pad(len(raw)) + OPT.pack(0, 0)
        total = IDB.size + len(opts) + 4
        self.f.write(IDB.pack(1, total, LINKTYPE_ETHERNET, 0, snaplen) + opts + U32.pack(total))
        self.snaplens.append(snaplen)
        return len(self.snaplens) - 1

    def write(self, if_id: int, frame: bytes | memoryview, ts: float, outbound: bool) -> None:
        n = len(frame)
        snap = self.snaplens[if_id]
        cap = n if n <= snap else snap
        pad = _pad(cap)
        opts = OPT.pack(EPB_FLAGS, 4) + U32.pack(OUTBOUND if outbound else INBOUND) + \
            OPT.pack(0, 0)
        total = EPB.size + cap + pad + len(opts) + 4
        us = int(ts * 1e6)
        w = self.f.write
        w(EPB.pack(6, total, if_id, us >> 32, us & 0xFFFFFFFF, cap, n))
        w(frame[:cap])
        w(b"\0" * pad + opts + U32.pack(total))

    def flush(self) -> None:
        self.f.flush()

    def close(self) -> None:
        self.f.close()

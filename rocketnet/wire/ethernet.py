"""Ethernet II frames."""

from __future__ import annotations

import struct

from .error import Malformed

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_ARP = 0x0806
ETHERTYPE_IPV6 = 0x86DD
HEADER_LEN = 14
HEADER = struct.Struct("!6s6sH")


class EthernetRepr:
    __slots__ = ("dst", "src", "ethertype")

    def __init__(self, dst: bytes, src: bytes, ethertype: int) -> None:
        self.dst = dst
        self.src = src
        self.ethertype = ethertype

    @classmethod
    def parse(cls, frame: bytes | bytearray | memoryview) -> tuple[EthernetRepr, memoryview]:
        """The header and the payload (a view into ``frame``)."""
        if len(frame) < HEADER_LEN:
            raise Malformed("eth_truncated")
        dst, src, ethertype = HEADER.unpack_from(frame, 0)
        return cls(dst, src, ethertype), memoryview(frame)[HEADER_LEN:]

    def emit(self, buf: bytearray | memoryview, offset: int = 0) -> int:
        HEADER.pack_into(buf, offset, self.dst, self.src, self.ethertype)
        return HEADER_LEN

    def to_bytes(self) -> bytes:
        return HEADER.pack(self.dst, self.src, self.ethertype)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EthernetRepr) and (self.dst, self.src, self.ethertype) == (
            other.dst,
            other.src,
            other.ethertype,
        )

    def __repr__(self) -> str:
        return (
            f"EthernetRepr(dst={self.dst.hex()}, src={self.src.hex()}, "
            f"type=0x{self.ethertype:04x})"
        )

"""ARP for IPv4 over Ethernet (RFC 826)."""

from __future__ import annotations

import struct

from .error import Malformed

HEADER = struct.Struct("!HHBBH6s4s6s4s")
LEN = HEADER.size  # 28
HTYPE_ETHERNET = 1
PTYPE_IPV4 = 0x0800
OP_REQUEST = 1
OP_REPLY = 2


class ArpRepr:
    __slots__ = ("op", "sha", "spa", "tha", "tpa")

    def __init__(self, op: int, sha: bytes, spa: bytes, tha: bytes, tpa: bytes) -> None:
        self.op = op
        self.sha = sha
        self.spa = spa
        self.tha = tha
        self.tpa = tpa

    @classmethod
    def parse(cls, packet: bytes | bytearray | memoryview) -> ArpRepr:
        if len(packet) < LEN:
            raise Malformed("arp_truncated")
        htype, ptype, hlen, plen, op, sha, spa, tha, tpa = HEADER.unpack_from(packet, 0)
        if htype != HTYPE_ETHERNET or ptype != PTYPE_IPV4 or hlen != 6 or plen != 4:
            raise Malformed("arp_unsupported")
        if op not in (OP_REQUEST, OP_REPLY):
            raise Malformed("arp_op")
        return cls(op, sha, spa, tha, tpa)

    def emit(self, buf: bytearray | memoryview, offset: int = 0) -> int:
        HEADER.pack_into(buf, offset, HTYPE_ETHERNET, PTYPE_IPV4, 6, 4, self.op, self.sha,
                         self.spa, self.tha, self.tpa)
        return LEN

    def to_bytes(self) -> bytes:
        b = bytearray(LEN)
        self.emit(b)
        return bytes(b)

    def _key(self) -> tuple:
        return (self.op, self.sha, self.spa, self.tha, self.tpa)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ArpRepr) and self._key() == other._key()

    def __repr__(self) -> str:
        return f"ArpRepr(op={self.op}, sha={self.sha.hex()}, spa={self.spa.hex()}, " \
               f"tha={self.tha.hex()}, tpa={self.tpa.hex()})"

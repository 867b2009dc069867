"""IPv6 fixed header (RFC 8200). Extension headers are left to the caller."""

from __future__ import annotations

import struct

from .error import Malformed

HEADER_LEN = 40
HEADER = struct.Struct("!IHBB16s16s")


def emit_header(buf: bytearray | memoryview, offset: int, src: bytes, dst: bytes,
                next_header: int, payload_len: int, hop_limit: int, traffic_class: int,
                flow_label: int = 0) -> None:
    """The fixed header at ``offset`` (a sender without extension headers builds no
    Ipv6Repr for it)."""
    HEADER.pack_into(buf, offset,
                     (6 << 28) | ((traffic_class & 0xFF) << 20) | (flow_label & 0xFFFFF),
                     payload_len, next_header, hop_limit, src, dst)


class Ipv6Repr:
    __slots__ = (
        "src",
        "dst",
        "next_header",
        "payload_len",
        "hop_limit",
        "traffic_class",
        "flow_label",
    )
    version = 6
    header_len = HEADER_LEN

    def __init__(
        self,
        src: bytes,
        dst: bytes,
        next_header: int,
        payload_len: int,
        hop_limit: int = 64,
        traffic_class: int = 0,
        flow_label: int = 0,
    ) -> None:
        self.src = src
        self.dst = dst
        self.next_header = next_header
        self.payload_len = payload_len
        self.hop_limit = hop_limit
        self.traffic_class = traffic_class
        self.flow_label = flow_label

    @classmethod
    def parse(cls, packet: bytes | bytearray | memoryview) -> tuple[Ipv6Repr, memoryview]:
        n = len(packet)
        if n < HEADER_LEN:
            raise Malformed("ipv6_truncated")
        vtf, plen, nh, hops, src, dst = HEADER.unpack_from(packet, 0)
        if vtf >> 28 != 6:
            raise Malformed("ipv6_version")
        if HEADER_LEN + plen > n:
            raise Malformed("ipv6_payload_len")
        r = cls(src, dst, nh, plen, hops, (vtf >> 20) & 0xFF, vtf & 0xFFFFF)
        return r, memoryview(packet)[HEADER_LEN : HEADER_LEN + plen]

    def emit(self, buf: bytearray | memoryview, offset: int = 0,
             fill_checksum: bool = True) -> int:
        """``fill_checksum`` is Ipv4Repr.emit's; IPv6 has no header checksum."""
        emit_header(buf, offset, self.src, self.dst, self.next_header, self.payload_len,
                    self.hop_limit, self.traffic_class, self.flow_label)
        return HEADER_LEN

    def to_bytes(self) -> bytes:
        b = bytearray(HEADER_LEN)
        self.emit(b)
        return bytes(b)

    def _key(self) -> tuple:
        return tuple(getattr(self, k) for k in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ipv6Repr) and self._key() == other._key()

    def __repr__(self) -> str:
        return "Ipv6Repr(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ")"

"""IPv4 header (RFC 791). Options are skipped on parse and never emitted."""

from __future__ import annotations

import struct

from .checksum import checksum, verify
from .error import Malformed

HEADER_LEN = 20
HEADER = struct.Struct("!BBHHHBBH4s4s")
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
FLAG_DF = 0x4000
FLAG_MF = 0x2000
_U16 = struct.Struct("!H")


def emit_header(buf: bytearray | memoryview, offset: int, src: bytes, dst: bytes,
                protocol: int, payload_len: int, ttl: int, tos: int, ident: int,
                frag: int = FLAG_DF, fill_checksum: bool = True) -> None:
    """A header without options at ``offset``, ``frag`` the flags and fragment offset
    field as sent (a sender with nothing to fragment builds no Ipv4Repr for it)."""
    HEADER.pack_into(buf, offset, 0x45, tos, HEADER_LEN + payload_len, ident, frag, ttl,
                     protocol, 0, src, dst)
    if fill_checksum:
        fill_header_checksum(buf, offset)


def fill_header_checksum(buf: bytearray | memoryview, offset: int) -> None:
    """The checksum of the option-less header at ``offset`` (its field zero)."""
    _U16.pack_into(buf, offset + 10, checksum(memoryview(buf)[offset:offset + HEADER_LEN]))


class Ipv4Repr:
    __slots__ = (
        "src",
        "dst",
        "protocol",
        "payload_len",
        "ttl",
        "tos",
        "ident",
        "dont_frag",
        "more_frags",
        "frag_offset",
        "header_len",
    )
    version = 4

    def __init__(
        self,
        src: bytes,
        dst: bytes,
        protocol: int,
        payload_len: int,
        ttl: int = 64,
        tos: int = 0,
        ident: int = 0,
        dont_frag: bool = True,
        more_frags: bool = False,
        frag_offset: int = 0,
    ) -> None:
        self.src = src
        self.dst = dst
        self.protocol = protocol
        self.payload_len = payload_len
        self.ttl = ttl
        self.tos = tos
        self.ident = ident
        self.dont_frag = dont_frag
        self.more_frags = more_frags
        self.frag_offset = frag_offset
        self.header_len = HEADER_LEN     # as parsed (options included); emitted: 20

    @classmethod
    def parse(
        cls, packet: bytes | bytearray | memoryview, verify_checksum: bool = True
    ) -> tuple[Ipv4Repr, memoryview]:
        """The header and the payload view (Ethernet padding beyond total length cut)."""
        n = len(packet)
        if n < HEADER_LEN:
            raise Malformed("ipv4_truncated")
        vihl, tos, total, ident, frag, ttl, proto, _csum, src, dst = HEADER.unpack_from(packet, 0)
        if vihl == 0x45:                 # the common case: no options
            ihl = HEADER_LEN
        else:
            if vihl >> 4 != 4:
                raise Malformed("ipv4_version")
            ihl = (vihl & 0x0F) << 2
            if ihl < HEADER_LEN:
                raise Malformed("ipv4_header_len")
        if total < ihl or total > n:
            raise Malformed("ipv4_total_len")
        mv = packet if packet.__class__ is memoryview else memoryview(packet)
        if verify_checksum and not verify(mv[:ihl]):
            raise Malformed("ipv4_checksum")
        r = cls(src, dst, proto, total - ihl, ttl, tos, ident, frag & FLAG_DF != 0,
                frag & FLAG_MF != 0, (frag & 0x1FFF) << 3)
        if ihl != HEADER_LEN:
            r.header_len = ihl
        return r, mv[ihl:total]

    def emit(self, buf: bytearray | memoryview, offset: int = 0, fill_checksum: bool = True) -> int:
        frag = (self.frag_offset >> 3) & 0x1FFF
        if self.dont_frag:
            frag |= FLAG_DF
        if self.more_frags:
            frag |= FLAG_MF
        emit_header(buf, offset, self.src, self.dst, self.protocol, self.payload_len,
                    self.ttl, self.tos, self.ident, frag, fill_checksum)
        return HEADER_LEN

    def to_bytes(self, fill_checksum: bool = True) -> bytes:
        b = bytearray(HEADER_LEN)
        self.emit(b, 0, fill_checksum)
        return bytes(b)

    def _key(self) -> tuple:
        return tuple(getattr(self, k) for k in self.__slots__ if k != "header_len")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ipv4Repr) and self._key() == other._key()

    def __repr__(self) -> str:
        return "Ipv4Repr(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__[:-1]
                                       ) + ")"

"""IPv6 extension headers (RFC 8200 4): walking the chain, and the fragment header."""

from __future__ import annotations

import struct

from .error import Malformed

HOPOPT = 0
ROUTING = 43
FRAGMENT = 44
DSTOPTS = 60
NO_NEXT = 59
EXT_HEADERS = frozenset((HOPOPT, ROUTING, FRAGMENT, DSTOPTS))
MAX_EXT_HEADERS = 8          # more than this is hostile: drop
FRAG = struct.Struct("!BBHI")
FRAG_LEN = 8


class FragmentRepr:
    __slots__ = ("next_header", "offset", "more", "ident")

    def __init__(self, next_header: int, offset: int, more: bool, ident: int) -> None:
        self.next_header = next_header
        self.offset = offset
        self.more = more
        self.ident = ident

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> FragmentRepr:
        if len(data) < FRAG_LEN:
            raise Malformed("ipv6_frag_truncated")
        nh, _res, off, ident = FRAG.unpack_from(data, 0)
        return cls(nh, off & 0xFFF8, bool(off & 1), ident)

    def emit(self, buf: bytearray | memoryview, offset: int = 0) -> int:
        FRAG.pack_into(buf, offset, self.next_header, 0, (self.offset & 0xFFF8) | int(self.more),
                       self.ident)
        return FRAG_LEN

    def to_bytes(self) -> bytes:
        b = bytearray(FRAG_LEN)
        self.emit(b)
        return bytes(b)

    def _key(self) -> tuple:
        return (self.next_header, self.offset, self.more, self.ident)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FragmentRepr) and self._key() == other._key()

    def __repr__(self) -> str:
        return (f"FragmentRepr(nh={self.next_header}, offset={self.offset}, more={self.more}, "
                f"ident={self.ident})")


def walk(next_header: int, payload: bytes | bytearray | memoryview,
         ) -> tuple[int, int, FragmentRepr | None, int]:
    """Skip extension headers from the start of ``payload`` (what follows the fixed
    header). Returns (upper-layer protocol, its offset in payload, the fragment header
    if one was met (walking stops there: the rest is fragment data), offset of the
    fragment header's data). Raises Malformed on truncation or too many headers."""
    off = 0
    n = len(payload)
    for _ in range(MAX_EXT_HEADERS):
        if next_header not in EXT_HEADERS:
            return next_header, off, None, 0
        if next_header == FRAGMENT:
            frag = FragmentRepr.parse(payload[off : off + FRAG_LEN])
            return frag.next_header, off + FRAG_LEN, frag, off + FRAG_LEN
        if off + 2 > n:
            raise Malformed("ipv6_ext_truncated")
        hlen = (payload[off + 1] + 1) * 8
        if off + hlen > n:
            raise Malformed("ipv6_ext_truncated")
        next_header = payload[off]
        off += hlen
    raise Malformed("ipv6_ext_too_many")

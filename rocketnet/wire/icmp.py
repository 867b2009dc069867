"""ICMPv4 (RFC 792) and ICMPv6 (RFC 4443) messages, and NDP (RFC 4861) NS/NA.

One representation for both versions: type, code, the 4-byte "rest of header" as an
integer, and the body. ICMPv6 checksums cover the IPv6 pseudo-header, so parse/emit take
the addresses for version 6.
"""

from __future__ import annotations

import struct

from .checksum import checksum, pseudo_header_sum, verify
from .error import Malformed

HEADER = struct.Struct("!BBHI")
HEADER_LEN = 8
IPPROTO_ICMP = 1
IPPROTO_ICMPV6 = 58

# ICMPv4
ECHO_REPLY = 0
DEST_UNREACH = 3
ECHO_REQUEST = 8
TIME_EXCEEDED = 11
UNREACH_NET = 0
UNREACH_HOST = 1
UNREACH_PROTOCOL = 2
UNREACH_PORT = 3
UNREACH_FRAG_NEEDED = 4
# ICMPv6
V6_DEST_UNREACH = 1
V6_PACKET_TOO_BIG = 2
V6_TIME_EXCEEDED = 3
V6_PARAM_PROBLEM = 4
V6_ECHO_REQUEST = 128
V6_ECHO_REPLY = 129
V6_ROUTER_SOLICIT = 133
V6_ROUTER_ADVERT = 134
V6_NEIGHBOR_SOLICIT = 135
V6_NEIGHBOR_ADVERT = 136
V6_UNREACH_NOROUTE = 0
V6_UNREACH_ADMIN = 1
V6_UNREACH_ADDR = 3
V6_UNREACH_PORT = 4
V6_PARAM_NEXT_HEADER = 1

NDP_OPT_SOURCE_LLADDR = 1
NDP_OPT_TARGET_LLADDR = 2
NA_ROUTER = 0x80000000
NA_SOLICITED = 0x40000000
NA_OVERRIDE = 0x20000000
_NDP_OPT = struct.Struct("!BB6s")


class IcmpRepr:
    __slots__ = ("version", "type", "code", "rest", "body")

    def __init__(
        self, version: int, type: int, code: int, rest: int = 0, body: bytes = b""
    ) -> None:
        self.version = version
        self.type = type
        self.code = code
        self.rest = rest
        self.body = body

    @classmethod
    def parse(
        cls,
        packet: bytes | bytearray | memoryview,
        version: int = 4,
        src: bytes | None = None,
        dst: bytes | None = None,
        verify_checksum: bool = True,
    ) -> IcmpRepr:
        n = len(packet)
        if n < HEADER_LEN:
            raise Malformed("icmp_truncated")
        t, c, _csum, rest = HEADER.unpack_from(packet, 0)
        if verify_checksum:
            if version == 4:
                ok = verify(packet)
            else:
                if src is None or dst is None:
                    raise ValueError("ICMPv6 checksum needs the addresses")
                ok = verify(packet, pseudo_header_sum(src, dst, IPPROTO_ICMPV6, n))
            if not ok:
                raise Malformed("icmp_checksum")
        return cls(version, t, c, rest, bytes(memoryview(packet)[HEADER_LEN:]))

    def buffer_len(self) -> int:
        return HEADER_LEN + len(self.body)

    def emit(
        self,
        buf: bytearray | memoryview,
        offset: int = 0,
        src: bytes | None = None,
        dst: bytes | None = None,
        fill_checksum: bool = True,
    ) -> int:
        n = HEADER_LEN + len(self.body)
        HEADER.pack_into(buf, offset, self.type, self.code, 0, self.rest)
        mv = memoryview(buf)
        mv[offset + HEADER_LEN : offset + n] = self.body
        if fill_checksum:
            if self.version == 4:
                c = checksum(mv[offset : offset + n])
            else:
                if src is None or dst is None:
                    raise ValueError("ICMPv6 checksum needs the addresses")
                init = pseudo_header_sum(src, dst, IPPROTO_ICMPV6, n)
                c = checksum(mv[offset : offset + n], init)
            struct.pack_into("!H", buf, offset + 2, c)
        return n

    def to_bytes(self, src: bytes | None = None, dst: bytes | None = None) -> bytes:
        b = bytearray(self.buffer_len())
        self.emit(b, 0, src, dst)
        return bytes(b)

    def _key(self) -> tuple:
        return (self.version, self.type, self.code, self.rest, self.body)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IcmpRepr) and self._key() == other._key()

    def __repr__(self) -> str:
        return (f"IcmpRepr(v{self.version}, type={self.type}, code={self.code}, "
                f"rest=0x{self.rest:08x}, body={self.body[:16].hex()}...)")


class NdpRepr:
    """Neighbor Solicitation / Advertisement: target address, NA flags, link-layer
    address option (source for NS, target for NA; None if absent)."""

    __slots__ = ("type", "target", "flags", "lladdr")

    def __init__(
        self, type: int, target: bytes, flags: int = 0, lladdr: bytes | None = None
    ) -> None:
        self.type = type
        self.target = target
        self.flags = flags
        self.lladdr = lladdr

    @classmethod
    def from_icmp(cls, icmp: IcmpRepr) -> NdpRepr:
        """NS/NA fields from a parsed ICMPv6 message (code must be 0, RFC 4861 7.1)."""
        if icmp.type not in (V6_NEIGHBOR_SOLICIT, V6_NEIGHBOR_ADVERT):
            raise Malformed("ndp_type")
        if icmp.code != 0:
            raise Malformed("ndp_code")
        body = icmp.body
        if len(body) < 16:
            raise Malformed("ndp_truncated")
        target = bytes(body[:16])
        want = NDP_OPT_SOURCE_LLADDR if icmp.type == V6_NEIGHBOR_SOLICIT else NDP_OPT_TARGET_LLADDR
        lladdr = None
        i, n = 16, len(body)
        while i < n:
            if i + 2 > n:
                raise Malformed("ndp_option_truncated")
            olen = body[i + 1] * 8
            if olen == 0:
                raise Malformed("ndp_option_len")   # a zero length would loop forever
            if i + olen > n:
                raise Malformed("ndp_option_truncated")
            if body[i] == want and olen == 8:
                lladdr = bytes(body[i + 2 : i + 8])
            i += olen
        flags = icmp.rest & 0xE0000000 if icmp.type == V6_NEIGHBOR_ADVERT else 0
        return cls(icmp.type, target, flags, lladdr)

    def to_icmp(self) -> IcmpRepr:
        body = self.target
        if self.lladdr is not None:
            ns = self.type == V6_NEIGHBOR_SOLICIT
            kind = NDP_OPT_SOURCE_LLADDR if ns else NDP_OPT_TARGET_LLADDR
            body += _NDP_OPT.pack(kind, 1, self.lladdr)
        return IcmpRepr(6, self.type, 0, self.flags, body)

    def _key(self) -> tuple:
        return (self.type, self.target, self.flags, self.lladdr)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NdpRepr) and self._key() == other._key()

    def __repr__(self) -> str:
        ll = self.lladdr.hex() if self.lladdr else None
        return (f"NdpRepr(type={self.type}, target={self.target.hex()}, "
                f"flags={self.flags:#x}, lladdr={ll})")

"""UDP header (RFC 768). The checksum covers the IPv4/IPv6 pseudo-header, so parse and
emit take the addresses; a computed checksum of 0 is sent as 0xFFFF, and a received 0
means "none" (IPv4)."""

from __future__ import annotations

import struct

from .checksum import checksum, pseudo_header_sum, verify
from .error import Malformed
from .ipv4 import FLAG_DF
from .ipv4 import HEADER as IPV4_HEADER
from .ipv4 import HEADER_LEN as IPV4_HEADER_LEN
from .ipv4 import fill_header_checksum as fill_ipv4_checksum

HEADER_LEN = 8
HEADER = struct.Struct("!HHHH")
V4_HEADERS = struct.Struct(IPV4_HEADER.format + HEADER.format[1:])   # IPv4 then UDP
_U16 = struct.Struct("!H")
IPPROTO_UDP = 17


def parse(datagram: memoryview, src: bytes, dst: bytes, version: int,
          verify_checksum: bool = True) -> tuple[int, int, memoryview]:
    """(source port, destination port, payload view cut to the UDP length), with no
    object per datagram (the receive path runs per datagram). A length of 0 on IPv6
    (the jumbogram form) means the whole datagram."""
    n = len(datagram)
    if n < HEADER_LEN:
        raise Malformed("udp_truncated")
    sport, dport, ulen, csum = HEADER.unpack_from(datagram, 0)
    if ulen < HEADER_LEN or ulen > n:
        if not (version == 6 and ulen == 0):
            raise Malformed("udp_length")
        ulen = n
    if csum and verify_checksum and not verify(
            datagram[:ulen], pseudo_header_sum(src, dst, IPPROTO_UDP, ulen)):
        raise Malformed("udp_checksum")
    return sport, dport, datagram[HEADER_LEN:ulen]


def emit_header(buf: bytearray | memoryview, offset: int, src_port: int, dst_port: int,
                src: bytes, dst: bytes, length: int, fill_checksum: bool = True) -> None:
    """The header at ``offset`` for a datagram of ``length`` bytes whose payload is
    already in place behind it; the checksum (with the pseudo-header of ``src``/``dst``)
    when asked, 0 sent as 0xFFFF. A sender that lays its datagram out itself builds no
    UdpRepr for it."""
    HEADER.pack_into(buf, offset, src_port, dst_port, length, 0)
    if fill_checksum:
        _fill_checksum(buf, offset, src, dst, length)


def emit_v4_headers(buf: bytearray | memoryview, offset: int, src: bytes, dst: bytes,
                    ttl: int, tos: int, ident: int, src_port: int, dst_port: int, length: int,
                    fill_checksum: bool = True) -> None:
    """:func:`emit_header` behind an IPv4 header without options (DF, identification
    ``ident``), both at ``offset`` in one struct: a datagram's headers in one call."""
    V4_HEADERS.pack_into(buf, offset, 0x45, tos, IPV4_HEADER_LEN + length, ident, FLAG_DF,
                         ttl, IPPROTO_UDP, 0, src, dst, src_port, dst_port, length, 0)
    if fill_checksum:
        fill_ipv4_checksum(buf, offset)
        _fill_checksum(buf, offset + IPV4_HEADER_LEN, src, dst, length)


def _fill_checksum(buf: bytearray | memoryview, offset: int, src: bytes, dst: bytes,
                   length: int) -> None:
    c = checksum(memoryview(buf)[offset:offset + length],
                 pseudo_header_sum(src, dst, IPPROTO_UDP, length))
    _U16.pack_into(buf, offset + 6, c or 0xFFFF)


class UdpRepr:
    __slots__ = ("src_port", "dst_port")

    def __init__(self, src_port: int, dst_port: int) -> None:
        self.src_port = src_port
        self.dst_port = dst_port

    def header_len(self) -> int:
        return HEADER_LEN

    def emit(self, buf: bytearray | memoryview, offset: int, src: bytes, dst: bytes,
             length: int, fill_checksum: bool = True) -> None:
        """Write the header at ``offset`` for a datagram of ``length`` bytes whose
        payload is already in place behind it; the checksum covers it all."""
        emit_header(buf, offset, self.src_port, self.dst_port, src, dst, length, fill_checksum)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UdpRepr) and (self.src_port, self.dst_port) == (
            other.src_port, other.dst_port)

    def __repr__(self) -> str:
        return f"UdpRepr(src_port={self.src_port}, dst_port={self.dst_port})"

"""One Ethernet frame decoded as far as the stack's parsers go (:func:`parse_frame`):
what a capture filter or a frame printer needs. Never raises; checksums are not
verified (a capture shows what was sent, good or bad)."""

from __future__ import annotations

import ipaddress
import struct
from typing import Any

from .arp import ArpRepr
from .error import Malformed
from .ethernet import ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, EthernetRepr
from .ipv4 import Ipv4Repr
from .ipv6 import Ipv6Repr
from .tcp import TcpRepr

_UDP = struct.Struct("!HHHH")
_ICMP = struct.Struct("!BBHHH")


class Frame:
    """What :func:`parse_frame` found. ``ip`` is an Ipv4Repr/Ipv6Repr (None for ARP or
    other types), ``tcp`` a TcpRepr for TCP segments, ``udp`` (sport, dport, length)
    for UDP, ``icmp`` (type, code, id, seq) for ICMP/ICMPv6, ``arp`` an ArpRepr;
    ``error`` names what could not be parsed."""

    __slots__ = ("eth", "ip", "version", "src", "dst", "proto", "tcp", "udp", "icmp",
                 "arp", "payload_len", "error")

    def __init__(self, eth: EthernetRepr | None) -> None:
        self.eth = eth
        self.ip: Any = None
        self.version = 0
        self.src = self.dst = ""
        self.proto = 0
        self.tcp: TcpRepr | None = None
        self.udp: tuple[int, int, int] | None = None
        self.icmp: tuple[int, int, int, int] | None = None
        self.arp: ArpRepr | None = None
        self.payload_len = 0
        self.error = ""


def parse_frame(frame: bytes | bytearray | memoryview) -> Frame:
    """Decode an Ethernet II frame as far as the stack's parsers go (never raises)."""
    try:
        eth, body = EthernetRepr.parse(frame)
    except Malformed as e:
        f = Frame(None)
        f.error = e.reason
        return f
    f = Frame(eth)
    try:
        if eth.ethertype == ETHERTYPE_ARP:
            f.arp = ArpRepr.parse(body)
            return f
        if eth.ethertype == ETHERTYPE_IPV4:
            ip4, l4 = Ipv4Repr.parse(body, verify_checksum=False)
            f.ip, f.version, f.proto = ip4, 4, ip4.protocol
            if ip4.frag_offset or ip4.more_frags:
                f.payload_len = len(l4)
                f.proto = -1             # a fragment: no transport header to read
        elif eth.ethertype == ETHERTYPE_IPV6:
            ip6, l4 = Ipv6Repr.parse(body)
            f.ip, f.version, f.proto = ip6, 6, ip6.next_header
        else:
            f.error = f"ethertype 0x{eth.ethertype:04x}"
            return f
        f.src = str(ipaddress.ip_address(f.ip.src))
        f.dst = str(ipaddress.ip_address(f.ip.dst))
        if f.proto == 6:
            f.tcp = TcpRepr.parse(l4)
            f.payload_len = len(f.tcp.payload)
        elif f.proto == 17 and len(l4) >= _UDP.size:
            sp, dp, ln, _c = _UDP.unpack_from(l4, 0)
            f.udp = (sp, dp, ln)
            f.payload_len = len(l4) - _UDP.size
        elif f.proto in (1, 58) and len(l4) >= _ICMP.size:
            t, c, _csum, ident, seq = _ICMP.unpack_from(l4, 0)
            f.icmp = (t, c, ident, seq)
            f.payload_len = len(l4) - _ICMP.size
    except Malformed as e:
        f.error = e.reason
    return f


def tcp_flags(frame: bytes) -> int:
    """The TCP flag bits of a frame (0 if it is no TCP segment)."""
    t = parse_frame(frame).tcp
    return t.flags if t is not None else 0


def tcp_payload_len(frame: bytes) -> int:
    """The TCP payload length of a frame (0 if it is no TCP segment)."""
    t = parse_frame(frame).tcp
    return len(t.payload) if t is not None else 0

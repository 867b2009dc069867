"""ICMP "ping" sockets (SOCK_DGRAM + IPPROTO_ICMP / IPPROTO_ICMPV6), Linux's semantics.

A ping socket is a datagram socket whose "port" is the ICMP echo identifier: it is bound
like a UDP port (ephemeral when unbound), every echo request the program sends carries
it (the stack overwrites the program's identifier and computes the checksum; anything
but an echo request of at least 8 bytes is EINVAL), and the echo replies carrying it
are queued on the socket, ICMP header included, with the source address and port 0.
``PingLayer`` reuses UdpLayer's port table, delivery queue and receive-buffer rules.
"""

from __future__ import annotations

import struct

from ..errors import SocketError
from ..iface import InterfaceWrapper, route
from ..wire.checksum import checksum, pseudo_header_sum
from .udp import (
    EACCES,
    EAGAIN,
    EINVAL,
    EMSGSIZE,
    ENETUNREACH,
    Datagram,
    UdpLayer,
    UdpSocket,
)

__all__ = ["PingLayer", "ECHO_REQUEST4", "ECHO_REPLY4", "ECHO_REQUEST6", "ECHO_REPLY6"]

ECHO_REQUEST4, ECHO_REPLY4 = 8, 0
ECHO_REQUEST6, ECHO_REPLY6 = 128, 129
_U16 = struct.Struct("!H")


class PingSocket(UdpSocket):
    """The state of an ICMP echo socket: a UdpSocket whose port is the echo identifier."""

    def __init__(self, layer: PingLayer, family: int) -> None:
        super().__init__(layer, family)


class PingLayer(UdpLayer):
    """Ping sockets of one stack: identifiers are their ports."""

    def __init__(self, ifaces: list[InterfaceWrapper], stats: dict[str, int], seed: int = 0
                 ) -> None:
        super().__init__(ifaces, stats, seed + 7)
        for k in ("ping_echo_sent", "ping_echo_replies_received"):
            stats.setdefault(k, 0)

    def send(self, sk: UdpSocket, data: bytes | memoryview, rip: bytes, rport: int,
             ttl: int = -1, tos: int = -1) -> int:
        n = len(data)
        v4 = len(rip) == 4
        if n > (65507 if v4 else 65527):
            raise SocketError(EMSGSIZE)
        want = ECHO_REQUEST4 if v4 else ECHO_REQUEST6
        if n < 8 or data[0] != want or data[1] != 0:
            raise SocketError(EINVAL)
        if v4 and rip == b"\xff\xff\xff\xff" and not sk.broadcast:
            raise SocketError(EACCES)
        if not any(rip):
            rip = b"\x7f\x00\x00\x01" if v4 else b"\x00" * 15 + b"\x01"
        iface = route(self.ifaces, rip)
        if iface is None:
            raise SocketError(ENETUNREACH)
        src = sk.lip if sk.rip == rip and sk.lip is not None else self._source(sk, iface, rip)
        self.autobind(sk)
        msg = bytearray(data)
        _U16.pack_into(msg, 4, sk.local_port)
        msg[2:4] = b"\0\0"
        if v4:
            _U16.pack_into(msg, 2, checksum(msg))
        else:
            _U16.pack_into(msg, 2, checksum(msg, pseudo_header_sum(src, rip, 58, n)))
        if ttl < 0:
            ttl = sk.ttl if v4 else sk.hops
        assert self.send_ip is not None
        if not self.send_ip(iface, 4 if v4 else 6, src, rip, 1 if v4 else 58, msg, ttl,
                            tos=sk.tos if tos < 0 else tos, df=True):
            raise SocketError(EAGAIN)
        self.stats["ping_echo_sent"] += 1
        return n

    def echo_reply(self, version: int, src: bytes, dst: bytes, payload: memoryview) -> bool:
        """An echo reply: queue it on the ping socket whose identifier it carries."""
        if len(payload) < 8:
            return False
        ident = _U16.unpack_from(payload, 4)[0]
        for sk in reversed(self.bound.get(ident, ())):
            cover = sk.cover4 if version == 4 else sk.cover6
            if cover is None or (cover != b"" and cover != dst):
                continue
            if sk.rip is not None and sk.rip != src:
                continue
            st = self.stats
            st["ping_echo_replies_received"] += 1
            if sk.rx_bytes > sk.so_rcvbuf:
                sk.drops += 1
                return True
            dg = Datagram(bytes(payload), src, 0, dst, version)
            sk.rxq.append(dg)
            sk.rx_bytes += dg.cost
            self.events.add(sk)
            return True
        return False

    def icmp_hook(self, iface: InterfaceWrapper, version: int, src: bytes, dst: bytes,
                  type: int, code: int, rest: int, payload: memoryview) -> None:
        """The ICMP hook signature of an IP layer: echo replies to ping sockets."""
        if type == (ECHO_REPLY4 if version == 4 else ECHO_REPLY6):
            self.echo_reply(version, src, dst, payload)


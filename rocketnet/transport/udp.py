"""UDP (RFC 768) with Linux's socket semantics, sans-I/O.

``UdpLayer`` owns the port table of one stack: binding (Linux's conflict rules with
SO_REUSEADDR / SO_REUSEPORT and dual-stack coverage), the choice of the receiving
socket (Linux's scoring: connected and specifically bound sockets first, the most
recently bound wins a tie, a SO_REUSEPORT group is chosen by a flow hash), the emission
of datagrams on an interface and the ICMP errors: "port unreachable" is generated when
nobody listens (Linux does so on loopback, unthrottled), and an ICMP error that comes
back sets ECONNREFUSED (or the code's errno) on the connected socket it concerns.

``UdpSocket`` is the protocol part of a datagram socket: bound address, peer, receive
queue (bounded by SO_RCVBUF in Linux's way: a datagram is admitted while the queue is
not over the limit, each costing its length plus an skb overhead), pending error.
"""

from __future__ import annotations

import struct
import zlib
from collections import deque
from typing import Any, Callable

from ..errors import SocketError
from ..iface import InterfaceWrapper, route, source_address
from ..iface.interface import IpRepr
from ..wire.error import Malformed
from ..wire.udp import UdpRepr
from ..wire.udp import parse as parse_udp

__all__ = ["UdpLayer", "UdpSocket", "Datagram", "ErrEntry", "MAX_PAYLOAD_V4", "MAX_PAYLOAD_V6"]

EINVAL = 22
EACCES = 13
EADDRINUSE = 98
EADDRNOTAVAIL = 99
EAGAIN = 11
EMSGSIZE = 90
ENETUNREACH = 101
EHOSTUNREACH = 113
ECONNREFUSED = 111
EDESTADDRREQ = 89
EPROTO = 71
ENOPROTOOPT = 92

MAX_PAYLOAD_V4 = 65507  # 65535 - 20 (IPv4) - 8 (UDP)
MAX_PAYLOAD_V6 = 65527  # 65535 - 8 (UDP): IPv6 payload length counts no IP header
SKB_OVERHEAD = 1536  # receive-buffer cost of a datagram beyond its payload (Linux lo)
UDP_RMEM_DEFAULT = 212992
UDP_WMEM_DEFAULT = 212992
ANY = b""  # coverage marker: every address of the family
_V4MAPPED = b"\x00" * 10 + b"\xff\xff"
_ZERO4, _ZERO16 = b"\x00" * 4, b"\x00" * 16
_LOOP4, _LOOP6 = b"\x7f\x00\x00\x01", b"\x00" * 15 + b"\x01"
_U16 = struct.Struct("!H")
EPHEMERAL = (32768, 60999)


class Datagram:
    """One received datagram: payload and where it came from / went to."""

    __slots__ = ("data", "src", "sport", "dst", "version", "ttl", "tos", "ifindex", "cost")

    def __init__(self, data: bytes, src: bytes, sport: int, dst: bytes, version: int,
                 ttl: int = 64, tos: int = 0, ifindex: int = 1) -> None:
        self.data = data
        self.src = src          # 4 or 16 bytes, as on the wire
        self.sport = sport
        self.dst = dst
        self.version = version
        self.ttl = ttl
        self.tos = tos
        self.ifindex = ifindex
        self.cost = len(data) + SKB_OVERHEAD


class ErrEntry:
    """One entry of a socket's error queue (IP_RECVERR): the datagram an ICMP error
    quoted and Linux's struct sock_extended_err fields."""

    __slots__ = ("data", "addr", "port", "version", "errno", "origin", "type", "code",
                 "offender")

    def __init__(self, data: bytes, addr: bytes, port: int, version: int, err: int,
                 typ: int, code: int, offender: bytes) -> None:
        self.data = data          # the payload of the datagram that failed
        self.addr = addr          # where it was sent (msg_name)
        self.port = port
        self.version = version
        self.errno = err
        self.origin = 2 if version == 4 else 3   # SO_EE_ORIGIN_ICMP / _ICMP6
        self.type = typ
        self.code = code
        self.offender = offender  # the ICMP error's source


class UdpSocket:
    """The protocol part of a UDP socket."""

    def __init__(self, layer: UdpLayer, family: int) -> None:
        self.layer = layer
        self.family = family
        self.owner: Any = None
        self.handle = 0
        self.state = 7            # TCP_CLOSE, as Linux reports it for UDP
        self.error = 0
        self.err_seq = 0          # counts errors set (a channel signals each once)
        self.bind_addr: bytes | None = None   # family form, as bound
        self.local_port = 0
        self.cover4: bytes | None = None
        self.cover6: bytes | None = None
        self.in_bind_table = False
        self.addr_locked = False  # bound explicitly to an address (SOCK_BINDADDR_LOCK)
        self.port_locked = False  # bound explicitly to a port (SOCK_BINDPORT_LOCK)
        self.rip: bytes | None = None         # peer, unmapped (4 or 16 bytes)
        self.rport = 0
        self.lip: bytes | None = None         # source chosen by connect (unmapped)
        self.rxq: deque[Datagram] = deque()
        self.rx_bytes = 0
        self.drops = 0
        self.so_sndbuf = self.sndbuf_limit = layer.wmem_default
        self.so_rcvbuf = self.rcvbuf_limit = layer.rmem_default
        self.reuseaddr = False
        self.reuseport = False
        self.keepalive = False
        self.linger = (0, 0)
        self.v6only = False
        self.broadcast = False
        self.ttl = 64
        self.tos = 0
        self.hops = 64
        self.tclass = 0             # IPV6_TCLASS: the traffic class of IPv6 datagrams
        self.bind_seq = 0
        self.released = False
        self.shut_rd = False
        self.shut_wr = False
        self.cork_on = False      # UDP_CORK
        # the pending corked datagram: (destination, port, outgoing interface, payload)
        self.corked: tuple[bytes, int, int, bytearray] | None = None
        # multicast (Linux defaults): TTL / hop limit, loop, IP_MULTICAST_ALL, the
        # outgoing interface (IP_MULTICAST_IF: ifindex, address; IPV6_MULTICAST_IF)
        self.mc_ttl = 1
        self.mc_hops = 1
        self.mc_loop = True
        self.mc_loop6 = True
        self.mc_all = True
        self.mc_index = 0
        self.mc_addr = b"\x00" * 4
        self.mc_index6 = 0
        self.mc_groups: set[tuple[bytes, int]] = set()   # (group, ifindex) joined
        self.bound_dev_if = 0     # set by a scope id on bind/connect (link-local)
        self.recverr = False      # IP_RECVERR / IPV6_RECVERR
        self.errq: deque[ErrEntry] = deque()   # MSG_ERRQUEUE

    @property
    def connected(self) -> bool:
        return self.rip is not None

    def rx_available(self) -> int:
        return len(self.rxq)


def _coverage(family: int, addr: bytes, v6only: bool) -> tuple[bytes | None, bytes | None]:
    """Which IPv4 / IPv6 local addresses a socket bound to ``addr`` answers for."""
    if family == 2:
        return (ANY if not any(addr) else addr), None
    if addr[:12] == _V4MAPPED:
        v4 = addr[12:]
        return (ANY if not any(v4) else v4), None
    if not any(addr):
        return (None if v6only else ANY), ANY
    return None, addr


def _overlaps(a: bytes | None, b: bytes | None) -> bool:
    if a is None or b is None:
        return False
    return a == ANY or b == ANY or a == b


def needs_scope(addr: bytes) -> bool:
    """Linux __ipv6_addr_needs_scope_id: link-local unicast, and multicast of
    interface-local or link-local scope."""
    if len(addr) != 16:
        return False
    if addr[0] == 0xFE and addr[1] & 0xC0 == 0x80:
        return True
    return addr[0] == 0xFF and addr[1] & 0x0F in (1, 2)


def is_multicast(addr: bytes) -> bool:
    return (224 <= addr[0] < 240) if len(addr) == 4 else addr[0] == 0xFF


def unmap(addr: bytes) -> bytes:
    if len(addr) == 16 and addr[:12] == _V4MAPPED:
        return addr[12:]
    return addr


class UdpLayer:
    def __init__(
        self, ifaces: list[InterfaceWrapper], stats: dict[str, int], seed: int = 0
    ) -> None:
        self.ifaces = ifaces
        self.stats = stats
        # net.core.wmem_default / rmem_default: a new socket's SO_SNDBUF / SO_RCVBUF
        self.wmem_default = UDP_WMEM_DEFAULT
        self.rmem_default = UDP_RMEM_DEFAULT
        self.bound: dict[int, list[UdpSocket]] = {}
        self.events: set[UdpSocket] = set()
        self._seq = 0
        self.mc_members: dict[tuple[bytes, int], int] = {}   # host memberships
        span = EPHEMERAL[1] - EPHEMERAL[0]
        self._next_port = EPHEMERAL[0] + zlib.crc32(b"udp%d" % seed) % span
        # the IP layer's output (IpLayer.send_ip: the interface's emit path, fragments
        # beyond the MTU), set by the stack
        self.send_ip: Callable[..., bool] | None = None
        # ... and its ICMP port unreachable (IpLayer.port_unreachable) -> sent?
        self.port_unreachable: Callable[..., bool] | None = None
        for k in ("udp_in_datagrams", "udp_out_datagrams", "udp_no_port", "udp_in_errors",
                  "udp_rcvbuf_errors", "udp_payload_bytes_sent", "udp_payload_bytes_received",
                  "icmp_port_unreachable_sent", "icmp_errors_received"):
            stats.setdefault(k, 0)

    # ------------------------------------------------------------------ binding
    def _conflict(self, sk: UdpSocket, port: int, cover4: Any, cover6: Any) -> bool:
        for o in self.bound.get(port, ()):
            if o is sk:
                continue
            if not (_overlaps(o.cover4, cover4) or _overlaps(o.cover6, cover6)):
                continue
            if sk.reuseport and o.reuseport:
                continue
            if sk.reuseaddr and o.reuseaddr:
                continue
            return True
        return False

    def bind(self, sk: UdpSocket, addr: bytes, port: int, explicit: bool = True,
             no_port: bool = False) -> None:
        """no_port (IP_BIND_ADDRESS_NO_PORT) with port 0: only the address now; the
        port comes with connect or the first send (autobind)."""
        if sk.in_bind_table:
            raise SocketError(EINVAL)
        if no_port and port == 0:
            sk.bind_addr = addr
            sk.addr_locked = any(unmap(addr))
            return
        cover4, cover6 = _coverage(sk.family, addr, sk.v6only)
        if port == 0:
            port = self._pick_port(sk, cover4, cover6)
        elif self._conflict(sk, port, cover4, cover6):
            raise SocketError(EADDRINUSE)
        else:
            sk.port_locked = explicit
        if explicit and any(unmap(addr)):
            sk.addr_locked = True
        sk.bind_addr = addr
        sk.local_port = port
        sk.cover4, sk.cover6 = cover4, cover6
        self._seq += 1
        sk.bind_seq = self._seq
        self.bound.setdefault(port, []).append(sk)
        sk.in_bind_table = True

    def _pick_port(self, sk: UdpSocket, cover4: Any, cover6: Any) -> int:
        lo, hi = EPHEMERAL
        span = hi - lo + 1
        start = self._next_port
        for i in range(span):
            p = lo + (start - lo + i) % span
            if p not in self.bound or not self._conflict(sk, p, cover4, cover6):
                self._next_port = lo + (p - lo + 1) % span
                return p
        raise SocketError(EADDRINUSE)

    def unbind(self, sk: UdpSocket) -> None:
        if not sk.in_bind_table:
            return
        lst = self.bound.get(sk.local_port)
        if lst is not None:
            try:
                lst.remove(sk)
            except ValueError:
                pass
            if not lst:
                del self.bound[sk.local_port]
        sk.in_bind_table = False
        sk.local_port = 0
        sk.bind_addr = None
        sk.cover4 = sk.cover6 = None
        sk.addr_locked = sk.port_locked = False

    def autobind(self, sk: UdpSocket) -> None:
        if not sk.in_bind_table:
            addr = sk.bind_addr                 # from an IP_BIND_ADDRESS_NO_PORT bind
            if addr is None:
                addr = b"\x00" * (4 if sk.family == 2 else 16)
            self.bind(sk, addr, 0, explicit=False)

    # ------------------------------------------------------------------ connect
    def connect(self, sk: UdpSocket, rip: bytes, rport: int) -> None:
        """``rip`` unmapped (4 or 16 bytes). An unbound or wildcard-bound socket takes
        the route's source address as its own (Linux: inet_rcv_saddr)."""
        iface = self.out_route(sk, rip)
        if sk.bound_dev_if and needs_scope(rip):
            iface = self.iface_by_index(sk.bound_dev_if)
        if iface is None:
            raise SocketError(ENETUNREACH)
        if len(rip) == 4 and not sk.broadcast and self.is_broadcast(rip):
            raise SocketError(EACCES)       # ip4_datagram_connect
        src = self._source(sk, iface, rip)
        self.autobind(sk)
        sk.rip, sk.rport, sk.lip = rip, rport, src
        if not sk.addr_locked:
            self._set_local(sk, src if sk.family == 2 or len(src) == 16 else _V4MAPPED + src)
        sk.state = 1              # TCP_ESTABLISHED
        sk.error = 0

    def _set_local(self, sk: UdpSocket, addr: bytes) -> None:
        sk.bind_addr = addr
        sk.cover4, sk.cover6 = _coverage(sk.family, addr, sk.v6only)

    def disconnect(self, sk: UdpSocket) -> None:
        """connect(AF_UNSPEC): forget the peer; an address/port chosen implicitly goes."""
        sk.rip, sk.rport, sk.lip = None, 0, None
        sk.state = 7
        if not sk.addr_locked and sk.in_bind_table:
            self._set_local(sk, b"\x00" * (4 if sk.family == 2 else 16))
        if not sk.port_locked:
            self.unbind(sk)

    def _source(self, sk: UdpSocket, iface: InterfaceWrapper, dst: bytes) -> bytes:
        b = sk.bind_addr
        if b is not None and b != _ZERO4 and b != _ZERO16:     # per datagram: wildcard first
            ub = unmap(b)
            if any(ub) and len(ub) == len(dst) and not is_multicast(ub):
                return ub
        if len(dst) == 4 and sk.mc_addr != _ZERO4 and 224 <= dst[0] < 240:
            return sk.mc_addr
        src = source_address(iface, dst)
        if src is None:
            raise SocketError(EADDRNOTAVAIL)
        return src

    # ------------------------------------------------------------------ output
    def can_send(self) -> bool:
        for i in self.ifaces:       # a loop, not all(genexpr): asked per datagram
            if not i.dev.device.can_send():
                return False
        return True

    def send_room(self) -> int:
        """How many datagrams of any size (each fragmented at its interface's MTU) can
        surely be sent now, so a sender of many asks once, not per datagram; 1 while
        can_send where a device cannot tell (or the room is less than a datagram)."""
        room = 1 << 16
        for i in self.ifaces:
            free = i.dev.device.tx_room()
            if free is None:
                break
            # frames of the largest datagram: 65535 bytes of IPv6 payload, 8-byte
            # fragment units after up to 48 bytes of headers
            unit = (i.mtu - 48) & ~7
            n = free // -(-65535 // (unit if unit > 8 else 8))
            if n < room:
                room = n
        else:
            if room:
                return room
        return 1 if self.can_send() else 0

    def send(self, sk: UdpSocket, data: bytes | memoryview, rip: bytes, rport: int,
             oif: int = 0, ttl: int = -1, tos: int = -1) -> int:
        """Emit one datagram to ``rip`` (unmapped), ``rport``; ttl/tos (hop limit/traffic
        class) >= 0 for this datagram only (sendmsg control data), else the socket's.
        Raises EMSGSIZE, EINVAL, ENETUNREACH, EACCES, EAGAIN (device full: try again
        after poll).  Runs per datagram: the address tests are inline."""
        n = len(data)
        version = 4 if len(rip) == 4 else 6
        if n > (MAX_PAYLOAD_V4 if version == 4 else MAX_PAYLOAD_V6):
            raise SocketError(EMSGSIZE)
        if rport == 0:
            raise SocketError(EINVAL)
        if version == 4:
            if rip == _ZERO4:
                rip = _LOOP4
            elif 224 <= rip[0] < 240:
                return self._send_multicast(sk, data, rip, rport, oif)
        elif rip == _ZERO16:
            rip = _LOOP6
        elif rip[0] == 0xFF:
            return self._send_multicast(sk, data, rip, rport, oif)
        elif rip[0] == 0xFE and rip[1] & 0xC0 == 0x80 and (oif or sk.bound_dev_if):
            return self._send_scoped(sk, data, rip, rport, oif or sk.bound_dev_if, ttl, tos)
        iface = route(self.ifaces, rip)
        if iface is None:
            raise SocketError(ENETUNREACH)
        if rip == sk.rip and rport == sk.rport and sk.lip is not None:
            src = sk.lip
        elif iface.loopback and (sk.bind_addr is None or sk.bind_addr == _ZERO4 or
                                 sk.bind_addr == _ZERO16):
            # _source's answer for a wildcard bind on lo (multicast went out above),
            # inline: no _source/source_address calls per unconnected datagram
            # (tools/hostcalls -t UDP_STREAM: 63 -> 55)
            src = iface.primary[4 if version == 4 else 16]
            if src is None:
                raise SocketError(EADDRNOTAVAIL)
        else:
            src = self._source(sk, iface, rip)
        bcast = version == 4 and rip[3] & 3 == 3 and self.is_broadcast(rip)
        if bcast and not sk.broadcast:
            raise SocketError(EACCES)       # after the route, as udp_sendmsg
        if not sk.in_bind_table:
            self.autobind(sk)
        if ttl < 0:
            ttl = sk.ttl if version == 4 else sk.hops
        if tos < 0:
            tos = sk.tos if version == 4 else sk.tclass
        size = (28 if version == 4 else 48) + n
        if size <= iface.mtu:       # the per-datagram path: no Reprs, no fragments
            tok = iface.transmit(rip, size)
            if tok is None:
                self.stats["tx_backpressure"] = self.stats.get("tx_backpressure", 0) + 1
                raise SocketError(EAGAIN)
            iface.emit_udp(tok, version == 4, src, rip, ttl, tos, sk.local_port, rport, data)
        elif not self._emit(iface, src, rip, sk.local_port, rport, data, ttl, tos):
            raise SocketError(EAGAIN)       # fragments: the IP layer's send_ip
        if bcast and not iface.loopback:     # Linux loops a broadcast back to this host
            self.mcast_input(iface, 4, src, rip, sk.local_port, rport, bytes(data), ttl, tos,
                             group=False)
        st = self.stats
        st["udp_out_datagrams"] += 1
        st["udp_payload_bytes_sent"] += n
        return n

    def _send_scoped(self, sk: UdpSocket, data: bytes | memoryview, rip: bytes, rport: int,
                     oif: int, ttl: int, tos: int) -> int:
        """A datagram to a link-local IPv6 address out of the interface its scope id (or
        the socket's bound device) names."""
        iface = self.iface_by_index(oif)
        if iface is None:
            raise SocketError(ENETUNREACH)
        src = self._source(sk, iface, rip)
        self.autobind(sk)
        if not self._emit(iface, src, rip, sk.local_port, rport, data,
                          sk.hops if ttl < 0 else ttl, sk.tclass if tos < 0 else tos):
            raise SocketError(EAGAIN)
        self.stats["udp_out_datagrams"] += 1
        self.stats["udp_payload_bytes_sent"] += len(data)
        return len(data)

    def push_corked(self, sk: UdpSocket) -> None:
        """Send the pending corked datagram (UDP_CORK / MSG_MORE), if any."""
        pend, sk.corked = sk.corked, None
        if pend is not None:
            self.send(sk, pend[3], pend[0], pend[1], pend[2])

    def is_broadcast(self, dst: bytes) -> bool:
        """An IPv4 broadcast address: limited, or the directed broadcast of one of the
        interfaces' prefixes (whose host bits, at least two, are all ones)."""
        return dst[3] & 3 == 3 and any(i.is_broadcast(dst) for i in self.ifaces)

    # ------------------------------------------------------------------ multicast
    def iface_by_index(self, index: int) -> InterfaceWrapper | None:
        for i in self.ifaces:
            if i.index == index:
                return i
        return None

    def iface_by_addr(self, addr: bytes) -> InterfaceWrapper | None:
        for i in self.ifaces:
            if i.is_local(addr):
                return i
        return None

    def out_route(self, sk: UdpSocket, dst: bytes, oif: int = 0) -> InterfaceWrapper | None:
        """The interface a datagram to ``dst`` leaves by: the one a link-scoped IPv6
        destination's scope id (oif) names; for a multicast group the one
        IP_MULTICAST_IF / IPV6_MULTICAST_IF names, else the route; for IPv6 Linux's
        ff00::/8 route, which every interface but lo has.  Linux sends no IPv6 (link-local
        or multicast) out of lo (ENETUNREACH): None then."""
        if oif:
            iface = self.iface_by_index(oif)
            return None if iface is None or iface.loopback and len(dst) == 16 else iface
        if not is_multicast(dst):
            return route(self.ifaces, dst)
        iface = None
        if len(dst) == 4:
            if sk.mc_index:
                iface = self.iface_by_index(sk.mc_index)
            elif any(sk.mc_addr):
                iface = self.iface_by_addr(sk.mc_addr)
        elif sk.mc_index6:
            iface = self.iface_by_index(sk.mc_index6)
        if iface is None:
            iface = route(self.ifaces, dst)
        if iface is None and len(dst) == 16:
            # an interface with IPv6 has joined ff02::1 (mcast6)
            iface = next((i for i in self.ifaces if not i.loopback and i.mcast6), None)
        if iface is not None and len(dst) == 16 and iface.loopback:
            return None
        return iface

    def _send_multicast(self, sk: UdpSocket, data: bytes | memoryview, rip: bytes,
                        rport: int, oif: int = 0) -> int:
        """A datagram to a group: out of the chosen interface and, with
        IP_MULTICAST_LOOP, to this host's member sockets. Sent out of lo it reaches them
        once, whatever IP_MULTICAST_LOOP says (Linux makes no loop copy for lo)."""
        v4 = len(rip) == 4
        iface = self.out_route(sk, rip, oif)
        if iface is None:
            raise SocketError(ENETUNREACH)
        src = self._source(sk, iface, rip)
        self.autobind(sk)
        tos = sk.tos if v4 else sk.tclass
        if not iface.loopback and not self._emit(iface, src, rip, sk.local_port, rport, data,
                                                 sk.mc_ttl if v4 else sk.mc_hops, tos):
            raise SocketError(EAGAIN)
        if iface.loopback or (sk.mc_loop if v4 else sk.mc_loop6):
            self.mcast_input(iface, 4 if v4 else 6, src, rip, sk.local_port, rport,
                             bytes(data), sk.mc_ttl if v4 else sk.mc_hops, tos)
        st = self.stats
        st["udp_out_datagrams"] += 1
        st["udp_payload_bytes_sent"] += len(data)
        return len(data)

    def mcast_input(self, iface: InterfaceWrapper, version: int, src: bytes, dst: bytes,
                    sport: int, dport: int, data: bytes, ttl: int = 64, tos: int = 0,
                    group: bool = True) -> None:
        """A datagram to a group arrived on ``iface``: taken if a socket of this host
        joined the group there (or the interface did: ff02::1), then given to every
        socket bound to the port that covers the group (Linux: the member sockets, and
        the others unless IP_MULTICAST_ALL is off).  A broadcast (not group) goes to
        every socket bound to the port that covers it."""
        key = (dst, iface.index)
        st = self.stats
        # IPv6: the interface's groups include ff02::1, which every node has joined
        if group and not self.mc_members.get(key) and not (
                version == 6 and dst in iface.mcast6):
            st["udp_mcast_not_member"] = st.get("udp_mcast_not_member", 0) + 1
            return
        for sk in list(self.bound.get(dport, ())):
            cover = sk.cover4 if version == 4 else sk.cover6
            if cover is None or (cover != ANY and cover != dst) or sk.shut_rd:
                continue
            if sk.rip is not None and (sk.rip != src or sk.rport != sport):
                continue
            if group and key not in sk.mc_groups and not sk.mc_all:
                continue
            self._queue(sk, data, src, sport, dst, version, ttl, tos, iface.index)

    def mc_join(self, sk: UdpSocket, group: bytes, ifindex: int) -> None:
        key = (group, ifindex)
        if key in sk.mc_groups:
            raise SocketError(EADDRINUSE)
        sk.mc_groups.add(key)
        self.mc_members[key] = self.mc_members.get(key, 0) + 1
        if len(group) == 16:
            iface = self.iface_by_index(ifindex)
            if iface is not None:
                iface.mcast6.add(group)

    def mc_leave(self, sk: UdpSocket, key: tuple[bytes, int]) -> None:
        sk.mc_groups.discard(key)
        n = self.mc_members.get(key, 0) - 1
        if n > 0:
            self.mc_members[key] = n
        else:
            self.mc_members.pop(key, None)

    def mc_leave_all(self, sk: UdpSocket) -> None:
        for key in list(sk.mc_groups):
            self.mc_leave(sk, key)

    def _emit(self, iface: InterfaceWrapper, src: bytes, dst: bytes, sport: int, dport: int,
              data: bytes | memoryview, ttl: int, tos: int) -> bool:
        assert self.send_ip is not None
        return self.send_ip(iface, 4 if len(dst) == 4 else 6, src, dst, 17, data, ttl,
                            tos=tos, l4=UdpRepr(sport, dport), df=True)

    # ------------------------------------------------------------------ input
    def lookup(self, version: int, src: bytes, sport: int, dst: bytes, dport: int
               ) -> UdpSocket | None:
        cands = self.bound.get(dport)
        if not cands:
            return None
        best: UdpSocket | None = None
        best_score = -1
        group: list[UdpSocket] = []
        for sk in cands:
            cover = sk.cover4 if version == 4 else sk.cover6
            if cover is None:
                continue
            score = 2 if (sk.family == 2) == (version == 4) else 1
            if cover != ANY:
                if cover != dst:
                    continue
                score += 4
            if sk.rip is not None:
                if sk.rip != src or sk.rport != sport:
                    continue
                score += 8
            if score > best_score or (score == best_score and sk.bind_seq > best.bind_seq):  # type: ignore[union-attr]
                if score > best_score or not (sk.reuseport and best.reuseport):  # type: ignore[union-attr]
                    group = []
                best, best_score = sk, score
            if sk.reuseport and score == best_score:
                group.append(sk)
        if best is not None and best.reuseport and len(group) > 1:
            group.sort(key=lambda s: s.bind_seq)
            h = zlib.crc32(src + dst + _U16.pack(sport) + _U16.pack(dport))
            best = group[h % len(group)]
        return best

    def ip_input(self, iface: InterfaceWrapper, ip: IpRepr, seg: memoryview) -> None:
        """The IP layer's handler: one datagram (``seg``, after the IP header)."""
        st = self.stats
        version, src, dst = ip.version, ip.src, ip.dst
        try:
            sport, dport, data = parse_udp(seg, src, dst, version, not iface.checksum_offload)
        except Malformed:
            st["udp_in_errors"] += 1
            return
        if version == 4:
            ttl, tos = ip.ttl, ip.tos                       # type: ignore[union-attr]
            if 224 <= dst[0] < 240 or dst[3] & 3 == 3 and iface.is_broadcast(dst):
                self.mcast_input(iface, 4, src, dst, sport, dport, bytes(data), ttl, tos,
                                 group=224 <= dst[0] < 240)
                return
        else:
            ttl, tos = ip.hop_limit, ip.traffic_class       # type: ignore[union-attr]
            if dst[0] == 0xFF:
                self.mcast_input(iface, 6, src, dst, sport, dport, bytes(data), ttl, tos)
                return
        sk = self.lookup(version, src, sport, dst, dport)
        if sk is None:
            st["udp_no_port"] += 1
            if self.port_unreachable is not None and self.port_unreachable(
                    iface, ip, seg[:8 + len(data)]):
                st["icmp_port_unreachable_sent"] += 1
            return
        if sk.shut_rd:
            return
        self._queue(sk, data, src, sport, dst, version, ttl, tos, iface.index)

    def _queue(self, sk: UdpSocket, data: bytes | memoryview, src: bytes, sport: int,
               dst: bytes, version: int, ttl: int, tos: int, ifindex: int) -> None:
        """Queue a datagram for reading, or drop it over SO_RCVBUF (__udp_queue_rcv_skb);
        its payload is copied out of the frame only when it is queued."""
        st = self.stats
        if sk.rx_bytes > sk.so_rcvbuf:
            sk.drops += 1
            st["udp_rcvbuf_errors"] += 1
            st["udp_in_errors"] += 1
            return
        dg = Datagram(bytes(data), src, sport, dst, version, ttl, tos, ifindex)
        sk.rxq.append(dg)
        sk.rx_bytes += dg.cost
        st["udp_in_datagrams"] += 1
        st["udp_payload_bytes_received"] += dg.cost - SKB_OVERHEAD     # no len() per datagram
        self.events.add(sk)

    def take(self, sk: UdpSocket) -> Datagram | None:
        if not sk.rxq:
            return None
        dg = sk.rxq.popleft()
        sk.rx_bytes -= dg.cost
        return dg

    # ------------------------------------------------------------------ ICMP
    def icmp_error(self, version: int, lip: bytes, rip: bytes, lport: int, rport: int,
                   err: int, entry: ErrEntry | None = None) -> None:
        """An ICMP error quoting a datagram we sent from lip:lport to rip:rport: the
        connected socket it concerns gets ``err`` (Linux: unconnected sockets ignore it
        unless IP_RECVERR). The signature of an IP layer's transport error handler."""
        for sk in self.bound.get(lport, ()):
            if sk.rip == rip and sk.rport == rport and sk.lip in (None, lip):
                self._set_error(sk, err, entry)
                return
        if entry is None:
            return
        # Linux __udp4_lib_err: an unconnected socket takes the error with IP_RECVERR
        sk2 = self.lookup(version, rip, rport, lip, lport)
        if sk2 is not None and sk2.recverr:
            self._set_error(sk2, err, entry)

    def icmp_error_detail(self, version: int, lip: bytes, rip: bytes, lport: int,
                          rport: int, err: int, typ: int, code: int, offender: bytes,
                          body: bytes) -> None:
        """The IP layer's error handler with the ICMP details (for IP_RECVERR)."""
        self.icmp_error(version, lip, rip, lport, rport, err,
                        ErrEntry(body, rip, rport, version, err, typ, code, offender))

    def _set_error(self, sk: UdpSocket, err: int, entry: ErrEntry | None) -> None:
        if sk.recverr and entry is not None and len(sk.errq) < 64:
            sk.errq.append(entry)
        sk.error = err
        sk.err_seq += 1
        self.events.add(sk)

    def take_error_entry(self, sk: UdpSocket) -> ErrEntry | None:
        """recvmsg(MSG_ERRQUEUE): the oldest entry; the pending error becomes the next
        entry's (or none), as Linux's sock_dequeue_err_skb."""
        if not sk.errq:
            return None
        e = sk.errq.popleft()
        sk.error = sk.errq[0].errno if sk.errq else 0
        return e

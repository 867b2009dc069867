"""Datagram sockets as the application sees them: ``UdpSock`` is a ``Socket`` whose inner
part is a ``UdpSocket`` (rocketnet.transport.udp), with Linux's UDP call semantics.

API beyond ``Socket``'s (see rocketnet.stack)::

    s.connect(addr, now)    sets the default peer (connect(None, now): AF_UNSPEC,
                            dissolve); ENETUNREACH / EAFNOSUPPORT / EINVAL as Linux.
    s.sendto(data, addr)    -> len; addr None means the connected peer (EDESTADDRREQ
                            if none). EMSGSIZE above 65507 (IPv4) / 65527 (IPv6),
                            EINVAL for port 0, EACCES for broadcast without SO_BROADCAST,
                            EAGAIN when the device has no buffer (try after poll), the
                            pending error (ECONNREFUSED...) first on a connected socket.
    s.send_to(data, rip, rport)  the same with a resolved address (the host's fast path).
    s.resolve(addr)         -> (rip unmapped, rport) for send_to.
    s.recv_datagram()       -> Datagram | None (data, src, sport, dst, version...).
    s.rx_available()        datagrams queued.   s.drops: receive-buffer overflows.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Callable

from . import constants as C
from . import sockopt
from .errors import SocketError
from .iface import route
from .socket import Socket
from .transport.udp import (
    EMSGSIZE,
    MAX_PAYLOAD_V4,
    MAX_PAYLOAD_V6,
    Datagram,
    ErrEntry,
    UdpSocket,
    is_multicast,
    needs_scope,
    unmap,
)

if TYPE_CHECKING:
    from .stack import NetStack

__all__ = ["UdpSock", "Datagram"]

_V4MAPPED = b"\x00" * 10 + b"\xff\xff"
_LOOP4 = b"\x7f\x00\x00\x01"
_LOOP6 = b"\x00" * 15 + b"\x01"
EDESTADDRREQ = 89
ENODEV = 19
SHUT_RD, SHUT_WR, SHUT_RDWR = 0, 1, 2
SO_RXQ_OVFL = 40
SO_TIMESTAMP = 29
SO_TIMESTAMPNS = 35
# Boolean/int IP-level options a UDP socket accepts and reports back (Linux defaults).
_IP_FLAGS = {6: 0, 7: 0, 8: 0, 10: 1, 11: 0, 12: 0, 13: 0, 20: 0, 34: 1}  # IP_RECVOPTS,
#   RETOPTS, PKTINFO, MTU_DISCOVER, RECVERR, RECVTTL, RECVTOS, RECVORIGDSTADDR, MULTICAST_LOOP
_IP6_FLAGS = {23: 1, 25: 0, 49: 0, 51: 0, 66: 0, 18: 1, 19: 1}  # MTU_DISCOVER, RECVERR,
#   RECVPKTINFO, RECVHOPLIMIT, RECVTCLASS, MULTICAST_HOPS, MULTICAST_LOOP


class UdpSock(Socket):
    inner: UdpSocket  # type: ignore[assignment]
    port_required = True        # sendto port 0 is EINVAL (not for ping sockets)
    corks = True                # MSG_MORE / UDP_CORK join sends (not on ping sockets)

    def __init__(self, stack: NetStack, family: int, type: int, proto: int) -> None:
        inner = UdpSocket(stack.udp, family)
        super().__init__(stack, family, type, proto, inner)  # type: ignore[arg-type]
        self.proto = proto or C.IPPROTO_UDP
        self.layer = stack.udp
        self.ipopts: dict[tuple[int, int], int] = {}
        self.cork_on = False    # UDP_CORK
        # the pending corked datagram: (destination, port, outgoing interface, payload)
        self.corked: tuple[bytes, int, int, bytearray] | None = None

    def __repr__(self) -> str:
        return f"<UdpSock #{self.handle} fam={self.family}>"

    # ------------------------------------------------------------------ addresses
    def resolve(self, addr: object) -> tuple[bytes, int]:
        """A destination tuple -> (unmapped address, port), with Linux's checks."""
        a, port = self._parse(addr)
        if self.family == C.AF_INET6:
            if a[:12] == _V4MAPPED:
                if self.inner.v6only:
                    raise SocketError(C.ENETUNREACH)
                a = a[12:]
            else:
                b = self.inner.bind_addr
                if b is not None and b[:12] == _V4MAPPED and any(b[12:]):
                    raise SocketError(C.ENETUNREACH)
        if not any(a):
            a = _LOOP4 if len(a) == 4 else _LOOP6
        return a, port

    # ------------------------------------------------------------------ calls
    @staticmethod
    def _scope_id(addr: object) -> int:
        if isinstance(addr, (tuple, list)) and len(addr) > 3 and isinstance(addr[3], int):
            return addr[3]
        return 0

    def scope_of(self, a: bytes) -> int:
        """sin6_scope_id reported with address ``a`` of this socket (ipv6_iface_scope_id)."""
        return self.inner.bound_dev_if if needs_scope(a) else 0

    def bind(self, addr: object) -> None:
        a, port = self._parse(addr)
        t = self.inner
        if self.family == C.AF_INET6 and needs_scope(a) and not is_multicast(a):
            # Linux __inet6_bind: a link-local address needs an interface
            dev = self._scope_id(addr) or t.bound_dev_if
            if not dev:
                raise SocketError(C.EINVAL)
            iface = self.stack.udp.iface_by_index(dev)
            if iface is None:
                raise SocketError(ENODEV)
            if not iface.has_address(a):
                raise SocketError(C.EADDRNOTAVAIL)
            self.layer.bind(t, a, port, no_port=self._no_port())
            t.bound_dev_if = dev
            return
        if self.family == C.AF_INET6 and a[:12] == _V4MAPPED:
            if t.v6only:
                raise SocketError(C.EINVAL)
            v4 = a[12:]
            if any(v4) and not self._is_local(v4) and not self.stack.udp.is_broadcast(v4):
                raise SocketError(C.EADDRNOTAVAIL)
        elif any(a) and not self._is_local(a) and not is_multicast(a) and not (
                len(a) == 4 and self.stack.udp.is_broadcast(a)):
            raise SocketError(C.EADDRNOTAVAIL)     # Linux binds to broadcast addresses too
        self.layer.bind(t, a, port, no_port=self._no_port())

    def _no_port(self) -> bool:
        return bool(self.optstore.get((C.IPPROTO_IP, C.IP_BIND_ADDRESS_NO_PORT)))

    def listen(self, backlog: int) -> None:
        raise SocketError(C.EOPNOTSUPP)

    def accept(self) -> Socket | None:
        raise SocketError(C.EOPNOTSUPP)

    def connect(self, addr: object, now: float = 0.0) -> None:
        if addr is None:
            self.layer.disconnect(self.inner)
            return
        rip, rport = self.resolve(addr)
        t = self.inner
        if needs_scope(rip):
            # ip6_datagram_connect: the scope id binds the socket to its interface
            scope = self._scope_id(addr)
            if t.bound_dev_if and scope and scope != t.bound_dev_if:
                raise SocketError(C.EINVAL)
            dev = scope or t.bound_dev_if or (t.mc_index6 if is_multicast(rip) else 0)
            if not dev:
                raise SocketError(C.EINVAL)
            if self.stack.udp.iface_by_index(dev) is None:
                raise SocketError(ENODEV)
            t.bound_dev_if = dev
        self.layer.connect(t, rip, rport)

    @property
    def state(self) -> str:
        return "ESTABLISHED" if self.inner.rip is not None else "CLOSED"

    @property
    def connected(self) -> bool:
        return self.inner.rip is not None

    def sendto(self, data: bytes | bytearray | memoryview, addr: object = None) -> int:
        t = self.inner
        if addr is None:
            if t.rip is None:
                raise SocketError(EDESTADDRREQ)
            return self.send_to(data, t.rip, t.rport)
        rip, rport = self.resolve(addr)
        scope = self._scope_id(addr) if needs_scope(rip) else 0
        if scope:
            return self.send_to(data, rip, rport, scope)
        return self.send_to(data, rip, rport)

    def send_to(self, data: bytes | bytearray | memoryview, rip: bytes, rport: int,
                oif: int = 0) -> int:
        t = self.inner
        if t.error and t.rip is not None:
            e = t.error
            t.error = 0
            raise SocketError(e)
        if t.shut_wr:
            raise SocketError(C.EPIPE)
        if self.corked is not None or self.cork_on:
            return self.cork(data, rip, rport, oif, False)
        if oif:
            return self.layer.send(t, data, rip, rport, oif)
        return self.layer.send(t, data, rip, rport)

    def cork(self, data: bytes | bytearray | memoryview, rip: bytes, rport: int, oif: int,
             more: bool) -> int:
        """udp_sendmsg's corking: with MSG_MORE or UDP_CORK, data joins the pending datagram,
        which keeps its first part's destination and leaves whole with the first part sent
        with neither. A pending datagram over the size limit is dropped: EMSGSIZE."""
        pend = self.corked
        if pend is None:
            pend = self.corked = (rip, rport, oif, bytearray())
        payload = pend[3]
        payload += data
        if len(payload) > (MAX_PAYLOAD_V4 if len(pend[0]) == 4 else MAX_PAYLOAD_V6):
            self.corked = None
            raise SocketError(EMSGSIZE)
        if not (more or self.cork_on):
            self.push_corked()
        return len(data)

    def push_corked(self) -> None:
        pend, self.corked = self.corked, None
        if pend is not None:
            self.layer.send(self.inner, pend[3], pend[0], pend[1], pend[2])

    def send(self, data: bytes | bytearray | memoryview) -> int:
        return self.sendto(data, None)

    def send_space(self) -> int:
        return 65535 if self.layer.can_send() else 0

    def recv_error(self) -> ErrEntry | None:
        """recvmsg(MSG_ERRQUEUE): None when the queue is empty (EAGAIN)."""
        return self.stack.udp.take_error_entry(self.inner)

    def recv_datagram(self) -> Datagram | None:
        return self.layer.take(self.inner)

    def recv(self, maxlen: int) -> bytes:
        if maxlen < 0:
            raise SocketError(C.EINVAL)
        dg = self.layer.take(self.inner)
        return b"" if dg is None else dg.data[:maxlen]

    def rx_available(self) -> int:
        return len(self.inner.rxq)

    @property
    def rx_eof(self) -> bool:
        return False

    def option(self, level: int, optname: int) -> int:
        """The value of a flag option kept by this socket (IP_PKTINFO, SO_TIMESTAMP...)."""
        return self.ipopts.get((level, optname), 0)

    @property
    def drops(self) -> int:
        return self.inner.drops

    def shutdown(self, how: int) -> None:
        """Linux: ENOTCONN unless connected, but the flags are set either way."""
        t = self.inner
        if how in (SHUT_RD, SHUT_RDWR):
            t.shut_rd = True
        if how in (SHUT_WR, SHUT_RDWR):
            t.shut_wr = True
        if t.rip is None:
            raise SocketError(C.ENOTCONN)

    def shutdown_write(self, now: float) -> None:
        self.inner.shut_wr = True

    def close(self, now: float = 0.0) -> None:
        if self.closed:
            return
        self.closed = True
        t = self.inner
        t.released = True
        self.stack.udp.mc_leave_all(t)
        self.layer.unbind(t)
        t.rxq.clear()
        t.rx_bytes = 0
        self.layer.events.discard(t)
        self.stack.sockets.remove(self.handle)

    def abort(self, now: float = 0.0) -> None:
        self.close(now)

    def getsockname(self) -> tuple:
        t = self.inner
        if t.bind_addr is not None:             # port 0 after an address-only bind
            return self._scoped(self._format(t.bind_addr, t.local_port), t.bind_addr)
        return self._format(b"\x00" * (4 if self.family == C.AF_INET else 16), 0)

    def getpeername(self) -> tuple:
        t = self.inner
        if t.rip is None:
            raise SocketError(C.ENOTCONN)
        return self._scoped(self._format(t.rip, t.rport), t.rip)

    def _scoped(self, name: tuple, a: bytes) -> tuple:
        scope = self.scope_of(a)
        return name[:3] + (scope,) if scope and len(name) == 4 else name

    def source_name(self, dg: Datagram) -> tuple:
        """recvfrom's address of a datagram: a link-local source carries the
        interface it arrived on as its scope id."""
        name = self._format(dg.src, dg.sport)
        if len(name) == 4 and needs_scope(dg.src):
            return name[:3] + (dg.ifindex,)
        return name

    # ------------------------------------------------------------------ options
    def _setsockopt(self, level: int, optname: int, value: bytes | int) -> None:
        t = self.inner
        if level == C.SOL_SOCKET:
            if optname == C.SO_KEEPALIVE:
                t.keepalive = bool(sockopt.to_int(value))
                return
            if optname == C.SO_BROADCAST:
                t.broadcast = bool(sockopt.to_int(value))
                self.broadcast = 1 if t.broadcast else 0
                return
            if optname in _TIMEO:
                self.ipopts[(level, _TIMEO[optname])] = _timeval(value)  # type: ignore[assignment]
                return
            if optname == SO_RXQ_OVFL:
                self.ipopts[(level, optname)] = 1 if sockopt.to_int(value) else 0
                return
            if optname in (SO_TIMESTAMP, SO_TIMESTAMPNS):
                # one receive timestamp setting (Linux: SOCK_RCVTSTAMP[NS]); off turns both off
                on = 1 if sockopt.to_int(value) else 0
                self.ipopts[(level, SO_TIMESTAMP)] = int(on and optname == SO_TIMESTAMP)
                self.ipopts[(level, SO_TIMESTAMPNS)] = int(on and optname == SO_TIMESTAMPNS)
                return
            if optname in (C.SO_SNDBUF, C.SO_RCVBUF):
                super()._setsockopt(level, optname, value)
                t.sndbuf_limit = t.so_sndbuf
                t.rcvbuf_limit = t.so_rcvbuf
                return
            super()._setsockopt(level, optname, value)
            return
        if level in (C.IPPROTO_UDP, C.IPPROTO_TCP) or _v6_mc_all(self, level, optname):
            sockopt.set_opt(self, level, optname, value)
            if level == C.IPPROTO_UDP and optname == UDP_CORK and self.corks:
                self.cork_on = bool(sockopt.to_int(value))
                if not self.cork_on:
                    self.push_corked()
            return
        if level == C.IPPROTO_IP and optname in _MC4_OPTS:
            self._mc4_set(optname, value)
            return
        if level == C.IPPROTO_IPV6 and optname in _MC6_OPTS and self.family == C.AF_INET6:
            self._mc6_set(optname, value)
            return
        if level == C.IPPROTO_IPV6 and optname == IPV6_TCLASS and self.family == C.AF_INET6:
            v = sockopt.to_int(value)
            if not -1 <= v <= 255:
                raise SocketError(C.EINVAL)
            t.tclass = max(v, 0)        # -1: the default, 0
            return
        table = _IP_FLAGS if level == C.IPPROTO_IP else _IP6_FLAGS
        if level in (C.IPPROTO_IP, C.IPPROTO_IPV6) and optname in table:
            if level == C.IPPROTO_IPV6 and self.family != C.AF_INET6:
                raise SocketError(C.ENOPROTOOPT)
            self.ipopts[(level, optname)] = sockopt.check(self, level, optname, value)  # type: ignore[assignment]
            if (level, optname) in ((C.IPPROTO_IP, 11), (C.IPPROTO_IPV6, 25)):
                t.recverr = bool(self.ipopts.get((C.IPPROTO_IP, 11)) or (
                    self.family == C.AF_INET6 and self.ipopts.get((C.IPPROTO_IPV6, 25))))
                if not t.recverr:
                    t.errq.clear()          # Linux purges the queue when it is turned off
            return
        super()._setsockopt(level, optname, value)

    def _getsockopt(self, level: int, optname: int, optlen: int = 4) -> bytes:
        t = self.inner
        if optlen < 0:
            raise SocketError(C.EINVAL)
        if level == C.SOL_SOCKET:
            if optname == C.SO_ACCEPTCONN:
                return sockopt.int_result(0, optlen)
            if optname == C.SO_ERROR:
                return sockopt.int_result(self.take_error(), optlen)
            if optname == C.SO_BROADCAST:
                return sockopt.int_result(int(t.broadcast), optlen)
            if optname in _TIMEO:
                tv = self.ipopts.get((level, _TIMEO[optname]), 0)
                return (tv or bytes(16))[:optlen]  # type: ignore[index]
            if optname in (SO_RXQ_OVFL, SO_TIMESTAMP, SO_TIMESTAMPNS):
                return sockopt.int_result(self.ipopts.get((level, optname), 0), optlen)
            return super()._getsockopt(level, optname, optlen)
        if level in (C.IPPROTO_UDP, C.IPPROTO_TCP) or _v6_mc_all(self, level, optname):
            return sockopt.get_opt(self, level, optname, optlen)
        if level == C.IPPROTO_IP and optname in _MC4_GET:
            if optname == IP_MULTICAST_IF:
                return t.mc_addr[:min(optlen, 4)]
            return sockopt.int_result(_MC4_GET[optname](t), optlen, True)
        if level == C.IPPROTO_IPV6 and optname in _MC6_GET and self.family == C.AF_INET6:
            return sockopt.int_result(_MC6_GET[optname](t), optlen)  # a short read gets a part
        if level == C.IPPROTO_IPV6 and optname == IPV6_TCLASS and self.family == C.AF_INET6:
            return sockopt.int_result(t.tclass, optlen)
        table = _IP_FLAGS if level == C.IPPROTO_IP else _IP6_FLAGS
        if level in (C.IPPROTO_IP, C.IPPROTO_IPV6) and optname in table:
            if level == C.IPPROTO_IPV6 and self.family != C.AF_INET6:
                raise SocketError(C.EOPNOTSUPP)
            v = self.ipopts.get((level, optname), table[optname])
            return sockopt.int_result(v, optlen, level == C.IPPROTO_IP)
        return super()._getsockopt(level, optname, optlen)

    # ------------------------------------------------------------------ multicast
    def _mc4_set(self, optname: int, value: bytes | int) -> None:
        """IPv4 multicast options with Linux's (do_ip_setsockopt) checks and errnos."""
        t = self.inner
        udp = self.stack.udp
        raw = value.to_bytes(4, "little", signed=True) if isinstance(value, int) else value
        if optname in (IP_MULTICAST_TTL, IP_MULTICAST_LOOP, IP_MULTICAST_ALL):
            if len(raw) >= 4:
                v = int.from_bytes(raw[:4], "little", signed=True)
            elif len(raw) >= 1:
                v = raw[0]
            else:
                raise SocketError(C.EINVAL)
            if optname == IP_MULTICAST_TTL:
                if v == -1:
                    v = 1
                if not 0 <= v <= 255:
                    raise SocketError(C.EINVAL)
                t.mc_ttl = v
            elif optname == IP_MULTICAST_LOOP:
                t.mc_loop = v != 0
            else:
                if v not in (0, 1):
                    raise SocketError(C.EINVAL)
                t.mc_all = v == 1
            return
        if optname == IP_MULTICAST_IF:
            if len(raw) < 4:
                raise SocketError(C.EINVAL)
            if len(raw) >= 12:
                addr, index = bytes(raw[4:8]), int.from_bytes(raw[8:12], sys.byteorder)
            elif len(raw) >= 8:
                addr, index = bytes(raw[4:8]), 0
            else:
                addr, index = bytes(raw[:4]), 0
            if not index:
                if not any(addr):
                    t.mc_index, t.mc_addr = 0, addr
                    return
                iface = udp.iface_by_addr(addr)
            else:
                iface = udp.iface_by_index(index)
            if iface is None:
                raise SocketError(C.EADDRNOTAVAIL)
            t.mc_index, t.mc_addr = index, addr
            return
        # memberships: struct ip_mreq / ip_mreqn, or struct group_req
        if optname in (C.MCAST_JOIN_GROUP, C.MCAST_LEAVE_GROUP):
            if len(raw) < C.GROUP_REQ_SIZE:
                raise SocketError(C.EINVAL)
            if int.from_bytes(raw[8:10], sys.byteorder) != C.AF_INET:
                raise SocketError(C.EINVAL)
            group, addr = bytes(raw[12:16]), b"\x00" * 4
            index = int.from_bytes(raw[0:4], sys.byteorder)
            join = optname == C.MCAST_JOIN_GROUP
        else:
            if len(raw) < 8:
                raise SocketError(C.EINVAL)
            group, addr = bytes(raw[0:4]), bytes(raw[4:8])
            index = int.from_bytes(raw[8:12], sys.byteorder) if len(raw) >= 12 else 0
            join = optname == C.IP_ADD_MEMBERSHIP
        if join and not is_multicast(group):
            raise SocketError(C.EINVAL)
        # ip_mc_find_dev: by index, else by address, else the route to the group
        if index:
            iface = udp.iface_by_index(index)
        elif any(addr):
            iface = udp.iface_by_addr(addr)
        else:
            iface = route(udp.ifaces, group)
        if join:
            if iface is None:
                raise SocketError(ENODEV)
            udp.mc_join(t, group, iface.index)
            return
        if iface is None and not index and not any(addr):
            raise SocketError(ENODEV)
        key = (group, iface.index if iface is not None else index)
        if key not in t.mc_groups:
            raise SocketError(C.EADDRNOTAVAIL)
        udp.mc_leave(t, key)

    def _mc6_set(self, optname: int, value: bytes | int) -> None:
        """IPv6 multicast options (do_ipv6_setsockopt): ints of 4 bytes, ipv6_mreq."""
        t = self.inner
        udp = self.stack.udp
        raw = value.to_bytes(4, "little", signed=True) if isinstance(value, int) else value
        if optname in (IPV6_JOIN_GROUP, IPV6_LEAVE_GROUP):
            if len(raw) < 20:
                raise SocketError(C.EINVAL)
            group = bytes(raw[:16])
            index = int.from_bytes(raw[16:20], sys.byteorder)
            if not is_multicast(group):
                raise SocketError(C.EINVAL)
            if optname == IPV6_LEAVE_GROUP:
                for key in t.mc_groups:
                    if key[0] == group and (not index or key[1] == index):
                        udp.mc_leave(t, key)
                        return
                raise SocketError(C.EADDRNOTAVAIL)
            if index:
                iface = udp.iface_by_index(index)
            else:
                iface = route(udp.ifaces, group)
            if iface is None:
                raise SocketError(ENODEV)
            udp.mc_join(t, group, iface.index)
            return
        if len(raw) < 4:
            raise SocketError(C.EINVAL)
        v = int.from_bytes(raw[:4], "little", signed=True)
        if optname == IPV6_MULTICAST_IF:
            if v and udp.iface_by_index(v) is None:
                raise SocketError(ENODEV)
            t.mc_index6 = v
        elif optname == IPV6_MULTICAST_HOPS:
            if not -1 <= v <= 255:
                raise SocketError(C.EINVAL)
            t.mc_hops = 1 if v == -1 else v
        else:
            if v not in (0, 1):
                raise SocketError(C.EINVAL)
            t.mc_loop6 = v == 1


IP_MULTICAST_IF, IP_MULTICAST_TTL, IP_MULTICAST_LOOP, IP_MULTICAST_ALL = 32, 33, 34, 49
IPV6_MULTICAST_IF, IPV6_MULTICAST_HOPS, IPV6_MULTICAST_LOOP = 17, 18, 19
IPV6_JOIN_GROUP, IPV6_LEAVE_GROUP = 20, 21
IPV6_TCLASS = 67
UDP_CORK = 1
_MC4_OPTS = {IP_MULTICAST_IF, IP_MULTICAST_TTL, IP_MULTICAST_LOOP, IP_MULTICAST_ALL,
             C.IP_ADD_MEMBERSHIP, C.IP_DROP_MEMBERSHIP, C.MCAST_JOIN_GROUP,
             C.MCAST_LEAVE_GROUP}
_MC6_OPTS = {IPV6_MULTICAST_IF, IPV6_MULTICAST_HOPS, IPV6_MULTICAST_LOOP, IPV6_JOIN_GROUP,
             IPV6_LEAVE_GROUP}
def _v6_mc_all(sk: UdpSock, level: int, optname: int) -> bool:
    """IP_MULTICAST_ALL of an AF_INET6 socket (off, as inet6_create leaves it): it
    would only filter v4-mapped groups, so it stays a stored value; the socket's
    mc_all serves its IPv6 groups (IPV6_MULTICAST_ALL, on)."""
    return level == C.IPPROTO_IP and optname == IP_MULTICAST_ALL and sk.family == C.AF_INET6


_MC4_GET: dict[int, Callable[[UdpSocket], int]] = {
    IP_MULTICAST_IF: lambda t: 0, IP_MULTICAST_TTL: lambda t: t.mc_ttl,
    IP_MULTICAST_LOOP: lambda t: int(t.mc_loop), IP_MULTICAST_ALL: lambda t: int(t.mc_all)}
_MC6_GET: dict[int, Callable[[UdpSocket], int]] = {
    IPV6_MULTICAST_IF: lambda t: t.mc_index6, IPV6_MULTICAST_HOPS: lambda t: t.mc_hops,
    IPV6_MULTICAST_LOOP: lambda t: int(t.mc_loop6)}

_TIMEO = {20: 20, 66: 20, 21: 21, 67: 21}   # SO_RCVTIMEO/SO_SNDTIMEO, _OLD and _NEW


def _timeval(value: bytes | int) -> bytes:
    """A struct timeval as Linux stores a socket timeout (EINVAL short, EDOM bad usec)."""
    if isinstance(value, int) or len(value) < 16:
        raise SocketError(C.EINVAL)
    sec = int.from_bytes(value[:8], "little", signed=True)
    usec = int.from_bytes(value[8:16], "little", signed=True)
    if not 0 <= usec < 1000000:
        raise SocketError(33)           # EDOM
    if sec < 0:
        sec = usec = 0
    return sec.to_bytes(8, "little", signed=True) + usec.to_bytes(8, "little", signed=True)




def is_loopback(addr: bytes) -> bool:
    a = unmap(addr)
    return (len(a) == 4 and a[0] == 127) or a == _LOOP6


class PingSock(UdpSock):
    """An ICMP echo ("ping") socket: SOCK_DGRAM + IPPROTO_ICMP / IPPROTO_ICMPV6. Its port is
    the echo identifier; sends must be echo requests; replies are received whole."""

    port_required = False
    corks = False

    def __init__(self, stack: NetStack, family: int, type: int, proto: int) -> None:
        super().__init__(stack, family, type, proto)
        self.proto = proto
        self.layer = stack.ping  # type: ignore[assignment]
        self.inner.layer = stack.ping

    def __repr__(self) -> str:
        return f"<PingSock #{self.handle} fam={self.family}>"

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

from typing import TYPE_CHECKING

from . import constants as C
from .errors import SocketError
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


class UdpSock(Socket):
    inner: UdpSocket  # type: ignore[assignment]
    port_required = True        # sendto port 0 is EINVAL (not for ping sockets)
    corks = True                # MSG_MORE / UDP_CORK join sends (not on ping sockets)

    def __init__(self, stack: NetStack, family: int, type: int, proto: int) -> None:
        inner = UdpSocket(stack.udp, family)
        super().__init__(stack, family, type, proto, inner)  # type: ignore[arg-type]
        self.proto = proto or C.IPPROTO_UDP
        self.layer = stack.udp
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
        return self.optstore.get((level, optname), 0)  # type: ignore[return-value]

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

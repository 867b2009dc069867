"""UDP's and ping's socket calls (Linux's inet_dgram_ops): what ``Socket`` does for a
socket whose inner is a ``UdpSocket`` (UDP) or ``PingSocket`` (ICMP echo), with its
protocol layer (``UdpLayer`` / ``PingLayer``) as ``sk.layer``.

API beyond the common calls (see rocketnet.stack)::

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

from . import constants as C
from .errors import SocketError
from .socket import Socket
from .transport.udp import (
    EMSGSIZE,
    MAX_PAYLOAD_V4,
    MAX_PAYLOAD_V6,
    Datagram,
    is_multicast,
    needs_scope,
    unmap,
)

__all__ = ["DGRAM", "PING", "Datagram", "DgramCalls", "PingCalls"]

_V4MAPPED = b"\x00" * 10 + b"\xff\xff"
_LOOP4 = b"\x7f\x00\x00\x01"
_LOOP6 = b"\x00" * 15 + b"\x01"
EDESTADDRREQ = 89
ENODEV = 19
SHUT_RD, SHUT_WR, SHUT_RDWR = 0, 1, 2


def _scope_id(addr: object) -> int:
    if isinstance(addr, (tuple, list)) and len(addr) > 3 and isinstance(addr[3], int):
        return addr[3]
    return 0


def _no_port(sk: Socket) -> bool:
    return bool(sk.optstore.get((C.IPPROTO_IP, C.IP_BIND_ADDRESS_NO_PORT)))


class DgramCalls:
    name = "udp"
    proto = C.IPPROTO_UDP
    port_required = True        # sendto port 0 is EINVAL (not for ping sockets)
    corks = True                # MSG_MORE / UDP_CORK join sends (not on ping sockets)

    # ------------------------------------------------------------------ addresses
    @staticmethod
    def resolve(sk: Socket, addr: object) -> tuple[bytes, int]:
        """A destination tuple -> (unmapped address, port), with Linux's checks."""
        a, port = sk._parse(addr)
        if sk.family == C.AF_INET6:
            if a[:12] == _V4MAPPED:
                if sk.inner.v6only:
                    raise SocketError(C.ENETUNREACH)
                a = a[12:]
            else:
                b = sk.inner.bind_addr
                if b is not None and b[:12] == _V4MAPPED and any(b[12:]):
                    raise SocketError(C.ENETUNREACH)
        if not any(a):
            a = _LOOP4 if len(a) == 4 else _LOOP6
        return a, port

    @staticmethod
    def scope_of(sk: Socket, a: bytes) -> int:
        """sin6_scope_id reported with address ``a`` of this socket (ipv6_iface_scope_id)."""
        return sk.inner.bound_dev_if if needs_scope(a) else 0

    # ------------------------------------------------------------------ calls
    @staticmethod
    def bind(sk: Socket, addr: object) -> None:
        a, port = sk._parse(addr)
        t = sk.inner
        layer = sk.layer
        if sk.family == C.AF_INET6 and needs_scope(a) and not is_multicast(a):
            # Linux __inet6_bind: a link-local address needs an interface
            dev = _scope_id(addr) or t.bound_dev_if
            if not dev:
                raise SocketError(C.EINVAL)
            iface = layer.iface_by_index(dev)
            if iface is None:
                raise SocketError(ENODEV)
            if not iface.has_address(a):
                raise SocketError(C.EADDRNOTAVAIL)
            layer.bind(t, a, port, no_port=_no_port(sk))
            t.bound_dev_if = dev
            return
        if sk.family == C.AF_INET6 and a[:12] == _V4MAPPED:
            if t.v6only:
                raise SocketError(C.EINVAL)
            v4 = a[12:]
            if any(v4) and not sk._is_local(v4) and not layer.is_broadcast(v4):
                raise SocketError(C.EADDRNOTAVAIL)
        elif any(a) and not sk._is_local(a) and not is_multicast(a) and not (
                len(a) == 4 and layer.is_broadcast(a)):
            raise SocketError(C.EADDRNOTAVAIL)     # Linux binds to broadcast addresses too
        layer.bind(t, a, port, no_port=_no_port(sk))

    @staticmethod
    def listen(sk: Socket, backlog: int) -> None:
        raise SocketError(C.EOPNOTSUPP)

    @staticmethod
    def accept(sk: Socket) -> Socket | None:
        raise SocketError(C.EOPNOTSUPP)

    def connect(self, sk: Socket, addr: object, now: float) -> None:
        if addr is None:
            sk.layer.disconnect(sk.inner)
            return
        rip, rport = self.resolve(sk, addr)
        t = sk.inner
        if needs_scope(rip):
            # ip6_datagram_connect: the scope id binds the socket to its interface
            scope = _scope_id(addr)
            if t.bound_dev_if and scope and scope != t.bound_dev_if:
                raise SocketError(C.EINVAL)
            dev = scope or t.bound_dev_if or (t.mc_index6 if is_multicast(rip) else 0)
            if not dev:
                raise SocketError(C.EINVAL)
            if sk.layer.iface_by_index(dev) is None:
                raise SocketError(ENODEV)
            t.bound_dev_if = dev
        sk.layer.connect(t, rip, rport)

    @staticmethod
    def state(sk: Socket) -> str:
        return "ESTABLISHED" if sk.inner.rip is not None else "CLOSED"

    def sendto(self, sk: Socket, data: bytes | bytearray | memoryview, addr: object) -> int:
        t = sk.inner
        if addr is None:
            if t.rip is None:
                raise SocketError(EDESTADDRREQ)
            return self.send_to(sk, data, t.rip, t.rport)
        rip, rport = self.resolve(sk, addr)
        scope = _scope_id(addr) if needs_scope(rip) else 0
        return self.send_to(sk, data, rip, rport, scope)

    def send_to(self, sk: Socket, data: bytes | bytearray | memoryview, rip: bytes,
                rport: int, oif: int = 0) -> int:
        t = sk.inner
        if t.error and t.rip is not None:
            e = t.error
            t.error = 0
            raise SocketError(e)
        if t.shut_wr:
            raise SocketError(C.EPIPE)
        if t.corked is not None or t.cork_on:
            return self.cork(sk, data, rip, rport, oif, False)
        if oif:
            return sk.layer.send(t, data, rip, rport, oif)
        return sk.layer.send(t, data, rip, rport)

    @staticmethod
    def cork(sk: Socket, data: bytes | bytearray | memoryview, rip: bytes, rport: int,
             oif: int, more: bool) -> int:
        """udp_sendmsg's corking: with MSG_MORE or UDP_CORK, data joins the pending datagram,
        which keeps its first part's destination and leaves whole with the first part sent
        with neither. A pending datagram over the size limit is dropped: EMSGSIZE."""
        t = sk.inner
        pend = t.corked
        if pend is None:
            pend = t.corked = (rip, rport, oif, bytearray())
        payload = pend[3]
        payload += data
        if len(payload) > (MAX_PAYLOAD_V4 if len(pend[0]) == 4 else MAX_PAYLOAD_V6):
            t.corked = None
            raise SocketError(EMSGSIZE)
        if not (more or t.cork_on):
            sk.layer.push_corked(t)
        return len(data)

    def send(self, sk: Socket, data: bytes | bytearray | memoryview, more: bool,
             urgent: bool) -> int:
        return self.sendto(sk, data, None)

    @staticmethod
    def send_space(sk: Socket) -> int:
        return 65535 if sk.layer.can_send() else 0

    @staticmethod
    def recv(sk: Socket, maxlen: int) -> bytes:
        if maxlen < 0:
            raise SocketError(C.EINVAL)
        dg = sk.layer.take(sk.inner)
        return b"" if dg is None else dg.data[:maxlen]

    @staticmethod
    def rx_available(sk: Socket) -> int:
        return len(sk.inner.rxq)

    @staticmethod
    def rx_eof(sk: Socket) -> bool:
        return False

    @staticmethod
    def shutdown(sk: Socket, how: int) -> None:
        """Linux: ENOTCONN unless connected, but the flags are set either way."""
        t = sk.inner
        if how in (SHUT_RD, SHUT_RDWR):
            t.shut_rd = True
        if how in (SHUT_WR, SHUT_RDWR):
            t.shut_wr = True
        if t.rip is None:
            raise SocketError(C.ENOTCONN)

    @staticmethod
    def shutdown_write(sk: Socket, now: float) -> None:
        sk.inner.shut_wr = True

    @staticmethod
    def close(sk: Socket, now: float) -> None:
        if sk.closed:
            return
        sk.closed = True
        t = sk.inner
        layer = sk.layer
        t.released = True
        layer.mc_leave_all(t)
        layer.unbind(t)
        t.rxq.clear()
        t.rx_bytes = 0
        layer.events.discard(t)
        sk.net.sockets.remove(sk.handle)

    def abort(self, sk: Socket, now: float) -> None:
        self.close(sk, now)

    def getsockname(self, sk: Socket) -> tuple:
        t = sk.inner
        if t.bind_addr is not None:             # port 0 after an address-only bind
            return self._scoped(sk, sk._format(t.bind_addr, t.local_port), t.bind_addr)
        return sk._format(b"\x00" * (4 if sk.family == C.AF_INET else 16), 0)

    def getpeername(self, sk: Socket) -> tuple:
        t = sk.inner
        if t.rip is None:
            raise SocketError(C.ENOTCONN)
        return self._scoped(sk, sk._format(t.rip, t.rport), t.rip)

    def _scoped(self, sk: Socket, name: tuple, a: bytes) -> tuple:
        scope = self.scope_of(sk, a)
        return name[:3] + (scope,) if scope and len(name) == 4 else name

    @staticmethod
    def source_name(sk: Socket, dg: Datagram) -> tuple:
        """recvfrom's address of a datagram: a link-local source carries the
        interface it arrived on as its scope id."""
        name = sk._format(dg.src, dg.sport)
        if len(name) == 4 and needs_scope(dg.src):
            return name[:3] + (dg.ifindex,)
        return name


def is_loopback(addr: bytes) -> bool:
    a = unmap(addr)
    return (len(a) == 4 and a[0] == 127) or a == _LOOP6


class PingCalls(DgramCalls):
    """ICMP echo ("ping") sockets: SOCK_DGRAM + IPPROTO_ICMP / IPPROTO_ICMPV6. The port
    is the echo identifier; sends must be echo requests; replies are received whole."""

    name = "icmp"
    proto = 0                   # the one asked for: IPPROTO_ICMP or IPPROTO_ICMPV6
    port_required = False
    corks = False


DGRAM = DgramCalls()
PING = PingCalls()

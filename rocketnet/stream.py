"""TCP's socket calls (Linux's inet_stream_ops): what ``Socket`` does for a socket whose
inner is a ``TcpSocket``, with its protocol layer (``TcpLayer``) as ``sk.layer``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import constants as C
from .errors import SocketError
from .socket import Socket
from .transport.tcp import CLOSED, LISTEN, STATE_NAMES, SYN_SENT, TcpSocket, congestion

if TYPE_CHECKING:
    from .transport.tcp import TcpLayer

__all__ = ["STREAM", "StreamCalls"]

_V4MAPPED = b"\x00" * 10 + b"\xff\xff"
_ANY4 = b"\x00" * 4
_ANY6 = b"\x00" * 16


class StreamCalls:
    name = "tcp"
    proto = C.IPPROTO_TCP

    # what a failed connection leaves in place (Linux keeps the socket itself)
    _KEPT = ("rcvlowat", "broadcast", "oobinline", "priority", "debug", "dontroute",
             "connected_once", "uid")
    _KEPT_TCP = ("sndbuf_limit", "sndbuf_lock", "rcvbuf_limit", "rcvbuf_lock", "so_sndbuf",
                 "so_rcvbuf", "reuseaddr", "reuseport", "keepalive", "keepidle", "keepintvl",
                 "keepcnt", "nodelay", "cork", "user_mss", "linger", "v6only", "ttl", "tos",
                 "hops", "user_timeout", "oobinline")

    @staticmethod
    def new(sk: Socket, inner: TcpSocket) -> Socket:
        """A socket of the same stack and kind as ``sk`` around ``inner``."""
        return Socket(sk.net, sk.calls, sk.layer, sk.family, sk.type, sk.proto, inner)

    def bind(self, sk: Socket, addr: object) -> None:
        a, port = sk._parse(addr)
        t = sk.inner
        if sk.family == C.AF_INET6 and a[:12] == _V4MAPPED:
            if t.v6only:
                raise SocketError(C.EINVAL)
            v4 = a[12:]
            if any(v4) and not sk._is_local(v4):
                raise SocketError(C.EADDRNOTAVAIL)
        elif any(a) and not sk._is_local(a):
            raise SocketError(C.EADDRNOTAVAIL)
        no_port = sk.optstore.get((C.IPPROTO_IP, C.IP_BIND_ADDRESS_NO_PORT))
        sk.layer.bind(t, a, port, no_port=bool(no_port))
        sk.bound_to = addr

    def renewed(self, sk: Socket) -> Socket:
        """A fresh TCP socket for one whose connection failed, usable again as on Linux:
        same options, and the same address if the program bound it (tcp_disconnect
        keeps a bind the user made, SOCK_BINDPORT_LOCK)."""
        layer: TcpLayer = sk.layer
        new = self.new(sk, TcpSocket(layer, sk.family))
        for name in self._KEPT:
            setattr(new, name, getattr(sk, name))
        new.optstore = dict(sk.optstore)
        new.kernel_values = dict(sk.kernel_values)
        t, nt = sk.inner, new.inner
        for name in self._KEPT_TCP:
            setattr(nt, name, getattr(t, name))
        if nt.congestion != t.congestion:
            nt.congestion = t.congestion
            nt.cc = congestion.make(t.congestion)
        if sk.bound_to is not None:
            new.bind(sk.bound_to)
        return new

    def listen(self, sk: Socket, backlog: int) -> None:
        if sk.connected_once and sk.profile.listen_after_connect:
            raise SocketError(sk.profile.listen_after_connect)
        sk.layer.listen(sk.inner, backlog)

    def accept(self, sk: Socket) -> Socket | None:
        child = sk.layer.accept(sk.inner)
        if child is None:
            return None
        s = self.new(sk, child)
        s.connected_once = True
        s.rcvlowat = sk.rcvlowat
        s.broadcast = sk.broadcast
        s.oobinline = sk.oobinline
        s.priority = sk.priority
        s.uid = sk.uid
        return s

    def connect(self, sk: Socket, addr: object, now: float) -> None:
        t = sk.inner
        st = t.state
        if st == SYN_SENT:
            raise SocketError(C.EALREADY)
        if st != CLOSED or t.was_established:
            raise SocketError(C.EISCONN)
        a, port = sk._parse(addr)
        if sk.family == C.AF_INET6:
            if a[:12] == _V4MAPPED:
                if t.v6only:
                    raise SocketError(C.ENETUNREACH)
                a = a[12:]
                if not any(a):
                    a = b"\x7f\x00\x00\x01"
            elif not any(a):
                a = b"\x00" * 15 + b"\x01"  # connect to :: means the loopback
            if t.bind_addr is not None and any(t.bind_addr):
                bound_v4 = t.bind_addr[:12] == _V4MAPPED
                if bound_v4 != (len(a) == 4):
                    raise SocketError(C.ENETUNREACH if bound_v4 else C.EINVAL)
        elif not any(a):
            a = b"\x7f\x00\x00\x01"
        sk.layer.connect(t, a, port, now)
        sk.connected_once = True

    @staticmethod
    def state(sk: Socket) -> str:
        return STATE_NAMES[sk.inner.state]

    @staticmethod
    def send(sk: Socket, data: bytes | bytearray | memoryview, more: bool,
             urgent: bool) -> int:
        """``more``: MSG_MORE (hold back a partial segment until a send without it);
        ``urgent``: MSG_OOB (the last byte is urgent data)."""
        return sk.inner.send(data, more, urgent)

    @staticmethod
    def set_more(sk: Socket, more: bool) -> None:
        t = sk.inner
        t.more = more
        if not more:
            sk.layer.dirty[t] = None

    @staticmethod
    def send_space(sk: Socket) -> int:
        return sk.inner.send_space()

    @staticmethod
    def recv(sk: Socket, maxlen: int) -> bytes:
        t = sk.inner
        if maxlen < 0:
            raise SocketError(C.EINVAL)
        if t.state == LISTEN or not t.ever_connected:
            raise SocketError(C.ENOTCONN)
        return t.recv(maxlen)

    @staticmethod
    def rx_available(sk: Socket) -> int:
        return sk.inner.rx_available()

    @staticmethod
    def rx_eof(sk: Socket) -> bool:
        return sk.inner.rx_eof

    @staticmethod
    def shutdown_write(sk: Socket, now: float) -> None:
        sk.layer.shutdown_write(sk.inner, now)

    @staticmethod
    def close(sk: Socket, now: float) -> None:
        if sk.closed:
            return
        sk.closed = True
        sk.layer.close(sk.inner, now)

    @staticmethod
    def abort(sk: Socket, now: float) -> None:
        if sk.closed and sk.inner.state == CLOSED:
            return
        sk.closed = True
        sk.layer.abort(sk.inner, now)

    @staticmethod
    def getsockname(sk: Socket) -> tuple:
        t = sk.inner
        if t.key is not None and t.state not in (CLOSED, LISTEN):
            return sk._format(t.lip, t.local_port)
        if t.bind_addr is not None:
            return sk._format(t.bind_addr, t.local_port)
        return sk._format(_ANY4 if sk.family == C.AF_INET else _ANY6, 0)

    @staticmethod
    def getpeername(sk: Socket) -> tuple:
        t = sk.inner
        if t.key is None or t.state in (CLOSED, SYN_SENT, LISTEN):
            raise SocketError(C.ENOTCONN)
        return sk._format(t.rip, t.rport)


STREAM = StreamCalls()

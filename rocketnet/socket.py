"""Sockets as the application sees them: ``Socket`` wraps a ``SocketInner`` (only TCP
for now; UDP, Unix and Alg sockets will take their place in ``SocketInner``) and gives
it Linux socket-call semantics: address tuples like Python's ``socket`` module, errno
values as Linux returns them, socket options with Linux value rules.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Union

from . import constants as C
from . import inet, sockopt
from .errors import SocketError
from .profile import REFUSALS
from .transport.tcp import (
    CLOSED,
    LISTEN,
    STATE_NAMES,
    SYN_SENT,
    TcpSocket,
    congestion,
)

if TYPE_CHECKING:
    from .stack import NetStack

__all__ = ["Socket", "SocketError", "SocketInner"]

# The protocol part of a socket. Later: Union[TcpSocket, UdpSocket, UnixSocket, AlgSocket]
SocketInner = Union[TcpSocket]

_V4MAPPED = b"\x00" * 10 + b"\xff\xff"
_ANY4 = b"\x00" * 4
_ANY6 = b"\x00" * 16
_INT = struct.Struct("=i")


class Socket:
    """An application socket. See ``rocketnet.stack`` for the call semantics."""

    def __init__(
        self, stack: NetStack, family: int, type: int, proto: int, inner: SocketInner
    ) -> None:
        self.stack = stack
        self.family = family
        self.type = type & C.SOCK_TYPE_MASK
        self.proto = proto or C.IPPROTO_TCP
        self.nonblock = bool(type & C.SOCK_NONBLOCK)
        self.cloexec = bool(type & C.SOCK_CLOEXEC)
        self.inner: SocketInner = inner
        inner.owner = self
        self.handle = stack.sockets.add(self)
        inner.handle = self.handle
        # socket-level options that the protocol does not use
        self.rcvlowat = 1
        self.broadcast = 0
        self.oobinline = 0
        self.priority = 0
        self.debug = 0
        self.dontroute = 0
        self.closed = False
        # IPv4 multicast groups joined (MCAST_JOIN_GROUP): (group, ifindex); not inherited
        # by accepted sockets, as in Linux.
        self.mc_groups: set[tuple[bytes, int]] = set()
        self.bound_to: object = None    # the address of an explicit bind (see renewed)
        # a handshake was started, or the socket was accepted (profile.listen_after_connect)
        self.connected_once = False
        # options kept by rocketnet.sockopt; privileged: the caller of the current
        # setsockopt has CAP_NET_ADMIN/CAP_NET_RAW (the shim sets it per call)
        self.optstore: dict[tuple[int, int], bytes | int] = {}
        self.privileged = True
        self.uid = 0    # sk_uid: the creator's (set by the host); accepted sockets inherit it

    def __repr__(self) -> str:
        return f"<Socket #{self.handle} fam={self.family} {self.state}>"

    # ------------------------------------------------------------------ addresses
    def _parse(self, addr: object) -> tuple[bytes, int]:
        """(address in socket family form, port) from a Python-style address tuple."""
        if not isinstance(addr, (tuple, list)) or len(addr) < 2:
            raise SocketError(C.EINVAL)
        host, port = addr[0], addr[1]
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 0xFFFF:
            raise SocketError(C.EINVAL)
        if self.family == C.AF_INET:
            if len(addr) != 2:
                raise SocketError(C.EINVAL)
            if isinstance(host, (bytes, bytearray)) and len(host) == 4:
                return bytes(host), port
            if not isinstance(host, str):
                raise SocketError(C.EINVAL)
            if host == "":
                return _ANY4, port
            if host == "localhost":
                return b"\x7f\x00\x00\x01", port
            if host == "<broadcast>":
                return b"\xff\xff\xff\xff", port
            try:
                return inet.pton4(host), port
            except ValueError:
                pass
            try:
                inet.pton6(host)
            except ValueError:
                raise SocketError(C.EINVAL) from None
            raise SocketError(C.EAFNOSUPPORT)
        if len(addr) > 4:
            raise SocketError(C.EINVAL)
        if isinstance(host, (bytes, bytearray)) and len(host) == 16:
            return bytes(host), port
        if not isinstance(host, str):
            raise SocketError(C.EINVAL)
        if host == "":
            return _ANY6, port
        if host == "localhost":
            return b"\x00" * 15 + b"\x01", port
        if "%" in host:
            host = host.split("%", 1)[0]
        try:
            return inet.pton6(host), port
        except ValueError:
            raise SocketError(C.EINVAL) from None

    def _format(self, a: bytes, port: int) -> tuple:
        if self.family == C.AF_INET:
            if len(a) != 4:
                a = a[12:] if len(a) == 16 else _ANY4
            return (inet.ntop(a), port)
        if len(a) == 4:
            a = _V4MAPPED + a
        return (inet.ntop(a), port, 0, 0)

    def _is_local(self, a: bytes) -> bool:
        return any(i.is_local(a) for i in self.stack.interfaces)

    # ------------------------------------------------------------------ calls
    def bind(self, addr: object) -> None:
        a, port = self._parse(addr)
        t = self.inner
        if self.family == C.AF_INET6 and a[:12] == _V4MAPPED:
            if t.v6only:
                raise SocketError(C.EINVAL)
            v4 = a[12:]
            if any(v4) and not self._is_local(v4):
                raise SocketError(C.EADDRNOTAVAIL)
        elif any(a) and not self._is_local(a):
            raise SocketError(C.EADDRNOTAVAIL)
        no_port = self.optstore.get((C.IPPROTO_IP, C.IP_BIND_ADDRESS_NO_PORT))
        self.stack.tcp.bind(t, a, port, no_port=bool(no_port))
        self.bound_to = addr

    # what a failed connection leaves in place (Linux keeps the socket itself)
    _KEPT = ("rcvlowat", "broadcast", "oobinline", "priority", "debug", "dontroute",
             "connected_once", "uid")
    _KEPT_TCP = ("sndbuf_limit", "sndbuf_lock", "rcvbuf_limit", "rcvbuf_lock", "so_sndbuf",
                 "so_rcvbuf", "reuseaddr", "reuseport", "keepalive", "keepidle", "keepintvl",
                 "keepcnt", "nodelay", "cork", "user_mss", "linger", "v6only", "ttl", "tos",
                 "hops", "user_timeout", "oobinline")

    def renewed(self) -> Socket:
        """A fresh TCP socket for one whose connection failed, usable again as on Linux:
        same options, and the same address if the program bound it (tcp_disconnect
        keeps a bind the user made, SOCK_BINDPORT_LOCK)."""
        new = self.stack.socket(self.family, self.type, self.proto)
        for name in self._KEPT:
            setattr(new, name, getattr(self, name))
        new.optstore = dict(self.optstore)
        t, nt = self.inner, new.inner
        for name in self._KEPT_TCP:
            setattr(nt, name, getattr(t, name))
        if nt.congestion != t.congestion:
            nt.congestion = t.congestion
            nt.cc = congestion.make(t.congestion)
        if self.bound_to is not None:
            new.bind(self.bound_to)
        return new

    def listen(self, backlog: int) -> None:
        if self.connected_once and self.stack.profile.listen_after_connect:
            raise SocketError(self.stack.profile.listen_after_connect)
        self.stack.tcp.listen(self.inner, backlog)

    def accept(self) -> Socket | None:
        child = self.stack.tcp.accept(self.inner)
        if child is None:
            return None
        s = Socket(self.stack, self.family, self.type, self.proto, child)
        s.connected_once = True
        s.rcvlowat = self.rcvlowat
        s.broadcast = self.broadcast
        s.oobinline = self.oobinline
        s.priority = self.priority
        s.uid = self.uid
        return s

    def connect(self, addr: object, now: float) -> None:
        t = self.inner
        st = t.state
        if st == SYN_SENT:
            raise SocketError(C.EALREADY)
        if st != CLOSED or t.was_established:
            raise SocketError(C.EISCONN)
        a, port = self._parse(addr)
        if self.family == C.AF_INET6:
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
        self.stack.tcp.connect(t, a, port, now)
        self.connected_once = True

    @property
    def state(self) -> str:
        return STATE_NAMES[self.inner.state]

    @property
    def error(self) -> int:
        return self.inner.error

    def take_error(self) -> int:
        e = self.inner.error
        self.inner.error = 0
        return e

    def send(self, data: bytes | bytearray | memoryview, more: bool = False,
             urgent: bool = False) -> int:
        """``more``: MSG_MORE (hold back a partial segment until a send without it);
        ``urgent``: MSG_OOB (the last byte is urgent data)."""
        return self.inner.send(data, more, urgent)

    def recv_oob(self) -> bytes:
        """recv(MSG_OOB): the urgent byte; EINVAL if none (or SO_OOBINLINE), EAGAIN if
        announced but not arrived."""
        return self.inner.recv_oob()

    def at_mark(self) -> bool:
        """ioctl(SIOCATMARK)."""
        return self.inner.at_mark()

    def set_more(self, more: bool) -> None:
        """MSG_MORE state between sends: False pushes what was held back."""
        t = self.inner
        t.more = more
        if not more:
            self.stack.tcp.dirty[t] = None

    def send_space(self) -> int:
        return self.inner.send_space()

    def recv(self, maxlen: int) -> bytes:
        t = self.inner
        if maxlen < 0:
            raise SocketError(C.EINVAL)
        if t.state == LISTEN or not t.ever_connected:
            raise SocketError(C.ENOTCONN)
        return t.recv(maxlen)

    def rx_available(self) -> int:
        return self.inner.rx_available()

    @property
    def rx_eof(self) -> bool:
        return self.inner.rx_eof

    def shutdown_write(self, now: float) -> None:
        self.stack.tcp.shutdown_write(self.inner, now)

    def close(self, now: float) -> None:
        if self.closed:
            return
        self.closed = True
        self.stack.tcp.close(self.inner, now)

    def abort(self, now: float) -> None:
        if self.closed and self.inner.state == CLOSED:
            return
        self.closed = True
        self.stack.tcp.abort(self.inner, now)

    def getsockname(self) -> tuple:
        t = self.inner
        if t.key is not None and t.state not in (CLOSED, LISTEN):
            return self._format(t.lip, t.local_port)
        if t.bind_addr is not None:
            return self._format(t.bind_addr, t.local_port)
        return self._format(_ANY4 if self.family == C.AF_INET else _ANY6, 0)

    def getpeername(self) -> tuple:
        t = self.inner
        if t.key is None or t.state in (CLOSED, SYN_SENT, LISTEN):
            raise SocketError(C.ENOTCONN)
        return self._format(t.rip, t.rport)

    # ------------------------------------------------------------------ options
    def setsockopt(self, level: int, optname: int, value: bytes | int) -> None:
        """setsockopt as the running kernel answers it (rocketnet.profile), else as
        the stack's model (_setsockopt)."""
        k = self.stack.profile.option(self.family, self.proto, level, optname)
        if k is not None and k.set_err:
            sockopt.check_int_first(self, level, optname, value)
            raise SocketError(k.set_err)
        try:
            self._setsockopt(level, optname, value)
        except SocketError as e:
            if k is None or k.default is None or e.errno not in REFUSALS:
                raise
            self.optstore[(level, optname)] = k.coerce(value)

    def getsockopt(self, level: int, optname: int, optlen: int = 4) -> bytes:
        k = self.stack.profile.option(self.family, self.proto, level, optname)
        if k is not None and k.get_err:
            if optlen < 0:
                raise SocketError(C.EINVAL)
            raise SocketError(k.get_err)
        if k is not None and k.default is not None and optlen >= 0 and \
                (level, optname) in self.optstore:
            # kept plainly (the model refused the set): the kernel reads back what was set
            return sockopt.int_result(self.optstore[(level, optname)], optlen)
        try:
            return self._getsockopt(level, optname, optlen)
        except SocketError as e:
            if k is None or k.default is None or e.errno not in REFUSALS:
                raise
            v = self.optstore.get((level, optname), k.default)
            return _INT.pack(v)[: min(optlen, 4)]

    def _setsockopt(self, level: int, optname: int, value: bytes | int) -> None:
        """The stack's model of setsockopt (rocketnet.sockopt), without the profile."""
        sockopt.set_opt(self, level, optname, value)

    def _getsockopt(self, level: int, optname: int, optlen: int = 4) -> bytes:
        return sockopt.get_opt(self, level, optname, optlen)

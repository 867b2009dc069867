"""Sockets as the application sees them. ``Socket`` is the outer socket (Linux's struct
socket): the fields every protocol shares (family, type, protocol, nonblock/cloexec,
the socket-level options), its ``inner``, the protocol's state, and ``calls``, the
protocol's socket-call semantics (Linux's proto_ops): address tuples like Python's
``socket`` module, errno values as Linux returns them.

    inner: SocketInner      calls
    TcpSocket               rocketnet.stream.STREAM (TCP)
    UdpSocket               rocketnet.dgram.DGRAM   (UDP)
    PingSocket              rocketnet.dgram.PING    (ICMP echo)
    UnixSocket              rocketnet.unix.UNIX     (AF_UNIX)
    AlgSocket, Operation    rocketnet.alg.calls.ALG (AF_ALG transform, operation)

A socket is given a ``Net`` (the routing view, the kernel profile, the handle table)
and its protocol layer, never the stack. AF_UNIX's listen and connect also take the
caller's credentials, so the host calls them on ``sk.calls`` with those. Options:
``setsockopt`` puts the running kernel's answers (rocketnet.profile) before the stack's
model (rocketnet.sockopt, one table acting on the inner).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Union

from . import constants as C
from . import inet, sockopt
from .errors import SocketError
from .profile import REFUSALS, KernelProfile
from .transport import SocketSet, TcpSocket
from .transport.ping import PingSocket
from .transport.udp import UdpSocket

if TYPE_CHECKING:
    from .alg import AlgSocket, Operation
    from .iface.routes import RouteView
    from .unix import UnixSocket

__all__ = ["Net", "Socket", "SocketError", "SocketInner"]

# The protocol part of a socket. AF_ALG's needs the `cryptography` package and
# rocketnet.unix builds on this module, so those are named here for type checks only
SocketInner = Union[TcpSocket, UdpSocket, PingSocket, "UnixSocket", "AlgSocket", "Operation"]

_V4MAPPED = b"\x00" * 10 + b"\xff\xff"
_ANY4 = b"\x00" * 4
_ANY6 = b"\x00" * 16


class Net(NamedTuple):
    """What a socket is given of the stack."""
    routes: RouteView
    profile: KernelProfile
    sockets: SocketSet[Socket]


class Socket:
    """An application socket. See ``rocketnet.stack`` for the call semantics."""

    def __init__(self, net: Net, calls: Any, layer: Any, family: int, type: int, proto: int,
                 inner: SocketInner) -> None:
        self.net = net
        self.routes = net.routes
        self.profile = net.profile
        self.calls = calls      # the protocol's calls (rocketnet.stream, .dgram, .unix...)
        self.layer = layer      # the protocol layer (TcpLayer, UdpLayer, PingLayer,
                                # UnixNamespace)
        self.family = family
        self.type = type & C.SOCK_TYPE_MASK
        self.proto = proto or calls.proto
        self.nonblock = bool(type & C.SOCK_NONBLOCK)
        self.cloexec = bool(type & C.SOCK_CLOEXEC)
        self.inner: Any = inner     # SocketInner; Any: each calls object knows its own
        inner.owner = self
        self.handle = net.sockets.add(self)
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
        # an int option set to a value the running kernel answers otherwise than the
        # model (rocketnet.profile): what it reads back
        self.kernel_values: dict[tuple[int, int], int] = {}
        self.privileged = True
        self.uid = 0    # sk_uid: the creator's (set by the host); accepted sockets inherit it

    def __repr__(self) -> str:
        return f"<Socket #{self.handle} {self.calls.name} fam={self.family} {self.state}>"

    # ------------------------------------------------------------------ addresses
    def _parse(self, addr: object) -> tuple[bytes, int]:
        """(address in socket family form, port) from a Python-style address tuple.
        (The type() tests come first: they make a plain (str, int) tuple cost no
        isinstance calls.)"""
        if type(addr) is not tuple and not isinstance(addr, (tuple, list)) or len(addr) < 2:
            raise SocketError(C.EINVAL)
        host, port = addr[0], addr[1]
        if (type(port) is not int and (not isinstance(port, int) or isinstance(port, bool))
                or not 0 <= port <= 0xFFFF):
            raise SocketError(C.EINVAL)
        if self.family == C.AF_INET:
            if len(addr) != 2:
                raise SocketError(C.EINVAL)
            if type(host) is not str:
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
        if type(host) is not str:
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
            if len(a) == 4:     # inet.ntop's dotted quad inline: several per connection
                return (f"{a[0]}.{a[1]}.{a[2]}.{a[3]}", port)
            return (inet.ntop(a[12:] if len(a) == 16 else _ANY4), port)
        if len(a) == 4:
            a = _V4MAPPED + a
        return (inet.ntop(a), port, 0, 0)

    def _is_local(self, a: bytes) -> bool:
        return self.routes.is_local(a)

    # ------------------------------------------------------------------ calls
    # Every protocol's calls object answers these; the protocol-specific ones below
    # (TCP: urgent data, MSG_MORE, renewed; UDP/ping: datagrams) only its own.
    def bind(self, addr: object) -> None:
        self.calls.bind(self, addr)

    def listen(self, backlog: int) -> None:
        self.calls.listen(self, backlog)

    def accept(self) -> Socket | None:
        return self.calls.accept(self)

    def connect(self, addr: object, now: float = 0.0) -> None:
        self.calls.connect(self, addr, now)

    @property
    def state(self) -> str:
        return self.calls.state(self)

    @property
    def error(self) -> int:
        return self.inner.error

    def take_error(self) -> int:
        e = self.inner.error
        self.inner.error = 0
        return e

    def send(self, data: bytes | bytearray | memoryview, more: bool = False,
             urgent: bool = False) -> int:
        return self.calls.send(self, data, more, urgent)

    def send_space(self) -> int:
        return self.calls.send_space(self)

    def recv(self, maxlen: int) -> bytes:
        return self.calls.recv(self, maxlen)

    def rx_available(self) -> int:
        return self.calls.rx_available(self)

    @property
    def rx_eof(self) -> bool:
        return self.calls.rx_eof(self)

    def shutdown_write(self, now: float) -> None:
        self.calls.shutdown_write(self, now)

    def close(self, now: float = 0.0) -> None:
        self.calls.close(self, now)

    def abort(self, now: float = 0.0) -> None:
        self.calls.abort(self, now)

    def getsockname(self) -> tuple:
        return self.calls.getsockname(self)

    def getpeername(self) -> tuple:
        return self.calls.getpeername(self)

    # TCP
    def renewed(self) -> Socket:
        return self.calls.renewed(self)

    def recv_oob(self) -> bytes:
        """recv(MSG_OOB): the urgent byte; EINVAL if none (or SO_OOBINLINE), EAGAIN if
        announced but not arrived."""
        return self.inner.recv_oob()

    def at_mark(self) -> bool:
        """ioctl(SIOCATMARK)."""
        return self.inner.at_mark()

    def set_more(self, more: bool) -> None:
        """MSG_MORE state between sends: False pushes what was held back."""
        self.calls.set_more(self, more)

    # UDP and ping (rocketnet.dgram has the semantics)
    @property
    def connected(self) -> bool:
        return self.inner.rip is not None

    @property
    def drops(self) -> int:
        return self.inner.drops

    def resolve(self, addr: object) -> tuple[bytes, int]:
        return self.calls.resolve(self, addr)

    def scope_of(self, a: bytes) -> int:
        return self.calls.scope_of(self, a)

    def sendto(self, data: bytes | bytearray | memoryview, addr: object = None) -> int:
        return self.calls.sendto(self, data, addr)

    def send_to(self, data: bytes | bytearray | memoryview, rip: bytes, rport: int,
                oif: int = 0) -> int:
        return self.calls.send_to(self, data, rip, rport, oif)

    def cork(self, data: bytes | bytearray | memoryview, rip: bytes, rport: int, oif: int,
             more: bool) -> int:
        return self.calls.cork(self, data, rip, rport, oif, more)

    def recv_datagram(self) -> Any:
        return self.layer.take(self.inner)

    def recv_error(self) -> Any:
        """recvmsg(MSG_ERRQUEUE): None when the queue is empty (EAGAIN)."""
        return self.layer.take_error_entry(self.inner)

    def source_name(self, dg: Any) -> tuple:
        return self.calls.source_name(self, dg)

    def shutdown(self, how: int) -> None:
        self.calls.shutdown(self, how)

    def option(self, level: int, optname: int) -> int:
        """The value of a flag option kept by this socket (IP_PKTINFO, SO_TIMESTAMP...)."""
        return self.optstore.get((level, optname), 0)  # type: ignore[return-value]

    # ------------------------------------------------------------------ options
    def setsockopt(self, level: int, optname: int, value: bytes | int) -> None:
        """setsockopt as the running kernel answers it (rocketnet.profile), else as
        the stack's model (rocketnet.sockopt)."""
        key = (level, optname)
        k = self.profile.option(self.family, self.proto, level, optname)
        if k is not None and k.set_err:
            sockopt.check_int_first(self, level, optname, value)
            raise SocketError(k.set_err)
        v = sockopt.plain_int(level, value) if k is not None and k.values else None
        got = k.answer(v) if k is not None and v is not None else None
        if got is None:
            sockopt.set_opt(self, level, optname, value)
            if key in self.kernel_values:      # rarely: no pop() call per setsockopt
                del self.kernel_values[key]
            return
        err, back = got
        if err:
            raise SocketError(err)
        try:
            sockopt.set_opt(self, level, optname, value)
        except SocketError:
            pass        # a value this kernel takes and the model refuses: only read back
        self.kernel_values[key] = back

    def getsockopt(self, level: int, optname: int, optlen: int = 4) -> bytes:
        k = self.profile.option(self.family, self.proto, level, optname)
        if k is not None and k.get_err:
            if optlen < 0:
                raise SocketError(C.EINVAL)
            raise SocketError(k.get_err)
        back = self.kernel_values.get((level, optname))
        if back is not None:
            return sockopt.int_result(back, optlen)
        try:
            return sockopt.get_opt(self, level, optname, optlen)
        except SocketError as e:
            if k is None or k.default is None or e.errno not in REFUSALS:
                raise
            return sockopt.int_result(k.default, optlen)

"""Sockets as the application sees them: ``Socket`` wraps a ``SocketInner`` (only TCP
for now; UDP, Unix and Alg sockets will take their place in ``SocketInner``) and gives
it Linux socket-call semantics: address tuples like Python's ``socket`` module, errno
values as Linux returns them, socket options with Linux value rules.
"""

from __future__ import annotations

import struct
import sys
from typing import TYPE_CHECKING, Union

from . import constants as C
from . import inet, sockopt
from .errors import SocketError
from .profile import REFUSALS
from .transport.tcp import (
    CLOSED,
    ESTABLISHED,
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
SO_BINDTODEVICE = 25
_LINGER = struct.Struct("=ii")
TCP_USER_TIMEOUT = 18  # linux/tcp.h
# the TCP options this class implements; rocketnet.sockopt has the rest
_TCP_OWN = {C.TCP_NODELAY, C.TCP_CORK, C.TCP_MAXSEG, C.TCP_KEEPIDLE, C.TCP_KEEPINTVL,
            C.TCP_KEEPCNT, TCP_USER_TIMEOUT}

# struct tcp_info as on Linux 6.18 (280 bytes)
_TCP_INFO = struct.Struct("=8B24I4Q6I4Q2I2Q6I2H8I2H")
TCP_INFO_SIZE = _TCP_INFO.size




# Linux ip_tos2prio: the SO_PRIORITY that setting IP_TOS implies (index: TOS bits >> 1)
_TOS2PRIO = (0, 0, 0, 0, 2, 2, 2, 2, 6, 6, 6, 6, 4, 4, 4, 4)


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
        t = self.inner
        tcp = self.stack.tcp
        if level == C.SOL_SOCKET:
            if optname == SO_BINDTODEVICE:      # a name: the one option short of an int
                sockopt.set_opt(self, level, optname, value)
                return
            if optname == C.SO_LINGER:
                if isinstance(value, int) or len(value) < 8:
                    raise SocketError(C.EINVAL)
                onoff, secs = _LINGER.unpack_from(value, 0)
                t.linger = (1 if onoff else 0, secs if secs >= 0 else 0)
                return
            v = sockopt.to_int(value)
            if optname == C.SO_REUSEADDR:
                t.reuseaddr = v != 0
            elif optname == C.SO_REUSEPORT:
                t.reuseport = v != 0
            elif optname == C.SO_KEEPALIVE:
                t.keepalive = v != 0
                tcp.start_keepalive(t)
            elif optname in (C.SO_SNDBUF, C.SO_SNDBUFFORCE):
                # Linux sk_setsockopt: FORCE (CAP_NET_ADMIN, checked by the caller)
                # skips the wmem_max clamp and takes a negative value as 0
                if optname == C.SO_SNDBUF:
                    wmax = self.stack.profile.wmem_max
                    u = min(v if v >= 0 else wmax, wmax)
                else:
                    u = max(v, 0)
                u = min(u, 0x3FFFFFFF) * 2
                t.so_sndbuf = max(u, C.SOCK_MIN_SNDBUF)
                t.sndbuf_limit = t.so_sndbuf // 2
                t.sndbuf_lock = True
            elif optname in (C.SO_RCVBUF, C.SO_RCVBUFFORCE):
                if optname == C.SO_RCVBUF:
                    rmax = self.stack.profile.rmem_max
                    u = min(v if v >= 0 else rmax, rmax)
                else:
                    u = max(v, 0)
                u = min(u, 0x3FFFFFFF) * 2
                t.so_rcvbuf = max(u, C.SOCK_MIN_RCVBUF)
                t.rcvbuf_limit = t.so_rcvbuf // 2
                t.rcvbuf_lock = True
            elif optname == C.SO_RCVLOWAT:
                if v < 0:
                    v = 0x7FFFFFFF
                if self.type == C.SOCK_STREAM:  # tcp_set_rcvlowat: at most half tcp_rmem[2]
                    v = min(v, self.stack.profile.tcp_rmem[2] >> 1)
                self.rcvlowat = max(v, 1)
            elif optname == C.SO_BROADCAST:
                self.broadcast = 1 if v else 0
            elif optname == C.SO_OOBINLINE:
                self.oobinline = 1 if v else 0
                self.inner.oobinline = bool(v)
            elif optname == C.SO_PRIORITY:
                if not 0 <= v <= 6 and not self.privileged:
                    raise SocketError(C.EPERM)      # CAP_NET_ADMIN (or CAP_NET_RAW)
                self.priority = v
            elif optname == C.SO_DEBUG:
                if v and not self.privileged:
                    raise SocketError(C.EACCES)     # CAP_NET_ADMIN
                self.debug = 1 if v else 0
            elif optname == C.SO_DONTROUTE:
                self.dontroute = 1 if v else 0
            else:
                sockopt.set_opt(self, level, optname, value)
            return
        if level == C.IPPROTO_TCP:
            if optname == C.TCP_CONGESTION:
                name = value if isinstance(value, bytes) else b""
                name = name.split(b"\x00", 1)[0]
                if name not in congestion.ALGORITHMS:
                    raise SocketError(C.ENOENT)
                if name != t.congestion:
                    t.congestion = name
                    t.cc = congestion.make(name)
                return
            if optname not in _TCP_OWN:
                sockopt.set_opt(self, level, optname, value)
                return
            v = sockopt.to_int(value)
            if optname == C.TCP_NODELAY:
                t.nodelay = v != 0
                if t.nodelay:
                    tcp.dirty[t] = None
            elif optname == C.TCP_CORK:
                t.cork = v != 0
                if not t.cork:
                    tcp.dirty[t] = None
            elif optname == C.TCP_MAXSEG:
                if v and (v < 88 or v > 32767):
                    raise SocketError(C.EINVAL)
                t.user_mss = v
            elif optname == C.TCP_KEEPIDLE:
                if not 1 <= v <= 32767:
                    raise SocketError(C.EINVAL)
                t.keepidle = v
                tcp.start_keepalive(t)
            elif optname == C.TCP_KEEPINTVL:
                if not 1 <= v <= 32767:
                    raise SocketError(C.EINVAL)
                t.keepintvl = v
            elif optname == C.TCP_KEEPCNT:
                if not 1 <= v <= 127:
                    raise SocketError(C.EINVAL)
                t.keepcnt = v
            elif optname == TCP_USER_TIMEOUT:
                if v < 0:
                    raise SocketError(C.EINVAL)
                t.user_timeout = v
            else:
                sockopt.set_opt(self, level, optname, value)
            return
        if level == C.IPPROTO_IP:
            if optname in (C.IP_ADD_MEMBERSHIP, C.IP_DROP_MEMBERSHIP):
                raise SocketError(C.EPROTO)     # Linux: not on connection-oriented sockets
            if optname in (C.MCAST_JOIN_GROUP, C.MCAST_LEAVE_GROUP):
                self._mcast_group(optname == C.MCAST_JOIN_GROUP, value)
                return
            if optname == C.IP_LOCAL_PORT_RANGE and isinstance(t, TcpSocket):
                if isinstance(value, int):
                    value = _INT.pack(value)
                if len(value) != 4:
                    raise SocketError(C.EINVAL)
                v = int.from_bytes(value, sys.byteorder)
                if v & 0xFFFF and v >> 16 and v & 0xFFFF > v >> 16:
                    raise SocketError(C.EINVAL)
                t.port_range = v
                return
            if optname in (C.IP_TOS, C.IP_TTL):
                if isinstance(value, int):
                    v = value
                elif len(value) >= 4:
                    v = _INT.unpack_from(value, 0)[0]
                elif len(value) >= 1:
                    v = value[0]
                else:
                    raise SocketError(C.EINVAL)
                if optname == C.IP_TOS and self.type == C.SOCK_STREAM:
                    t.tos = (v & 0xFC) | (t.tos & 0x03)     # TCP owns the ECN bits
                elif optname == C.IP_TOS:
                    t.tos = v & 0xFF
                if optname == C.IP_TOS:
                    self.priority = _TOS2PRIO[(v & 0x1E) >> 1]   # Linux rt_tos2priority
                else:
                    if v == -1:
                        v = 64
                    if not 1 <= v <= 255:
                        raise SocketError(C.EINVAL)
                    t.ttl = v
                return
            sockopt.set_opt(self, level, optname, value)
            return
        if level == C.IPPROTO_IPV6:
            if self.family != C.AF_INET6:
                raise SocketError(C.ENOPROTOOPT)
            if optname == C.IPV6_ADDRFORM:
                self._addrform(value)
                return
            if optname not in (C.IPV6_V6ONLY, C.IPV6_UNICAST_HOPS):
                sockopt.set_opt(self, level, optname, value)
                return
            v = sockopt.to_int(value)
            if optname == C.IPV6_V6ONLY:
                if t.in_bind_table:
                    raise SocketError(C.EINVAL)
                t.v6only = v != 0
            elif optname == C.IPV6_UNICAST_HOPS:
                if v == -1:
                    v = 64
                if not 0 <= v <= 255:
                    raise SocketError(C.EINVAL)
                t.hops = v
            else:
                sockopt.set_opt(self, level, optname, value)
            return
        sockopt.set_opt(self, level, optname, value)

    def _addrform(self, value: bytes | int) -> None:
        """IPV6_ADDRFORM: a connected AF_INET6 socket whose peer is v4-mapped becomes AF_INET."""
        if isinstance(value, (bytes, bytearray)) and len(value) < 4:
            raise SocketError(C.EINVAL)
        if sockopt.to_int(value) != C.AF_INET:
            raise SocketError(C.EINVAL)
        t = self.inner
        if t.state != ESTABLISHED:
            raise SocketError(C.ENOTCONN)
        rip = t.rip if t.rip is not None else b""
        if t.v6only or not (len(rip) == 4 or (len(rip) == 16 and rip[:12] == _V4MAPPED)):
            raise SocketError(C.EADDRNOTAVAIL)
        self.family = C.AF_INET

    def _mcast_group(self, join: bool, value: bytes | int) -> None:
        """MCAST_JOIN_GROUP / MCAST_LEAVE_GROUP with a struct group_req (IPv4 group)."""
        if isinstance(value, int) or len(value) < C.GROUP_REQ_SIZE:
            raise SocketError(C.EINVAL)
        ifindex = int.from_bytes(value[0:4], sys.byteorder)
        family = int.from_bytes(value[8:10], sys.byteorder)
        group = bytes(value[12:16])
        if family != C.AF_INET or group[0] & 0xF0 != 0xE0:
            raise SocketError(C.EINVAL)
        key = (group, ifindex)
        if join:
            if key in self.mc_groups:
                raise SocketError(C.EADDRINUSE)
            self.mc_groups.add(key)
        elif key in self.mc_groups:
            self.mc_groups.remove(key)
        else:
            raise SocketError(C.EADDRNOTAVAIL)

    def _getsockopt(self, level: int, optname: int, optlen: int = 4) -> bytes:
        t = self.inner
        if optlen < 0:
            raise SocketError(C.EINVAL)
        if level == C.SOL_SOCKET:
            if optname == C.SO_LINGER:
                return _LINGER.pack(*t.linger)[: min(optlen, 8)]
            table = {
                C.SO_REUSEADDR: lambda: int(t.reuseaddr),
                C.SO_REUSEPORT: lambda: int(t.reuseport),
                C.SO_KEEPALIVE: lambda: int(t.keepalive),
                C.SO_SNDBUF: lambda: t.so_sndbuf,
                C.SO_RCVBUF: lambda: t.so_rcvbuf,
                C.SO_ERROR: self.take_error,
                C.SO_TYPE: lambda: self.type,
                C.SO_DOMAIN: lambda: self.family,
                C.SO_PROTOCOL: lambda: self.proto,
                C.SO_ACCEPTCONN: lambda: int(t.state == LISTEN),
                C.SO_RCVLOWAT: lambda: self.rcvlowat,
                C.SO_SNDLOWAT: lambda: 1,
                C.SO_BROADCAST: lambda: self.broadcast,
                C.SO_OOBINLINE: lambda: self.oobinline,
                C.SO_PRIORITY: lambda: self.priority,
                C.SO_DEBUG: lambda: self.debug,
                C.SO_DONTROUTE: lambda: self.dontroute,
            }
            f = table.get(optname)
            if f is None:
                return sockopt.get_opt(self, level, optname, optlen)
            return sockopt.int_result(f(), optlen)
        if level == C.IPPROTO_TCP:
            if optname == C.TCP_INFO:
                return self.tcp_info()[:min(optlen, self.stack.profile.tcp_info_len)]
            if optname == C.TCP_CONGESTION:
                return t.congestion.ljust(16, b"\x00")[:optlen]
            if optname == C.TCP_MAXSEG:
                if t.key is not None and t.state not in (CLOSED, LISTEN, SYN_SENT):
                    v = t.mss
                else:
                    v = t.user_mss or 536
                return sockopt.int_result(v, optlen)
            table = {
                C.TCP_NODELAY: lambda: int(t.nodelay),
                C.TCP_CORK: lambda: int(t.cork),
                C.TCP_KEEPIDLE: lambda: t.keepidle,
                C.TCP_KEEPINTVL: lambda: t.keepintvl,
                C.TCP_KEEPCNT: lambda: t.keepcnt,
                TCP_USER_TIMEOUT: lambda: t.user_timeout,
            }
            f = table.get(optname)
            if f is None:
                return sockopt.get_opt(self, level, optname, optlen)
            return sockopt.int_result(f(), optlen)
        if level == C.IPPROTO_IP:
            if optname == C.IP_TOS:
                return sockopt.int_result(t.tos, optlen, True)
            if optname == C.IP_TTL:
                return sockopt.int_result(t.ttl, optlen, True)
            if optname == C.IP_LOCAL_PORT_RANGE and isinstance(t, TcpSocket):
                r = t.port_range
                return sockopt.int_result(r - (1 << 32) if r >> 31 else r, optlen, True)
            return sockopt.get_opt(self, level, optname, optlen)
        if level == C.IPPROTO_IPV6:
            if self.family != C.AF_INET6:
                raise SocketError(C.EOPNOTSUPP)
            if optname == C.IPV6_V6ONLY:
                return sockopt.int_result(int(t.v6only), optlen)
            if optname == C.IPV6_UNICAST_HOPS:
                return sockopt.int_result(t.hops, optlen)
        return sockopt.get_opt(self, level, optname, optlen)

    def tcp_info(self) -> bytes:
        """Linux ``struct tcp_info`` (280 bytes, Linux 6.18 layout)."""
        t = self.inner
        now = self.stack.tcp.now
        opts = 0
        if t.ts_ok:
            opts |= 1  # TCPI_OPT_TIMESTAMPS
        if t.sack_ok:
            opts |= 2  # TCPI_OPT_SACK
        if t.ws_ok:
            opts |= 4  # TCPI_OPT_WSCALE
        wscale = (t.snd_wscale & 0xF) | ((t.rcv_wscale & 0xF) << 4) if t.ws_ok else 0
        mss = t.mss or 536
        in_flight = (t.snd_max - t.snd_una) & 0xFFFFFFFF
        unacked = (in_flight + mss - 1) // mss if in_flight else 0

        def ms(ts: float) -> int:
            return int(max(0.0, now - ts) * 1000) & 0xFFFFFFFF if ts else 0

        def us(x: float) -> int:
            return min(int(x * 1e6), 0xFFFFFFFF)

        ssthresh = t.ssthresh // mss if t.ssthresh < 0x7FFFFFFF else 0x7FFFFFFF
        sacked = (t.sacked_bytes + mss - 1) // mss if t.sacked_bytes else 0
        lost = retrans_out = 0
        if t.recover is not None and t.sacked:
            tcp = self.stack.tcp
            una = tcp._abs(t, t.snd_una)
            high = t.sacked[-1][1]
            holes = tcp._unsacked(t, una, high)
            lost = (holes + mss - 1) // mss
            done = tcp._unsacked(t, una, min(max(t.retx_next, una), high))
            retrans_out = (done + mss - 1) // mss
        elif t.ca_state == 4:
            lost = unacked - sacked
        fields = (
            t.state,  # tcpi_state
            t.ca_state,
            t.retransmits,
            t.probes,
            t.retransmits,  # backoff
            opts,
            wscale,
            0,
            us(t.rto),
            us(0.04),  # ato
            mss,  # snd_mss
            t.peer_mss if t.state != LISTEN else 0,  # rcv_mss (estimate)
            unacked,
            sacked,
            lost if lost > 0 else 0,
            retrans_out,
            0,  # fackets
            ms(t.last_data_sent),
            0,  # last_ack_sent
            ms(t.last_data_recv),
            ms(t.last_ack_recv),
            t.iface.mtu if t.iface is not None else 0,  # pmtu
            t.rcvbuf_limit,  # rcv_ssthresh
            us(t.srtt),
            us(t.rttvar),
            ssthresh,
            t.cwnd // mss if t.cwnd else 10,
            t.advmss - 12 if t.ts_ok else t.advmss,
            3,  # reordering
            0,  # rcv_rtt
            t.rcvbuf_limit,  # rcv_space
            t.total_retrans,
            0,  # pacing_rate
            0xFFFFFFFFFFFFFFFF,  # max_pacing_rate
            t.bytes_acked,
            t.bytes_received,
            t.segs_out & 0xFFFFFFFF,
            t.segs_in & 0xFFFFFFFF,
            max(0, len(t.sndbuf) - in_flight),  # notsent_bytes
            us(t.srtt),  # min_rtt (approximation)
            t.data_segs_in & 0xFFFFFFFF,
            t.data_segs_out & 0xFFFFFFFF,
            0,  # delivery_rate
            0,  # busy_time
            0,  # rwnd_limited
            0,  # sndbuf_limited
            t.data_segs_out & 0xFFFFFFFF,  # delivered
            0,  # delivered_ce
            t.bytes_sent,
            t.bytes_retrans,
            0,  # dsack_dups
            0,  # reord_seen
            t.ooo_packets,  # rcv_ooopack
            t.snd_wnd & 0xFFFFFFFF,
            ((t.rcv_adv - t.rcv_nxt) & 0xFFFFFFFF) if t.key is not None else 0,  # rcv_wnd
            0,  # rehash
            min(t.total_retrans, 0xFFFF),  # total_rto
            0,  # total_rto_recoveries
            0,  # total_rto_time
            0,  # received_ce
            0,
            0,
            0,
            0,
            0,
            0,
            0,  # accecn_fail_mode
            0,  # accecn_opt_seen
        )
        if t.state == LISTEN:
            # tcp_get_info returns early for a listener: state, pacing rates, reordering
            # and cwnd, with unacked/sacked aliased to the accept queue and its limit
            entry = t.listen_entry
            keep = {0: t.state, 26: fields[26], 28: fields[28], 32: 0, 33: fields[33],
                    12: len(entry.accept_queue) if entry is not None else 0,
                    13: entry.backlog if entry is not None else 0}
            fields = tuple(keep.get(i, 0) for i in range(len(fields)))
        return _TCP_INFO.pack(*fields)

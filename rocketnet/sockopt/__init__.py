"""Socket options: Linux's level dispatch and one table of every option of every level.

``Socket.setsockopt``/``getsockopt`` put the running kernel's answers (rocketnet.profile)
before the stack's model, which is here: ``set_opt``/``get_opt`` first follow Linux's
dispatch to find who answers a level (sk_getsockopt, tcp_getsockopt → icsk_af_ops,
udp[v6]_getsockopt → ip[v6]_getsockopt, ...), then look the option up in the socket's
table, made of one part per level (``sol_socket``, ``ip``, ``ipv6``, ``tcp``, ``udp``
in this package): its validation, clamping and default as the Linux 6.x source has
them (net/core/sock.c, net/ipv4/ip_sockglue.c, net/ipv6/ipv6_sockglue.c,
net/ipv4/tcp.c, net/ipv4/udp.c).  ``TABLE`` is what a TCP socket answers; ``DGRAM``
is that with the UDP/ping sockets' own entries over it.  A setter either returns the
value to keep in ``Socket.optstore`` or acts on the socket (its ``inner`` protocol
state, or the outer socket's fields) and returns None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import constants as C
from ..errors import SocketError
from .core import (
    ALIAS,
    DGRAM,
    EINVAL,
    ENOPROTOOPT,
    EOPNOTSUPP,
    TABLE,
    Opt,
    Value,
    _stored,
    int_result,
    table,
    to_int,
)
from .ip import IP_DGRAM, IP_OPTIONS
from .ipv6 import IPV6_DGRAM, IPV6_OPTIONS
from .sol_socket import SOCKET, SOCKET_DGRAM
from .tcp import TCP_OPTIONS, tcp_info
from .udp import UDP_OPTIONS

if TYPE_CHECKING:
    from ..socket import Socket

__all__ = ["check", "check_int_first", "get_opt", "int_result", "plain_int", "set_opt",
           "tcp_info", "to_int"]

# one table, split by level
for _level in (SOCKET, IP_OPTIONS, IPV6_OPTIONS, TCP_OPTIONS, UDP_OPTIONS):
    TABLE.update(_level)
DGRAM.update(TABLE)
for _level in (SOCKET_DGRAM, IP_DGRAM, IPV6_DGRAM):
    DGRAM.update(_level)


# IP int options that want exactly an int (IP_UNICAST_IF)
_IP_EXACT_INT = {50, 51}


# ---------------------------------------------------------------- dispatch
def _owner(sk: Socket, level: int, get: bool) -> None:
    """Raise the errno Linux gives for a level no layer of this socket handles.

    tcp/udp[v6]_[gs]etsockopt keep their own level and pass the rest on to the
    address family: ip_[gs]etsockopt knows only SOL_IP (get: EOPNOTSUPP, set:
    ENOPROTOOPT); ipv6_[gs]etsockopt sends SOL_IP to the IPv4 code and answers
    ENOPROTOOPT for any other level."""
    # a ping socket has no level of its own (ping_prot hands all to ip[v6]_*sockopt)
    proto = sk.proto if sk.proto in (C.IPPROTO_TCP, C.IPPROTO_UDP) else None
    if level in (C.SOL_SOCKET, C.IPPROTO_IP, proto):
        return
    if level == C.IPPROTO_IPV6 and sk.family == C.AF_INET6:
        return
    raise SocketError(EOPNOTSUPP if get and sk.family == C.AF_INET else ENOPROTOOPT)


def _entry(sk: Socket, level: int, optname: int, get: bool) -> Opt:
    _owner(sk, level, get)
    opt = table(sk).get((level, optname))
    if opt is None:
        raise SocketError(ENOPROTOOPT)
    return opt


# Options read before the int-size check: SO_BINDTODEVICE; TCP_CONGESTION, TCP_ULP,
# TCP_FASTOPEN_KEY (do_tcp_setsockopt's "data/string values").
_NOT_INT = {(C.SOL_SOCKET, 25), (C.IPPROTO_TCP, 13), (C.IPPROTO_TCP, 31), (C.IPPROTO_TCP, 33)}


def check_int_first(sk: Socket, level: int, optname: int, value: Value) -> None:
    """sk_/do_tcp_/udp_lib_setsockopt read an int before they look at the option name:
    a short value is EINVAL there even for a name they do not know."""
    if (level in (C.SOL_SOCKET, C.IPPROTO_TCP, C.IPPROTO_UDP) and type(value) is not int
            and isinstance(value, bytes) and len(value) < 4 and (level, optname) not in _NOT_INT):
        _owner(sk, level, False)
        raise SocketError(EINVAL)


def plain_int(level: int, value: Value) -> int | None:
    """The int a setsockopt value is as every int option reads it (rocketnet.profile's
    per-value answers), or None: an int of 4 bytes, or of 4 or more at the levels that
    read an int before they look at the option name."""
    if type(value) is int or isinstance(value, int):    # type(): a plain int makes no call
        return value
    if len(value) == 4 or (len(value) > 4 and level in (C.SOL_SOCKET, C.IPPROTO_TCP,
                                                        C.IPPROTO_UDP)):
        return to_int(value)
    return None


def check(sk: Socket, level: int, optname: int, value: Value) -> Value | None:
    """Validate a setsockopt value as Linux does and return what the option holds
    without storing it, or act on the socket and return None."""
    if type(value) is not int:      # an int (a kept option) is never short
        check_int_first(sk, level, optname, value)
    opt = _entry(sk, level, optname, False)
    if opt.set is None:
        raise SocketError(ENOPROTOOPT)
    if isinstance(opt.set, int):
        raise SocketError(opt.set)
    if opt.ip_len and isinstance(value, bytes) and len(value) < 4:
        if optname in _IP_EXACT_INT:
            raise SocketError(EINVAL)
        value = value[0] if value else 0   # do_ip_setsockopt: a char, or 0 for none
    return opt.set(sk, value)


def set_opt(sk: Socket, level: int, optname: int, value: Value) -> None:
    v = check(sk, level, optname, value)
    if v is not None:
        sk.optstore[ALIAS.get((level, optname), (level, optname))] = v


def get_opt(sk: Socket, level: int, optname: int, optlen: int) -> bytes:
    if optlen < 0:
        raise SocketError(EINVAL)
    opt = _entry(sk, level, optname, True)
    if isinstance(opt.get, int):
        raise SocketError(opt.get)
    if opt.get is not None:
        return opt.get(sk, optlen)
    v = _stored(sk, level, optname)
    if isinstance(v, bytes):
        return v[:optlen]
    return int_result(v, optlen, opt.ip_len)


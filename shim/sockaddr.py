"""struct sockaddr <-> the stack's address tuples, with the kernel's checks.

The stack takes addresses as Python's socket module writes them: (host, port) for
AF_INET and (host, port, flowinfo, scope_id) for AF_INET6.  The checks are the ones
Linux makes in inet_bind/inet6_bind and tcp_v4_connect/tcp_v6_connect, so a program
gets the same errno as natively.
"""
from __future__ import annotations

import errno
import socket
import struct

from rocketnet.socket import SocketError

_FAMILY = struct.Struct("=H")
_IN = struct.Struct("!H4s")              # port, addr (after sa_family)
_IN6 = struct.Struct("!HI16sI")          # port, flowinfo, addr, (scope_id: see _SCOPE)
_SCOPE = struct.Struct("=I")             # sin6_scope_id is in host byte order
SOCKADDR_IN_LEN = 16
SOCKADDR_IN6_LEN = 28
SIN6_LEN_RFC2133 = 24

Address = tuple


def family_of(raw: bytes) -> int:
    if len(raw) < 2:
        raise SocketError(errno.EINVAL)
    return _FAMILY.unpack_from(raw)[0]


def decode(sock_family: int, raw: bytes, *, for_bind: bool) -> Address:
    """The address a program passed for a socket of sock_family.

    Raises SocketError with the errno Linux gives for a wrong length or family.
    AF_UNSPEC is returned as None for connect (it means "disconnect").
    """
    if sock_family == socket.AF_INET:
        if len(raw) < SOCKADDR_IN_LEN:
            raise SocketError(errno.EINVAL)
        fam = _FAMILY.unpack_from(raw)[0]       # the length is checked
        port, addr = _IN.unpack_from(raw, 2)
        if fam != socket.AF_INET:
            if for_bind and fam == socket.AF_UNSPEC and addr == b"\0\0\0\0":
                pass  # Linux's "compatibility games": AF_UNSPEC + INADDR_ANY binds
            elif not for_bind and fam == socket.AF_UNSPEC:
                return None
            else:
                raise SocketError(errno.EAFNOSUPPORT)
        return (socket.inet_ntop(socket.AF_INET, addr), port)
    if sock_family == socket.AF_INET6:
        fam = family_of(raw)
        if not for_bind and fam == socket.AF_UNSPEC:
            return None
        if len(raw) < SIN6_LEN_RFC2133:
            raise SocketError(errno.EINVAL)
        if fam != socket.AF_INET6:
            raise SocketError(errno.EAFNOSUPPORT)
        raw = raw[:SOCKADDR_IN6_LEN].ljust(SOCKADDR_IN6_LEN, b"\0")
        port, flow, addr, _ = _IN6.unpack_from(raw, 2)
        scope = _SCOPE.unpack_from(raw, 24)[0]
        return (socket.inet_ntop(socket.AF_INET6, addr), port, flow, scope)
    raise SocketError(errno.EAFNOSUPPORT)


def encode(sock_family: int, addr: Address) -> bytes:
    """The struct sockaddr the kernel would write for addr."""
    if sock_family == socket.AF_INET:
        packed = socket.inet_pton(socket.AF_INET, addr[0])
        return _FAMILY.pack(socket.AF_INET) + _IN.pack(addr[1], packed) + bytes(8)
    host, port = addr[0], addr[1]
    flow = addr[2] if len(addr) > 2 else 0
    scope = addr[3] if len(addr) > 3 else 0
    packed = socket.inet_pton(socket.AF_INET6, host)
    head = _FAMILY.pack(socket.AF_INET6) + _IN6.pack(port, flow, packed, 0)[:-4]
    return head + _SCOPE.pack(scope)


def describe(sock_family: int, addr: Address | None) -> str:
    """ip:port or [ip6]:port, for logs and `rocketnet` output."""
    if addr is None:
        return "-"
    if sock_family == socket.AF_INET6:
        return f"[{addr[0]}]:{addr[1]}"
    return f"{addr[0]}:{addr[1]}"

"""What every level's option table is made of: the Opt entry, int values as Linux
reads and writes them, and the small setters and getters the levels share."""

from __future__ import annotations

import ipaddress
import struct
from typing import TYPE_CHECKING, Callable, NamedTuple, Union

from .. import constants as C
from ..errors import SocketError

if TYPE_CHECKING:
    from ..socket import Socket


_INT = struct.Struct("=i")
_U64 = struct.Struct("=Q")
_UCRED = struct.Struct("=iII")
_MEMINFO = struct.Struct("=9I")

ENODEV = 19
ENODATA = 61
EBADF = 9
EMSGSIZE = 90
EOPNOTSUPP = C.EOPNOTSUPP
EINVAL = C.EINVAL
ENOPROTOOPT = C.ENOPROTOOPT

Value = Union[bytes, int]
# A setter validates the option value and returns what to store (int or bytes), or
# acts on the socket and returns None (nothing stored).
Setter = Callable[["Socket", Value], Union[Value, None]]
# A getter computes the answer from the socket (bytes), ignoring the store.
Getter = Callable[["Socket", int], bytes]


class Opt(NamedTuple):
    default: int | bytes = 0          # value before any set (int: Linux int semantics)
    set: Setter | int | None = None   # int: setsockopt fails with that errno
    get: Getter | int | None = None   # int: getsockopt fails with that errno
    ip_len: bool = False              # IP level: a short optlen gets one byte (ip_getsockopt)




# ---------------------------------------------------------------- value helpers
def to_int(value: Value) -> int:
    """An int option value: Linux reads an int and wants optlen >= sizeof(int)."""
    if type(value) is int or isinstance(value, int):    # type(): a plain int makes no call
        return value
    if len(value) < 4:
        raise SocketError(EINVAL)
    return _INT.unpack_from(value, 0)[0]


def int_result(v: int, optlen: int, ip_len: bool = False) -> bytes:
    if optlen < 0:
        raise SocketError(EINVAL)
    if ip_len and 0 < optlen < 4 and 0 <= v <= 255:
        return bytes((v,))              # ip_getsockopt: one byte for a short buffer
    return _INT.pack(v)[: min(optlen, 4)]


def _bool(sk: Socket, value: Value) -> int:
    return 1 if to_int(value) else 0


def _int(sk: Socket, value: Value) -> int:
    return to_int(value)


def _range(lo: int, hi: int) -> Setter:
    def check(sk: Socket, value: Value) -> int:
        v = to_int(value)
        if not lo <= v <= hi:
            raise SocketError(EINVAL)
        return v
    return check


def _root(setter: Setter) -> Setter:
    """Options that need CAP_NET_ADMIN / CAP_NET_RAW (EPERM without)."""
    def check(sk: Socket, value: Value) -> Value:
        if not sk.privileged:
            raise SocketError(C.EPERM)
        return setter(sk, value)
    return check


def _minlen(n: int, err: int = EINVAL) -> Setter:
    """A struct option the stack does not implement: only Linux's length check
    (optlen < sizeof(struct) → EINVAL) is reproduced, a full-size value is refused."""
    def check(sk: Socket, value: Value) -> Value:
        if isinstance(value, int) or len(value) < n:
            raise SocketError(EINVAL)
        raise SocketError(err)
    return check


def _not_stream(setter: Setter, err: int) -> Setter:
    def check(sk: Socket, value: Value) -> Value:
        if sk.type == C.SOCK_STREAM:
            raise SocketError(err)
        return setter(sk, value)
    return check


def inner_get(name: str, ip_len: bool = False) -> Getter:
    """A getter of an int field of the socket's inner protocol state."""
    def get(sk: Socket, optlen: int) -> bytes:
        return int_result(int(getattr(sk.inner, name)), optlen, ip_len)
    return get


def _stream_get(getter: Getter) -> Getter:
    def get(sk: Socket, optlen: int) -> bytes:
        if sk.type != C.SOCK_STREAM:
            raise SocketError(ENOPROTOOPT)
        return getter(sk, optlen)
    return get


def _peer(sk: Socket) -> bytes:
    """The connected peer's address (ENOTCONN if none), v4-mapped unmapped."""
    a = ipaddress.ip_address(sk.getpeername()[0]).packed
    return a[12:] if len(a) == 16 and a[:12] == b"\x00" * 10 + b"\xff\xff" else a


def _path_mtu(sk: Socket) -> int:
    iface = sk.routes.route(_peer(sk))
    if iface is None:
        raise SocketError(C.ENOTCONN)
    return iface.mtu


# The one table of every level (rocketnet.sockopt fills it from the level modules),
# as a TCP socket answers it, and DGRAM: the same with UDP's and ping's own entries.
TABLE: dict[tuple[int, int], Opt] = {}
DGRAM: dict[tuple[int, int], Opt] = {}


def table(sk: Socket) -> dict[tuple[int, int], Opt]:
    return TABLE if sk.type == C.SOCK_STREAM else DGRAM
# The _OLD and _NEW names of one setting (the same layout on 64-bit Linux).
ALIAS = {(C.SOL_SOCKET, 65): (C.SOL_SOCKET, 37), (C.SOL_SOCKET, 66): (C.SOL_SOCKET, 20),
         (C.SOL_SOCKET, 67): (C.SOL_SOCKET, 21)}


def _stored(sk: Socket, level: int, optname: int) -> Value:
    key = ALIAS.get((level, optname), (level, optname))
    v = sk.optstore.get(key)
    return table(sk)[key].default if v is None else v



def _empty(sk: Socket, optlen: int) -> bytes:
    return b""


S, IP, IP6, TCP, UDP = C.SOL_SOCKET, C.IPPROTO_IP, C.IPPROTO_IPV6, C.IPPROTO_TCP, C.IPPROTO_UDP
B = Opt(0, _bool)
B_IP = Opt(0, _bool, ip_len=True)

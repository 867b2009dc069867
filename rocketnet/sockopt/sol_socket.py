"""SOL_SOCKET options (net/core/sock.c: sk_setsockopt / sk_getsockopt)."""

from __future__ import annotations

import ipaddress
import itertools
import struct
from typing import TYPE_CHECKING

from .. import constants as C
from ..errors import SocketError
from ..transport.tcp import LISTEN
from .core import (
    _MEMINFO,
    _U64,
    _UCRED,
    EBADF,
    EINVAL,
    ENODATA,
    ENODEV,
    ENOPROTOOPT,
    EOPNOTSUPP,
    B,
    Getter,
    Opt,
    S,
    Setter,
    Value,
    _empty,
    _int,
    _minlen,
    _range,
    _root,
    _stored,
    inner_get,
    int_result,
    to_int,
)

if TYPE_CHECKING:
    from ..socket import Socket


_cookies = itertools.count(1)


def _timeval_set(sk: Socket, value: Value) -> bytes:
    """SO_RCVTIMEO/SO_SNDTIMEO (sock_set_timeout): a 16-byte struct timeval."""
    if isinstance(value, int) or len(value) < 16:
        raise SocketError(EINVAL)
    sec, usec = struct.unpack_from("=qq", value, 0)
    if usec < 0 or usec >= 1000000:
        raise SocketError(33)           # EDOM
    if sec < 0:
        return bytes(16)                # Linux: a negative timeout means none
    return bytes(value[:16])


def _timestamp(sk: Socket, value: Value) -> int:
    """SO_TIMESTAMP[NS]_{OLD,NEW}: one receive-timestamp setting for the four names."""
    on = to_int(value) != 0
    for name in (29, 35, 63, 64):
        sk.optstore.pop((C.SOL_SOCKET, name), None)
    return 1 if on else 0


_TS_MASK = (1 << 18) - 1        # SOF_TIMESTAMPING_MASK (LAST = OPT_RX_FILTER, 1 << 17)
_TS_OPT_ID = 1 << 7
_TS_OPT_ID_TCP = 1 << 16


def _timestamping(sk: Socket, value: Value) -> int:
    v = to_int(value)
    if v & ~_TS_MASK or (v & _TS_OPT_ID_TCP and not v & _TS_OPT_ID):
        raise SocketError(EINVAL)
    if v & _TS_OPT_ID and sk.type == C.SOCK_STREAM and not _connected(sk):
        raise SocketError(EINVAL)       # TCP: OPT_ID needs a sequence number to count from
    return v


def _timestamping_get(sk: Socket, optlen: int) -> bytes:
    flags = sk.optstore.get((C.SOL_SOCKET, 37), 0)
    return struct.pack("=ii", flags, 0)[: max(optlen, 0)]  # so_timestamping {flags, bind_phc}


def _connected(sk: Socket) -> bool:
    try:
        sk.getpeername()
    except SocketError:
        return False
    return True


def _rebind_check(sk: Socket) -> None:
    # sock_bindtoindex_locked: changing an existing binding needs CAP_NET_RAW
    if sk.optstore.get((C.SOL_SOCKET, 25)) and not sk.privileged:
        raise SocketError(C.EPERM)


def _bindtodevice(sk: Socket, value: Value) -> int:
    name = bytes(value if not isinstance(value, int) else b"")[:16].split(b"\0", 1)[0]
    index = 0
    if name:
        index = next((i.index for i in sk.routes.interfaces if i.name.encode() == name), -1)
        if index < 0:
            raise SocketError(ENODEV)
    _rebind_check(sk)
    return index


def _bindtodevice_get(sk: Socket, optlen: int) -> bytes:
    index = sk.optstore.get((C.SOL_SOCKET, 25), 0)
    for i in sk.routes.interfaces:
        if i.index == index:
            name = i.name.encode() + b"\0"
            if optlen < len(name):
                raise SocketError(EINVAL)
            return name
    return b""


def _bindtoifindex(sk: Socket, value: Value) -> int:
    v = to_int(value)
    _rebind_check(sk)
    if v < 0:
        raise SocketError(EINVAL)
    sk.optstore[(C.SOL_SOCKET, 25)] = v  # one binding, two names
    return v


def _peercred(sk: Socket, optlen: int) -> bytes:
    # Not an AF_UNIX socket: no peer pid or credentials (cred_to_ucred with NULLs).
    return _UCRED.pack(0, 0xFFFFFFFF, 0xFFFFFFFF)[: max(optlen, 0)]


def _peername(sk: Socket, optlen: int) -> bytes:
    name = sk.getpeername()
    a = ipaddress.ip_address(name[0]).packed
    if len(a) == 4:
        raw = struct.pack("=H", C.AF_INET) + name[1].to_bytes(2, "big") + a + bytes(8)
    else:
        raw = (struct.pack("=H", C.AF_INET6) + name[1].to_bytes(2, "big") + bytes(4) + a
               + (name[3] if len(name) > 3 else 0).to_bytes(4, "little"))
    if len(raw) < optlen:
        raise SocketError(EINVAL)       # sk_getsockopt: lv < len
    return raw[:optlen]


def _cookie(sk: Socket, optlen: int) -> bytes:
    if optlen < 8:                      # a u64 or nothing (sk_getsockopt)
        raise SocketError(EINVAL)
    c = sk.optstore.get((C.SOL_SOCKET, 57))
    if c is None:
        c = sk.optstore[(C.SOL_SOCKET, 57)] = next(_cookies)
    return _U64.pack(c)


def _netns_cookie(sk: Socket, optlen: int) -> bytes:
    if optlen != 8:
        raise SocketError(EINVAL)
    return _U64.pack(1)                 # the stack is one network namespace


def _meminfo(sk: Socket, optlen: int) -> bytes:
    rcv = to_int(sk.getsockopt(C.SOL_SOCKET, C.SO_RCVBUF, 4))
    snd = to_int(sk.getsockopt(C.SOL_SOCKET, C.SO_SNDBUF, 4))
    return _MEMINFO.pack(0, rcv, 0, snd, 0, 0, 0, 0, 0)[: max(optlen, 0)]


def _u64_get(key: tuple[int, int], default: int) -> Getter:
    def get(sk: Socket, optlen: int) -> bytes:
        v = sk.optstore.get(key, default)
        if optlen >= 8:
            return _U64.pack(v)
        return struct.pack("=I", min(v, 0xFFFFFFFF))[: max(optlen, 0)]  # the 32-bit answer
    return get


def _pacing(sk: Socket, value: Value) -> int:
    if not isinstance(value, int) and len(value) >= 8:
        return _U64.unpack_from(value, 0)[0]
    v = to_int(value) & 0xFFFFFFFF
    return (1 << 64) - 1 if v == 0xFFFFFFFF else v


def _txtime(sk: Socket, value: Value) -> bytes:
    if isinstance(value, int) or len(value) != 8:
        raise SocketError(EINVAL)
    clockid, flags = struct.unpack_from("=iI", value, 0)
    if clockid != 1 and not sk.privileged:     # CLOCK_MONOTONIC is free
        raise SocketError(C.EPERM)
    if flags & ~3:
        raise SocketError(EINVAL)
    return bytes(value)


def _lock_filter(sk: Socket, value: Value) -> int:
    v = 1 if to_int(value) else 0
    if not v and sk.optstore.get((C.SOL_SOCKET, 44)):
        raise SocketError(C.EPERM)
    return v


def _busy_poll(sk: Socket, value: Value) -> int:
    v = to_int(value)
    if v < 0:
        raise SocketError(EINVAL)
    if v > _stored(sk, C.SOL_SOCKET, 46) and not sk.privileged:  # type: ignore[operator]
        raise SocketError(C.EPERM)
    return v


def _busy_budget(sk: Socket, value: Value) -> int:
    v = to_int(value)
    if v > sk.optstore.get((C.SOL_SOCKET, 70), 0) and not sk.privileged:
        raise SocketError(C.EPERM)
    if not 0 <= v <= 0xFFFF:
        raise SocketError(EINVAL)
    return v


def _prefer_busy(sk: Socket, value: Value) -> int:
    v = 1 if to_int(value) else 0
    if v and not sk.privileged:
        raise SocketError(C.EPERM)
    return v


def _buf_lock(sk: Socket, value: Value) -> int:
    v = to_int(value)
    if v & ~3:                          # SOCK_BUF_LOCK_MASK
        raise SocketError(EINVAL)
    return v


def _reserve_mem(sk: Socket, value: Value) -> int:
    if to_int(value) < 0:
        raise SocketError(EINVAL)
    raise SocketError(EOPNOTSUPP)       # no memory cgroup accounting to reserve from


def _txrehash(sk: Socket, value: Value) -> int:
    v = to_int(value)
    if sk.type != C.SOCK_STREAM:
        raise SocketError(EOPNOTSUPP)
    if not -1 <= v <= 1:
        raise SocketError(EINVAL)
    return 1 if v == -1 else v          # -1: net.core.txrehash


def _txrehash_get(sk: Socket, optlen: int) -> bytes:
    if sk.type != C.SOCK_STREAM:
        raise SocketError(EOPNOTSUPP)
    return int_result(_stored(sk, C.SOL_SOCKET, 74), optlen)  # type: ignore[arg-type]


def _detach_reuseport(sk: Socket, value: Value) -> int:
    # no reuseport BPF program is ever attached (reuseport_detach_prog)
    reuse = to_int(sk.getsockopt(C.SOL_SOCKET, C.SO_REUSEPORT, 4))
    raise SocketError(C.ENOENT if reuse else EINVAL)


def _devmem_dontneed(sk: Socket, value: Value) -> int:
    if sk.type != C.SOCK_STREAM:
        raise SocketError(EBADF)
    if isinstance(value, int) or len(value) % 8 or len(value) > 128 * 8:
        raise SocketError(EINVAL)       # whole struct dmabuf_token entries
    return 0                            # no devmem tokens handed out: none to free


def _bpf_fd(sk: Socket, value: Value) -> int:
    # SO_ATTACH_BPF / SO_ATTACH_REUSEPORT_EBPF: the stack has no BPF programs, so no fd
    # names one (bpf_prog_get_type → EINVAL).
    to_int(value)
    raise SocketError(EINVAL)


def _cnx_advice(sk: Socket, value: Value) -> int:
    to_int(value)
    return 0


# ---------------------------------------------------------------- acting on the socket
# These setters change the socket (its inner protocol state or the outer socket's
# fields) and return None: nothing goes to the option store.
_LINGER = struct.Struct("=ii")


def _inner_flag(name: str) -> Setter:
    def set_(sk: Socket, value: Value) -> None:
        setattr(sk.inner, name, to_int(value) != 0)
    return set_


def _outer_get(name: str) -> Getter:
    def get(sk: Socket, optlen: int) -> bytes:
        return int_result(getattr(sk, name), optlen)
    return get


def _const_get(v: int) -> Getter:
    return lambda sk, optlen: int_result(v, optlen)


def _keepalive(sk: Socket, value: Value) -> None:
    t = sk.inner
    t.keepalive = to_int(value) != 0
    sk.layer.start_keepalive(t)


def _buf(snd: bool, force: bool) -> Setter:
    """SO_SNDBUF/SO_RCVBUF[FORCE] (sk_setsockopt): doubled, at least SOCK_MIN_*; FORCE
    (CAP_NET_ADMIN, checked by the caller) skips the [wr]mem_max clamp and takes a
    negative value as 0."""
    size, limit, lock = ("so_sndbuf", "sndbuf_limit", "sndbuf_lock") if snd else (
        "so_rcvbuf", "rcvbuf_limit", "rcvbuf_lock")
    least = C.SOCK_MIN_SNDBUF if snd else C.SOCK_MIN_RCVBUF

    def set_(sk: Socket, value: Value) -> None:
        v = to_int(value)
        if force:
            u = max(v, 0)
        else:
            top = sk.profile.wmem_max if snd else sk.profile.rmem_max
            u = min(v if v >= 0 else top, top)
        b = max(min(u, 0x3FFFFFFF) * 2, least)
        t = sk.inner
        setattr(t, size, b)
        setattr(t, limit, b // 2)
        setattr(t, lock, True)
    return set_


def _rcvlowat(sk: Socket, value: Value) -> None:
    v = to_int(value)
    if v < 0:
        v = 0x7FFFFFFF
    if sk.type == C.SOCK_STREAM:        # tcp_set_rcvlowat: at most half tcp_rmem[2]
        v = min(v, sk.profile.tcp_rmem[2] >> 1)
    sk.rcvlowat = max(v, 1)


def _outer_flag(name: str) -> Setter:
    def set_(sk: Socket, value: Value) -> None:
        setattr(sk, name, 1 if to_int(value) else 0)
    return set_


def _oobinline(sk: Socket, value: Value) -> None:
    v = to_int(value)
    sk.oobinline = 1 if v else 0
    sk.inner.oobinline = bool(v)


def _priority(sk: Socket, value: Value) -> None:
    v = to_int(value)
    if not 0 <= v <= 6 and not sk.privileged:
        raise SocketError(C.EPERM)      # CAP_NET_ADMIN (or CAP_NET_RAW)
    sk.priority = v


def _debug(sk: Socket, value: Value) -> None:
    v = to_int(value)
    if v and not sk.privileged:
        raise SocketError(C.EACCES)     # CAP_NET_ADMIN
    sk.debug = 1 if v else 0


def _linger(sk: Socket, value: Value) -> None:
    if isinstance(value, int) or len(value) < 8:
        raise SocketError(EINVAL)
    onoff, secs = _LINGER.unpack_from(value, 0)
    sk.inner.linger = (1 if onoff else 0, secs if secs >= 0 else 0)


def _linger_get(sk: Socket, optlen: int) -> bytes:
    return _LINGER.pack(*sk.inner.linger)[: min(optlen, 8)]


def _error_get(sk: Socket, optlen: int) -> bytes:
    return int_result(sk.take_error(), optlen)


def _acceptconn(sk: Socket, optlen: int) -> bytes:
    return int_result(int(sk.inner.state == LISTEN), optlen)


def _dgram_keepalive(sk: Socket, value: Value) -> None:
    sk.inner.keepalive = bool(to_int(value))    # no keepalive timer for a datagram


def _dgram_broadcast(sk: Socket, value: Value) -> None:
    t = sk.inner
    t.broadcast = bool(to_int(value))
    sk.broadcast = 1 if t.broadcast else 0


def _dgram_buf(setter: Setter) -> Setter:
    """A datagram socket's limits are the whole (doubled) buffer."""
    def set_(sk: Socket, value: Value) -> None:
        setter(sk, value)
        t = sk.inner
        t.sndbuf_limit = t.so_sndbuf
        t.rcvbuf_limit = t.so_rcvbuf
    return set_


SOCKET: dict[tuple[int, int], Opt] = {
    (S, 1): Opt(0, _debug, _outer_get("debug")),       # SO_DEBUG
    (S, 2): Opt(0, _inner_flag("reuseaddr"), inner_get("reuseaddr")),  # SO_REUSEADDR
    (S, 3): Opt(0, ENOPROTOOPT, _outer_get("type")),    # SO_TYPE
    (S, 4): Opt(0, ENOPROTOOPT, _error_get),            # SO_ERROR
    (S, 5): Opt(0, _outer_flag("dontroute"), _outer_get("dontroute")),  # SO_DONTROUTE
    (S, 6): Opt(0, _outer_flag("broadcast"), _outer_get("broadcast")),  # SO_BROADCAST
    (S, 7): Opt(0, _buf(True, False), inner_get("so_sndbuf")),     # SO_SNDBUF
    (S, 8): Opt(0, _buf(False, False), inner_get("so_rcvbuf")),     # SO_RCVBUF
    (S, 9): Opt(0, _keepalive, inner_get("keepalive")),        # SO_KEEPALIVE
    (S, 10): Opt(0, _oobinline, _outer_get("oobinline")),       # SO_OOBINLINE
    (S, 12): Opt(0, _priority, _outer_get("priority")),         # SO_PRIORITY
    (S, 13): Opt(0, _linger, _linger_get),              # SO_LINGER
    (S, 15): Opt(0, _inner_flag("reuseport"), inner_get("reuseport")),  # SO_REUSEPORT
    (S, 18): Opt(0, _rcvlowat, _outer_get("rcvlowat")), # SO_RCVLOWAT
    (S, 19): Opt(0, ENOPROTOOPT, _const_get(1)),        # SO_SNDLOWAT
    (S, 30): Opt(0, ENOPROTOOPT, _acceptconn),          # SO_ACCEPTCONN
    (S, 38): Opt(0, ENOPROTOOPT, _outer_get("proto")),  # SO_PROTOCOL
    (S, 39): Opt(0, ENOPROTOOPT, _outer_get("family")), # SO_DOMAIN
    (S, 11): B,                                         # SO_NO_CHECK
    (S, 14): Opt(0, lambda sk, v: (to_int(v), 0)[1]),   # SO_BSDCOMPAT: ignored
    (S, 16): Opt(0, EOPNOTSUPP, EOPNOTSUPP),            # SO_PASSCRED: AF_UNIX only
    (S, 17): Opt(0, ENOPROTOOPT, _peercred),            # SO_PEERCRED
    (S, 20): Opt(bytes(16), _timeval_set),              # SO_RCVTIMEO_OLD
    (S, 21): Opt(bytes(16), _timeval_set),              # SO_SNDTIMEO_OLD
    (S, 25): Opt(0, _bindtodevice, _bindtodevice_get),  # SO_BINDTODEVICE
    (S, 26): Opt(0, _minlen(16), _empty),               # SO_ATTACH_FILTER / GET_FILTER
    (S, 27): Opt(0, C.ENOENT, ENOPROTOOPT),             # SO_DETACH_FILTER: none
    (S, 28): Opt(0, None, _peername),                   # SO_PEERNAME
    (S, 29): Opt(0, _timestamp),                        # SO_TIMESTAMP_OLD
    (S, 32): Opt(0, _buf(True, True), ENOPROTOOPT),        # SO_SNDBUFFORCE
    (S, 33): Opt(0, _buf(False, True), ENOPROTOOPT),        # SO_RCVBUFFORCE
    (S, 34): Opt(0, EOPNOTSUPP, EOPNOTSUPP),            # SO_PASSSEC: AF_UNIX only
    (S, 35): Opt(0, _timestamp),                        # SO_TIMESTAMPNS_OLD
    (S, 36): Opt(0, _root(_int)),                       # SO_MARK
    (S, 37): Opt(0, _timestamping, _timestamping_get),  # SO_TIMESTAMPING_OLD
    (S, 40): B,                                         # SO_RXQ_OVFL
    (S, 41): B,                                         # SO_WIFI_STATUS
    (S, 42): Opt(-1, _int),                             # SO_PEEK_OFF
    (S, 43): B,                                         # SO_NOFCS
    (S, 44): Opt(0, _lock_filter),                      # SO_LOCK_FILTER
    (S, 45): B,                                         # SO_SELECT_ERR_QUEUE
    (S, 46): Opt(0, _busy_poll),                        # SO_BUSY_POLL
    (S, 47): Opt(0, _pacing, _u64_get((S, 47), (1 << 64) - 1)),  # SO_MAX_PACING_RATE
    (S, 48): Opt(64, ENOPROTOOPT),                      # SO_BPF_EXTENSIONS: SKF_AD_MAX
    (S, 49): Opt(-1, _int),                             # SO_INCOMING_CPU
    (S, 50): Opt(0, _bpf_fd, ENOPROTOOPT),              # SO_ATTACH_BPF
    (S, 51): Opt(0, _minlen(16), ENOPROTOOPT),          # SO_ATTACH_REUSEPORT_CBPF
    (S, 52): Opt(0, _bpf_fd, ENOPROTOOPT),              # SO_ATTACH_REUSEPORT_EBPF
    (S, 53): Opt(0, _cnx_advice, ENOPROTOOPT),          # SO_CNX_ADVICE
    (S, 55): Opt(0, ENOPROTOOPT, _meminfo),             # SO_MEMINFO
    (S, 56): Opt(0, ENOPROTOOPT),                       # SO_INCOMING_NAPI_ID
    (S, 57): Opt(0, ENOPROTOOPT, _cookie),              # SO_COOKIE
    (S, 59): Opt(0, ENOPROTOOPT, ENODATA),              # SO_PEERGROUPS: no peer cred
    (S, 60): Opt(0, _range(0, 1)),                      # SO_ZEROCOPY
    (S, 61): Opt(bytes(8), _txtime),                    # SO_TXTIME
    (S, 62): Opt(0, _bindtoifindex, lambda sk, n: int_result(
        sk.optstore.get((S, 25), 0), n)),                   # type: ignore[arg-type]
    (S, 63): Opt(0, _timestamp),                        # SO_TIMESTAMP_NEW
    (S, 64): Opt(0, _timestamp),                        # SO_TIMESTAMPNS_NEW
    (S, 65): Opt(0, _timestamping, _timestamping_get),  # SO_TIMESTAMPING_NEW
    (S, 66): Opt(bytes(16), _timeval_set),              # SO_RCVTIMEO_NEW
    (S, 67): Opt(bytes(16), _timeval_set),              # SO_SNDTIMEO_NEW
    (S, 68): Opt(0, _detach_reuseport, ENOPROTOOPT),    # SO_DETACH_REUSEPORT_BPF
    (S, 69): Opt(0, _prefer_busy),                      # SO_PREFER_BUSY_POLL
    (S, 70): Opt(0, _busy_budget, ENOPROTOOPT),         # SO_BUSY_POLL_BUDGET
    (S, 71): Opt(0, ENOPROTOOPT, _netns_cookie),        # SO_NETNS_COOKIE
    (S, 72): Opt(0, _buf_lock),                         # SO_BUF_LOCK
    (S, 73): Opt(0, _reserve_mem),                      # SO_RESERVE_MEM
    (S, 74): Opt(1, _txrehash, _txrehash_get),          # SO_TXREHASH
    (S, 75): B,                                         # SO_RCVMARK
    (S, 76): Opt(0, EOPNOTSUPP, EOPNOTSUPP),            # SO_PASSPIDFD: AF_UNIX only
    (S, 77): Opt(0, ENOPROTOOPT, ENODATA),              # SO_PEERPIDFD: no peer pid
    (S, 80): Opt(0, _devmem_dontneed, ENOPROTOOPT),     # SO_DEVMEM_DONTNEED
    (S, 82): B,                                         # SO_RCVPRIORITY
    (S, 83): Opt(0, EOPNOTSUPP, EOPNOTSUPP),            # SO_PASSRIGHTS: AF_UNIX only
}

# what UDP and ping sockets answer differently
SOCKET_DGRAM: dict[tuple[int, int], Opt] = {
    (S, 6): Opt(0, _dgram_broadcast, inner_get("broadcast")),  # SO_BROADCAST
    (S, 7): Opt(0, _dgram_buf(_buf(True, False)), inner_get("so_sndbuf")),  # SO_SNDBUF
    (S, 8): Opt(0, _dgram_buf(_buf(False, False)), inner_get("so_rcvbuf")),  # SO_RCVBUF
    (S, 9): Opt(0, _dgram_keepalive, inner_get("keepalive")),  # SO_KEEPALIVE
}

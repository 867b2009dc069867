"""IPPROTO_TCP options (net/ipv4/tcp.c: do_tcp_setsockopt / do_tcp_getsockopt)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import constants as C
from ..errors import SocketError
from .core import (
    EINVAL,
    ENOPROTOOPT,
    TCP,
    Opt,
    Setter,
    Value,
    _bool,
    _empty,
    _int,
    _minlen,
    _range,
    int_result,
    to_int,
)
from .sol_socket import _connected

if TYPE_CHECKING:
    from ..socket import Socket


def _secs_to_retrans(seconds: int, timeout: int = 1, rto_max: int = 120) -> int:
    res = 0
    if seconds > 0:
        period = timeout
        res = 1
        while seconds > period and res < 255:
            res += 1
            timeout = min(timeout << 1, rto_max)
            period += timeout
    return res


def _retrans_to_secs(retrans: int, timeout: int = 1, rto_max: int = 120) -> int:
    period = 0
    if retrans > 0:
        period = timeout
        for _ in range(retrans - 1):
            timeout = min(timeout << 1, rto_max)
            period += timeout
    return period


def _defer_accept(sk: Socket, value: Value) -> int:
    return _secs_to_retrans(to_int(value))


def _defer_accept_get(sk: Socket, optlen: int) -> bytes:
    return int_result(_retrans_to_secs(sk.optstore.get((C.IPPROTO_TCP, 9), 0)), optlen)  # type: ignore[arg-type]


def _linger2(sk: Socket, value: Value) -> int:
    v = to_int(value)
    return -1 if v < 0 else min(v, C.TCP_FIN_TIMEOUT_MAX) or C.TCP_FIN_TIMEOUT


def _window_clamp(sk: Socket, value: Value) -> int:
    v = to_int(value)
    if not v:
        if _connected(sk):
            raise SocketError(EINVAL)
        return 0
    return max(C.SOCK_MIN_RCVBUF // 2, v)


def _repair(sk: Socket) -> bool:
    return bool(sk.optstore.get((C.IPPROTO_TCP, 19)))


def _need_repair(err: int) -> Setter:
    def check(sk: Socket, value: Value) -> Value:
        to_int(value)
        if not _repair(sk):
            raise SocketError(err)
        raise SocketError(EINVAL)       # repair mode queues are not modelled
    return check


def _repair_set(sk: Socket, value: Value) -> int:
    if not sk.privileged:
        raise SocketError(C.EPERM)
    v = to_int(value)
    if v not in (-1, 0, 1):             # TCP_REPAIR_OFF_NO_WP, OFF, ON
        raise SocketError(EINVAL)
    return 1 if v == 1 else 0


def _fastopen(sk: Socket, value: Value) -> int:
    v = to_int(value)
    if v < 0 or _connected(sk):
        raise SocketError(EINVAL)
    return min(v, sk.stack.tcp.config.somaxconn)   # fastopen_queue_tune


def _fastopen_connect(sk: Socket, value: Value) -> int:
    v = to_int(value)
    if not 0 <= v <= 1 or _connected(sk):
        raise SocketError(EINVAL)
    return v


def _ulp(sk: Socket, value: Value) -> int:
    raise SocketError(C.ENOENT)         # no upper-layer protocol (tls, espintcp) exists


def _thin_dupack(sk: Socket, value: Value) -> int:
    if not 0 <= to_int(value) <= 1:
        raise SocketError(EINVAL)
    return 0                            # accepted and ignored since Linux 4.19


def _fastopen_key(sk: Socket, value: Value) -> bytes:
    """TCP_FASTOPEN_KEY: a primary key, optionally a backup (16 bytes each)."""
    if isinstance(value, int) or len(value) not in (16, 32):
        raise SocketError(EINVAL)
    return bytes(value)


def _rto_max(sk: Socket, value: Value) -> int:
    v = to_int(value)
    if not 1000 <= v <= 120000:
        raise SocketError(EINVAL)
    return v


def _rto_min(sk: Socket, value: Value) -> int:
    v = to_int(value)
    tick = 1000000 // C.HZ
    jiffies = -(-v // tick) if v > 0 else 0     # usecs_to_jiffies rounds up
    if not 2 <= jiffies <= C.TCP_RTO_MIN_US // tick:   # TCP_TIMEOUT_MIN .. TCP_RTO_MIN
        raise SocketError(EINVAL)
    return jiffies * tick


def _repair_window_get(sk: Socket, optlen: int) -> bytes:
    if optlen != 20:
        raise SocketError(EINVAL)
    raise SocketError(C.EPERM)


def _repair_queue_get(sk: Socket, optlen: int) -> bytes:
    raise SocketError(EINVAL)           # no repair queue selected


def _tcp_timestamp(sk: Socket, optlen: int) -> bytes:
    return int_result(int(sk.stack.tcp.now * 1000) & 0x7FFFFFFF, optlen)


def _zerocopy_receive(sk: Socket, optlen: int) -> bytes:
    # the request struct comes from the caller's buffer (not forwarded); the stack
    # has no page-mapped receive path
    raise SocketError(EINVAL)


TCP_OPTIONS: dict[tuple[int, int], Opt] = {
    (TCP, 7): Opt(C.TCP_SYN_RETRIES, _range(1, 127)),   # TCP_SYNCNT
    (TCP, 8): Opt(C.TCP_FIN_TIMEOUT, _linger2),         # TCP_LINGER2
    (TCP, 9): Opt(0, _defer_accept, _defer_accept_get), # TCP_DEFER_ACCEPT
    (TCP, 10): Opt(0, _window_clamp),                   # TCP_WINDOW_CLAMP
    (TCP, 12): Opt(1, _bool),                           # TCP_QUICKACK
    (TCP, 14): Opt(0, _minlen(216), ENOPROTOOPT),       # TCP_MD5SIG: struct tcp_md5sig
    (TCP, 16): Opt(0, _range(0, 1)),                    # TCP_THIN_LINEAR_TIMEOUTS
    (TCP, 17): Opt(0, _thin_dupack),                    # TCP_THIN_DUPACK: obsolete
    (TCP, 19): Opt(0, _repair_set),                     # TCP_REPAIR
    (TCP, 20): Opt(0, _need_repair(C.EPERM), _repair_queue_get),  # TCP_REPAIR_QUEUE
    (TCP, 21): Opt(0, _need_repair(EINVAL), _repair_queue_get),   # TCP_QUEUE_SEQ
    (TCP, 22): Opt(0, _need_repair(EINVAL), ENOPROTOOPT),   # TCP_REPAIR_OPTIONS
    (TCP, 23): Opt(0, _fastopen),                       # TCP_FASTOPEN
    (TCP, 24): Opt(0, _need_repair(C.EPERM), _tcp_timestamp),  # TCP_TIMESTAMP
    (TCP, 25): Opt(0, _int),                            # TCP_NOTSENT_LOWAT
    (TCP, 26): Opt(0, ENOPROTOOPT, _empty),             # TCP_CC_INFO: cubic has none
    (TCP, 27): Opt(0, _range(0, 2)),                    # TCP_SAVE_SYN
    (TCP, 28): Opt(0, ENOPROTOOPT, _empty),             # TCP_SAVED_SYN: none saved
    (TCP, 29): Opt(0, _need_repair(C.EPERM), _repair_window_get),  # TCP_REPAIR_WINDOW
    (TCP, 30): Opt(0, _fastopen_connect),               # TCP_FASTOPEN_CONNECT
    (TCP, 31): Opt(0, _ulp, _empty),                    # TCP_ULP
    (TCP, 32): Opt(0, _minlen(216), ENOPROTOOPT),       # TCP_MD5SIG_EXT
    (TCP, 33): Opt(b"", _fastopen_key),                 # TCP_FASTOPEN_KEY
    (TCP, 34): Opt(0, _range(0, 1)),                    # TCP_FASTOPEN_NO_COOKIE
    (TCP, 35): Opt(0, ENOPROTOOPT, _zerocopy_receive),  # TCP_ZEROCOPY_RECEIVE
    (TCP, 36): Opt(0, _range(0, 1)),                    # TCP_INQ
    (TCP, 37): Opt(0, _range(0, 0x7FFFFFFF)),           # TCP_TX_DELAY
    (TCP, 43): Opt(0, ENOPROTOOPT),                     # TCP_IS_MPTCP
    (TCP, 44): Opt(C.TCP_RTO_MAX_MS, _rto_max),         # TCP_RTO_MAX_MS
    (TCP, 45): Opt(C.TCP_RTO_MIN_US, _rto_min),         # TCP_RTO_MIN_US
}

"""IPPROTO_TCP options (net/ipv4/tcp.c: do_tcp_setsockopt / do_tcp_getsockopt)."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from .. import constants as C
from ..errors import SocketError
from ..transport.tcp import CLOSED, LISTEN, SYN_SENT, congestion
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
    inner_get,
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
    return min(v, sk.layer.config.somaxconn)   # fastopen_queue_tune


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
    return int_result(int(sk.layer.now * 1000) & 0x7FFFFFFF, optlen)


def _zerocopy_receive(sk: Socket, optlen: int) -> bytes:
    # the request struct comes from the caller's buffer (not forwarded); the stack
    # has no page-mapped receive path
    raise SocketError(EINVAL)


# ---------------------------------------------------------------- acting on the TCB
# struct tcp_info as on Linux 6.18 (280 bytes)
_TCP_INFO = struct.Struct("=8B24I4Q6I4Q2I2Q6I2H8I2H")
TCP_INFO_SIZE = _TCP_INFO.size


def _tcb_int(name: str, lo: int | None = None, hi: int | None = None,
             keepalive: bool = False) -> Setter:
    """An int field of the TCB, in [lo, hi] (EINVAL outside); keepalive: re-arm its timer."""
    def set_(sk: Socket, value: Value) -> None:
        v = to_int(value)
        if lo is not None and not lo <= v <= (hi if hi is not None else v):
            raise SocketError(EINVAL)
        setattr(sk.inner, name, v)
        if keepalive:
            sk.layer.start_keepalive(sk.inner)
    return set_


def _nodelay(name: str) -> Setter:
    """TCP_NODELAY on / TCP_CORK off push what is queued."""
    push_when = name == "nodelay"

    def set_(sk: Socket, value: Value) -> None:
        t = sk.inner
        on = to_int(value) != 0
        setattr(t, name, on)
        if on == push_when:
            sk.layer.dirty[t] = None
    return set_


def _maxseg(sk: Socket, value: Value) -> None:
    v = to_int(value)
    if v and (v < 88 or v > 32767):
        raise SocketError(EINVAL)
    sk.inner.user_mss = v


def _maxseg_get(sk: Socket, optlen: int) -> bytes:
    t = sk.inner
    if t.key is not None and t.state not in (CLOSED, LISTEN, SYN_SENT):
        return int_result(t.mss_cache(), optlen)
    return int_result(t.user_mss or 536, optlen)


def _congestion(sk: Socket, value: Value) -> None:
    name = value if isinstance(value, bytes) else b""
    name = name.split(b"\x00", 1)[0]
    if name not in congestion.ALGORITHMS:
        raise SocketError(C.ENOENT)
    t = sk.inner
    if name != t.congestion:
        t.congestion = name
        t.cc = congestion.make(name)


def _congestion_get(sk: Socket, optlen: int) -> bytes:
    return sk.inner.congestion.ljust(16, b"\x00")[:optlen]


def _tcp_info_get(sk: Socket, optlen: int) -> bytes:
    return tcp_info(sk)[: min(optlen, sk.profile.tcp_info_len)]


def tcp_info(sk: Socket) -> bytes:
    """Linux ``struct tcp_info`` (280 bytes, Linux 6.18 layout)."""
    t = sk.inner
    now = sk.layer.now
    opts = 0
    if t.ts_ok:
        opts |= 1  # TCPI_OPT_TIMESTAMPS
    if t.sack_ok:
        opts |= 2  # TCPI_OPT_SACK
    if t.ws_ok:
        opts |= 4  # TCPI_OPT_WSCALE
    wscale = (t.snd_wscale & 0xF) | ((t.rcv_wscale & 0xF) << 4) if t.ws_ok else 0
    mss = t.mss_cache() or 536  # Linux counts in mss_cache segments and reports it
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
        tcp = sk.layer
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


TCP_OPTIONS: dict[tuple[int, int], Opt] = {
    (TCP, 1): Opt(0, _nodelay("nodelay"), inner_get("nodelay")),  # TCP_NODELAY
    (TCP, 2): Opt(0, _maxseg, _maxseg_get),             # TCP_MAXSEG
    (TCP, 3): Opt(0, _nodelay("cork"), inner_get("cork")),        # TCP_CORK
    (TCP, 4): Opt(0, _tcb_int("keepidle", 1, 32767, True), inner_get("keepidle")),  # KEEPIDLE
    (TCP, 5): Opt(0, _tcb_int("keepintvl", 1, 32767), inner_get("keepintvl")),  # KEEPINTVL
    (TCP, 6): Opt(0, _tcb_int("keepcnt", 1, 127), inner_get("keepcnt")),        # KEEPCNT
    (TCP, 11): Opt(0, ENOPROTOOPT, _tcp_info_get),      # TCP_INFO
    (TCP, 13): Opt(0, _congestion, _congestion_get),    # TCP_CONGESTION
    (C.IPPROTO_TCP, C.TCP_USER_TIMEOUT): Opt(0, _tcb_int("user_timeout", 0, None),
                   inner_get("user_timeout")),        # TCP_USER_TIMEOUT
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
    (TCP, 37): Opt(0, _range(0, (1 << 28) - 1)),        # TCP_TX_DELAY: µs in 28 bits
    (TCP, 43): Opt(0, ENOPROTOOPT),                     # TCP_IS_MPTCP
    (TCP, 44): Opt(C.TCP_RTO_MAX_MS, _rto_max),         # TCP_RTO_MAX_MS
    (TCP, 45): Opt(C.TCP_RTO_MIN_US, _rto_min),         # TCP_RTO_MIN_US
}

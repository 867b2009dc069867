"""IPPROTO_IPV6 options (net/ipv6/ipv6_sockglue.c: do_ipv6_setsockopt /
do_ipv6_getsockopt)."""

from __future__ import annotations

import struct
import sys
from typing import TYPE_CHECKING

from .. import constants as C
from ..errors import SocketError
from ..iface import route
from ..transport.tcp import ESTABLISHED
from ..transport.udp import is_multicast
from .core import (
    _INT,
    EINVAL,
    ENODEV,
    ENOPROTOOPT,
    IP6,
    B,
    Opt,
    Setter,
    Value,
    _bool,
    _empty,
    _int,
    _not_stream,
    _path_mtu,
    _range,
    _root,
    _stream_get,
    inner_get,
    int_result,
    to_int,
)
from .ip import (
    _anycast_join,
    _bool6,
    _int_err,
    _ipsec_policy,
    _mc6_tcp,
    _mc_len,
    _msfilter_get,
    _nf_get,
    _nf_set,
    _recverr,
    _tos_class,
    _unicast_if,
    _xfrm,
    hop_limit,
)
from .sol_socket import _connected

if TYPE_CHECKING:
    from ..socket import Socket


def _addrform_get(sk: Socket, optlen: int) -> bytes:
    if not _connected(sk):
        raise SocketError(C.ENOTCONN)
    return int_result(sk.family, optlen)


def _ipv6_mtu_set(sk: Socket, value: Value) -> int:
    v = to_int(value)
    if v and v < 1280:
        raise SocketError(EINVAL)
    return v


def _ipv6_mtu(sk: Socket, optlen: int) -> bytes:
    return int_result(_path_mtu(sk), optlen)


def _pathmtu(sk: Socket, optlen: int) -> bytes:
    if optlen < 32:                     # struct ip6_mtuinfo
        raise SocketError(EINVAL)
    mtu = _path_mtu(sk)
    return struct.pack("=HH4x16sI", C.AF_INET6, 0, bytes(16), 0) + _INT.pack(mtu)


def _pktoptions(sk: Socket, value: Value) -> bytes:
    """IPV6_2292PKTOPTIONS: sticky options as a cmsg buffer (ip6_datagram_send_ctl);
    the cmsg framing is checked, the options are not kept: one too short for a
    cmsghdr holds none."""
    raw = b"" if isinstance(value, int) else bytes(value)
    if len(raw) > 65536:
        raise SocketError(C.ENOBUFS)
    if len(raw) >= 16:
        n = int.from_bytes(raw[:8], "little")
        if n < 16 or n > len(raw):
            raise SocketError(EINVAL)
    return b""


def _pktinfo6(sk: Socket, value: Value) -> bytes:
    if isinstance(value, int) or len(value) < 20:
        raise SocketError(EINVAL)
    return bytes(value[:20])


def _ext_header(sk: Socket, value: Value) -> bytes:
    """IPV6_HOPOPTS/RTHDR/DSTOPTS: one extension header in 8-byte units
    (do_ipv6_setsockopt → ipv6_renew_options); empty removes it."""
    raw = b"" if isinstance(value, int) else bytes(value)
    if raw and (len(raw) < 8 or len(raw) & 7 or len(raw) > 8 * 255
                or (raw[1] + 1) * 8 > len(raw)):
        raise SocketError(EINVAL)
    return raw[: (raw[1] + 1) * 8] if raw else b""


def _rthdr(sk: Socket, value: Value) -> bytes:
    """IPV6_RTHDR (do_ipv6_setsockopt): a type 2 (Mobile IPv6) header with one address,
    or a type 4 segment routing header that seg6_validate_srh accepts, where the
    kernel has them (KernelProfile.rthdr_types)."""
    raw = _ext_header(sk, value)
    if not raw:
        return raw
    kind = raw[2]
    if kind not in sk.profile.rthdr_types:
        raise SocketError(EINVAL)
    if kind == 2 and raw[1] == 2 and raw[3] == 1:
        return raw
    if kind == 4 and _valid_srh(bytes(value)):
        return raw
    raise SocketError(EINVAL)


def _valid_srh(srh: bytes) -> bool:
    """seg6_validate_srh (not reduced) over the whole option: the header's length is the
    option's, segments_left <= first_segment <= the last entry that fits, then whole
    TLVs (type, length, value) to the end."""
    hdrlen, segments_left, first = srh[1], srh[3], srh[4]
    if (hdrlen + 1) * 8 != len(srh) or segments_left > first or first > hdrlen // 2 - 1:
        return False
    off = 8 + (first + 1) * 16
    if off > len(srh):
        return False
    while off < len(srh):
        if len(srh) - off < 2:
            return False
        off += 2 + srh[off + 1]
    return off == len(srh)


_PREF_TMP, _PREF_PUBLIC, _PREF_PUBTMP_DEFAULT = 0x1, 0x2, 0x100
_PREF_COA, _PREF_HOME, _PREF_CGA, _PREF_NONCGA = 0x4, 0x400, 0x8, 0x800


def _addr_prefs(sk: Socket, value: Value) -> int:
    """__ip6_sock_set_addr_preferences: conflicting pairs are EINVAL."""
    val = to_int(value)
    pref, mask = 0, ~0
    pt = val & (_PREF_PUBLIC | _PREF_TMP | _PREF_PUBTMP_DEFAULT)
    if pt in (_PREF_PUBLIC, _PREF_TMP):
        pref |= pt
        mask &= ~(_PREF_PUBLIC | _PREF_TMP)
    elif pt == _PREF_PUBTMP_DEFAULT:
        mask &= ~(_PREF_PUBLIC | _PREF_TMP)
    elif pt:
        raise SocketError(EINVAL)
    hc = val & (_PREF_HOME | _PREF_COA)
    if hc == _PREF_HOME:
        mask &= ~_PREF_COA
    elif hc == _PREF_COA:
        pref |= _PREF_COA
    elif hc:
        raise SocketError(EINVAL)
    if val & (_PREF_CGA | _PREF_NONCGA) == _PREF_CGA | _PREF_NONCGA:
        raise SocketError(EINVAL)
    return (sk.optstore.get((C.IPPROTO_IPV6, 72), 0) & mask) | pref  # type: ignore[operator]


def _addr_prefs_get(sk: Socket, optlen: int) -> bytes:
    p: int = sk.optstore.get((C.IPPROTO_IPV6, 72), 0)  # type: ignore[assignment]
    v = _PREF_TMP if p & _PREF_TMP else _PREF_PUBLIC if p & _PREF_PUBLIC else _PREF_PUBTMP_DEFAULT
    v |= _PREF_COA if p & _PREF_COA else _PREF_HOME
    return int_result(v, optlen)


def _orig_dst6(sk: Socket, optlen: int) -> bytes:
    # IP6T_SO_ORIGINAL_DST: TCP only; the stack tracks no NATed connections
    if sk.type != C.SOCK_STREAM:
        raise SocketError(ENOPROTOOPT)
    raise SocketError(EINVAL if optlen < 28 else C.ENOENT)


# ---------------------------------------------------------------- acting on the socket
_V4MAPPED = b"\x00" * 10 + b"\xff\xff"


def _addrform(sk: Socket, value: Value) -> None:
    """IPV6_ADDRFORM: a connected AF_INET6 socket whose peer is v4-mapped becomes AF_INET."""
    if isinstance(value, (bytes, bytearray)) and len(value) < 4:
        raise SocketError(EINVAL)
    if to_int(value) != C.AF_INET:
        raise SocketError(EINVAL)
    t = sk.inner
    if t.state != ESTABLISHED:
        raise SocketError(C.ENOTCONN)
    rip = t.rip if t.rip is not None else b""
    if t.v6only or not (len(rip) == 4 or (len(rip) == 16 and rip[:12] == _V4MAPPED)):
        raise SocketError(C.EADDRNOTAVAIL)
    sk.family = C.AF_INET


def _v6only(sk: Socket, value: Value) -> None:
    v = to_int(value)
    t = sk.inner
    if t.in_bind_table:
        raise SocketError(EINVAL)
    t.v6only = v != 0


# ---------------------------------------------------------------- UDP and ping sockets
IPV6_MULTICAST_IF, IPV6_MULTICAST_HOPS, IPV6_MULTICAST_LOOP = 17, 18, 19
IPV6_JOIN_GROUP, IPV6_LEAVE_GROUP = 20, 21


def _mc6_set(sk: Socket, value: Value, optname: int) -> None:
    """IPv6 multicast options (do_ipv6_setsockopt): ints of 4 bytes, ipv6_mreq."""
    t = sk.inner
    udp = sk.layer
    raw = value.to_bytes(4, "little", signed=True) if isinstance(value, int) else value
    if optname in (IPV6_JOIN_GROUP, IPV6_LEAVE_GROUP):
        if len(raw) < 20:
            raise SocketError(EINVAL)
        group = bytes(raw[:16])
        index = int.from_bytes(raw[16:20], sys.byteorder)
        if not is_multicast(group):
            raise SocketError(EINVAL)
        if optname == IPV6_LEAVE_GROUP:
            for key in t.mc_groups:
                if key[0] == group and (not index or key[1] == index):
                    udp.mc_leave(t, key)
                    return
            raise SocketError(C.EADDRNOTAVAIL)
        if index:
            iface = udp.iface_by_index(index)
        else:
            iface = route(udp.ifaces, group)
        if iface is None:
            raise SocketError(ENODEV)
        udp.mc_join(t, group, iface.index)
        return
    if len(raw) < 4:
        raise SocketError(EINVAL)
    v = int.from_bytes(raw[:4], "little", signed=True)
    if optname == IPV6_MULTICAST_IF:
        if v and udp.iface_by_index(v) is None:
            raise SocketError(ENODEV)
        t.mc_index6 = v
    elif optname == IPV6_MULTICAST_HOPS:
        if not -1 <= v <= 255:
            raise SocketError(EINVAL)
        t.mc_hops = 1 if v == -1 else v
    else:
        if v not in (0, 1):
            raise SocketError(EINVAL)
        t.mc_loop6 = v == 1


def _mc6(optname: int) -> Setter:
    return lambda sk, value: _mc6_set(sk, value, optname)


def _tclass(sk: Socket, value: Value) -> None:
    v = to_int(value)
    if not -1 <= v <= 255:
        raise SocketError(EINVAL)
    sk.inner.tclass = max(v, 0)         # -1: the default, 0


IPV6_OPTIONS: dict[tuple[int, int], Opt] = {
    (IP6, 16): Opt(0, hop_limit("hops", 0, to_int), inner_get("hops")),   # IPV6_UNICAST_HOPS
    (IP6, 26): Opt(0, _v6only, inner_get("v6only")),   # IPV6_V6ONLY
    (IP6, 1): Opt(0, _addrform, _addrform_get),         # IPV6_ADDRFORM
    (IP6, 2): B, (IP6, 3): B, (IP6, 4): B, (IP6, 5): B, # IPV6_2292PKTINFO..RTHDR
    (IP6, 6): Opt(b"", _pktoptions, _stream_get(_empty)),   # IPV6_2292PKTOPTIONS
    (IP6, 8): B,                                        # IPV6_2292HOPLIMIT
    (IP6, 11): B,                                       # IPV6_FLOWINFO
    (IP6, 17): Opt(0, _not_stream(_int, ENOPROTOOPT)),  # IPV6_MULTICAST_IF
    (IP6, 18): Opt(1, _not_stream(_int, ENOPROTOOPT)),  # IPV6_MULTICAST_HOPS
    (IP6, 19): Opt(1, _range(0, 1)),                    # IPV6_MULTICAST_LOOP
    (IP6, 20): Opt(0, _mc6_tcp(C.EPROTO), ENOPROTOOPT), # IPV6_ADD_MEMBERSHIP
    (IP6, 21): Opt(0, _mc6_tcp(C.EPROTO), ENOPROTOOPT), # IPV6_DROP_MEMBERSHIP
    (IP6, 22): Opt(0, _int_err(ENOPROTOOPT)),           # IPV6_ROUTER_ALERT: raw only
    (IP6, 23): Opt(1, _range(0, 5)),                    # IPV6_MTU_DISCOVER
    (IP6, 24): Opt(0, _ipv6_mtu_set, _ipv6_mtu),        # IPV6_MTU
    (IP6, 25): B,                                       # IPV6_RECVERR
    (IP6, 27): Opt(0, _anycast_join, ENOPROTOOPT),        # IPV6_JOIN_ANYCAST
    (IP6, 28): Opt(0, _mc6_tcp(C.ENOENT), ENOPROTOOPT), # IPV6_LEAVE_ANYCAST
    (IP6, 29): Opt(1, _bool),                           # IPV6_MULTICAST_ALL
    (IP6, 30): B,                                       # IPV6_ROUTER_ALERT_ISOLATE
    (IP6, 31): Opt(0, _range(0, 1)),                    # IPV6_RECVERR_RFC4884
    (IP6, 32): Opt(0, _mc_len(32), _msfilter_get),      # IPV6_FLOWLABEL_MGR
    (IP6, 33): B,                                       # IPV6_FLOWINFO_SEND
    (IP6, 34): Opt(0, _ipsec_policy, ENOPROTOOPT),      # IPV6_IPSEC_POLICY
    (IP6, 35): Opt(0, _xfrm(False), ENOPROTOOPT),       # IPV6_XFRM_POLICY
    (IP6, 42): Opt(0, _mc_len(136), ENOPROTOOPT),       # MCAST_JOIN_GROUP
    (IP6, 43): Opt(0, _mc_len(264), ENOPROTOOPT),       # MCAST_BLOCK_SOURCE
    (IP6, 44): Opt(0, _mc_len(264), ENOPROTOOPT),       # MCAST_UNBLOCK_SOURCE
    (IP6, 45): Opt(0, _mc_len(136), ENOPROTOOPT),       # MCAST_LEAVE_GROUP
    (IP6, 46): Opt(0, _mc_len(264), ENOPROTOOPT),       # MCAST_JOIN_SOURCE_GROUP
    (IP6, 47): Opt(0, _mc_len(264), ENOPROTOOPT),       # MCAST_LEAVE_SOURCE_GROUP
    (IP6, 48): Opt(0, _mc_len(144), _msfilter_get),     # MCAST_MSFILTER
    (IP6, 49): B,                                       # IPV6_RECVPKTINFO
    (IP6, 50): Opt(bytes(20), _pktinfo6, ENOPROTOOPT),  # IPV6_PKTINFO (sticky)
    (IP6, 51): B, (IP6, 53): B,                         # IPV6_RECVHOPLIMIT, RECVHOPOPTS
    (IP6, 54): Opt(b"", _ext_header),                   # IPV6_HOPOPTS
    (IP6, 55): Opt(b"", _ext_header),                   # IPV6_RTHDRDSTOPTS
    (IP6, 56): B,                                       # IPV6_RECVRTHDR
    (IP6, 57): Opt(b"", _rthdr)      ,                  # IPV6_RTHDR
    (IP6, 58): B,                                       # IPV6_RECVDSTOPTS
    (IP6, 59): Opt(b"", _ext_header),                   # IPV6_DSTOPTS
    (IP6, 60): B,                                       # IPV6_RECVPATHMTU
    (IP6, 61): Opt(0, ENOPROTOOPT, _pathmtu),           # IPV6_PATHMTU
    (IP6, 62): Opt(0, _bool6),                          # IPV6_DONTFRAG
    (IP6, 64): Opt(0, _nf_set(96), _nf_get(84)),        # IP6T_SO_SET_REPLACE/GET_INFO
    (IP6, 65): Opt(0, _nf_set(40), _nf_get(40)),        # ..._ADD_COUNTERS/GET_ENTRIES
    (IP6, 66): B,                                       # IPV6_RECVTCLASS
    (IP6, 67): Opt(0, _tos_class),                      # IPV6_TCLASS
    (IP6, 68): Opt(0, None, _nf_get(32)),               # IP6T_SO_GET_REVISION_MATCH
    (IP6, 69): Opt(0, None, _nf_get(32)),               # IP6T_SO_GET_REVISION_TARGET
    (IP6, 70): Opt(1, _bool6),                          # IPV6_AUTOFLOWLABEL
    (IP6, 72): Opt(0, _addr_prefs, _addr_prefs_get),    # IPV6_ADDR_PREFERENCES
    (IP6, 73): Opt(0, _range(0, 255)),                  # IPV6_MINHOPCOUNT
    (IP6, 74): B,                                       # IPV6_RECVORIGDSTADDR
    (IP6, 75): Opt(0, _root(_bool)),                    # IPV6_TRANSPARENT
    (IP6, 76): Opt(0, _unicast_if),                     # IPV6_UNICAST_IF
    (IP6, 77): Opt(0, _bool6),                                       # IPV6_RECVFRAGSIZE
    (IP6, 78): B,                                       # IPV6_FREEBIND
    (IP6, 80): Opt(0, None, _orig_dst6),                # IP6T_SO_ORIGINAL_DST
}

# what UDP and ping sockets answer differently (multicast, traffic class and the error
# queue act on the inner UdpSocket)
IPV6_DGRAM: dict[tuple[int, int], Opt] = {
    (IP6, 17): Opt(0, _mc6(17), inner_get("mc_index6")),  # IPV6_MULTICAST_IF
    (IP6, 18): Opt(1, _mc6(18), inner_get("mc_hops")),    # IPV6_MULTICAST_HOPS
    (IP6, 19): Opt(1, _mc6(19), inner_get("mc_loop6")),   # IPV6_MULTICAST_LOOP
    (IP6, 20): Opt(0, _mc6(20), ENOPROTOOPT),           # IPV6_ADD_MEMBERSHIP
    (IP6, 21): Opt(0, _mc6(21), ENOPROTOOPT),           # IPV6_DROP_MEMBERSHIP
    (IP6, 25): Opt(0, _recverr((IP6, 25))),             # IPV6_RECVERR
    (IP6, 67): Opt(0, _tclass, inner_get("tclass")),   # IPV6_TCLASS
}

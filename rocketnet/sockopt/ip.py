"""IPPROTO_IP options (net/ipv4/ip_sockglue.c: do_ip_setsockopt / do_ip_getsockopt)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Callable

from .. import constants as C
from ..errors import SocketError
from ..iface import route
from ..transport.udp import is_multicast
from .core import (
    _INT,
    B_IP,
    EINVAL,
    EMSGSIZE,
    ENODEV,
    ENOPROTOOPT,
    EOPNOTSUPP,
    IP,
    Getter,
    Opt,
    Setter,
    Value,
    _bool,
    _empty,
    _int,
    _minlen,
    _not_stream,
    _path_mtu,
    _range,
    _root,
    _stream_get,
    inner_get,
    int_result,
    to_int,
)

if TYPE_CHECKING:
    from ..socket import Socket


def _ip_options(sk: Socket, value: Value) -> bytes:
    """IP_OPTIONS: up to 40 bytes, padded with IPOPT_END to a multiple of 4."""
    raw = bytearray(_INT.pack(value) if isinstance(value, int) else value)
    if len(raw) > 40:
        raise SocketError(EINVAL)
    raw += bytes(-len(raw) % 4)
    i = 0
    while i < len(raw):                 # ip_options_compile, for the option framing
        if raw[i] == 0:                 # IPOPT_END: the rest is padding
            raw[i:] = bytes(len(raw) - i)
            break
        if raw[i] == 1:                 # IPOPT_NOOP
            i += 1
            continue
        n = raw[i + 1] if i + 1 < len(raw) else 0
        if n < 2 or n > len(raw) - i:
            raise SocketError(EINVAL)
        i += n
    return bytes(raw)


def _ip_options_get(sk: Socket, optlen: int) -> bytes:
    return sk.optstore.get((C.IPPROTO_IP, 4), b"")[: max(optlen, 0)]  # type: ignore[index]


def _ip_mtu(sk: Socket, optlen: int) -> bytes:
    return int_result(_path_mtu(sk), optlen, True)


def _xfrm(v4_opt: bool) -> Setter:
    """IP[V6]_XFRM_POLICY: xfrm_user's compile_policy takes the option of the socket's
    own family only; the netlink policy struct is longer than an int."""
    def check(sk: Socket, value: Value) -> Value:
        if not sk.privileged:
            raise SocketError(C.EPERM)
        if (sk.family == C.AF_INET) != v4_opt:
            raise SocketError(EOPNOTSUPP)
        raise SocketError(EINVAL)
    return check


def _ipsec_policy(sk: Socket, value: Value) -> Value:
    if not sk.privileged:
        raise SocketError(C.EPERM)
    n = len(value) if not isinstance(value, int) else 4
    raise SocketError(EMSGSIZE if n <= 0 or n > 4096 else EOPNOTSUPP)  # no PF_KEY policy


def _mc_all(sk: Socket, optlen: int) -> bytes:
    # inet_create turns IP_MULTICAST_ALL on, inet6_create does not
    v = sk.optstore.get((C.IPPROTO_IP, 49), int(sk.family == C.AF_INET))
    return int_result(v, optlen, True)  # type: ignore[arg-type]


def _unicast_if(sk: Socket, value: Value) -> int:
    if isinstance(value, bytes) and len(value) != 4:
        raise SocketError(EINVAL)
    v = to_int(value)
    ifindex = int.from_bytes(v.to_bytes(4, "little", signed=True), "big")  # ntohl
    if ifindex and all(i.index != ifindex for i in sk.routes.interfaces):
        raise SocketError(C.EADDRNOTAVAIL)
    return v


def _port_range(sk: Socket, value: Value) -> int:
    if isinstance(value, int) or len(value) != 4:
        raise SocketError(EINVAL)
    v = to_int(value) & 0xFFFFFFFF
    lo, hi = v & 0xFFFF, v >> 16
    if lo and hi and lo > hi:
        raise SocketError(EINVAL)
    return to_int(value)


def _local_port(sk: Socket, optlen: int) -> bytes:
    # IP_PROTOCOL answers inet_num, which for TCP and UDP is the bound local port
    name = sk.getsockname()
    return int_result(name[1], optlen, True)


def _tos_class(sk: Socket, value: Value) -> int:
    """IPV6_TCLASS: -1 means 0; TCP keeps the ECN bits to itself."""
    v = to_int(value)
    if not -1 <= v <= 255:
        raise SocketError(EINVAL)
    v = max(v, 0)
    return v & 0xFC if sk.type == C.SOCK_STREAM else v


def _mc_exact(n: int) -> Setter:
    """IP_{ADD,DROP}_SOURCE_MEMBERSHIP, IP_[UN]BLOCK_SOURCE: exactly an ip_mreq_source."""
    def check(sk: Socket, value: Value) -> Value:
        if isinstance(value, int) or len(value) != n:
            raise SocketError(EINVAL)
        raise SocketError(ENOPROTOOPT)
    return check


def _msfilter_set(sk: Socket, value: Value) -> Value:
    """IP_MSFILTER: an ip_msfilter of at least 16 bytes whose group must be multicast."""
    if isinstance(value, int) or len(value) < 16:
        raise SocketError(EINVAL)
    if value[0] & 0xF0 != 0xE0:
        raise SocketError(EINVAL)
    raise SocketError(ENOPROTOOPT)      # source filters are not implemented


def _mc6_tcp(err: int) -> Setter:
    """IPv6 group and anycast membership on a TCP socket (UDP's are in dgram.py):
    ipv6_mreq-sized, then refused as Linux refuses them on a connection socket."""
    def check(sk: Socket, value: Value) -> Value:
        if isinstance(value, int) or len(value) < 20:
            raise SocketError(EINVAL)
        raise SocketError(err)
    return check


def _anycast_join(sk: Socket, value: Value) -> Value:
    """IPV6_JOIN_ANYCAST (ipv6_sock_ac_join): not a multicast or local address, and a
    host joins only a prefix it is on; joining is not implemented beyond that."""
    if isinstance(value, int) or len(value) < 20:
        raise SocketError(EINVAL)
    addr = bytes(value[:16])
    ifaces = sk.routes.interfaces
    if addr[0] == 0xFF or any(i.is_local(addr) for i in ifaces):
        raise SocketError(EINVAL)
    if not any(i.on_link(addr) for i in ifaces):
        raise SocketError(C.EADDRNOTAVAIL)
    raise SocketError(ENOPROTOOPT)


def _int_err(err: int) -> Setter:
    def check(sk: Socket, value: Value) -> Value:
        to_int(value)
        raise SocketError(err)
    return check


def _bool6(sk: Socket, value: Value) -> int:
    # do_ipv6_setsockopt reads val as 0 when optlen < sizeof(int); these accept that
    if isinstance(value, bytes) and len(value) < 4:
        return 0
    return 1 if to_int(value) else 0


def _mc_len(n: int) -> Setter:
    """Multicast membership structs: Linux checks the length first; the stack serves
    these only through the options it implements, so a full-size value is refused."""
    return _minlen(n, ENOPROTOOPT)


def _msfilter_get(sk: Socket, optlen: int) -> bytes:
    """IP_MSFILTER / MCAST_MSFILTER / IPV6_FLOWLABEL_MGR get: the request (group, flow
    label) comes in the caller's buffer, which the shim does not forward: answered
    EINVAL as Linux answers a buffer too short or naming no multicast group."""
    raise SocketError(EINVAL)


def _nf_get(size: int) -> Getter:
    """netfilter (ip[6]tables) get options: root only, a fixed struct size; the stack
    has no tables to report."""
    def get(sk: Socket, optlen: int) -> bytes:
        if not sk.privileged:
            raise SocketError(C.EPERM)
        raise SocketError(EINVAL if optlen != size else C.ENOENT)
    return get


def _nf_set(size: int) -> Setter:
    def check(sk: Socket, value: Value) -> Value:
        if not sk.privileged:
            raise SocketError(C.EPERM)
        raise SocketError(EINVAL if isinstance(value, int) or len(value) < size else C.ENOENT)
    return check


# ---------------------------------------------------------------- acting on the socket
# Linux ip_tos2prio: the SO_PRIORITY that setting IP_TOS implies (index: TOS bits >> 1)
_TOS2PRIO = (0, 0, 0, 0, 2, 2, 2, 2, 6, 6, 6, 6, 4, 4, 4, 4)


def _ip_int(value: Value) -> int:
    """do_ip_setsockopt's int: four bytes, or one for a shorter value (EINVAL: none)."""
    if isinstance(value, int):
        return value
    if len(value) >= 4:
        return _INT.unpack_from(value, 0)[0]
    if len(value) >= 1:
        return value[0]
    raise SocketError(EINVAL)


def _tos(sk: Socket, value: Value) -> None:
    v = _ip_int(value)
    t = sk.inner
    if sk.type == C.SOCK_STREAM:
        t.tos = (v & 0xFC) | (t.tos & 0x03)     # TCP owns the ECN bits
    else:
        t.tos = v & 0xFF
    sk.priority = _TOS2PRIO[(v & 0x1E) >> 1]    # Linux rt_tos2priority


def hop_limit(name: str, lo: int, read: Callable[[Value], int]) -> Setter:
    """IP_TTL (1..255) / IPV6_UNICAST_HOPS (0..255) on the inner; -1 is the default, 64."""
    def set_(sk: Socket, value: Value) -> None:
        v = read(value)
        if v == -1:
            v = 64
        if not lo <= v <= 255:
            raise SocketError(EINVAL)
        setattr(sk.inner, name, v)
    return set_


def _port_range_set(sk: Socket, value: Value) -> Value | None:
    """IP_LOCAL_PORT_RANGE: TCP's port choice uses it; other sockets keep it stored."""
    if sk.type != C.SOCK_STREAM:
        return _port_range(sk, value)
    if isinstance(value, int):
        value = _INT.pack(value)
    if len(value) != 4:
        raise SocketError(EINVAL)
    v = int.from_bytes(value, sys.byteorder)
    if v & 0xFFFF and v >> 16 and v & 0xFFFF > v >> 16:
        raise SocketError(EINVAL)
    sk.inner.port_range = v
    return None


def _port_range_get(sk: Socket, optlen: int) -> bytes:
    if sk.type != C.SOCK_STREAM:
        return int_result(sk.optstore.get((IP, 51), 0), optlen, True)  # type: ignore[arg-type]
    r = sk.inner.port_range
    return int_result(r - (1 << 32) if r >> 31 else r, optlen, True)


def _mcast_group(sk: Socket, value: Value, join: bool) -> None:
    """MCAST_JOIN_GROUP / MCAST_LEAVE_GROUP of a TCP socket: a struct group_req (IPv4
    group) kept on the socket."""
    if isinstance(value, int) or len(value) < C.GROUP_REQ_SIZE:
        raise SocketError(EINVAL)
    ifindex = int.from_bytes(value[0:4], sys.byteorder)
    family = int.from_bytes(value[8:10], sys.byteorder)
    group = bytes(value[12:16])
    if family != C.AF_INET or group[0] & 0xF0 != 0xE0:
        raise SocketError(EINVAL)
    key = (group, ifindex)
    if join:
        if key in sk.mc_groups:
            raise SocketError(C.EADDRINUSE)
        sk.mc_groups.add(key)
    elif key in sk.mc_groups:
        sk.mc_groups.remove(key)
    else:
        raise SocketError(C.EADDRNOTAVAIL)


# ---------------------------------------------------------------- UDP and ping sockets
IP_MULTICAST_IF, IP_MULTICAST_TTL, IP_MULTICAST_LOOP, IP_MULTICAST_ALL = 32, 33, 34, 49


def _mc4_set(sk: Socket, value: Value, optname: int) -> None:
    """IPv4 multicast options with Linux's (do_ip_setsockopt) checks and errnos."""
    t = sk.inner
    udp = sk.layer
    raw = value.to_bytes(4, "little", signed=True) if isinstance(value, int) else value
    if optname in (IP_MULTICAST_TTL, IP_MULTICAST_LOOP, IP_MULTICAST_ALL):
        if len(raw) >= 4:
            v = int.from_bytes(raw[:4], "little", signed=True)
        elif len(raw) >= 1:
            v = raw[0]
        else:
            raise SocketError(EINVAL)
        if optname == IP_MULTICAST_TTL:
            if v == -1:
                v = 1
            if not 0 <= v <= 255:
                raise SocketError(EINVAL)
            t.mc_ttl = v
        elif optname == IP_MULTICAST_LOOP:
            t.mc_loop = v != 0
        else:
            if v not in (0, 1):
                raise SocketError(EINVAL)
            t.mc_all = v == 1
        return
    if optname == IP_MULTICAST_IF:
        if len(raw) < 4:
            raise SocketError(EINVAL)
        if len(raw) >= 12:
            addr, index = bytes(raw[4:8]), int.from_bytes(raw[8:12], sys.byteorder)
        elif len(raw) >= 8:
            addr, index = bytes(raw[4:8]), 0
        else:
            addr, index = bytes(raw[:4]), 0
        if not index:
            if not any(addr):
                t.mc_index, t.mc_addr = 0, addr
                return
            iface = udp.iface_by_addr(addr)
        else:
            iface = udp.iface_by_index(index)
        if iface is None:
            raise SocketError(C.EADDRNOTAVAIL)
        t.mc_index, t.mc_addr = index, addr
        return
    # memberships: struct ip_mreq / ip_mreqn, or struct group_req
    if optname in (C.MCAST_JOIN_GROUP, C.MCAST_LEAVE_GROUP):
        if len(raw) < C.GROUP_REQ_SIZE:
            raise SocketError(EINVAL)
        if int.from_bytes(raw[8:10], sys.byteorder) != C.AF_INET:
            raise SocketError(EINVAL)
        group, addr = bytes(raw[12:16]), b"\x00" * 4
        index = int.from_bytes(raw[0:4], sys.byteorder)
        join = optname == C.MCAST_JOIN_GROUP
    else:
        if len(raw) < 8:
            raise SocketError(EINVAL)
        group, addr = bytes(raw[0:4]), bytes(raw[4:8])
        index = int.from_bytes(raw[8:12], sys.byteorder) if len(raw) >= 12 else 0
        join = optname == C.IP_ADD_MEMBERSHIP
    if join and not is_multicast(group):
        raise SocketError(EINVAL)
    # ip_mc_find_dev: by index, else by address, else the route to the group
    if index:
        iface = udp.iface_by_index(index)
    elif any(addr):
        iface = udp.iface_by_addr(addr)
    else:
        iface = route(udp.ifaces, group)
    if join:
        if iface is None:
            raise SocketError(ENODEV)
        udp.mc_join(t, group, iface.index)
        return
    if iface is None and not index and not any(addr):
        raise SocketError(ENODEV)
    key = (group, iface.index if iface is not None else index)
    if key not in t.mc_groups:
        raise SocketError(C.EADDRNOTAVAIL)
    udp.mc_leave(t, key)


def _mc4(optname: int) -> Setter:
    return lambda sk, value: _mc4_set(sk, value, optname)


def _mc4_all(sk: Socket, value: Value) -> Value | None:
    """IP_MULTICAST_ALL of an AF_INET6 socket (off, as inet6_create leaves it): it
    would only filter v4-mapped groups, so it stays a stored value; the socket's
    mc_all serves its IPv6 groups (IPV6_MULTICAST_ALL, on)."""
    if sk.family == C.AF_INET6:
        if isinstance(value, bytes) and len(value) < 4:
            value = value[0] if value else 0
        return _range(0, 1)(sk, value)
    return _mc4_set(sk, value, IP_MULTICAST_ALL)


def _mc4_all_get(sk: Socket, optlen: int) -> bytes:
    if sk.family == C.AF_INET6:
        return _mc_all(sk, optlen)
    return int_result(int(sk.inner.mc_all), optlen, True)


def _mc4_if_get(sk: Socket, optlen: int) -> bytes:
    return sk.inner.mc_addr[:min(optlen, 4)]


def _recverr(key: tuple[int, int]) -> Setter:
    """IP_RECVERR / IPV6_RECVERR: the inner's error queue follows either; turning both
    off purges it, as Linux does."""
    def set_(sk: Socket, value: Value) -> None:
        sk.optstore[key] = _bool(sk, value)
        t = sk.inner
        t.recverr = bool(sk.optstore.get((IP, 11)) or (
            sk.family == C.AF_INET6 and sk.optstore.get((C.IPPROTO_IPV6, 25))))
        if not t.recverr:
            t.errq.clear()
    return set_


IP_OPTIONS: dict[tuple[int, int], Opt] = {
    (IP, 1): Opt(0, _tos, inner_get("tos", True)),       # IP_TOS
    (IP, 2): Opt(0, hop_limit("ttl", 1, _ip_int), inner_get("ttl", True)),  # IP_TTL
    (IP, 35): Opt(0, C.EPROTO, ENOPROTOOPT),            # IP_ADD_MEMBERSHIP: not on TCP
    (IP, 36): Opt(0, C.EPROTO, ENOPROTOOPT),            # IP_DROP_MEMBERSHIP
    (IP, 42): Opt(0, lambda sk, v: _mcast_group(sk, v, True), ENOPROTOOPT),  # MCAST_JOIN_GROUP
    (IP, 45): Opt(0, lambda sk, v: _mcast_group(sk, v, False), ENOPROTOOPT),  # MCAST_LEAVE_GROUP
    (IP, 3): Opt(0, ENOPROTOOPT, ip_len=True),          # IP_HDRINCL: raw only
    (IP, 4): Opt(b"", _ip_options, _ip_options_get),    # IP_OPTIONS
    (IP, 5): Opt(0, EINVAL, ip_len=True),               # IP_ROUTER_ALERT: raw only
    (IP, 6): B_IP, (IP, 7): B_IP, (IP, 8): B_IP,        # IP_RECVOPTS, RETOPTS, PKTINFO
    (IP, 9): Opt(0, ENOPROTOOPT, _stream_get(_empty)),  # IP_PKTOPTIONS: no cmsg wanted
    (IP, 10): Opt(1, _range(0, 5), ip_len=True),        # IP_MTU_DISCOVER: PMTUDISC_WANT
    (IP, 11): B_IP, (IP, 12): B_IP, (IP, 13): B_IP,     # IP_RECVERR, RECVTTL, RECVTOS
    (IP, 14): Opt(0, ENOPROTOOPT, _ip_mtu),             # IP_MTU
    (IP, 15): B_IP,                                     # IP_FREEBIND
    (IP, 16): Opt(0, _ipsec_policy, ENOPROTOOPT),       # IP_IPSEC_POLICY
    (IP, 17): Opt(0, _xfrm(True), ENOPROTOOPT),         # IP_XFRM_POLICY
    (IP, 18): B_IP,                                     # IP_PASSSEC
    (IP, 19): Opt(0, _root(_bool), ip_len=True),        # IP_TRANSPARENT
    (IP, 20): B_IP,                                     # IP_RECVORIGDSTADDR
    (IP, 21): Opt(0, _range(0, 255), ip_len=True),      # IP_MINTTL
    (IP, 22): Opt(0, ENOPROTOOPT, ip_len=True),         # IP_NODEFRAG: raw only
    (IP, 23): B_IP,                                     # IP_CHECKSUM
    (IP, 24): B_IP,                                     # IP_BIND_ADDRESS_NO_PORT
    (IP, 25): Opt(0, _not_stream(_bool, EINVAL), ip_len=True),  # IP_RECVFRAGSIZE
    (IP, 26): Opt(0, _range(0, 1), ip_len=True),        # IP_RECVERR_RFC4884
    (IP, 32): Opt(bytes(4), _not_stream(_int, EINVAL)), # IP_MULTICAST_IF: an in_addr
    (IP, 33): Opt(1, _not_stream(_int, EINVAL), ip_len=True),  # IP_MULTICAST_TTL
    (IP, 34): Opt(1, _bool, ip_len=True),               # IP_MULTICAST_LOOP
    (IP, 37): Opt(0, _mc_exact(12), ENOPROTOOPT),       # IP_UNBLOCK_SOURCE
    (IP, 38): Opt(0, _mc_exact(12), ENOPROTOOPT),       # IP_BLOCK_SOURCE
    (IP, 39): Opt(0, _mc_exact(12), ENOPROTOOPT),       # IP_ADD_SOURCE_MEMBERSHIP
    (IP, 40): Opt(0, _mc_exact(12), ENOPROTOOPT),       # IP_DROP_SOURCE_MEMBERSHIP
    (IP, 41): Opt(0, _msfilter_set, _msfilter_get),     # IP_MSFILTER
    (IP, 43): Opt(0, _mc_len(264), ENOPROTOOPT),        # MCAST_BLOCK_SOURCE
    (IP, 44): Opt(0, _mc_len(264), ENOPROTOOPT),        # MCAST_UNBLOCK_SOURCE
    (IP, 46): Opt(0, _mc_len(264), ENOPROTOOPT),        # MCAST_JOIN_SOURCE_GROUP
    (IP, 47): Opt(0, _mc_len(264), ENOPROTOOPT),        # MCAST_LEAVE_SOURCE_GROUP
    (IP, 48): Opt(0, _mc_len(144), _msfilter_get),      # MCAST_MSFILTER
    (IP, 49): Opt(0, _range(0, 1), _mc_all, True),      # IP_MULTICAST_ALL
    (IP, 50): Opt(0, _unicast_if, ip_len=True),         # IP_UNICAST_IF (network order)
    (IP, 51): Opt(0, _port_range_set, _port_range_get, True),  # IP_LOCAL_PORT_RANGE
    (IP, 52): Opt(0, ENOPROTOOPT, _local_port),         # IP_PROTOCOL: raw only to set
    (IP, 64): Opt(0, _nf_set(96), _nf_get(84)),         # IPT_SO_SET_REPLACE/GET_INFO
    (IP, 65): Opt(0, _nf_set(40), _nf_get(40)),         # ..._ADD_COUNTERS/GET_ENTRIES
    (IP, 66): Opt(0, None, _nf_get(32)),                # IPT_SO_GET_REVISION_MATCH
    (IP, 67): Opt(0, None, _nf_get(32)),                # IPT_SO_GET_REVISION_TARGET
}

# what UDP and ping sockets answer differently (multicast and the error queue act on
# the inner UdpSocket)
IP_DGRAM: dict[tuple[int, int], Opt] = {
    (IP, 11): Opt(0, _recverr((IP, 11)), ip_len=True),  # IP_RECVERR
    (IP, 32): Opt(bytes(4), _mc4(32), _mc4_if_get),     # IP_MULTICAST_IF
    (IP, 33): Opt(1, _mc4(33), inner_get("mc_ttl", True)),    # IP_MULTICAST_TTL
    (IP, 34): Opt(1, _mc4(34), inner_get("mc_loop", True)),   # IP_MULTICAST_LOOP
    (IP, 35): Opt(0, _mc4(35), ENOPROTOOPT),            # IP_ADD_MEMBERSHIP
    (IP, 36): Opt(0, _mc4(36), ENOPROTOOPT),            # IP_DROP_MEMBERSHIP
    (IP, 42): Opt(0, _mc4(42), ENOPROTOOPT),            # MCAST_JOIN_GROUP
    (IP, 45): Opt(0, _mc4(45), ENOPROTOOPT),            # MCAST_LEAVE_GROUP
    (IP, 49): Opt(0, _mc4_all, _mc4_all_get),           # IP_MULTICAST_ALL
}

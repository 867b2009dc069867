"""Socket options behind the protocol-specific ones: Linux's level dispatch and the
options Linux accepts and reports whose effect the stack does not implement.

``Socket.setsockopt``/``getsockopt`` (TCP) and ``UdpSock``'s handle the options that
drive the stack; whatever they do not know comes here.  ``get``/``set`` first follow
Linux's dispatch to find who answers a level (sk_getsockopt, tcp_getsockopt →
icsk_af_ops, udp[v6]_getsockopt → ip[v6]_getsockopt, ...), then look the option up
in ``_TABLE``: its validation, clamping and default as the Linux 6.x source has
them (net/core/sock.c, net/ipv4/ip_sockglue.c, net/ipv6/ipv6_sockglue.c,
net/ipv4/tcp.c, net/ipv4/udp.c).  Set values live in ``Socket.optstore``.
"""

from __future__ import annotations

import ipaddress
import itertools
import struct
from typing import TYPE_CHECKING, Callable, NamedTuple, Union

from . import constants as C
from .errors import SocketError
from .iface import route

if TYPE_CHECKING:
    from .socket import Socket

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
# A setter validates the option value and returns what to store (int or bytes).
Setter = Callable[["Socket", Value], Value]
# A getter computes the answer from the socket (bytes), ignoring the store.
Getter = Callable[["Socket", int], bytes]


class Opt(NamedTuple):
    default: int | bytes = 0          # value before any set (int: Linux int semantics)
    set: Setter | int | None = None   # int: setsockopt fails with that errno
    get: Getter | int | None = None   # int: getsockopt fails with that errno
    ip_len: bool = False              # IP level: a short optlen gets one byte (ip_getsockopt)


_cookies = itertools.count(1)


# ---------------------------------------------------------------- value helpers
def to_int(value: Value) -> int:
    """An int option value: Linux reads an int and wants optlen >= sizeof(int)."""
    if isinstance(value, int):
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
    iface = route(sk.stack.interfaces, _peer(sk))
    if iface is None:
        raise SocketError(C.ENOTCONN)
    return iface.mtu


def _stored(sk: Socket, level: int, optname: int) -> Value:
    key = _ALIAS.get((level, optname), (level, optname))
    v = sk.optstore.get(key)
    return _TABLE[key].default if v is None else v


# ---------------------------------------------------------------- SOL_SOCKET
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
        index = next((i.index for i in sk.stack.interfaces if i.name.encode() == name), -1)
        if index < 0:
            raise SocketError(ENODEV)
    _rebind_check(sk)
    return index


def _bindtodevice_get(sk: Socket, optlen: int) -> bytes:
    index = sk.optstore.get((C.SOL_SOCKET, 25), 0)
    for i in sk.stack.interfaces:
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
    c = sk.optstore.get((C.SOL_SOCKET, 57))
    if c is None:
        c = sk.optstore[(C.SOL_SOCKET, 57)] = next(_cookies)
    return _U64.pack(c)[: max(optlen, 0)]


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


def _bufforce(name: int) -> Setter:
    def check(sk: Socket, value: Value) -> Value:
        if not sk.privileged:
            raise SocketError(C.EPERM)
        sk.setsockopt(C.SOL_SOCKET, name, value)   # the buffer itself, as SO_SNDBUF/RCVBUF
        return to_int(value)
    return check


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


# ---------------------------------------------------------------- IP
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
    if ifindex and all(i.index != ifindex for i in sk.stack.interfaces):
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
    ifaces = sk.stack.interfaces
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


# ---------------------------------------------------------------- IPv6
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
    """IPV6_RTHDR: only a type 2 (Mobile IPv6) header, one address, is accepted."""
    raw = _ext_header(sk, value)
    if raw and (raw[2] != 2 or raw[1] != 2 or raw[3] != 1):
        raise SocketError(EINVAL)
    return raw


def _empty(sk: Socket, optlen: int) -> bytes:
    return b""


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


# ---------------------------------------------------------------- TCP
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


# ---------------------------------------------------------------- UDP
def _udp_encap(sk: Socket, value: Value) -> int:
    v = to_int(value)
    if v not in (0, 2, 3):              # none, ESPINUDP, L2TPINUDP
        raise SocketError(ENOPROTOOPT)
    return v


def _udplite_only(sk: Socket, value: Value) -> int:
    to_int(value)
    raise SocketError(ENOPROTOOPT)      # UDP-Lite checksum coverage: not UDP-Lite


S, IP, IP6, TCP, UDP = C.SOL_SOCKET, C.IPPROTO_IP, C.IPPROTO_IPV6, C.IPPROTO_TCP, C.IPPROTO_UDP
B = Opt(0, _bool)
B_IP = Opt(0, _bool, ip_len=True)

_TABLE: dict[tuple[int, int], Opt] = {
    # SOL_SOCKET (sk_setsockopt / sk_getsockopt)
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
    (S, 32): Opt(0, _bufforce(C.SO_SNDBUF), ENOPROTOOPT),   # SO_SNDBUFFORCE
    (S, 33): Opt(0, _bufforce(C.SO_RCVBUF), ENOPROTOOPT),   # SO_RCVBUFFORCE
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
    # IPPROTO_IP (do_ip_setsockopt / do_ip_getsockopt)
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
    (IP, 51): Opt(0, _port_range, ip_len=True),         # IP_LOCAL_PORT_RANGE
    (IP, 52): Opt(0, ENOPROTOOPT, _local_port),         # IP_PROTOCOL: raw only to set
    (IP, 64): Opt(0, _nf_set(96), _nf_get(84)),         # IPT_SO_SET_REPLACE/GET_INFO
    (IP, 65): Opt(0, _nf_set(40), _nf_get(40)),         # ..._ADD_COUNTERS/GET_ENTRIES
    (IP, 66): Opt(0, None, _nf_get(32)),                # IPT_SO_GET_REVISION_MATCH
    (IP, 67): Opt(0, None, _nf_get(32)),                # IPT_SO_GET_REVISION_TARGET
    # IPPROTO_IPV6 (do_ipv6_setsockopt / do_ipv6_getsockopt)
    (IP6, 1): Opt(0, None, _addrform_get),              # IPV6_ADDRFORM (set in socket.py)
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
    # IPPROTO_TCP (do_tcp_setsockopt / do_tcp_getsockopt)
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
    # IPPROTO_UDP (udp_lib_setsockopt / udp_lib_getsockopt)
    (UDP, 1): B,                                        # UDP_CORK
    (UDP, 10): Opt(0, _udplite_only),                   # UDPLITE_SEND_CSCOV
    (UDP, 11): Opt(0, _udplite_only),                   # UDPLITE_RECV_CSCOV
    (UDP, 100): Opt(0, _udp_encap),                     # UDP_ENCAP
    (UDP, 101): B,                                      # UDP_NO_CHECK6_TX
    (UDP, 102): B,                                      # UDP_NO_CHECK6_RX
    (UDP, 103): Opt(0, _range(0, 0xFFFF)),              # UDP_SEGMENT
    (UDP, 104): B,                                      # UDP_GRO
}

# IP int options that want exactly an int (IP_UNICAST_IF)
_IP_EXACT_INT = {50, 51}

# The _OLD and _NEW names of one setting (the same layout on 64-bit Linux).
_ALIAS = {(S, 65): (S, 37), (S, 66): (S, 20), (S, 67): (S, 21)}


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
    opt = _TABLE.get((level, optname))
    if opt is None:
        raise SocketError(ENOPROTOOPT)
    return opt


# Options read before the int-size check: SO_BINDTODEVICE; TCP_CONGESTION, TCP_ULP,
# TCP_FASTOPEN_KEY (do_tcp_setsockopt's "data/string values").
_NOT_INT = {(C.SOL_SOCKET, 25), (C.IPPROTO_TCP, 13), (C.IPPROTO_TCP, 31), (C.IPPROTO_TCP, 33)}


def check_int_first(sk: Socket, level: int, optname: int, value: Value) -> None:
    """sk_/do_tcp_/udp_lib_setsockopt read an int before they look at the option name:
    a short value is EINVAL there even for a name they do not know."""
    if (level in (C.SOL_SOCKET, C.IPPROTO_TCP, C.IPPROTO_UDP) and isinstance(value, bytes)
            and len(value) < 4 and (level, optname) not in _NOT_INT):
        _owner(sk, level, False)
        raise SocketError(EINVAL)


def check(sk: Socket, level: int, optname: int, value: Value) -> Value:
    """Validate a setsockopt value as Linux does and return what the option holds,
    without storing it (also used for options whose state lives elsewhere)."""
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
    sk.optstore[_ALIAS.get((level, optname), (level, optname))] = v


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

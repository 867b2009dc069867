"""What programs learn about the stack's interfaces: answers to the SIOCGIF* ioctls
(struct ifreq / ifconf) and to NETLINK_ROUTE link and address dumps (RTM_GETLINK,
RTM_GETADDR), built from the stack's InterfaceWrapper list.

Sans-I/O: functions from (interfaces, request bytes) to reply bytes; shim/netlink.py
moves them over the socket channels.  Layouts are Linux's (x86-64 / any LP64 ABI:
struct ifreq is 40 bytes, the name 16).
"""
from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Callable, Iterable, Sequence

from rocketnet.phy import MonitorDevice, VethDevice
from rocketnet.socket import SocketError

IFNAMSIZ = 16
IFREQ_SIZE = 40
SIOCGIFNAME = 0x8910
SIOCGIFCONF = 0x8912
SIOCGIFFLAGS = 0x8913
SIOCGIFADDR = 0x8915
SIOCGIFBRDADDR = 0x8919
SIOCGIFNETMASK = 0x891B
SIOCGIFMTU = 0x8921
SIOCGIFHWADDR = 0x8927
SIOCGIFINDEX = 0x8933
SIOCGIF = frozenset({SIOCGIFNAME, SIOCGIFCONF, SIOCGIFFLAGS, SIOCGIFADDR, SIOCGIFBRDADDR,
                     SIOCGIFNETMASK, SIOCGIFMTU, SIOCGIFHWADDR, SIOCGIFINDEX})
# SIOCSIF*: they must reach the stack's interfaces, never the machine's
SIOCSIFFLAGS, SIOCSIFADDR, SIOCSIFBRDADDR, SIOCSIFNETMASK = 0x8914, 0x8916, 0x891A, 0x891C
SIOCSIFMETRIC, SIOCSIFMTU, SIOCSIFHWADDR, SIOCSIFNAME = 0x891E, 0x8922, 0x8924, 0x8923
SIOCSIFHWBROADCAST, SIOCSIFTXQLEN, SIOCSIFMAP = 0x8937, 0x8943, 0x8971
SIOCSIF = frozenset({SIOCSIFFLAGS, SIOCSIFADDR, SIOCSIFBRDADDR, SIOCSIFNETMASK, SIOCSIFMETRIC,
                     SIOCSIFMTU, SIOCSIFHWADDR, SIOCSIFNAME, SIOCSIFHWBROADCAST, SIOCSIFTXQLEN,
                     SIOCSIFMAP})
MIN_MTU = 68                    # ETH_MIN_MTU
IFF_UP, IFF_BROADCAST, IFF_LOOPBACK, IFF_RUNNING = 0x1, 0x2, 0x8, 0x40
IFF_MULTICAST, IFF_LOWER_UP = 0x1000, 0x10000
# the flags SIOCSIFFLAGS / RTM_SETLINK may change besides IFF_UP (__dev_change_flags)
IFF_SETTABLE = 0x4 | 0x20 | 0x80 | 0x400 | 0x1000 | 0x4000 | 0x8000 | 0x20000
ARPHRD_ETHER, ARPHRD_LOOPBACK = 1, 772

# netlink (linux/netlink.h, linux/rtnetlink.h)
NLMSG_HDR = struct.Struct("=IHHII")
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_MULTI, NLM_F_ACK, NLM_F_DUMP = 0x2, 0x4, 0x300
RTM_GETLINK, RTM_NEWLINK, RTM_NEWADDR, RTM_GETADDR = 18, 16, 20, 22
IFINFOMSG = struct.Struct("=BxHiII")
IFADDRMSG = struct.Struct("=BBBBi")
RTA = struct.Struct("=HH")
IFLA_ADDRESS, IFLA_BROADCAST, IFLA_IFNAME, IFLA_MTU, IFLA_LINK = 1, 2, 3, 4, 5
IFLA_STATS, IFLA_TXQLEN, IFLA_OPERSTATE, IFLA_LINKINFO = 7, 13, 16, 18
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
IF_OPER_UNKNOWN, IF_OPER_DOWN, IF_OPER_LOWERLAYERDOWN, IF_OPER_UP = 0, 2, 3, 6
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_BROADCAST = 1, 2, 3, 4
IFA_F_PERMANENT = 0x80
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_HOST = 0, 253, 254


def veth_of(iface) -> VethDevice | None:  # type: ignore[no-untyped-def]
    """The interface's veth end (under any capture wrapper), or None."""
    dev = iface.raw_device
    while isinstance(dev, MonitorDevice):
        dev = dev.inner
    return dev if isinstance(dev, VethDevice) else None


def peer_of(ifaces: Iterable, iface):  # type: ignore[no-untyped-def]
    """The interface at the other end of a veth pair (None for other interfaces)."""
    veth = veth_of(iface)
    return None if veth is None else next((i for i in ifaces if veth_of(i) is veth.peer), None)


def flags_of(iface) -> int:  # type: ignore[no-untyped-def]
    """dev_get_flags: a veth is made down; running (and lower up) with its carrier,
    which is on while both ends are up."""
    if iface.loopback:
        return IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP
    veth = veth_of(iface)
    if veth is not None and not veth.carrier:
        return IFF_BROADCAST | IFF_MULTICAST | (IFF_UP if veth.up else 0)
    return IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST | IFF_LOWER_UP


def operstate_of(iface) -> int:  # type: ignore[no-untyped-def]
    """IFLA_OPERSTATE: DOWN when not up, LOWERLAYERDOWN for an up veth whose peer is
    down (default_operstate), else UP (UNKNOWN on loopback, as Linux's lo)."""
    if iface.loopback:
        return IF_OPER_UNKNOWN
    veth = veth_of(iface)
    if veth is None or veth.carrier:
        return IF_OPER_UP
    return IF_OPER_LOWERLAYERDOWN if veth.up else IF_OPER_DOWN


def set_flags(iface, flags: int) -> None:  # type: ignore[no-untyped-def]
    """dev_change_flags: IFF_UP brings a veth end up or down; the other settable flags
    are not modelled (EOPNOTSUPP if asked to change); interfaces from `rocketnet host
    start` stay up."""
    veth = veth_of(iface)
    if veth is None:
        if flags & IFF_UP:
            return
        raise SocketError(errno.EOPNOTSUPP)
    if (flags ^ flags_of(iface)) & IFF_SETTABLE:
        raise SocketError(errno.EOPNOTSUPP)
    veth.up = bool(flags & IFF_UP)


def _v4(iface) -> list[tuple[bytes, int]]:  # type: ignore[no-untyped-def]
    return [(a, p) for a, p in iface.addresses if len(a) == 4]


def netmask(prefix: int, size: int) -> bytes:
    bits = size * 8
    return (((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1)).to_bytes(size, "big")


def broadcast(iface, addr: bytes, prefix: int) -> bytes:  # type: ignore[no-untyped-def]
    """IPv4 broadcast of addr/prefix (none on loopback: 0.0.0.0)."""
    if iface.loopback or prefix >= 31:
        return bytes(4)
    mask = int.from_bytes(netmask(prefix, 4), "big")
    return (int.from_bytes(addr, "big") | (~mask & 0xFFFFFFFF)).to_bytes(4, "big")


def _sin(addr: bytes) -> bytes:
    return struct.pack("=H2x4s8x", socket.AF_INET, addr)


def _ifreq(name: str, data: bytes) -> bytes:
    return name.encode()[: IFNAMSIZ - 1].ljust(IFNAMSIZ, b"\0") + data.ljust(24, b"\0")[:24]


def _by_name(ifaces: Sequence, raw: bytes):  # type: ignore[no-untyped-def]
    name = raw[:IFNAMSIZ].split(b"\0", 1)[0]
    for i in ifaces:
        if i.name.encode() == name:
            return i
    raise SocketError(errno.ENODEV)


def ifconf(ifaces: Sequence) -> bytes:
    """SIOCGIFCONF: one ifreq per IPv4 address (name, sockaddr_in), Linux's order."""
    return b"".join(_ifreq(i.name, _sin(a)) for i in ifaces for a, _p in _v4(i))


def ioctl(ifaces: Sequence, request: int, ifr: bytes, privileged: bool = False) -> bytes:
    """The struct ifreq a SIOCGIF*/SIOCSIF* request returns; SocketError as Linux fails it."""
    if request == SIOCGIFCONF:
        return ifconf(ifaces)
    if request in SIOCSIF:
        return set_ioctl(ifaces, request, ifr, privileged)
    if request not in SIOCGIF:
        raise SocketError(errno.ENOTTY)
    if len(ifr) < IFREQ_SIZE:
        raise SocketError(errno.EFAULT)
    if request == SIOCGIFNAME:
        index = struct.unpack_from("=i", ifr, IFNAMSIZ)[0]
        for i in ifaces:
            if i.index == index:
                return _ifreq(i.name, ifr[IFNAMSIZ:])
        raise SocketError(errno.ENODEV)
    iface = _by_name(ifaces, ifr)
    name = iface.name
    if request == SIOCGIFINDEX:
        return _ifreq(name, struct.pack("=i", iface.index))
    if request == SIOCGIFFLAGS:
        return _ifreq(name, struct.pack("=H", flags_of(iface) & 0xFFFF))
    if request == SIOCGIFMTU:
        return _ifreq(name, struct.pack("=i", iface.mtu))
    if request == SIOCGIFHWADDR:
        kind = ARPHRD_LOOPBACK if iface.loopback else ARPHRD_ETHER
        return _ifreq(name, struct.pack("=H", kind) + iface.mac[:6].ljust(14, b"\0"))
    v4 = _v4(iface)
    if not v4:
        raise SocketError(errno.EADDRNOTAVAIL)
    addr, prefix = v4[0]
    if request == SIOCGIFADDR:
        return _ifreq(name, _sin(addr))
    if request == SIOCGIFNETMASK:
        return _ifreq(name, _sin(netmask(prefix, 4)))
    return _ifreq(name, _sin(broadcast(iface, addr, prefix)))      # SIOCGIFBRDADDR


def set_ioctl(ifaces: Sequence, request: int, ifr: bytes, privileged: bool) -> bytes:
    """SIOCSIF*, in dev_ioctl's order: CAP_NET_ADMIN (EPERM), then the device (ENODEV).
    The stack models an interface's MTU (68 up to its device's limit) and IFF_UP of a
    veth end (set_flags); addresses, names and the rest come from `rocketnet host start`
    or NETLINK_ROUTE (EOPNOTSUPP here)."""
    if not privileged:
        raise SocketError(errno.EPERM)
    if len(ifr) < IFREQ_SIZE:
        raise SocketError(errno.EFAULT)
    iface = _by_name(ifaces, ifr)
    if request == SIOCSIFMTU:
        mtu = struct.unpack_from("=i", ifr, IFNAMSIZ)[0]
        if not MIN_MTU <= mtu <= iface.max_mtu:
            raise SocketError(errno.EINVAL)
        iface.mtu = mtu
        return bytes(ifr[:IFREQ_SIZE])
    if request == SIOCSIFFLAGS:
        set_flags(iface, struct.unpack_from("=H", ifr, IFNAMSIZ)[0])
        return bytes(ifr[:IFREQ_SIZE])
    raise SocketError(errno.EOPNOTSUPP)


# ---- NETLINK_ROUTE ------------------------------------------------------------------

def _align(n: int) -> int:
    return (n + 3) & ~3


def rta(kind: int, data: bytes) -> bytes:
    n = RTA.size + len(data)
    return (RTA.pack(n, kind) + data).ljust(_align(n), b"\0")


def nlmsg(kind: int, flags: int, seq: int, pid: int, body: bytes) -> bytes:
    n = NLMSG_HDR.size + len(body)
    return (NLMSG_HDR.pack(n, kind, flags, seq, pid) + body).ljust(_align(n), b"\0")


def link_message(iface, seq: int, pid: int, flags: int,  # type: ignore[no-untyped-def]
                 ifaces: Iterable = ()) -> bytes:
    """RTM_NEWLINK for iface; a veth end names its peer (IFLA_LINK, found in ifaces) and
    its kind (IFLA_LINKINFO), in rtnl_fill_ifinfo's order."""
    kind = ARPHRD_LOOPBACK if iface.loopback else ARPHRD_ETHER
    rx = getattr(iface.dev, "rx_frames", 0)
    tx = getattr(iface.dev, "tx_frames", 0)
    stats = struct.pack("=24I", rx, tx, *([0] * 22))        # struct rtnl_link_stats
    attrs = [
        rta(IFLA_IFNAME, iface.name.encode() + b"\0"),
        rta(IFLA_TXQLEN, struct.pack("=I", 0 if iface.loopback else 1000)),
        rta(IFLA_OPERSTATE, bytes([operstate_of(iface)])),
        rta(IFLA_MTU, struct.pack("=I", iface.mtu)),
    ]
    peer = peer_of(ifaces, iface)
    if peer is not None:
        attrs.append(rta(IFLA_LINK, struct.pack("=I", peer.index)))
    attrs += [rta(IFLA_ADDRESS, iface.mac[:6]),
              rta(IFLA_BROADCAST, bytes(6) if iface.loopback else b"\xff" * 6),
              rta(IFLA_STATS, stats)]
    if veth_of(iface) is not None:
        attrs.append(rta(IFLA_LINKINFO, rta(IFLA_INFO_KIND, b"veth\0")))
    body = IFINFOMSG.pack(socket.AF_UNSPEC, kind, iface.index, flags_of(iface), 0)
    return nlmsg(RTM_NEWLINK, flags, seq, pid, body + b"".join(attrs))


def scope_of(iface, addr: bytes) -> int:  # type: ignore[no-untyped-def]
    if iface.loopback:
        return RT_SCOPE_HOST
    if addr[:2] == b"\xfe\x80":
        return RT_SCOPE_LINK
    return RT_SCOPE_UNIVERSE


def addr_messages(ifaces: Iterable, family: int, seq: int, pid: int) -> list[bytes]:
    """RTM_NEWADDR for every address (IPv4 first, then IPv6, as Linux dumps them)."""
    out = []
    for want in (socket.AF_INET, socket.AF_INET6):
        if family not in (socket.AF_UNSPEC, want):
            continue
        for i in ifaces:
            for a, p in i.addresses:
                fam = socket.AF_INET if len(a) == 4 else socket.AF_INET6
                if fam != want:
                    continue
                head = IFADDRMSG.pack(fam, p, IFA_F_PERMANENT, scope_of(i, a), i.index)
                attrs = [rta(IFA_ADDRESS, a)]
                if fam == socket.AF_INET:
                    attrs.append(rta(IFA_LOCAL, a))
                    if not i.loopback:
                        attrs.append(rta(IFA_BROADCAST, broadcast(i, a, p)))
                    attrs.append(rta(IFA_LABEL, i.name.encode() + b"\0"))
                out.append(nlmsg(RTM_NEWADDR, NLM_F_MULTI, seq, pid, head + b"".join(attrs)))
    return out


def error_message(err: int, request: bytes, seq: int, pid: int) -> bytes:
    """NLMSG_ERROR (err 0: an ACK) quoting the request's header (and payload on error)."""
    quoted = request[: NLMSG_HDR.size] if err == 0 else request
    return nlmsg(NLMSG_ERROR, 0, seq, pid, struct.pack("=i", -err) + quoted)


def _link_attr_name(payload: bytes) -> bytes | None:
    off = NLMSG_HDR.size + IFINFOMSG.size
    while off + RTA.size <= len(payload):
        n, kind = RTA.unpack_from(payload, off)
        if n < RTA.size:
            break
        if kind == IFLA_IFNAME:
            return payload[off + RTA.size: off + n].split(b"\0", 1)[0]
        off += _align(n)
    return None


def route_request(ifaces: Sequence, msg: bytes, pid: int) -> list[bytes]:
    """Replies to one NETLINK_ROUTE request message (msg: nlmsghdr + payload)."""
    _length, kind, flags, seq, _rpid = NLMSG_HDR.unpack_from(msg)
    out: list[bytes] = []
    if kind in (RTM_GETLINK, RTM_GETADDR) and flags & NLM_F_DUMP == NLM_F_DUMP:
        if kind == RTM_GETLINK:
            out = [link_message(i, seq, pid, NLM_F_MULTI, ifaces) for i in ifaces]
        else:
            family = msg[NLMSG_HDR.size] if len(msg) > NLMSG_HDR.size else 0
            out = addr_messages(ifaces, family, seq, pid)
        out.append(nlmsg(NLMSG_DONE, NLM_F_MULTI, seq, pid, struct.pack("=i", 0)))
        return out
    if kind == RTM_GETLINK and len(msg) >= NLMSG_HDR.size + IFINFOMSG.size:
        index = IFINFOMSG.unpack_from(msg, NLMSG_HDR.size)[2]
        name = _link_attr_name(msg)
        for i in ifaces:
            if (index and i.index == index) or (not index and name == i.name.encode()):
                out = [link_message(i, seq, pid, 0, ifaces)]
                if flags & NLM_F_ACK:
                    out.append(error_message(0, msg, seq, pid))
                return out
        return [error_message(errno.ENODEV, msg, seq, pid)]
    return [error_message(errno.EOPNOTSUPP, msg, seq, pid)]


def route_requests(ifaces: Sequence, data: bytes, pid: int,
                   handler: Callable[[Sequence, bytes, int], list[bytes]] = route_request
                   ) -> list[bytes]:
    """Every request message in one datagram -> the reply datagrams (one per dump; none
    for a change without NLM_F_ACK).  handler answers one message."""
    replies = []
    off = 0
    while off + NLMSG_HDR.size <= len(data):
        length = NLMSG_HDR.unpack_from(data, off)[0]
        if length < NLMSG_HDR.size or off + length > len(data):
            break
        reply = b"".join(handler(ifaces, data[off: off + length], pid))
        if reply:
            replies.append(reply)
        off += _align(length)
    return replies

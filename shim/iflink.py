"""NETLINK_ROUTE link changes on the stack's interfaces: RTM_NEWLINK of a veth pair
(IFLA_LINKINFO kind "veth", the peer in IFLA_INFO_DATA/VETH_INFO_PEER: LTP's
tst_create_veth_pair, `ip link add type veth`), RTM_NEWLINK/RTM_SETLINK of the flags
(IFF_UP) and the MTU of a link, RTM_DELLINK of a veth end (both ends go).  Sans-I/O
like shim/ifinfo.py: functions from (stack, request) to replies; the caller gives the
new ends' MAC addresses.

As Linux (rtnetlink.c, veth.c): EPERM without CAP_NET_ADMIN (the socket's creator's:
the stub cannot tell the host who wrote a datagram); the peer is registered first (the
lower index; "veth%d" names take the lowest free number); EEXIST for a name in use,
ENODEV for a missing link without NLM_F_CREATE, EOPNOTSUPP for a link kind the stack
does not model (every kind but veth) and for removing a link that is not a veth.
Everything else goes on to shim/rtroute.py.
"""
from __future__ import annotations

import errno
import struct
from collections.abc import Callable

from rocketnet.iface import InterfaceWrapper
from rocketnet.phy import veth_pair
from rocketnet.socket import SocketError
from rocketnet.stack import NetStack
from shim import ifinfo, rtroute

RTM_DELLINK, RTM_SETLINK = 17, 19
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400
VETH_INFO_PEER = 1
H = ifinfo.NLMSG_HDR.size
U32 = struct.Struct("=I")
MacSource = Callable[[], bytes]


def _name(attrs: dict[int, bytes]) -> str | None:
    raw = attrs.get(ifinfo.IFLA_IFNAME)
    return None if raw is None else raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def valid_name(name: str) -> bool:
    """dev_valid_name: 1 to 15 bytes, not "." or "..", no '/', ':' or white space."""
    return (0 < len(name.encode()) < ifinfo.IFNAMSIZ and name not in (".", "..")
            and not any(c in "/:" or c.isspace() for c in name))


def _find(ifaces: list[InterfaceWrapper], index: int, name: str | None
          ) -> InterfaceWrapper | None:
    if index:
        return next((i for i in ifaces if i.index == index), None)
    if name is not None:
        return next((i for i in ifaces if i.name == name), None)
    return None


def _resolve(ifaces: list[InterfaceWrapper], name: str, taken: set[str]) -> str:
    """A name, or a "%d" template made into the lowest free one (dev_alloc_name)."""
    if "%" not in name:
        return name
    used = {i.name for i in ifaces} | taken
    n = 0
    while name.replace("%d", str(n), 1) in used:
        n += 1
    return name.replace("%d", str(n), 1)


def create_veth(stack: NetStack, name: str | None, peer_name: str | None,
                new_mac: MacSource, flags: tuple[int, int] = (0, 0),
                peer_flags: tuple[int, int] = (0, 0)) -> None:
    """The pair, then each end's ifinfomsg flags and change mask applied as
    rtnl_configure_link does (`ip link add ... up`); a failure there removes it.  The
    peer cannot be brought up here: Linux opens it before the ends are joined
    (veth_open: ENOTCONN)."""
    ifaces = stack.interfaces
    peer = _resolve(ifaces, peer_name or "veth%d", set())
    dev = _resolve(ifaces, name or "veth%d", {peer})
    for n in (peer, dev):
        if not valid_name(n) or "%" in n:
            raise SocketError(errno.EINVAL)
    if peer in {i.name for i in ifaces} or dev in {i.name for i in ifaces} or dev == peer:
        raise SocketError(errno.EEXIST)
    up, change = peer_flags
    if (up & change if change else up) & ifinfo.IFF_UP:
        raise SocketError(errno.ENOTCONN)
    a, b = veth_pair(new_mac(), new_mac())
    peer_iface = stack.add_interface(InterfaceWrapper(peer, b))  # registered first
    dev_iface = stack.add_interface(InterfaceWrapper(dev, a))
    try:
        for iface, (ifi_flags, change) in ((peer_iface, peer_flags), (dev_iface, flags)):
            set_link(iface, ifi_flags, change, {})
    except SocketError:
        delete_link(stack, dev_iface)
        raise


def delete_link(stack: NetStack, iface: InterfaceWrapper) -> None:
    veth = ifinfo.veth_of(iface)
    if veth is None:
        raise SocketError(errno.EOPNOTSUPP)       # no rtnl_link_ops->dellink
    peer = ifinfo.peer_of(stack.interfaces, iface)
    for end in (iface, peer):
        if end is not None:
            ends = ifinfo.veth_of(end)
            if ends is not None:
                ends.up = False
                ends.release()
            stack.remove_interface(end)


def set_link(iface: InterfaceWrapper, ifi_flags: int, change: int,
             attrs: dict[int, bytes]) -> None:
    """do_setlink: the MTU, then the flags (rtnl_dev_combine_flags: ifi_change 0 means
    every flag)."""
    mtu = attrs.get(ifinfo.IFLA_MTU)
    if mtu is not None:
        value = U32.unpack(mtu[:4])[0] if len(mtu) >= 4 else -1
        if not ifinfo.MIN_MTU <= value <= iface.max_mtu:
            raise SocketError(errno.EINVAL)
        iface.mtu = value
    if ifi_flags or change:
        if change:
            ifi_flags = (ifi_flags & change) | (ifinfo.flags_of(iface) & ~change)
        ifinfo.set_flags(iface, ifi_flags)


def change_link(stack: NetStack, kind: int, flags: int, msg: bytes,
                new_mac: MacSource) -> None:
    """RTM_NEWLINK / RTM_SETLINK / RTM_DELLINK; SocketError as Linux fails it."""
    if len(msg) < H + ifinfo.IFINFOMSG.size:
        raise SocketError(errno.EINVAL)
    _fam, _type, index, ifi_flags, change = ifinfo.IFINFOMSG.unpack_from(msg, H)
    attrs = rtroute.parse_attrs(msg, H + ifinfo.IFINFOMSG.size)
    name = _name(attrs)
    iface = _find(stack.interfaces, index, name)
    if kind == RTM_DELLINK:
        if iface is None:
            raise SocketError(errno.ENODEV if index or name is not None else errno.EINVAL)
        delete_link(stack, iface)
        return
    if kind == RTM_SETLINK:
        if iface is None:
            raise SocketError(errno.ENODEV)
        set_link(iface, ifi_flags, change, attrs)
        return
    info = rtroute.parse_attrs(attrs.get(ifinfo.IFLA_LINKINFO, b""), 0)
    link_kind = info.get(ifinfo.IFLA_INFO_KIND)
    if link_kind is not None and link_kind.rstrip(b"\0") != b"veth":
        raise SocketError(errno.EOPNOTSUPP)       # a kind the stack does not model
    if iface is not None:
        if flags & NLM_F_EXCL:
            raise SocketError(errno.EEXIST)
        if flags & NLM_F_REPLACE or ifinfo.IFLA_INFO_DATA in info:
            raise SocketError(errno.EOPNOTSUPP)   # veth has no changelink
        set_link(iface, ifi_flags, change, attrs)
        return
    if not flags & NLM_F_CREATE or index:
        raise SocketError(errno.ENODEV)
    if link_kind is None:
        raise SocketError(errno.EOPNOTSUPP)
    peer_name = None
    peer_flags = (0, 0)
    data = rtroute.parse_attrs(info.get(ifinfo.IFLA_INFO_DATA, b""), 0)
    peer = data.get(VETH_INFO_PEER)
    if peer is not None:
        if len(peer) < ifinfo.IFINFOMSG.size:
            raise SocketError(errno.EINVAL)
        peer_flags = ifinfo.IFINFOMSG.unpack_from(peer)[3:5]
        peer_name = _name(rtroute.parse_attrs(peer, ifinfo.IFINFOMSG.size))
    create_veth(stack, name, peer_name, new_mac, (ifi_flags, change), peer_flags)


def request(ifaces: list[InterfaceWrapper], msg: bytes, pid: int, stack: NetStack,
            privileged: bool, new_mac: MacSource) -> list[bytes]:
    """Replies to one NETLINK_ROUTE request: link changes here, the rest rtroute's."""
    _length, kind, flags, seq, _rpid = ifinfo.NLMSG_HDR.unpack_from(msg)
    if kind not in (ifinfo.RTM_NEWLINK, RTM_SETLINK, RTM_DELLINK):
        return rtroute.request(ifaces, msg, pid, privileged)
    err = 0
    if not privileged:
        err = errno.EPERM
    else:
        try:
            change_link(stack, kind, flags, msg, new_mac)
        except SocketError as e:
            err = e.errno
    if err or flags & ifinfo.NLM_F_ACK:
        return [ifinfo.error_message(err, msg, seq, pid)]
    return []

"""NETLINK_ROUTE routes and address changes on the stack's interfaces (ip route, ip addr
add/del, ip route add/del default), sans-I/O like shim/ifinfo.py, whose link and
address dumps this extends.

- RTM_GETROUTE dump: the main table as Linux fills it for the stack's configuration:
  connected prefixes (proto kernel; IPv4 scope link with the preferred source, IPv6
  metric 256) and default routes (via the gateway); IPv4 loopback routes are in the
  local table (type local), as Linux keeps 127.0.0.0/8.
- RTM_NEWADDR / RTM_DELADDR, RTM_NEWROUTE / RTM_DELROUTE: EPERM without CAP_NET_ADMIN
  (the socket's creator's, kernel-given; Linux checks the sender too, the stub cannot
  tell the host who wrote a datagram), else the host's configuration changes.  The stack routes
  by connected prefixes and one default gateway per family, so only default routes can
  be added or removed; any other route is EOPNOTSUPP, never accepted and ignored.
"""
from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Sequence

from shim import ifinfo

RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
RTM_DELADDR = 21
RTMSG = struct.Struct("=BBBBBBBBI")
RT_TABLE_MAIN, RT_TABLE_LOCAL = 254, 255
RTPROT_KERNEL, RTPROT_BOOT = 2, 3
RTN_UNICAST, RTN_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_TABLE, RTA_PREF = (
    1, 4, 5, 6, 7, 15, 20)
NLM_F_EXCL = 0x200
IPV6_KERNEL_METRIC, IPV6_USER_METRIC = 256, 1024
U32 = struct.Struct("=I")


def _family(addr: bytes) -> int:
    return socket.AF_INET if len(addr) == 4 else socket.AF_INET6


def route_rows(ifaces: Sequence) -> list[tuple]:
    """(family, table, type, network, prefix, gateway, iface) in Linux's dump order:
    IPv4 main by network, the local table, then IPv6 with the default routes last."""
    rows = []
    for i in ifaces:
        for net, p, gw in i.routes():
            fam = _family(net)
            local = i.loopback and fam == socket.AF_INET
            rows.append((fam, RT_TABLE_LOCAL if local else RT_TABLE_MAIN,
                         RTN_LOCAL if local else RTN_UNICAST, net, p, gw, i))
    return sorted(rows, key=lambda r: (r[0], r[1], r[0] == socket.AF_INET6 and r[4] == 0,
                                       r[3], r[4]))


def route_message(row: tuple, seq: int, pid: int) -> bytes:
    fam, table, kind, net, p, gw, i = row
    v4 = fam == socket.AF_INET
    if kind == RTN_LOCAL:
        scope, proto = ifinfo.RT_SCOPE_HOST, RTPROT_KERNEL
    elif gw is None:
        scope, proto = (ifinfo.RT_SCOPE_LINK if v4 else ifinfo.RT_SCOPE_UNIVERSE), RTPROT_KERNEL
    else:
        scope, proto = ifinfo.RT_SCOPE_UNIVERSE, RTPROT_BOOT
    attrs = [ifinfo.rta(RTA_TABLE, U32.pack(table))]
    if p:
        attrs.append(ifinfo.rta(RTA_DST, net))
    if not v4:
        metric = IPV6_USER_METRIC if gw is not None else IPV6_KERNEL_METRIC
        attrs.append(ifinfo.rta(RTA_PRIORITY, U32.pack(metric)))
    if v4 and gw is None:
        src = next((a for a, q in i.addresses if len(a) == 4 and q == p), None)
        if src is not None:
            attrs.append(ifinfo.rta(RTA_PREFSRC, src))
    if gw is not None:
        attrs.append(ifinfo.rta(RTA_GATEWAY, gw))
    attrs.append(ifinfo.rta(RTA_OIF, U32.pack(i.index)))
    if not v4:
        attrs.append(ifinfo.rta(RTA_PREF, b"\0"))
    head = RTMSG.pack(fam, p, 0, 0, min(table, 255), proto, scope, kind, 0)
    return ifinfo.nlmsg(RTM_NEWROUTE, ifinfo.NLM_F_MULTI, seq, pid,
                        head + b"".join(attrs))


def parse_attrs(msg: bytes, off: int) -> dict[int, bytes]:
    out = {}
    while off + ifinfo.RTA.size <= len(msg):
        n, kind = ifinfo.RTA.unpack_from(msg, off)
        if n < ifinfo.RTA.size or off + n > len(msg):
            break
        out[kind] = msg[off + ifinfo.RTA.size: off + n]
        off += (n + 3) & ~3
    return out


def _by_index(ifaces: Sequence, index: int):  # type: ignore[no-untyped-def]
    return next((i for i in ifaces if i.index == index), None)


def change_addr(ifaces: Sequence, kind: int, flags: int, msg: bytes) -> int:
    """RTM_NEWADDR / RTM_DELADDR; returns the errno (0: done)."""
    H = ifinfo.NLMSG_HDR.size
    if len(msg) < H + ifinfo.IFADDRMSG.size:
        return errno.EINVAL
    fam, plen, _fl, _scope, index = ifinfo.IFADDRMSG.unpack_from(msg, H)
    attrs = parse_attrs(msg, H + ifinfo.IFADDRMSG.size)
    addr = attrs.get(ifinfo.IFA_LOCAL) or attrs.get(ifinfo.IFA_ADDRESS)
    size = {socket.AF_INET: 4, socket.AF_INET6: 16}.get(fam)
    if size is None:
        return errno.EAFNOSUPPORT
    iface = _by_index(ifaces, index)
    if iface is None:
        return errno.ENODEV
    if addr is None or len(addr) != size or plen > size * 8:
        return errno.EINVAL
    have = (addr, plen) in iface.addresses or any(a == addr for a, _ in iface.addresses)
    if kind == ifinfo.RTM_NEWADDR:
        if have:
            return errno.EEXIST if flags & NLM_F_EXCL else 0
        iface.add_address(addr, plen)
        return 0
    if not have:
        return errno.EADDRNOTAVAIL
    iface.del_address(addr)
    return 0


def change_route(ifaces: Sequence, kind: int, flags: int, msg: bytes) -> int:
    """RTM_NEWROUTE / RTM_DELROUTE of a default route; returns the errno."""
    H = ifinfo.NLMSG_HDR.size
    if len(msg) < H + RTMSG.size:
        return errno.EINVAL
    fam, dst_len = msg[H], msg[H + 1]
    attrs = parse_attrs(msg, H + RTMSG.size)
    if fam not in (socket.AF_INET, socket.AF_INET6):
        return errno.EAFNOSUPPORT
    if dst_len != 0:
        return errno.EOPNOTSUPP        # only default routes are the stack's to change
    gw = attrs.get(RTA_GATEWAY)
    oif = attrs.get(RTA_OIF)
    v4 = fam == socket.AF_INET
    if oif is not None:
        cands = [_by_index(ifaces, U32.unpack(oif[:4])[0])]
        if cands[0] is None:
            return errno.ENODEV
    else:
        cands = [i for i in ifaces if not i.loopback and (gw is None or i.on_link(gw))]
    attr = "gateway4" if v4 else "gateway6"
    if kind == RTM_NEWROUTE:
        if gw is None or len(gw) != (4 if v4 else 16):
            return errno.EOPNOTSUPP    # a device route without a gateway is not modelled
        target = next((i for i in cands if i is not None and i.on_link(gw)), None)
        if target is None:
            return errno.ENETUNREACH   # "Nexthop has invalid gateway"
        if any(getattr(i, attr) is not None for i in ifaces):
            if flags & NLM_F_EXCL:
                return errno.EEXIST
        setattr(target, attr, gw)
        return 0
    for i in cands:
        if i is not None and getattr(i, attr) is not None and gw in (None, getattr(i, attr)):
            setattr(i, attr, None)
            return 0
    return errno.ESRCH


def request(ifaces: Sequence, msg: bytes, pid: int, privileged: bool) -> list[bytes]:
    """Replies to one NETLINK_ROUTE request: routes and changes here, the rest ifinfo's."""
    _length, kind, flags, seq, _rpid = ifinfo.NLMSG_HDR.unpack_from(msg)
    if kind == RTM_GETROUTE and flags & ifinfo.NLM_F_DUMP == ifinfo.NLM_F_DUMP:
        family = msg[ifinfo.NLMSG_HDR.size] if len(msg) > ifinfo.NLMSG_HDR.size else 0
        out = [route_message(r, seq, pid) for r in route_rows(ifaces)
               if family in (socket.AF_UNSPEC, r[0])]
        out.append(ifinfo.nlmsg(ifinfo.NLMSG_DONE, ifinfo.NLM_F_MULTI, seq, pid,
                                struct.pack("=i", 0)))
        return out
    if kind in (ifinfo.RTM_NEWADDR, RTM_DELADDR, RTM_NEWROUTE, RTM_DELROUTE):
        if not privileged:
            err = errno.EPERM
        elif kind in (ifinfo.RTM_NEWADDR, RTM_DELADDR):
            err = change_addr(ifaces, kind, flags, msg)
        else:
            err = change_route(ifaces, kind, flags, msg)
        if err or flags & ifinfo.NLM_F_ACK:
            return [ifinfo.error_message(err, msg, seq, pid)]
        return []
    return ifinfo.route_request(ifaces, msg, pid)

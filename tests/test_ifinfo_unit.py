"""shim/ifinfo.py without a host: SIOCGIF* answers and NETLINK_ROUTE messages."""
from __future__ import annotations

import errno
import functools
import socket
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rocketnet.socket import SocketError
from rocketnet.stack import NetStack
from shim import ifinfo, iflink, rtroute


@pytest.fixture
def ifaces() -> list:
    return NetStack(seed=1).interfaces


def test_ioctl_answers(ifaces) -> None:
    req = b"lo".ljust(40, b"\0")
    assert struct.unpack_from("=i", ifinfo.ioctl(ifaces, ifinfo.SIOCGIFINDEX, req), 16)[0] == 1
    assert struct.unpack_from("=i", ifinfo.ioctl(ifaces, ifinfo.SIOCGIFMTU, req), 16)[0] == \
        ifaces[0].mtu
    addr = ifinfo.ioctl(ifaces, ifinfo.SIOCGIFADDR, req)
    assert struct.unpack_from("=H", addr, 16)[0] == socket.AF_INET and addr[20:24] == \
        bytes([127, 0, 0, 1])
    byindex = ifinfo.ioctl(ifaces, ifinfo.SIOCGIFNAME, bytes(16) + struct.pack("=i", 1) +
                           bytes(20))
    assert byindex[:3] == b"lo\0"
    assert len(ifinfo.ifconf(ifaces)) == 40
    for request, ifr, err in ((ifinfo.SIOCGIFFLAGS, b"eth9".ljust(40, b"\0"), errno.ENODEV),
                              (ifinfo.SIOCGIFNAME, bytes(16) + struct.pack("=i", 7) + bytes(20),
                               errno.ENODEV),
                              (0x5421, req, errno.ENOTTY)):
        with pytest.raises(SocketError) as e:
            ifinfo.ioctl(ifaces, request, ifr)
        assert e.value.errno == err


def _msgs(data: bytes) -> list[tuple[int, int, bytes]]:
    out, off = [], 0
    while off + 16 <= len(data):
        n, kind, flags, _seq, _pid = ifinfo.NLMSG_HDR.unpack_from(data, off)
        assert n >= 16 and off + n <= len(data)
        out.append((kind, flags, data[off + 16: off + n]))
        off += (n + 3) & ~3
    assert off == len(data)
    return out


def test_dumps_are_well_formed(ifaces) -> None:
    link = ifinfo.nlmsg(ifinfo.RTM_GETLINK, 0x301, 5, 0, bytes(16))
    addr = ifinfo.nlmsg(ifinfo.RTM_GETADDR, 0x301, 6, 0, bytes([socket.AF_INET6]) + bytes(7))
    (r1,), (r2,) = (ifinfo.route_requests(ifaces, m, 77) for m in (link, addr))
    m1, m2 = _msgs(r1), _msgs(r2)
    assert [k for k, _f, _b in m1] == [ifinfo.RTM_NEWLINK, ifinfo.NLMSG_DONE]
    assert [k for k, _f, _b in m2] == [ifinfo.RTM_NEWADDR, ifinfo.NLMSG_DONE]   # ::1 only
    assert m2[0][2][0] == socket.AF_INET6 and m2[0][2][1] == 128


@given(st.binary(max_size=200))
def test_hostile_requests_never_raise(data: bytes) -> None:
    ifaces = NetStack(seed=1).interfaces
    for reply in ifinfo.route_requests(ifaces, data, 1):
        _msgs(reply)


# ---- veth pairs (shim/iflink.py) ----------------------------------------------------

def _link_req(kind: int, flags: int, name: str | None = None, peer: str | None = None,
              link_kind: bytes | None = b"veth", index: int = 0, ifi_flags: int = 0,
              change: int = 0) -> bytes:
    attrs = b""
    if name is not None:
        attrs += ifinfo.rta(ifinfo.IFLA_IFNAME, name.encode() + b"\0")
    if link_kind is not None:
        info = ifinfo.rta(ifinfo.IFLA_INFO_KIND, link_kind)
        if peer is not None:
            peer_msg = ifinfo.IFINFOMSG.pack(0, 0, 0, 0, 0) + ifinfo.rta(
                ifinfo.IFLA_IFNAME, peer.encode() + b"\0")
            info += ifinfo.rta(ifinfo.IFLA_INFO_DATA, ifinfo.rta(iflink.VETH_INFO_PEER,
                                                                  peer_msg))
        attrs += ifinfo.rta(ifinfo.IFLA_LINKINFO, info)
    body = ifinfo.IFINFOMSG.pack(0, 0, index, ifi_flags, change) + attrs
    return ifinfo.nlmsg(kind, 0x1 | ifinfo.NLM_F_ACK | flags, 3, 0, body)


def _ask(stack: NetStack, msg: bytes, privileged: bool = True) -> int:
    """The errno of the one NLMSG_ERROR reply (0: acked)."""
    (reply,) = iflink.request(stack.interfaces, msg, 9, stack, privileged,
                              lambda: b"\x02\0\0\0\0\x01")
    (kind, _f, body), = _msgs(reply)
    assert kind == ifinfo.NLMSG_ERROR
    return -struct.unpack_from("=i", body)[0]


CREATE = iflink.NLM_F_CREATE | iflink.NLM_F_EXCL


def _iface(stack: NetStack, name: str):  # type: ignore[no-untyped-def]
    return next(i for i in stack.interfaces if i.name == name)


def test_veth_pair_made_shown_and_removed_as_linux() -> None:
    stack = NetStack(seed=1)
    dellink = iflink.RTM_DELLINK
    assert _ask(stack, _link_req(ifinfo.RTM_NEWLINK, CREATE, "v0", "v1"), False) == errno.EPERM
    assert _ask(stack, _link_req(ifinfo.RTM_NEWLINK, CREATE, "v0", "v1")) == 0
    v0, v1 = _iface(stack, "v0"), _iface(stack, "v1")
    assert v1.index < v0.index                       # the peer is registered first
    for name, peer, err in (("v0", "v9", errno.EEXIST), ("v9", "v1", errno.EEXIST),
                            ("v9", "lo", errno.EEXIST), ("a/b", "v9", errno.EINVAL),
                            ("v9", "x" * 16, errno.EINVAL)):
        assert _ask(stack, _link_req(ifinfo.RTM_NEWLINK, CREATE, name, peer)) == err
    assert _ask(stack, _link_req(ifinfo.RTM_NEWLINK, 0, "v9", "v8")) == errno.ENODEV
    assert _ask(stack, _link_req(ifinfo.RTM_NEWLINK, CREATE, "v9", None, b"dummy")
                ) == errno.EOPNOTSUPP
    assert _ask(stack, _link_req(ifinfo.RTM_NEWLINK, CREATE, "v9", None, None)
                ) == errno.EOPNOTSUPP
    # "veth%d": the lowest free names, the peer's first
    assert _ask(stack, _link_req(ifinfo.RTM_NEWLINK, CREATE, None, None)) == 0
    assert [i.name for i in stack.interfaces] == ["lo", "v1", "v0", "veth0", "veth1"]

    # the dump: down, IFLA_LINK to the peer, kind veth
    (dump,) = ifinfo.route_requests(stack.interfaces, ifinfo.nlmsg(
        ifinfo.RTM_GETLINK, 0x301, 5, 0, bytes(16)), 7)
    links = {}
    for _kind, _f, body in _msgs(dump)[:-1]:
        _fam, _t, index, flags, _c = ifinfo.IFINFOMSG.unpack_from(body)
        links[index] = (flags, rtroute.parse_attrs(body, 16))
    flags, attrs = links[v0.index]
    assert flags == ifinfo.IFF_BROADCAST | ifinfo.IFF_MULTICAST
    assert attrs[ifinfo.IFLA_OPERSTATE] == bytes([ifinfo.IF_OPER_DOWN])
    assert struct.unpack("=I", attrs[ifinfo.IFLA_LINK])[0] == v1.index
    assert rtroute.parse_attrs(attrs[ifinfo.IFLA_LINKINFO], 0)[ifinfo.IFLA_INFO_KIND] == \
        b"veth\0"
    assert ifinfo.IFLA_LINK not in links[1][1]

    # admin state: carrier only with both ends up
    up = ifinfo.IFF_UP
    assert _ask(stack, _link_req(ifinfo.RTM_NEWLINK, 0, "v0", link_kind=None,
                                 ifi_flags=up, change=up)) == 0
    assert ifinfo.operstate_of(v0) == ifinfo.IF_OPER_LOWERLAYERDOWN
    assert _ask(stack, _link_req(iflink.RTM_SETLINK, 0, index=v1.index, link_kind=None,
                                 ifi_flags=up, change=up)) == 0
    assert ifinfo.flags_of(v0) == ifinfo.flags_of(v1) == 0x11043
    assert _ask(stack, _link_req(iflink.RTM_SETLINK, 0, index=99, link_kind=None,
                                 ifi_flags=up, change=up)) == errno.ENODEV

    # removal takes both ends; lo is not removable
    assert _ask(stack, _link_req(dellink, 0, "lo", link_kind=None)) == errno.EOPNOTSUPP
    assert _ask(stack, _link_req(dellink, 0, "v1", link_kind=None), False) == errno.EPERM
    assert _ask(stack, _link_req(dellink, 0, "v1", link_kind=None)) == 0
    assert _ask(stack, _link_req(dellink, 0, "v0", link_kind=None)) == errno.ENODEV
    assert [i.name for i in stack.interfaces] == ["lo", "veth0", "veth1"]


def test_veth_frames_cross_to_the_peer_only_with_carrier() -> None:
    """An IPv4 datagram to an on-link neighbour leaves one end as an ARP request and is
    received by the other end; with the peer down the end drops it and counts it."""
    stack = NetStack(seed=1)
    assert _ask(stack, _link_req(ifinfo.RTM_NEWLINK, CREATE, "v0", "v1")) == 0
    v0, v1 = _iface(stack, "v0"), _iface(stack, "v1")
    v0.add_address(bytes([10, 77, 0, 1]), 24)
    v1.add_address(bytes([10, 78, 0, 1]), 24)
    ends = ifinfo.veth_of(v0), ifinfo.veth_of(v1)
    assert ends[0] is not None and ends[1] is not None and ends[0].peer is ends[1]

    def send(dst: str) -> None:
        s = stack.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"x", (dst, 9))
        stack.poll(1.0)
        s.close()

    ends[0].up = True
    send("10.77.0.9")
    assert ends[0].stats["tx_dropped"] >= 1 and v1.dev.rx_frames == 0
    ends[1].up = True
    send("10.77.0.10")
    assert v1.dev.rx_frames >= 1 and v0.dev.tx_frames >= 1


@given(st.sampled_from([ifinfo.RTM_NEWLINK, iflink.RTM_SETLINK, iflink.RTM_DELLINK]),
       st.integers(0, 0xFFFF), st.binary(max_size=120))
def test_hostile_link_changes_never_raise(kind: int, flags: int, body: bytes) -> None:
    """Any link change (with CAP_NET_ADMIN) gets one NLMSG_ERROR or nothing, and the
    stack keeps its loopback interface."""
    stack = NetStack(seed=1)
    msg = ifinfo.nlmsg(kind, flags, 1, 0, body)
    handler = functools.partial(iflink.request, stack=stack, privileged=True,
                                new_mac=lambda: b"\x02\0\0\0\0\x01")
    for reply in ifinfo.route_requests(stack.interfaces, msg, 1, handler):
        assert [k for k, _f, _b in _msgs(reply)] == [ifinfo.NLMSG_ERROR]
    assert stack.interfaces[0].name == "lo"


@given(st.binary(max_size=20), st.binary(max_size=80), st.integers(0, 2 ** 32 - 1))
def test_hostile_veth_requests_never_raise(name: bytes, data: bytes, ifi_flags: int) -> None:
    """RTM_NEWLINK kind veth with any name and any IFLA_INFO_DATA: created, or one errno."""
    stack = NetStack(seed=1)
    info = ifinfo.rta(ifinfo.IFLA_INFO_KIND, b"veth") + ifinfo.rta(ifinfo.IFLA_INFO_DATA, data)
    body = (ifinfo.IFINFOMSG.pack(0, 0, 0, ifi_flags, 0) + ifinfo.rta(ifinfo.IFLA_IFNAME, name)
            + ifinfo.rta(ifinfo.IFLA_LINKINFO, info))
    err = _ask(stack, ifinfo.nlmsg(ifinfo.RTM_NEWLINK, 0x1 | ifinfo.NLM_F_ACK | CREATE, 1, 0,
                                   body))
    assert err in (0, errno.EINVAL, errno.EEXIST, errno.EOPNOTSUPP, errno.ENOTCONN)
    assert len(stack.interfaces) == (3 if err == 0 else 1)

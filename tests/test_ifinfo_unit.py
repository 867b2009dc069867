"""shim/ifinfo.py without a host: SIOCGIF* answers and NETLINK_ROUTE messages."""
from __future__ import annotations

import errno
import socket
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rocketnet.socket import SocketError
from rocketnet.stack import NetStack
from shim import ifinfo


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

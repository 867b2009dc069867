"""UDP multicast in the sans-I/O stack: memberships, IP_MULTICAST_IF/LOOP/TTL and
delivery between two stacks on an in-memory Ethernet hub (netsim)."""
from __future__ import annotations

import errno
import socket
import struct

import pytest

from rocketnet import constants as C
from rocketnet.lab import Hub, VirtualClock, host, run
from rocketnet.socket import SocketError

IP, IP6 = C.IPPROTO_IP, C.IPPROTO_IPV6
IP_MULTICAST_IF, IP_MULTICAST_TTL, IP_MULTICAST_LOOP = 32, 33, 34
IPV6_MULTICAST_IF, IPV6_MULTICAST_HOPS, IPV6_JOIN_GROUP, IPV6_LEAVE_GROUP = 17, 18, 20, 21
GROUP = socket.inet_aton("239.1.2.3")
GROUP6 = socket.inet_pton(socket.AF_INET6, "ff05::7")


def i32(v: int) -> bytes:
    return struct.pack("=i", v)


def mreqn(group: bytes, ifindex: int) -> bytes:
    return group + b"\x00" * 4 + struct.pack("=i", ifindex)


def err(f, *a) -> int:
    with pytest.raises(SocketError) as e:
        f(*a)
    return e.value.errno


def eth_index(st) -> int:
    return next(i.index for i in st.interfaces if i.name == "eth0")


def drain(sk) -> list[bytes]:
    out = []
    while True:
        dg = sk.recv_datagram()
        if dg is None:
            return out
        out.append(dg.data)


@pytest.fixture
def net():
    hub, clock = Hub(), VirtualClock()
    a, b = host(hub, 1), host(hub, 2)
    return a, b, clock


def test_group_on_eth0_reaches_member_of_other_host_and_loops_back(net):
    a, b, clock = net
    ia, ib = eth_index(a), eth_index(b)
    rb = b.socket(C.AF_INET, C.SOCK_DGRAM, 0)
    rb.bind(("0.0.0.0", 7000))
    ra = a.socket(C.AF_INET, C.SOCK_DGRAM, 0)
    ra.bind(("0.0.0.0", 7000))
    s = a.socket(C.AF_INET, C.SOCK_DGRAM, 0)
    assert err(s.setsockopt, IP, IP_MULTICAST_IF, mreqn(GROUP, 77)) == errno.EADDRNOTAVAIL
    s.setsockopt(IP, IP_MULTICAST_IF, mreqn(GROUP, ia))
    s.setsockopt(IP, IP_MULTICAST_TTL, i32(3))
    # no member anywhere: nothing is delivered
    assert s.sendto(b"none", ("239.1.2.3", 7000)) == 4
    run([a, b], clock)
    assert drain(rb) == [] and drain(ra) == []
    rb.setsockopt(IP, C.IP_ADD_MEMBERSHIP, mreqn(GROUP, ib))
    ra.setsockopt(IP, C.IP_ADD_MEMBERSHIP, mreqn(GROUP, ia))
    s.sendto(b"one", ("239.1.2.3", 7000))
    run([a, b], clock)
    assert drain(rb) == [b"one"]
    assert drain(ra) == [b"one"]          # IP_MULTICAST_LOOP 1: the local member too
    s.setsockopt(IP, IP_MULTICAST_LOOP, i32(0))
    s.sendto(b"two", ("239.1.2.3", 7000))
    run([a, b], clock)
    assert drain(rb) == [b"two"]
    assert drain(ra) == []
    # closing the last member ends the host's membership
    other = b.socket(C.AF_INET, C.SOCK_DGRAM, 0)
    other.setsockopt(C.SOL_SOCKET, C.SO_REUSEADDR, i32(1))
    rb.close()
    other.bind(("0.0.0.0", 7000))
    s.sendto(b"three", ("239.1.2.3", 7000))
    run([a, b], clock)
    assert drain(other) == []


def test_ipv6_group_on_eth0(net):
    a, b, clock = net
    ia, ib = eth_index(a), eth_index(b)
    rb = b.socket(C.AF_INET6, C.SOCK_DGRAM, 0)
    rb.bind(("::", 7001))
    rb.setsockopt(IP6, IPV6_JOIN_GROUP, GROUP6 + struct.pack("=I", ib))
    assert err(rb.setsockopt, IP6, IPV6_JOIN_GROUP,
               GROUP6 + struct.pack("=I", ib)) == errno.EADDRINUSE
    s = a.socket(C.AF_INET6, C.SOCK_DGRAM, 0)
    assert err(s.setsockopt, IP6, IPV6_MULTICAST_IF, i32(77)) == errno.ENODEV
    s.setsockopt(IP6, IPV6_MULTICAST_IF, i32(ia))
    s.setsockopt(IP6, IPV6_MULTICAST_HOPS, i32(-1))
    assert s.getsockopt(IP6, IPV6_MULTICAST_HOPS) == i32(1)
    assert s.sendto(b"six", ("ff05::7", 7001)) == 3
    run([a, b], clock)
    dg = rb.recv_datagram()
    assert dg is not None and dg.data == b"six" and dg.dst == GROUP6 and dg.ifindex == ib
    rb.setsockopt(IP6, IPV6_LEAVE_GROUP, GROUP6 + struct.pack("=I", 0))
    assert err(rb.setsockopt, IP6, IPV6_LEAVE_GROUP,
               GROUP6 + struct.pack("=I", 0)) == errno.EADDRNOTAVAIL


def test_default_interface_without_multicast_if(net):
    """Linux's choice without IP_MULTICAST_IF: the route for the group.  IPv4: none on a
    stack without a default route (ENETUNREACH); IPv6: ff00::/8, which every interface
    but lo has (eth0).  A link-scoped group's sin6_scope_id names the interface."""
    a, b, clock = net
    ib = eth_index(b)
    rb = b.socket(C.AF_INET6, C.SOCK_DGRAM, 0)
    rb.bind(("::", 7003))
    rb.setsockopt(IP6, IPV6_JOIN_GROUP, GROUP6 + struct.pack("=I", ib))
    s = a.socket(C.AF_INET6, C.SOCK_DGRAM, 0)
    assert s.sendto(b"default", ("ff05::7", 7003)) == 7
    assert s.sendto(b"scoped", ("ff02::1", 7003, 0, eth_index(a))) == 6
    assert err(s.sendto, b"x", ("ff02::1", 7003, 0, 99)) == errno.ENETUNREACH
    assert err(s.sendto, b"x", ("ff02::1", 7003, 0, 1)) == errno.ENETUNREACH   # lo
    run([a, b], clock)
    got = [(dg.data, dg.dst, dg.ifindex) for dg in iter(rb.recv_datagram, None)]
    assert got == [(b"default", GROUP6, ib),
                   (b"scoped", socket.inet_pton(socket.AF_INET6, "ff02::1"), ib)]
    s4 = a.socket(C.AF_INET, C.SOCK_DGRAM, 0)
    assert err(s4.sendto, b"x", ("239.1.2.3", 7003)) == errno.ENETUNREACH


def test_membership_errnos_and_lo(stack):
    s = stack.socket(C.AF_INET, C.SOCK_DGRAM, 0)
    assert s.getsockopt(IP, IP_MULTICAST_LOOP) == i32(1)
    assert s.getsockopt(IP, IP_MULTICAST_TTL) == i32(1)
    assert err(s.setsockopt, IP, C.IP_ADD_MEMBERSHIP, mreqn(b"\x0a\x00\x00\x01", 1)) == errno.EINVAL
    assert err(s.setsockopt, IP, C.IP_ADD_MEMBERSHIP, mreqn(GROUP, 99)) == errno.ENODEV
    assert err(s.setsockopt, IP, C.IP_DROP_MEMBERSHIP, mreqn(GROUP, 1)) == errno.EADDRNOTAVAIL
    assert err(s.setsockopt, IP, C.IP_ADD_MEMBERSHIP, GROUP) == errno.EINVAL
    s.setsockopt(IP, C.IP_ADD_MEMBERSHIP, GROUP + socket.inet_aton("127.0.0.1"))
    s.bind(("0.0.0.0", 7002))
    # no IP_MULTICAST_IF and no route for the group on a lo-only stack
    assert err(s.sendto, b"x", ("239.1.2.3", 7002)) == errno.ENETUNREACH
    s.setsockopt(IP, IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    assert s.getsockopt(IP, IP_MULTICAST_IF) == socket.inet_aton("127.0.0.1")
    s.setsockopt(IP, IP_MULTICAST_LOOP, i32(0))     # lo delivers anyway (as Linux)
    assert s.sendto(b"x", ("239.1.2.3", 7002)) == 1
    assert s.recv_datagram().data == b"x"
    s6 = stack.socket(C.AF_INET6, C.SOCK_DGRAM, 0)
    s6.setsockopt(IP6, IPV6_MULTICAST_IF, i32(1))
    assert err(s6.sendto, b"x", ("ff02::1", 7002)) == errno.ENETUNREACH


def test_broadcast_delivery(net):
    """SO_BROADCAST to the limited and the directed broadcast on eth0: every socket bound
    to the port that covers it gets the datagram, on the other host and (Linux's loop
    copy) on the sender's; EACCES without SO_BROADCAST; the limited broadcast needs a
    route (a default gateway)."""
    a, b, clock = net

    def bound(st, addr: str):
        s = st.socket(C.AF_INET, C.SOCK_DGRAM, 0)
        s.setsockopt(C.SOL_SOCKET, C.SO_REUSEADDR, i32(1))
        s.bind((addr, 7010))
        return s

    b_any, b_bcast, b_own = bound(b, "0.0.0.0"), bound(b, "10.0.0.255"), bound(b, "10.0.0.2")
    a_any = bound(a, "0.0.0.0")
    s = a.socket(C.AF_INET, C.SOCK_DGRAM, 0)
    assert err(s.sendto, b"x", ("10.0.0.255", 7010)) == errno.EACCES
    assert err(s.sendto, b"x", ("255.255.255.255", 7010)) == errno.ENETUNREACH
    s.setsockopt(C.SOL_SOCKET, C.SO_BROADCAST, i32(1))
    assert err(s.sendto, b"x", ("255.255.255.255", 7010)) == errno.ENETUNREACH
    assert s.sendto(b"directed", ("10.0.0.255", 7010)) == 8
    a.interfaces[-1].gateway4 = b"\x0a\x00\x00\x09"
    assert s.sendto(b"limited", ("255.255.255.255", 7010)) == 7
    run([a, b], clock)
    assert drain(b_any) == [b"directed", b"limited"]
    assert drain(b_bcast) == [b"directed"]
    assert drain(b_own) == []
    assert drain(a_any) == [b"directed", b"limited"]

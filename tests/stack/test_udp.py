"""UDP in the sans-I/O stack: Linux's datagram semantics, deterministic (no clock)."""
from __future__ import annotations

import errno

import pytest

from rocketnet import constants as C
from rocketnet.iface import InterfaceWrapper
from rocketnet.phy import LoopbackDevice
from rocketnet.socket import SocketError
from rocketnet.stack import NetStack

SOL, SO_ERROR, SO_RCVBUF = C.SOL_SOCKET, C.SO_ERROR, C.SO_RCVBUF


def udp(stack: NetStack, family: int = C.AF_INET):
    return stack.socket(family, C.SOCK_DGRAM, 0)


def err(f, *a) -> int:
    with pytest.raises(SocketError) as e:
        f(*a)
    return e.value.errno


def test_unbound_names_and_socket_errors(stack):
    s = udp(stack)
    assert s.getsockname() == ("0.0.0.0", 0)
    assert err(s.getpeername) == errno.ENOTCONN
    assert err(s.listen, 5) == errno.EOPNOTSUPP
    assert err(stack.socket, C.AF_INET, C.SOCK_DGRAM, C.IPPROTO_TCP) == errno.EPROTONOSUPPORT
    assert s.getsockopt(SOL, C.SO_TYPE) == C.SOCK_DGRAM.to_bytes(4, "little")
    assert s.getsockopt(SOL, C.SO_PROTOCOL) == C.IPPROTO_UDP.to_bytes(4, "little")
    assert s.getsockopt(SOL, SO_RCVBUF) == (212992).to_bytes(4, "little")
    assert err(s.getsockopt, C.IPPROTO_TCP, C.TCP_NODELAY) == errno.EOPNOTSUPP  # ip_getsockopt


def test_sendto_recv_addresses_autobind_zero_length(stack):
    r, s = udp(stack), udp(stack)
    r.bind(("127.0.0.1", 5000))
    assert s.sendto(b"hello", ("127.0.0.1", 5000)) == 5
    assert s.sendto(b"", ("127.0.0.1", 5000)) == 0
    port = s.getsockname()[1]
    assert 32768 <= port <= 60999
    stack.poll(0.0)
    assert r in stack.take_events()
    dg = r.recv_datagram()
    assert (dg.data, r._format(dg.src, dg.sport)) == (b"hello", ("127.0.0.1", port))
    assert r.recv_datagram().data == b""
    assert r.recv_datagram() is None


def test_send_errors(stack):
    s = udp(stack)
    assert err(s.send, b"x") == 89                       # EDESTADDRREQ
    assert err(s.sendto, b"x", ("127.0.0.1", 0)) == errno.EINVAL
    assert err(s.sendto, b"x" * 65508, ("127.0.0.1", 9)) == errno.EMSGSIZE
    # lo only: no route for the limited broadcast (Linux checks the route first);
    # lo's directed broadcast needs SO_BROADCAST
    assert err(s.sendto, b"x", ("255.255.255.255", 9)) == errno.ENETUNREACH
    assert err(s.sendto, b"x", ("127.255.255.255", 9)) == errno.EACCES
    assert err(s.connect, ("127.255.255.255", 9)) == errno.EACCES
    assert err(s.sendto, b"x", ("10.1.2.3", 9)) == errno.ENETUNREACH
    s6 = udp(stack, C.AF_INET6)
    assert err(s6.sendto, b"x" * 65528, ("::1", 9)) == errno.EMSGSIZE
    assert err(s6.sendto, b"x" * 65508, ("::ffff:127.0.0.1", 9)) == errno.EMSGSIZE


def test_largest_datagrams_arrive_whole(stack):
    r4, r6 = udp(stack), udp(stack, C.AF_INET6)
    r4.bind(("127.0.0.1", 7000))
    r6.bind(("::1", 7001))
    udp(stack).sendto(b"a" * 65507, ("127.0.0.1", 7000))
    udp(stack, C.AF_INET6).sendto(b"b" * 65527, ("::1", 7001))
    stack.poll(0.0)
    assert len(r4.recv_datagram().data) == 65507
    assert len(r6.recv_datagram().data) == 65527


def test_connect_filters_and_dissolves(stack):
    r, s, o = udp(stack), udp(stack), udp(stack)
    r.bind(("127.0.0.1", 6000))
    s.connect(("127.0.0.1", 6000))
    assert s.getpeername() == ("127.0.0.1", 6000)
    name = s.getsockname()
    assert name[0] == "127.0.0.1" and name[1] != 0
    o.sendto(b"stranger", name)
    r.sendto(b"peer", name)
    s.send(b"to r")
    stack.poll(0.0)
    assert s.recv_datagram().data == b"peer"
    assert s.recv_datagram() is None
    assert r.recv_datagram().data == b"to r"
    s.connect(None)                          # AF_UNSPEC
    assert err(s.getpeername) == errno.ENOTCONN
    assert s.getsockname() == ("0.0.0.0", 0)   # implicit port released (Linux)


def test_connect_after_explicit_bind_keeps_port(stack):
    s = udp(stack)
    s.bind(("0.0.0.0", 6100))
    s.connect(("127.0.0.1", 9))
    assert s.getsockname() == ("127.0.0.1", 6100)
    s.connect(None)
    assert s.getsockname() == ("0.0.0.0", 6100)


def test_port_unreachable_refuses_connected_socket_once(stack):
    s = udp(stack)
    s.connect(("127.0.0.1", 9))
    s.send(b"x")
    stack.poll(0.0)
    assert stack.stats["icmp_port_unreachable_sent"] == 1
    assert s in stack.take_events()
    assert s.getsockopt(SOL, SO_ERROR) == errno.ECONNREFUSED.to_bytes(4, "little")
    assert s.getsockopt(SOL, SO_ERROR) == b"\0\0\0\0"
    s.send(b"y")
    stack.poll(0.0)
    assert err(s.send, b"z") == errno.ECONNREFUSED
    s.send(b"w")                             # taken: the next send goes out


def test_port_unreachable_ignored_by_unconnected_socket(stack):
    s = udp(stack)
    s.sendto(b"x", ("127.0.0.1", 9))
    stack.poll(0.0)
    assert s.error == 0
    assert stack.stats["udp_no_port"] == 1


def test_icmpv6_port_unreachable(stack):
    s = udp(stack, C.AF_INET6)
    s.connect(("::1", 9))
    s.send(b"x")
    stack.poll(0.0)
    assert s.take_error() == errno.ECONNREFUSED


def test_rcvbuf_overflow_is_counted(stack):
    r, s = udp(stack), udp(stack)
    r.bind(("127.0.0.1", 6200))
    r.setsockopt(SOL, SO_RCVBUF, 1)          # minimum: 2304
    for _ in range(20):
        s.sendto(b"x", ("127.0.0.1", 6200))
    stack.poll(0.0)
    assert r.rx_available() == 2             # as Linux on lo for 1-byte datagrams
    assert r.drops == 18 and stack.stats["udp_rcvbuf_errors"] == 18


def test_bind_conflicts_and_reuseaddr_last_bound_wins(stack):
    a, b = udp(stack), udp(stack)
    a.bind(("127.0.0.1", 6300))
    assert err(b.bind, ("0.0.0.0", 6300)) == errno.EADDRINUSE
    for x in (a, b):
        x.setsockopt(SOL, C.SO_REUSEADDR, 1)
    b.bind(("127.0.0.1", 6300))
    udp(stack).sendto(b"u", ("127.0.0.1", 6300))
    stack.poll(0.0)
    assert b.rx_available() == 1 and a.rx_available() == 0


def test_specific_bind_beats_wildcard(stack):
    wild, spec = udp(stack), udp(stack)
    for x in (wild, spec):
        x.setsockopt(SOL, C.SO_REUSEADDR, 1)
    spec.bind(("127.0.0.1", 6400))
    wild.bind(("0.0.0.0", 6400))
    udp(stack).sendto(b"u", ("127.0.0.1", 6400))
    stack.poll(0.0)
    assert spec.rx_available() == 1 and wild.rx_available() == 0


def test_reuseport_group_spreads_flows_and_keeps_each_flow(stack):
    group = [udp(stack) for _ in range(4)]
    for g in group:
        g.setsockopt(SOL, C.SO_REUSEPORT, 1)
        g.bind(("127.0.0.1", 6500))
    senders = [udp(stack) for _ in range(16)]
    for s in senders:
        for _ in range(3):
            s.sendto(b"x", ("127.0.0.1", 6500))
    stack.poll(0.0)
    counts = [g.rx_available() for g in group]
    assert sum(counts) == 48
    assert all(c % 3 == 0 for c in counts)   # each flow to one member
    assert sum(1 for c in counts if c) >= 2


def test_dual_stack_and_v6only(stack):
    r6 = udp(stack, C.AF_INET6)
    r6.bind(("::", 6600))
    udp(stack).sendto(b"v4", ("127.0.0.1", 6600))
    stack.poll(0.0)
    dg = r6.recv_datagram()
    assert r6._format(dg.src, dg.sport)[0] == "::ffff:127.0.0.1"
    w = udp(stack, C.AF_INET6)
    w.setsockopt(C.IPPROTO_IPV6, C.IPV6_V6ONLY, 1)
    assert err(w.sendto, b"x", ("::ffff:127.0.0.1", 6600)) == errno.ENETUNREACH
    w.bind(("::", 6601))
    udp(stack).sendto(b"v4", ("127.0.0.1", 6601))
    stack.poll(0.0)
    assert w.rx_available() == 0             # V6ONLY: not for IPv4; port unreachable
    assert stack.stats["udp_no_port"] == 1


def test_broadcast_option(stack):
    s = udp(stack)
    s.setsockopt(SOL, C.SO_BROADCAST, 1)
    assert s.getsockopt(SOL, C.SO_BROADCAST) == b"\1\0\0\0"


def test_checksums_without_offload():
    dev = LoopbackDevice()
    dev._caps.checksum_offload = False
    st = NetStack(loopback=dev)
    assert isinstance(st.lo, InterfaceWrapper) and not st.lo.checksum_offload
    r, s = udp(st), udp(st)
    r.bind(("127.0.0.1", 6700))
    s.sendto(b"checked", ("127.0.0.1", 6700))
    st.poll(0.0)
    assert r.recv_datagram().data == b"checked"
    assert st.stats["udp_in_errors"] == 0


def test_close_releases_port(stack):
    a = udp(stack)
    a.bind(("127.0.0.1", 6800))
    a.close()
    udp(stack).bind(("127.0.0.1", 6800))
    assert a.handle not in stack.sockets


def test_ping_socket_echo_v4_and_v6(stack):
    p = stack.socket(C.AF_INET, C.SOCK_DGRAM, 1)
    assert p.getsockopt(SOL, C.SO_PROTOCOL) == (1).to_bytes(4, "little")
    assert err(p.sendto, b"\x00\x00\x00\x00\x00\x00\x00\x00", ("127.0.0.1", 0)) == errno.EINVAL
    assert err(p.sendto, b"\x08\x00", ("127.0.0.1", 0)) == errno.EINVAL
    p.sendto(b"\x08\x00\x00\x00\xbe\xef\x00\x07data", ("127.0.0.1", 0))
    stack.poll(0.0)
    assert p in stack.take_events()
    dg = p.recv_datagram()
    ident = p.getsockname()[1]
    assert dg.data[0] == 0 and dg.data[4:6] == ident.to_bytes(2, "big")  # id overwritten
    assert dg.data[6:] == b"\x00\x07data" and dg.sport == 0
    p6 = stack.socket(C.AF_INET6, C.SOCK_DGRAM, 58)
    p6.sendto(b"\x80\x00\x00\x00\x00\x00\x00\x01six", ("::1", 0))
    stack.poll(0.0)
    assert p6.recv_datagram().data[0] == 129
    assert err(stack.socket, C.AF_INET, C.SOCK_DGRAM, 58) == errno.EPROTONOSUPPORT


def test_corking_joins_parts_into_one_datagram(stack):
    r = udp(stack)
    r.bind(("127.0.0.1", 5010))
    s = udp(stack)
    lo = b"\x7f\x00\x00\x01"
    assert s.cork(b"ab", lo, 5010, 0, True) == 2            # MSG_MORE: pending
    assert s.cork(b"cd", lo, 9, 0, True) == 2               # a later destination is ignored
    stack.poll(0.0)
    assert r.recv_datagram() is None
    assert s.sendto(b"ef", ("127.0.0.1", 9)) == 2           # no MSG_MORE: leaves whole
    stack.poll(0.0)
    assert r.recv_datagram().data == b"abcdef"
    s.setsockopt(C.IPPROTO_UDP, 1, (1).to_bytes(4, "little"))   # UDP_CORK
    s.sendto(b"gh", ("127.0.0.1", 5010))
    s.sendto(b"ij", ("127.0.0.1", 5010))
    stack.poll(0.0)
    assert r.recv_datagram() is None
    s.setsockopt(C.IPPROTO_UDP, 1, (0).to_bytes(4, "little"))   # uncork: sends
    stack.poll(0.0)
    assert r.recv_datagram().data == b"ghij"
    assert s.cork(b"x" * 65000, lo, 5010, 0, True) == 65000
    assert err(s.cork, b"x" * 600, lo, 5010, 0, True) == errno.EMSGSIZE   # dropped
    assert s.inner.corked is None

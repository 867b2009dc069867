"""IPv6 link-local addresses and scope ids on UDP sockets (Linux's rules: a link-local
address needs an interface; getsockname/getpeername/recvfrom report it)."""
from __future__ import annotations

import errno
import socket

import pytest

from rocketnet import constants as C
from rocketnet.iface.interface import eui64_link_local
from rocketnet.lab import Hub, VirtualClock, host, run
from rocketnet.socket import SocketError


def err(f, *a) -> int:
    with pytest.raises(SocketError) as e:
        f(*a)
    return e.value.errno


def ll(n: int) -> str:
    return socket.inet_ntop(socket.AF_INET6, eui64_link_local(bytes((2, 0, 0, 0, 0, n))))


def eth_index(st) -> int:
    return next(i.index for i in st.interfaces if i.name == "eth0")


@pytest.fixture
def net():
    hub, clock = Hub(), VirtualClock()
    return host(hub, 1), host(hub, 2), clock


def test_bind_needs_scope_id(net):
    a, _b, _clock = net
    ia = eth_index(a)
    s = a.socket(C.AF_INET6, C.SOCK_DGRAM, 0)
    assert err(s.bind, (ll(1), 0)) == errno.EINVAL
    assert err(s.bind, (ll(1), 0, 0, 99)) == errno.ENODEV
    assert err(s.bind, (ll(1), 0, 0, 1)) == errno.EADDRNOTAVAIL   # lo has no such address
    assert err(s.bind, (ll(2), 0, 0, ia)) == errno.EADDRNOTAVAIL  # not ours
    s.bind((ll(1), 7100, 0, ia))
    assert s.getsockname() == (ll(1), 7100, 0, ia)
    g = a.socket(C.AF_INET6, C.SOCK_DGRAM, 0)
    g.bind(("fd00::1", 7101, 0, ia))                 # global: the scope id is ignored
    assert g.getsockname() == ("fd00::1", 7101, 0, 0)


def test_connect_scope_rules_and_names(net):
    a, _b, _clock = net
    ia = eth_index(a)
    s = a.socket(C.AF_INET6, C.SOCK_DGRAM, 0)
    assert err(s.connect, (ll(2), 9)) == errno.EINVAL       # no interface
    assert err(s.connect, (ll(2), 9, 0, 99)) == errno.ENODEV
    s.connect((ll(2), 9, 0, ia))
    assert s.getpeername() == (ll(2), 9, 0, ia)
    name = s.getsockname()
    assert (name[0], name[3]) == (ll(1), ia)
    assert err(s.connect, (ll(2), 9, 0, ia + 1)) == errno.EINVAL   # another interface
    s.connect((ll(2), 10))                           # the socket keeps its interface
    assert s.getpeername() == (ll(2), 10, 0, ia)
    t = a.socket(C.AF_INET6, C.SOCK_DGRAM, 0)
    t.connect(("fd00::2", 9, 0, 0))
    assert t.getpeername() == ("fd00::2", 9, 0, 0)


def test_datagram_between_link_local_addresses_carries_scope(net):
    a, b, clock = net
    ia, ib = eth_index(a), eth_index(b)
    r = b.socket(C.AF_INET6, C.SOCK_DGRAM, 0)
    r.bind(("::", 7200))
    s = a.socket(C.AF_INET6, C.SOCK_DGRAM, 0)
    assert s.sendto(b"hi", (ll(2), 7200, 0, ia)) == 2
    assert err(s.sendto, b"x", (ll(2), 7200, 0, 99)) == errno.ENETUNREACH
    run([a, b], clock, until=lambda: r.rx_available() > 0)
    dg = r.recv_datagram()
    assert dg is not None and dg.data == b"hi" and dg.ifindex == ib
    assert r.source_name(dg) == (ll(1), s.getsockname()[1], 0, ib)

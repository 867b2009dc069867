"""One outer Socket for every protocol of the stack: its inner is the protocol's state,
its calls the protocol's socket calls, and it is given a view of the stack, not the
stack. Options act on the inner through one table per level."""

from __future__ import annotations

import struct

import pytest

from rocketnet import constants as C
from rocketnet.dgram import DGRAM, PING
from rocketnet.socket import Socket
from rocketnet.stack import NetStack
from rocketnet.stream import STREAM
from rocketnet.transport.ping import PingSocket
from rocketnet.transport.tcp import TcpSocket
from rocketnet.transport.udp import UdpSocket

KINDS = [
    ((C.AF_INET, C.SOCK_STREAM, 0), TcpSocket, STREAM, C.IPPROTO_TCP),
    ((C.AF_INET6, C.SOCK_DGRAM, 0), UdpSocket, DGRAM, C.IPPROTO_UDP),
    ((C.AF_INET, C.SOCK_DGRAM, 1), PingSocket, PING, 1),
]


@pytest.mark.parametrize("args,inner,calls,proto", KINDS)
def test_one_socket_class_with_the_protocol_inner(args, inner, calls, proto) -> None:
    st = NetStack()
    s = st.socket(*args)
    assert type(s) is Socket
    assert type(s.inner) is inner and s.inner.owner is s
    assert s.calls is calls and s.proto == proto
    assert not hasattr(s, "stack")              # given a view, not the stack
    assert s.net is st.net and s.routes.is_local(b"\x7f\x00\x00\x01")
    assert st.sockets.get(s.handle) is s


def test_options_act_on_the_inner_and_are_not_stored() -> None:
    st = NetStack()
    tcp = st.socket(C.AF_INET, C.SOCK_STREAM)
    udp = st.socket(C.AF_INET, C.SOCK_DGRAM)
    for s in (tcp, udp):
        s.setsockopt(C.SOL_SOCKET, C.SO_SNDBUF, 8192)
        assert s.inner.so_sndbuf == 16384
        s.setsockopt(C.IPPROTO_IP, C.IP_TOS, 0x13)
        s.setsockopt(C.IPPROTO_IP, C.IP_TTL, 7)
        assert s.inner.ttl == 7
        assert s.optstore == {}
    assert tcp.inner.sndbuf_limit == 8192       # TCP: half the doubled value
    assert udp.inner.sndbuf_limit == 16384      # a datagram socket: all of it
    assert tcp.inner.tos == 0x10 and udp.inner.tos == 0x13   # TCP keeps the ECN bits
    tcp.setsockopt(C.IPPROTO_TCP, C.TCP_NODELAY, 1)
    assert tcp.inner.nodelay and tcp.getsockopt(C.IPPROTO_TCP, C.TCP_NODELAY) == \
        struct.pack("=i", 1)
    udp.setsockopt(C.IPPROTO_UDP, 1, 1)         # UDP_CORK: the inner corks
    assert udp.inner.cork_on and udp.optstore == {(C.IPPROTO_UDP, 1): 1}
    udp.setsockopt(C.IPPROTO_UDP, 1, 0)
    assert not udp.inner.cork_on


def test_accepted_and_renewed_sockets_are_sockets_of_the_same_kind() -> None:
    st = NetStack()
    ls = st.socket(C.AF_INET, C.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    c = st.socket(C.AF_INET, C.SOCK_STREAM)
    c.connect(ls.getsockname(), 0.0)
    st.poll(0.0)
    a = ls.accept()
    assert type(a) is Socket and a.calls is STREAM and type(a.inner) is TcpSocket
    assert a.getpeername() == c.getsockname()
    r = st.socket(C.AF_INET, C.SOCK_STREAM)
    r.setsockopt(C.IPPROTO_TCP, C.TCP_NODELAY, 1)
    n = r.renewed()
    assert n.calls is STREAM and n.inner.nodelay and n.handle != r.handle

"""One outer Socket for every protocol of the stack: its inner is the protocol's state,
its calls the protocol's socket calls, and it is given a view of the stack, not the
stack. Options act on the inner through one table per level."""

from __future__ import annotations

import errno
import struct

import pytest

from rocketnet import constants as C
from rocketnet.dgram import DGRAM, PING
from rocketnet.errors import SocketError
from rocketnet.socket import Net, Socket
from rocketnet.stack import NetStack
from rocketnet.stream import STREAM
from rocketnet.transport import SocketSet
from rocketnet.transport.ping import PingSocket
from rocketnet.transport.tcp import TcpSocket
from rocketnet.transport.udp import UdpSocket
from rocketnet.unix import UNIX, UnixNamespace, UnixSocket, abstract_sockaddr

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


def test_unix_sockets_are_sockets_in_their_own_handle_table() -> None:
    """AF_UNIX: inner UnixSocket, calls UNIX, layer the namespace; keys and credentials
    come resolved from the host; the server side of a connection is a Socket too."""
    st = NetStack()
    gone: set[int] = set()
    ns = UnixNamespace(lambda inner: inner.handle not in gone)
    net = Net(st.net.routes, st.profile, SocketSet())

    def unix(type_: int) -> Socket:
        return Socket(net, UNIX, ns, C.AF_UNIX, type_, 0, UnixSocket(type_))

    ls, c = unix(C.SOCK_STREAM), unix(C.SOCK_STREAM)
    assert ls.inner.owner is ls and net.sockets.get(ls.handle) is ls
    assert len(st.sockets) == 0                   # not the stack's (ss, sock_diag inet)
    key = ("a", C.SOCK_STREAM, b"srv")
    ls.bind((key, abstract_sockaddr(b"srv")))
    ls.calls.listen(ls, 1, (10, 20, 30))
    assert ls.state == "LISTEN"
    new = c.calls.connect(c, key, True, (11, 21, 31))
    assert type(new) is Socket and new.calls is UNIX and new.inner.peer is c.inner
    assert new.calls.peercred(new) == (11, 21, 31) and c.calls.peercred(c) == (10, 20, 30)
    assert c.calls.getpeername(c) == abstract_sockaddr(b"srv")
    assert ls.inner.pending == 1
    new.calls.accepted(new)
    assert ls.inner.pending == 0
    d = unix(C.SOCK_DGRAM)
    d.bind(None)                                  # autobind
    assert d.calls.getsockname(d)[2:3] == b"\0"
    e = unix(C.SOCK_DGRAM)
    assert e.calls.resolve(e, d.inner.key) is d
    with pytest.raises(SocketError) as ei:
        e.calls.resolve(e, key)                   # a stream socket's name
    assert ei.value.errno == errno.EPROTOTYPE
    ls.close()
    assert ls.handle not in net.sockets and ns.holder(key) is None
    gone.add(d.handle)                            # its fds are gone: the name is free
    with pytest.raises(SocketError) as ei:
        e.calls.resolve(e, d.inner.key)
    assert ei.value.errno == errno.ECONNREFUSED

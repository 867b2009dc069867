"""AF_UNIX names and connections (rocketnet/unix.py), without any socket."""
from __future__ import annotations

import errno

import pytest

from rocketnet.errors import SocketError
from rocketnet.unix import UnixNamespace, UnixSocket, abstract_sockaddr, parse_addr, path_sockaddr

STREAM, SEQPACKET = 1, 5
CRED = (10, 0, 0)


def raises(err: int, fn, *args) -> None:
    with pytest.raises(SocketError) as e:
        fn(*args)
    assert e.value.errno == err


@pytest.fixture
def ns():
    gone: set[UnixSocket] = set()
    n = UnixNamespace(lambda sk: sk not in gone)
    n.gone = gone          # type: ignore[attr-defined]
    return n


def listener(ns, key, type_=STREAM, backlog=1):
    sk = UnixSocket(type_)
    ns.bind(sk, key, abstract_sockaddr(b"x"))
    ns.listen(sk, backlog, CRED)
    return sk


def test_parse_addr():
    assert parse_addr(b"\x01\x00") == ("auto", b"")
    assert parse_addr(b"\x01\x00\x00ab") == ("abstract", b"ab")
    assert parse_addr(b"\x01\x00a/b\x00junk") == ("path", b"a/b")
    for bad in (b"\x01", b"\x02\x00ab", b"\x01\x00" + b"a" * 109):
        raises(errno.EINVAL, parse_addr, bad)
    assert path_sockaddr(b"s") == b"\x01\x00s\x00"


def test_abstract_names_are_per_type_and_freed_with_the_socket(ns):
    a, b, c = UnixSocket(STREAM), UnixSocket(STREAM), UnixSocket(SEQPACKET)
    ns.bind(a, ("a", STREAM, b"n"), b"")
    raises(errno.EINVAL, ns.bind, a, ("a", STREAM, b"m"), b"")
    raises(errno.EADDRINUSE, ns.bind, b, ("a", STREAM, b"n"), b"")
    ns.bind(c, ("a", SEQPACKET, b"n"), b"")
    ns.gone.add(a)
    ns.bind(b, ("a", STREAM, b"n"), b"")


def test_connect_checks_in_linux_order_and_counts_the_backlog(ns):
    key = ("p", 1, 2)
    raises(errno.ECONNREFUSED, ns.connect, UnixSocket(STREAM), key, True, CRED)
    lst = listener(ns, key, backlog=1)
    raises(errno.EPROTOTYPE, ns.connect, UnixSocket(SEQPACKET), key, True, CRED)
    c1, c2, c3 = UnixSocket(STREAM), UnixSocket(STREAM), UnixSocket(STREAM)
    new1 = ns.connect(c1, key, True, (7, 1, 2))
    ns.connect(c2, key, True, CRED)
    raises(errno.EAGAIN, ns.connect, c3, key, True, CRED)
    raises(errno.EAGAIN, ns.connect, c1, key, True, CRED)   # the backlog comes first
    ns.accepted(new1)
    raises(errno.EISCONN, ns.connect, c1, key, True, CRED)
    raises(errno.EINVAL, ns.connect, lst, key, True, CRED)
    new3 = ns.connect(c3, key, True, CRED)
    assert new1.peer is c1 and c1.peer is new1 and new1.addr == lst.addr
    assert new1.cred == (7, 1, 2) and c1.cred == CRED
    assert new3.peername() == c3.sockname() == b"\x01\x00"
    raises(errno.EINVAL, ns.listen, c1, 5, CRED)
    ns.gone.add(lst)
    raises(errno.ECONNREFUSED, ns.connect, UnixSocket(STREAM), key, True, CRED)


def test_autobind(ns):
    a, b = UnixSocket(STREAM), UnixSocket(STREAM)
    ns.autobind(a)
    ns.autobind(b)
    assert len(a.sockname()) == 8 and a.sockname()[2] == 0
    assert a.sockname() != b.sockname()
    name = a.sockname()
    ns.autobind(a)
    assert a.sockname() == name

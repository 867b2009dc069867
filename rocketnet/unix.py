"""AF_UNIX sockets: names, connections and socket calls.

Sans-I/O: this module decides what bind/listen/connect/accept answer and which socket a
connection joins, with Linux's rules (net/unix/af_unix.c); the caller moves the bytes.
An AF_UNIX socket is a ``rocketnet.socket.Socket`` whose inner is a ``UnixSocket``,
whose layer is the ``UnixNamespace`` and whose calls are ``UNIX``.
Names are keys: ``("a", type, name)`` for the abstract namespace (the bytes after the
leading NUL, exact length; Linux hashes the type in, so each type has its own abstract
names and a connect from another type finds nothing) and ``("p", dev, ino)`` for a
filesystem node (another type there: EPROTOTYPE).  Whether a socket still
exists is asked through ``alive`` (its owner may have closed it without telling us).
"""

from __future__ import annotations

import errno
from collections.abc import Hashable
from typing import Callable

from rocketnet.errors import SocketError
from rocketnet.socket import Socket

AF_UNIX = 1
SUN_PATH_OFF = 2          # offsetof(struct sockaddr_un, sun_path)
SUN_LEN_MAX = 110         # sizeof(struct sockaddr_un)
Key = Hashable


class UnixSocket:
    """One AF_UNIX socket: its name, state, peer and (listening) backlog."""

    __slots__ = ("type", "addr", "key", "state", "peer", "listener", "backlog", "pending",
                 "cred", "shut_rd", "owner", "handle")

    def __init__(self, type_: int) -> None:
        self.type = type_
        self.addr: bytes | None = None     # sockaddr as getsockname returns it
        self.key: Key | None = None
        self.state = "CLOSED"              # CLOSED, LISTEN, CONNECTED
        self.peer: UnixSocket | None = None
        self.listener: UnixSocket | None = None   # a connection not accepted yet
        self.backlog = 0
        self.pending = 0                   # connections queued and not accepted
        # SO_PEERCRED value (pid, uid, gid): the peer's at connect, own at listen
        self.cred: tuple[int, int, int] | None = None
        self.shut_rd = False
        self.owner: Socket | None = None   # the Socket this is the inner of
        self.handle = 0

    def sockname(self) -> bytes:
        return self.addr if self.addr is not None else AF_UNIX.to_bytes(2, "little")

    def peername(self) -> bytes:
        if self.state != "CONNECTED" or self.peer is None:
            raise SocketError(errno.ENOTCONN)
        return self.peer.sockname()


def parse_addr(sa: bytes) -> tuple[str, bytes]:
    """A sockaddr_un as passed to bind/connect -> ("abstract", name) or ("path", path);
    ("auto", b"") for the family alone.  EINVAL as unix_validate_addr."""
    if len(sa) == SUN_PATH_OFF and int.from_bytes(sa[:2], "little") == AF_UNIX:
        return "auto", b""
    if len(sa) <= SUN_PATH_OFF or len(sa) > SUN_LEN_MAX:
        raise SocketError(errno.EINVAL)
    if int.from_bytes(sa[:2], "little") != AF_UNIX:
        raise SocketError(errno.EINVAL)
    if sa[2] == 0:
        return "abstract", bytes(sa[3:])
    return "path", bytes(sa[2:]).split(b"\0", 1)[0]


def path_sockaddr(path: bytes) -> bytes:
    """What Linux keeps for a bound path: family, the path, its NUL (unix_mkname_bsd)."""
    return AF_UNIX.to_bytes(2, "little") + path + b"\0"


def abstract_sockaddr(name: bytes) -> bytes:
    return AF_UNIX.to_bytes(2, "little") + b"\0" + name


class UnixNamespace:
    """The bound names of one stack and the connections between its sockets."""

    def __init__(self, alive: Callable[[UnixSocket], bool], seed: int = 0) -> None:
        self.alive = alive
        self.names: dict[Key, UnixSocket] = {}
        self.ordernum = seed & 0xFFFFF     # autobind names, as Linux: a counter

    def holder(self, key: Key) -> UnixSocket | None:
        sk = self.names.get(key)
        if sk is not None and not self.alive(sk):
            self.release(sk)
            return None
        return sk

    def bind(self, sk: UnixSocket, key: Key, addr: bytes) -> None:
        """Abstract names: EINVAL if bound, EADDRINUSE if taken.  Path nodes were created
        by the caller (the filesystem answered EADDRINUSE already): a node's key is new."""
        if sk.addr is not None:
            raise SocketError(errno.EINVAL)
        if key[0] == "a" and self.holder(key) is not None:
            raise SocketError(errno.EADDRINUSE)
        sk.addr = addr
        sk.key = key
        self.names[key] = sk

    def autobind(self, sk: UnixSocket) -> None:
        """bind() with the family alone: "\\0" + five hex digits (no-op when bound)."""
        if sk.addr is not None:
            return
        for _ in range(0x100000):
            self.ordernum = (self.ordernum + 1) & 0xFFFFF
            name = b"%05x" % self.ordernum
            if self.holder(("a", sk.type, name)) is None:
                self.bind(sk, ("a", sk.type, name), abstract_sockaddr(name))
                return
        raise SocketError(errno.ENOSPC)

    def listen(self, sk: UnixSocket, backlog: int, cred: tuple[int, int, int]) -> None:
        if sk.addr is None or sk.state not in ("CLOSED", "LISTEN"):
            raise SocketError(errno.EINVAL)
        sk.state = "LISTEN"
        sk.backlog = backlog
        sk.cred = cred

    def connect(self, sk: UnixSocket, key: Key, nonblocking: bool,
                cred: tuple[int, int, int]) -> UnixSocket:
        """Connect sk to the listener named key; returns the new server-side socket, queued
        on the listener until accept().  EAGAIN when the backlog is full (a blocking caller
        waits and retries), in unix_stream_connect's order of checks."""
        other = self.holder(key)
        if other is None:
            raise SocketError(errno.ECONNREFUSED)
        if other.type != sk.type:
            raise SocketError(errno.EPROTOTYPE)
        if other.state != "LISTEN" or other.shut_rd:
            raise SocketError(errno.ECONNREFUSED)
        if other.pending > other.backlog:
            raise SocketError(errno.EAGAIN)
        if sk.state == "CONNECTED":
            raise SocketError(errno.EISCONN)
        if sk.state != "CLOSED":
            raise SocketError(errno.EINVAL)
        new = UnixSocket(sk.type)
        new.addr = other.addr              # an accepted socket has the listener's name
        new.state = sk.state = "CONNECTED"
        new.peer, sk.peer = sk, new
        new.cred = cred
        sk.cred = other.cred
        new.listener = other
        other.pending += 1
        return new

    @staticmethod
    def accepted(new: UnixSocket) -> None:
        lst = new.listener
        if lst is not None:
            lst.pending -= 1
            new.listener = None

    def release(self, sk: UnixSocket) -> None:
        """The socket is gone: its name is free (the node of a path stays, unconnectable)."""
        if sk.key is not None and self.names.get(sk.key) is sk:
            del self.names[sk.key]
        sk.key = None
        if sk.state == "LISTEN":
            sk.state = "CLOSED"
        self.accepted(sk)


class UnixCalls:
    """What ``Socket`` does for a socket whose inner is a ``UnixSocket`` (its layer: the
    ``UnixNamespace``).  A path is resolved by the host in the caller's process, so bind,
    connect and resolve take a namespace key; listen and connect take the caller's
    (pid, uid, gid), what SO_PEERCRED shows."""

    name = "unix"
    proto = 0

    @staticmethod
    def state(sk: Socket) -> str:
        return sk.inner.state

    @staticmethod
    def bind(sk: Socket, addr: tuple[Key, bytes] | None) -> None:
        """addr: (key, the sockaddr getsockname will show); None: autobind."""
        if addr is None:
            sk.layer.autobind(sk.inner)
        else:
            sk.layer.bind(sk.inner, *addr)

    @staticmethod
    def listen(sk: Socket, backlog: int, cred: tuple[int, int, int]) -> None:
        sk.layer.listen(sk.inner, backlog, cred)

    @staticmethod
    def connect(sk: Socket, key: Key, nonblocking: bool,
                cred: tuple[int, int, int]) -> Socket:
        """The new server-side socket, queued on the listener until accepted."""
        new = sk.layer.connect(sk.inner, key, nonblocking, cred)
        return Socket(sk.net, UNIX, sk.layer, sk.family, sk.type, sk.proto, new)

    @staticmethod
    def resolve(sk: Socket, key: Key) -> Socket:
        """A datagram's destination: the socket bound to key."""
        other = sk.layer.holder(key)
        if other is None:
            raise SocketError(errno.ECONNREFUSED)
        if other.type != sk.inner.type:
            raise SocketError(errno.EPROTOTYPE)
        return other.owner

    @staticmethod
    def accepted(sk: Socket) -> None:
        sk.layer.accepted(sk.inner)

    @staticmethod
    def getsockname(sk: Socket) -> bytes:
        return sk.inner.sockname()

    @staticmethod
    def getpeername(sk: Socket) -> bytes:
        return sk.inner.peername()

    @staticmethod
    def shutdown(sk: Socket, how: int) -> None:
        if not 0 <= how <= 2:
            raise SocketError(errno.EINVAL)
        if how != 1:                # SHUT_RD or SHUT_RDWR: a listener shut so refuses
            sk.inner.shut_rd = True

    @staticmethod
    def peercred(sk: Socket) -> tuple[int, int, int]:
        return sk.inner.cred or (0, -1, -1)     # no peer: Linux's -1s

    @staticmethod
    def close(sk: Socket, now: float = 0.0) -> None:
        """Its fds are all closed: the name is free, the handle goes."""
        sk.layer.release(sk.inner)
        sk.net.sockets.remove(sk.handle)

    abort = close


UNIX = UnixCalls()

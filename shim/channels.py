"""The stack host's channel table and the interface every socket service implements.

A channel is one shim socket whose S end the host keeps (ARCHITECTURE.md section 2).
The table is the only place that makes socket pairs, names their A ends, registers S
with the event loop and forgets them, so a service never touches the loop or the
host's other state: it asks the table.
"""
from __future__ import annotations

import _socket
import errno
import os
import secrets
import select
import socket
import struct
from collections.abc import Collection
from typing import Any, Callable, Protocol

from shim import protocol as P
from shim.hostlog import ConnLog

SOL_SOCKET = socket.SOL_SOCKET
SO_SNDBUFFORCE = 32
ID_BITS = struct.Struct("=I")
UNREGISTERED = -1   # Channel.mask before S is in the event loop (ChannelTable.add)
NAME_TRIES = 8      # fresh random ids tried when a name is taken (another user pre-bound it)


def set_sndbuf(s: socket.socket, size: int) -> None:
    """A kernel send buffer of 2 * size (beyond wmem_max if the host may)."""
    try:
        s.setsockopt(SOL_SOCKET, SO_SNDBUFFORCE, size)
    except OSError:
        s.setsockopt(SOL_SOCKET, socket.SO_SNDBUF, size)


class Channel:
    """One shim socket: the host's S end and the stack-side object behind it (sk:
    abort(now) on host shutdown); each service extends it."""

    __slots__ = ("svc", "sock_id", "family", "s", "fd", "sk", "mask", "listening",
                 "pending_accept", "connecting", "app_eof", "seen_state", "live")

    def __init__(self, svc: Service, sock_id: int, family: int, s: socket.socket,
                 sk: Any) -> None:
        self.svc = svc
        self.sock_id = sock_id
        self.family = family
        self.s = s
        self.fd = s.fileno()
        self.sk = sk
        self.mask = 0              # the epoll events S is registered for
        self.listening = False
        self.pending_accept: Any = ()
        self.connecting = False
        self.app_eof = False       # the program will write no more (EOF on S)
        self.seen_state = -1       # sk.inner.state at the host's last look (host.log)
        self.live = False          # in the table: added and not closed (ChannelTable.alive)


class Service(Protocol):
    """A socket service (stream, datagram, unix, alg, netlink): the host routes to it
    by the socket's channel, or by held_maps for ids without one."""

    def new_socket(self, family: int, type_: int, proto: int) -> tuple[bytes, int | None]:
        """RN_OP_SOCKET for a family this service serves."""

    public_ops: frozenset[int]
    """Calls anyone may make on a socket of this service: Linux shows their answer to
    every process (a unix socket's bound name), or the caller has let go of its fd."""

    held_maps: tuple[Collection[int], ...]
    """Where this service keeps ids that have no live channel (failed, closed, unix)."""

    def dispatch(self, c: Any, ch: Any, req: P.Request) -> tuple[bytes, int | None]:
        """One RPC on one of this service's sockets (ch None: no live channel)."""

    def event(self, ch: Any, ev: int) -> None:
        """Readiness of the channel's S end."""

    def service(self, ch: Any) -> None:
        """The stack changed the channel's socket."""

    def update_mask(self, ch: Any) -> None:
        """Which readiness of S the service waits for now."""


def kernel_answer(ch: Any, req: P.Request) -> tuple[bytes, None]:
    """RN_OP_RDEND / RN_OP_LINGER on a socket that is not TCP: the kernel's answer
    stands (a read's 0, a close that does not linger)."""
    return P.response(0), None


class ChannelTable:
    def __init__(self, ep: select.epoll, nonce: bytes) -> None:
        self.ep = ep
        self.nonce = nonce
        self.by_fd: dict[int, Any] = {}
        self.by_sock: dict[Any, Any] = {}
        self.by_id: dict[int, Any] = {}
        self.epoch = 0                      # counts adds and closes (the host's trimmer)
        self.closed_fds: set[int] = set()   # channel fds closed while serving one batch
        self.held_ids: list[Any] = []       # services whose ids outlive channels (held_maps)
        # sock id -> inode of the kernel socket the host gave out for it (A, or the unix
        # socket itself): holding an fd of that inode is what authorises a call
        self.inodes: dict[int, int] = {}
        self.inodes_sweep_at = 1024
        self.random = memoryview(b"")       # unused bytes of the last getrandom (new_id)
        self.caller: Any = None             # the client whose RPC is being served
        self.conn_log = ConnLog()           # host.log (shim/hostlog.py)
        # other fds of the event loop (control connections, devices, listeners): fd ->
        # callback(fd, events)
        self.watchers: dict[int, Callable[[int, int], None]] = {}

    # ---- names ----------------------------------------------------------------------

    def new_id(self) -> int:
        """A random socket id no live socket uses: the names derived from it cannot be
        predicted (and pre-bound) by another user who reads /proc/net/unix."""
        while True:
            if len(self.random) < 4:    # one getrandom per 1024 ids, not one per id
                self.random = memoryview(secrets.token_bytes(4096))
            sock_id = (ID_BITS.unpack_from(self.random)[0] & 0x7FFFFFFF) or 1  # signed int32
            self.random = self.random[4:]
            if sock_id not in self.by_id and self.holder(sock_id) is None:
                return sock_id

    def holder(self, sock_id: int) -> Any:
        """The service that still knows sock_id without a channel, or None (its
        held_maps looked into here, no call per service: this runs per RPC on an id
        without a channel, per new socket and per id a sweep looks at)."""
        for h in self.held_ids:
            for m in h.held_maps:
                if sock_id in m:
                    return h
        return None

    def name(self, sock_id: int, tag: bytes = b"") -> bytes:
        return b"\0" + P.NAME_PREFIX + self.nonce + b"-" + tag + b"%d" % sock_id

    def bind_new(self, s: socket.socket, tag: bytes = b"") -> int:
        """Bind s to the name of a fresh id; -> the id. OSError(ENOBUFS) if every try
        was taken."""
        for _ in range(NAME_TRIES):
            sock_id = self.new_id()
            try:
                s.bind(self.name(sock_id, tag))
            except OSError as e:
                if e.errno != errno.EADDRINUSE:
                    raise
                continue
            self.record(sock_id, s)
            return sock_id
        raise OSError(errno.ENOBUFS, "no free socket name")   # as sock_alloc failing

    def new_pair(self, type_: int, s_sndbuf: int = 0,
                 a_nonblocking: bool = False) -> tuple[int, socket.socket, socket.socket]:
        """A fresh id and its pair: A named for recognition (O_NONBLOCK too if
        a_nonblocking: made so, as S, by socketpair), S non-blocking.  The bare _socket
        objects: socket.socket's constructor calls getsockname on each end."""
        if a_nonblocking:
            # (CPython's object keeps timeout None: with the fd O_NONBLOCK its calls
            # still raise BlockingIOError at once, as after setblocking(False))
            a, s = _socket.socketpair(socket.AF_UNIX, type_ | socket.SOCK_NONBLOCK)
        else:
            a, s = _socket.socketpair(socket.AF_UNIX, type_)
        try:
            sock_id = self.bind_new(a)
        except OSError:
            a.close()
            s.close()
            raise
        if not a_nonblocking:
            s.setblocking(False)
        if s_sndbuf:
            set_sndbuf(s, s_sndbuf)
        return sock_id, a, s

    def record(self, sock_id: int, s: socket.socket) -> None:
        """The inode a caller must hold for sock_id (forgotten once no service knows it)."""
        inodes = self.inodes
        inodes[sock_id] = os.fstat(s.fileno()).st_ino
        if len(inodes) > self.inodes_sweep_at:
            known = set(self.by_id)     # set operations, not a holder() call per id
            known.add(sock_id)
            for h in self.held_ids:
                for m in h.held_maps:
                    known.update(m)
            for i in inodes.keys() - known:
                del inodes[i]
            self.inodes_sweep_at = max(1024, 2 * len(inodes))

    # ---- channels -------------------------------------------------------------------

    def add(self, ch: Any, first_mask: bool = False) -> None:
        """first_mask: S is registered by the service's first modify() (one epoll_ctl
        for a channel that starts out waiting for something, not two)."""
        self.by_fd[ch.fd] = ch
        self.epoch += 1
        ch.live = True
        self.by_sock[ch.sk] = ch
        self.by_id[ch.sock_id] = ch
        if first_mask:
            ch.mask = UNREGISTERED
        else:
            self.ep.register(ch.fd, 0)
        self.conn_log.opened(ch.sock_id, ch.sk, self.caller.pid if self.caller else 0)

    @staticmethod
    def alive(ch: Any) -> bool:
        return ch.live

    def modify(self, ch: Any, mask: int) -> None:
        if mask != ch.mask:
            if ch.mask == UNREGISTERED:
                self.ep.register(ch.fd, mask)
            else:
                self.ep.modify(ch.fd, mask)
            ch.mask = mask

    def close(self, ch: Any) -> bool:
        """Forget the channel and close S; False if it was already closed."""
        if not ch.live:
            return False
        ch.live = False
        del self.by_fd[ch.fd]
        self.epoch += 1
        self.closed_fds.add(ch.fd)
        self.by_sock.pop(ch.sk, None)
        self.by_id.pop(ch.sock_id, None)
        self.conn_log.closed(ch.sock_id, ch.sk)
        # no EPOLL_CTL_DEL: S is the host's only reference to its socket (never passed
        # on, dup'd or inherited: the host does not fork), so closing it takes it out
        # of the epoll set (the kernel's eventpoll_release)
        ch.s.close()
        return True

    def watch(self, fd: int, mask: int, callback: Callable[[int, int], None]) -> None:
        self.watchers[fd] = callback
        self.ep.register(fd, mask)

    def unwatch(self, fd: int) -> None:
        del self.watchers[fd]
        self.ep.unregister(fd)

    def of_service(self, svc: Any) -> list[Any]:
        return [ch for ch in self.by_fd.values() if ch.svc is svc]

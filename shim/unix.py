"""AF_UNIX sockets (SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM) served by the stack host.

rocketnet/unix.py decides names and connections (each socket a rocketnet ``Socket`` whose
inner is a ``UnixSocket``, numbered in this service's own handle table: not in the
stack's ss or sock_diag inet listings); this module gives the program its fds.
- An unconnected socket is a fresh kernel AF_UNIX socket of the program's type, bound to
  the identity name "\\0rocketnet-<nonce>-u<id>" (so the stub recognises it): reads,
  writes, poll and shutdown on it are the kernel's answers for an unconnected socket.
- A connection is a kernel socketpair of the socket's type made here: one end replaces
  the client's fd (the stub dup3s it onto the same number), the other is queued on the
  listener as an accept record.  The bytes then flow between the two programs' ends
  directly, so message boundaries, MSG_PEEK/SO_PEEK_OFF/MSG_TRUNC/MSG_WAITALL, OOB,
  SCM_RIGHTS, SCM_CREDENTIALS, EPIPE/SIGPIPE and buffer limits are the kernel's own.
- A listener's fd is the A end of a pair of its type whose S end the host keeps: one
  accept record per connection, as for TCP (struct rn_accept_rec + the fd).
- A datagram socket stays its kernel socket: a datagram (or connect) to a stack name
  goes natively to the identity name of the socket holding it (RN_OP_UNIX_RESOLVE), so
  queues, EAGAIN, EPERM and ECONNREFUSED are the kernel's; the stub shows the sender by
  its stack name.
The host keeps no end of a connected or unconnected socket, so it learns that one is
gone by probing its identity name (free again once the last fd closes): when a name it
holds is looked up, and in a sweep as sockets accumulate.
"""

from __future__ import annotations

import array
import errno
import os
import select
import socket
import stat
import struct
from typing import Any

from rocketnet.errors import SocketError
from rocketnet.socket import Net, Socket
from rocketnet.stack import NetStack
from rocketnet.transport import SocketSet
from rocketnet.unix import (
    UNIX,
    UnixNamespace,
    UnixSocket,
    abstract_sockaddr,
    parse_addr,
    path_sockaddr,
)
from shim import protocol as P
from shim.channels import ChannelTable, set_sndbuf
from shim.procfs import proc_status

SOL_SOCKET = socket.SOL_SOCKET
SO_PEERCRED = 17               # Linux; PyPy 3.9's socket module lacks the name
SO_ACCEPTCONN = 30
UCRED = struct.Struct("=iII")
SERVED_TYPES = (socket.SOCK_STREAM, socket.SOCK_SEQPACKET, socket.SOCK_DGRAM)
LISTENER_BUF = 4 * 1024 * 1024     # room for a full backlog of accept records


def somaxconn() -> int:
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 4096


def proc_cred(pid: int) -> tuple[int, int, int]:
    """(pid, euid, egid) of a process now: what Linux records for SO_PEERCRED."""
    try:
        st = proc_status(pid)
        return pid, int(st[b"Uid"][1]), int(st[b"Gid"][1])
    except (OSError, ValueError, IndexError, KeyError):
        return pid, -1, -1


class UnixService:
    def __init__(self, table: ChannelTable, stack: NetStack) -> None:
        self.table = table
        self.ns = UnixNamespace(self.inner_alive,
                                seed=int.from_bytes(table.nonce[:4], "little"))
        self.net = Net(stack.net.routes, stack.profile, SocketSet())
        self.socks: dict[int, Socket] = {}          # sock id -> socket
        self.held_maps = (self.socks,)              # ChannelTable.holder: never rebound
        self.ids: dict[Socket, list[int]] = {}      # socket -> ids of its fds
        self.listeners: dict[int, tuple[socket.socket, Socket]] = {}   # by S fd
        self.listening: dict[Socket, int] = {}      # listener -> its S fd
        # socketpair ends not fetched yet, with the pid of the process that made the pair
        self.pair_ends: dict[int, tuple[socket.socket, int]] = {}
        self.sweep_at = 256
        self.somaxconn = somaxconn()

    # ---- identity and lifetime ------------------------------------------------------

    def wrap(self, type_: int, proto: int) -> Socket:
        return Socket(self.net, UNIX, self.ns, socket.AF_UNIX, type_, proto, UnixSocket(type_))

    def new_fd(self, sk: Socket, s: socket.socket) -> int:
        """Name a kernel socket for sk; returns its id."""
        sock_id = self.table.bind_new(s, b"u")
        self.socks[sock_id] = sk
        self.ids.setdefault(sk, []).append(sock_id)
        return sock_id

    def id_alive(self, sock_id: int, type_: int) -> bool:
        probe = socket.socket(socket.AF_UNIX, type_)    # abstract names are per type
        try:
            probe.bind(self.table.name(sock_id, b"u"))
        except OSError:
            return True          # EADDRINUSE: a socket still holds it
        finally:
            probe.close()
        return False

    def inner_alive(self, inner: UnixSocket) -> bool:
        return inner.owner is not None and self.alive(inner.owner)

    def alive(self, sk: Socket) -> bool:
        """Whether a fd of sk is still open; when none is, sk is closed (name, handle)."""
        if sk in self.listening:
            return True
        ids = self.ids.get(sk, [])
        live = [i for i in ids if self.id_alive(i, sk.type)]
        for i in ids:
            if i not in live:
                self.socks.pop(i, None)
        if live:
            self.ids[sk] = live
            return True
        self.ids.pop(sk, None)
        sk.close()
        return False

    def sweep(self) -> None:
        """Forget sockets whose fds are all closed (amortised over new sockets)."""
        if len(self.socks) < self.sweep_at:
            return
        for sk in list(self.ids):
            self.alive(sk)
        self.sweep_at = max(256, 2 * len(self.socks))

    # ---- RPCs -----------------------------------------------------------------------

    # a socket's bound name is public (/proc/net/unix): the stub names a datagram's
    # sender by it; the second end of a socketpair is fetched before its maker holds it
    # (the service checks it is the maker)
    public_ops = frozenset({P.OP_GETSOCKNAME, P.OP_UNIX_PAIR})

    def new_socket(self, family: int, type_: int, proto: int):  # type: ignore[no-untyped-def]
        if type_ not in SERVED_TYPES:
            return P.response(-1, P.ERR_PASSTHROUGH), None
        if proto not in (0, socket.AF_UNIX):
            return P.response(-1, errno.EPROTONOSUPPORT), None
        self.sweep()
        sk = self.wrap(type_, proto)
        try:
            s = socket.socket(socket.AF_UNIX, type_)
            sock_id = self.new_fd(sk, s)
        except OSError as e:
            sk.close()
            return P.response(-1, e.errno or errno.ENOBUFS), None
        return P.response(sock_id, 0, b"", P.KIND_UNIX), s.detach()

    def new_pair(self, c, req: P.Request):
        """socketpair(): a connected pair, both ends the caller's (RN_OP_UNIX_PAIR)."""
        type_, proto = req.args[0], req.args[1]
        if type_ not in SERVED_TYPES:
            return P.response(-1, errno.EINVAL), None      # the stub asks for these only
        if proto not in (0, socket.AF_UNIX):
            return P.response(-1, errno.EPROTONOSUPPORT), None
        self.sweep()
        ends = (self.wrap(type_, proto), self.wrap(type_, proto))
        cred = proc_cred(c.pid)
        for sk, peer in (ends, ends[::-1]):
            sk.inner.state, sk.inner.peer, sk.inner.cred = "CONNECTED", peer.inner, cred
        try:
            x, y = socket.socketpair(socket.AF_UNIX, type_)
            first = self.new_fd(ends[0], x)
            second = self.new_fd(ends[1], y)
        except OSError as e:
            for sk in ends:
                sk.close()
            return P.response(-1, e.errno or errno.ENOBUFS), None
        self.pair_ends[second] = (y, c.pid)
        return P.response(first, 0, b"", second), x.detach()

    def dispatch(self, c: Any, ch: None, req: P.Request):  # type: ignore[no-untyped-def]
        sk = self.socks[req.sock_id]
        if req.op == P.OP_UNIX_PAIR:
            end = self.pair_ends.get(req.sock_id)
            if end is None or end[1] != c.pid:
                return P.response(-1, errno.EBADF), None
            del self.pair_ends[req.sock_id]
            return P.response(req.sock_id), end[0].detach()
        try:
            if req.op == P.OP_BIND:
                return self.bind(c, sk, req)
            if req.op == P.OP_LISTEN:
                return self.listen(c, sk, req)
            if req.op == P.OP_CONNECT:
                return self.connect(c, sk, req)
            if req.op == P.OP_UNIX_RESOLVE:
                return self.resolve(c, sk, req)
            if req.op == P.OP_UNIX_ACCEPTED:
                sk.calls.accepted(sk)
                return P.response(0), None
            if req.op == P.OP_GETSOCKNAME:
                return P.response(0, 0, sk.calls.getsockname(sk)), None
            if req.op == P.OP_GETPEERNAME:
                return P.response(0, 0, sk.calls.getpeername(sk)), None
            if req.op == P.OP_SHUTDOWN:
                sk.shutdown(req.args[0])
                return P.response(0), None
            if req.op == P.OP_GETSOCKOPT and req.args[0] == SOL_SOCKET:
                if req.args[1] == SO_PEERCRED:
                    pid, uid, gid = sk.calls.peercred(sk)
                    return P.response(0, 0, UCRED.pack(pid, uid & 0xFFFFFFFF,
                                                       gid & 0xFFFFFFFF)), None
                if req.args[1] == SO_ACCEPTCONN:
                    return P.response(0, 0, int(sk.state == "LISTEN").to_bytes(4, "little")), None
            return P.response(-1, errno.EOPNOTSUPP), None
        except OSError as e:      # SocketError, or EMFILE/ENOBUFS making kernel sockets
            return P.response(-1, e.errno or errno.ENOBUFS), None

    @staticmethod
    def key_of(c: Any, sk: Socket, sa: bytes, req: P.Request,
               binding: bool = False) -> tuple[str, tuple, bytes]:
        """(kind, namespace key, stored sockaddr).  A path: the stub walked it in the
        caller's process and passed the node's O_PATH fd (arg0 bit 1); the node is that
        fd's, and the caller must may write to it as unix_find_bsd checks (binding: the
        node is the one the caller's bind just made, so it is the caller's)."""
        kind, name = parse_addr(sa)
        if kind == "abstract":
            return kind, ("a", sk.inner.type, name), abstract_sockaddr(name)
        if kind == "path":
            if not req.args[0] & 1 or req.fd < 0:
                raise SocketError(errno.EINVAL)
            st = os.fstat(req.fd)
            if not stat.S_ISSOCK(st.st_mode):
                raise SocketError(errno.ECONNREFUSED)
            if binding:
                if st.st_uid != c.status()[0] and not c.may_write(st):
                    raise SocketError(errno.EADDRINUSE)     # not a node this bind made
            elif not c.may_write(st):
                raise SocketError(errno.EACCES)
            return kind, ("p", st.st_dev, st.st_ino), path_sockaddr(name)
        return kind, (), b""

    def bind(self, c: Any, sk: Socket, req: P.Request):
        kind, key, addr = self.key_of(c, sk, req.payload, req, binding=True)
        sk.bind(None if kind == "auto" else (key, addr))
        return P.response(0), None

    def resolve(self, c: Any, sk: Socket, req: P.Request):
        """A datagram destination: the id of the socket bound to the name."""
        kind, key, _ = self.key_of(c, sk, req.payload, req)
        if kind == "auto":
            raise SocketError(errno.EINVAL)
        if req.args[0] & 2:
            sk.bind(None)             # SO_PASSCRED: Linux names the sender first
        return P.response(self.ids[sk.calls.resolve(sk, key)][-1]), None

    def listen(self, c, sk: Socket, req: P.Request):
        if sk.type == socket.SOCK_DGRAM:
            raise SocketError(errno.EOPNOTSUPP)
        backlog = req.args[0] & 0xFFFFFFFF
        if backlog > self.somaxconn:      # Linux compares unsigned: negative -> somaxconn
            backlog = self.somaxconn
        sk.calls.listen(sk, backlog, proc_cred(c.pid))
        if sk in self.listening:
            return P.response(0), None
        a, s = socket.socketpair(socket.AF_UNIX, sk.type)
        sock_id = self.new_fd(sk, a)
        s.setblocking(False)
        set_sndbuf(s, LISTENER_BUF)
        self.listeners[s.fileno()] = (s, sk)
        self.listening[sk] = s.fileno()
        self.table.watch(s.fileno(), 0, self.event)    # HUP: the program closed the listener
        return P.response(sock_id, 0, b"", P.KIND_UNIX), a.detach()

    def connect(self, c, sk: Socket, req: P.Request):
        kind, key, _ = self.key_of(c, sk, req.payload, req)
        if kind == "auto":
            raise SocketError(errno.EINVAL)
        if req.args[0] & 2:
            sk.bind(None)             # SO_PASSCRED: Linux names the socket first
        try:
            new = sk.calls.connect(sk, key, bool(req.args[3]), proc_cred(c.pid))
        except SocketError as e:
            # arg0 = 1: a blocking connect waits for room in the backlog and retries
            wait = e.errno == errno.EAGAIN and not req.args[3]
            return P.response(-1, e.errno, b"", int(wait)), None
        lst = new.inner.listener
        lfd = self.listening.get(lst.owner) if lst is not None else None
        try:
            if lfd is None:
                raise SocketError(errno.ECONNREFUSED)
            x, y = socket.socketpair(socket.AF_UNIX, sk.type)
        except OSError:
            self.undo_connect(sk, new)
            raise
        # A marker the accepting stub drops: a connection that is never accepted dies
        # with unread data, so its client reads ECONNRESET as on Linux.
        x.send(b"\0")
        sock_id = self.new_fd(sk, x)
        new_id = self.new_fd(new, y)
        try:
            self.listeners[lfd][0].sendmsg(
                [P.accept_record(new_id, sk.calls.getsockname(sk))],
                [(SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [y.fileno()]))])
        except OSError:
            x.close()
            self.undo_connect(sk, new)
            raise SocketError(errno.EAGAIN) from None
        finally:
            y.close()
        return P.response(sock_id, 0, b"", P.KIND_UNIX), x.detach()

    def undo_connect(self, sk: Socket, new: Socket) -> None:
        new.close()
        sk.inner.state, sk.inner.peer, sk.inner.cred = "CLOSED", None, None

    # ---- listeners ------------------------------------------------------------------

    def event(self, fd: int, ev: int) -> None:
        if ev & (select.EPOLLHUP | select.EPOLLERR):
            s, sk = self.listeners.pop(fd)
            del self.listening[sk]
            self.table.unwatch(fd)
            s.close()     # queued connections go with the listener's last fd
            if sk.inner.state == "LISTEN":
                sk.inner.state = "CLOSED"
            self.alive(sk)

    def close(self) -> None:
        for y, _pid in self.pair_ends.values():
            y.close()
        for s, _ in self.listeners.values():
            s.close()
        self.listeners.clear()
        self.listening.clear()

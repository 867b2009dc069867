"""Control connections of the stack host and the one place every request is routed.

A process talks to the host over its control connection (short RPCs, rn_protocol.h):
made by connecting to ctl.sock (the host's own user only) or sent over a dialer the
host gave out.  dispatch() routes a socket call to the service of the socket (by its
channel, or to the service that still holds the id), and host calls to their handlers.
"""
from __future__ import annotations

import array
import errno
import os
import socket
import traceback
from typing import Any, Callable

from shim import protocol as P
from shim.channels import ChannelTable

SOL_SOCKET = socket.SOL_SOCKET
SO_PEERCRED = 17               # Linux; PyPy 3.9's socket module lacks the name
EP_IN = 1


def peercred(s: socket.socket) -> tuple[int, int, int]:
    raw = s.getsockopt(SOL_SOCKET, SO_PEERCRED, 12)
    return tuple(array.array("i", raw))  # type: ignore[return-value]


class Client:
    """One process's control connection."""

    __slots__ = ("s", "fd", "pid", "uid")

    def __init__(self, s: socket.socket, pid: int, uid: int) -> None:
        self.s = s
        self.fd = s.fileno()
        self.pid = pid
        self.uid = uid             # effective uid of the process that made the connection

    def may_admin_net(self) -> bool:
        """CAP_NET_ADMIN (privileged socket options, SIOCSIF*)."""
        return self.uid == 0

    def may_bind_service(self) -> bool:
        """CAP_NET_BIND_SERVICE (ports below ip_unprivileged_port_start)."""
        return self.uid == 0


Handler = Callable[[Client, P.Request], Any]


class Control:
    def __init__(self, table: ChannelTable, nonce: bytes, listener: socket.socket,
                 host_ops: dict[int, Handler], services: dict[tuple[int, int], Any],
                 fallback: Any) -> None:
        """services: (family, type or -1 for every type) -> the service making those
        sockets; fallback: the service answering for ids nobody holds (closed sockets)."""
        self.table = table
        self.nonce = nonce
        self.listener = listener
        self.services = services
        self.fallback = fallback
        self.clients: dict[int, Client] = {}
        # Dialers (RN_OP_DIALER): host ends on which processes holding the inherited
        # other end send one end of a fresh socketpair to become a control connection.
        self.dialers: dict[int, socket.socket] = {}
        self.internal_errors = 0           # calls that raised unexpectedly (answered EIO)
        self.running = True
        self.host_ops: dict[int, Handler] = {
            P.OP_HELLO: self.op_hello, P.OP_SOCKET: self.op_socket, P.OP_DIALER: self.op_dialer}
        self.host_ops.update(host_ops)
        table.watch(listener.fileno(), EP_IN, self.accept_clients)

    def busy(self) -> bool:
        return bool(self.clients or self.dialers)

    # ---- connections ----------------------------------------------------------------

    def accept_clients(self, fd: int, ev: int) -> None:
        while True:
            try:
                s, _ = self.listener.accept()
            except OSError:
                return
            pid, uid, _gid = peercred(s)
            if uid != os.getuid():
                s.close()       # the host serves only its own user (or dialer holders)
                continue
            self.add_client(s, pid, uid)

    def add_client(self, s: socket.socket, pid: int, uid: int) -> None:
        s.setblocking(False)
        c = Client(s, pid, uid)
        self.clients[c.fd] = c
        self.table.watch(c.fd, EP_IN, self.client_event)

    def dialer_event(self, fd: int, ev: int) -> None:
        """Control connections sent over a dialer: served whatever the sender's uid."""
        d = self.dialers[fd]
        for _ in range(64):
            try:
                msg, anc, _flags, _addr = d.recvmsg(16, socket.CMSG_SPACE(4 * 8))
            except BlockingIOError:
                return
            except OSError:
                msg, anc = b"", []
            fds: list[int] = []
            for level, kind, data in anc:
                if level == SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.extend(array.array("i", data[: len(data) - len(data) % 4]))
            if not msg and not fds:
                self.table.unwatch(fd)          # every holder closed it
                del self.dialers[fd]
                d.close()
                return
            for new in fds:
                try:
                    s = socket.socket(fileno=new)
                except OSError:
                    os.close(new)
                    continue
                if s.family != socket.AF_UNIX or s.type != socket.SOCK_SEQPACKET:
                    s.close()
                    continue
                pid, uid, _gid = peercred(s)
                self.add_client(s, pid, uid)

    def drop_client(self, c: Client) -> None:
        self.table.unwatch(c.fd)
        del self.clients[c.fd]
        c.s.close()

    def client_event(self, fd: int, ev: int) -> None:
        c = self.clients[fd]
        for _ in range(32):
            try:
                msg = c.s.recv(P.REQ.size + P.MAX_PAYLOAD + 1)
            except BlockingIOError:
                return
            except OSError:
                self.drop_client(c)
                return
            if not msg:
                self.drop_client(c)
                return
            try:
                reply, rfd = self.dispatch(c, P.parse_request(msg))
            except ValueError:
                reply, rfd = P.response(-1, errno.EINVAL), None
            except Exception:   # a bug in one call must not take every program's sockets down
                self.internal_errors += 1
                traceback.print_exc()               # into host.log
                reply, rfd = P.response(-1, errno.EIO), None
            try:
                if rfd is None:
                    c.s.send(reply)
                else:
                    c.s.sendmsg([reply], [(SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [rfd]))])
            except OSError:
                self.drop_client(c)
                return
            finally:
                if rfd is not None:
                    os.close(rfd)
            if not self.running:
                return

    def close(self) -> None:
        for c in list(self.clients.values()):
            self.drop_client(c)
        for d in self.dialers.values():
            d.close()
        self.dialers.clear()
        self.listener.close()

    # ---- routing ----------------------------------------------------------------------

    def dispatch(self, c: Client, req: P.Request):  # type: ignore[no-untyped-def]
        """Run one RPC; returns (reply bytes, fd to pass or None)."""
        table = self.table
        table.caller = c
        ch = table.by_id.get(req.sock_id)
        if ch is not None:
            return ch.svc.dispatch(c, ch, req)
        for svc in table.held_ids:
            if svc.holds(req.sock_id):
                return svc.dispatch(c, None, req)
        host_op = self.host_ops.get(req.op)
        if host_op is not None:
            return host_op(c, req)
        return self.fallback.dispatch(c, None, req)

    # ---- host calls -------------------------------------------------------------------

    def op_hello(self, c: Client, req: P.Request):  # type: ignore[no-untyped-def]
        if req.args[1] != P.PROTO_VERSION:
            return P.response(-1, errno.EPROTO), None
        c.pid = req.args[0]
        return P.response(os.getpid(), 0, self.nonce), None

    def op_dialer(self, c: Client, req: P.Request):  # type: ignore[no-untyped-def]
        """A new dialer: the caller passes it on to the processes it starts."""
        a, d = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        d.setblocking(False)
        self.dialers[d.fileno()] = d
        self.table.watch(d.fileno(), EP_IN, self.dialer_event)
        return P.response(0), a.detach()

    def op_socket(self, c: Client, req: P.Request):  # type: ignore[no-untyped-def]
        family, type_, proto = req.args[0], req.args[1], req.args[2]
        svc = self.services.get((family, type_)) or self.services.get((family, -1))
        if svc is None:
            return P.response(-1, P.ERR_PASSTHROUGH), None
        try:
            return svc.new_socket(family, type_, proto)
        except OSError as e:        # EMFILE, ENOBUFS... making the kernel sockets
            return P.response(-1, e.errno or errno.ENOBUFS), None

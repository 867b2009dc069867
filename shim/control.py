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
import struct
import traceback
from typing import Any, Callable

from shim import protocol as P
from shim.channels import ChannelTable
from shim.procfs import proc_status

SOL_SOCKET = socket.SOL_SOCKET
SO_PEERCRED = 17               # Linux; PyPy 3.9's socket module lacks the name
SO_PASSCRED = 16
SCM_CREDENTIALS = 2
MSG_CMSG_CLOEXEC = 0x40000000   # PyPy 3.9's socket module lacks the name
UCRED = struct.Struct("=iII")
NO_CRED = (0, -1, -1)     # a message without SCM_CREDENTIALS: no sender to trust
HELLO_FLAGS = struct.Struct("=I")    # after the nonce in HELLO's reply: RN_HELLO_*
ANC_SPACE = socket.CMSG_SPACE(UCRED.size) + socket.CMSG_SPACE(4 * 4)
CAP_DAC_OVERRIDE, CAP_NET_BIND_SERVICE, CAP_NET_ADMIN, CAP_NET_RAW = 1, 10, 12, 13
CAP_SYS_ADMIN = 21
EP_IN = 1


def peercred(s: socket.socket) -> tuple[int, int, int]:
    raw = s.getsockopt(SOL_SOCKET, SO_PEERCRED, 12)
    return tuple(array.array("i", raw))  # type: ignore[return-value]


class Client:
    """One process's control connection, and who sent the request being served: the
    kernel's SCM_CREDENTIALS of that very message (SO_PASSCRED), never an id the caller
    names nor the credentials of whoever made the connection."""

    __slots__ = ("s", "fd", "pid", "uid", "gid", "_status", "proven", "net_admin", "owner",
                 "_supervises")

    def __init__(self, s: socket.socket) -> None:
        self.s = s
        self.fd = s.fileno()
        self.owner = peercred(s)[0]    # the process that made the connection (kernel-given)
        self._supervises: bool | None = None
        self.pid = 0               # the sender's process (kernel-given)
        self.uid = -1              # ... and its real uid / gid
        self.gid = -1
        self._status: tuple[int, int, int, tuple[int, ...]] | None = None
        self.proven: set[tuple[int, int]] = set()   # (pid, sock id) shown to hold it
        # CAP_NET_ADMIN of the sender, looked up only if the answer is needed
        self.net_admin = Capability(self, CAP_NET_ADMIN)

    def prove(self, sock_id: int) -> None:
        """The sender holds an fd of sock_id: its /proc fd table showed it, or the host
        just handed it the socket's A (had the fd not arrived, the socket is gone)."""
        if len(self.proven) > 4096:
            self.proven.clear()
        self.proven.add((self.pid, sock_id))

    def sent_by(self, pid: int, uid: int, gid: int) -> None:
        self.pid, self.uid, self.gid = pid, uid, gid
        self._status = None

    def status(self) -> tuple[int, int, int, tuple[int, ...]]:
        """(euid, egid, effective capabilities, groups) of the sender now, from
        /proc/<pid>/status (nothing at all if it is gone): what Linux checks."""
        if self._status is None:
            euid = egid = -1
            caps = 0
            groups: tuple[int, ...] = ()
            try:
                st = proc_status(self.pid)
                euid = int(st[b"Uid"][1])
                egid = int(st[b"Gid"][1])
                caps = int(st[b"CapEff"][0], 16)
                groups = tuple(int(g) for g in st[b"Groups"])
            except (OSError, ValueError, IndexError, KeyError):
                euid = egid = -1
                caps = 0
                groups = ()
            self._status = (euid, egid, caps, groups)
        return self._status

    def capable(self, cap: int) -> bool:
        return bool(self.status()[2] >> cap & 1)

    def owner_supervises(self) -> bool:
        """The connection's maker is a seccomp supervisor acting for the senders it names:
        it holds a seccomp listener and may name other processes as senders
        (CAP_SYS_ADMIN, what the kernel's scm_check_creds asks; it may read any fd table
        too).  A privileged program whose connection a dropped child inherited is not
        one: that child is served on its own fds only."""
        if self._supervises is None:
            try:
                caps = int(proc_status(self.owner)[b"CapEff"][0], 16)
            except (OSError, ValueError, IndexError, KeyError):
                caps = 0
            self._supervises = bool(caps >> CAP_SYS_ADMIN & 1) and \
                holds_listener(self.owner)
        return self._supervises

    def may_bind_service(self) -> bool:
        """CAP_NET_BIND_SERVICE (ports below ip_unprivileged_port_start)."""
        return self.capable(CAP_NET_BIND_SERVICE)

    def may_raise_priority(self) -> bool:
        """SO_PRIORITY above 6: CAP_NET_RAW or CAP_NET_ADMIN (sk_setsockopt)."""
        return self.capable(CAP_NET_RAW) or self.capable(CAP_NET_ADMIN)

    def may_ping(self) -> bool:
        """An ICMP echo socket: the effective gid or a supplementary group inside the
        kernel's net.ipv4.ping_group_range (ping_init_sock).  CAP_NET_RAW may too: the
        stack serves no raw socket, which is how such a process pings on Linux."""
        if self.capable(CAP_NET_RAW):
            return True
        try:
            with open("/proc/sys/net/ipv4/ping_group_range") as f:
                low, high = (int(x) for x in f.read().split()[:2])
        except (OSError, ValueError):
            return False
        _euid, egid, _caps, groups = self.status()
        return any(low <= g <= high for g in (egid, *groups))

    def may_write(self, st: os.stat_result) -> bool:
        """Write permission on a file node for the sender (generic_permission, MAY_WRITE)."""
        euid, egid, _caps, groups = self.status()
        if self.capable(CAP_DAC_OVERRIDE):
            return True
        if euid == st.st_uid:
            return bool(st.st_mode & 0o200)
        if st.st_gid == egid or st.st_gid in groups:
            return bool(st.st_mode & 0o020)
        return bool(st.st_mode & 0o002)

    def is_owner(self) -> bool:
        """The host's own user (effective uid), or root, as Linux lets root."""
        euid = self.status()[0]
        return euid in (os.geteuid(), 0)


class Capability:
    """A capability of the client's current sender, true or false when first asked:
    what the engine gets as Socket.privileged (most calls never look)."""

    __slots__ = ("c", "cap")

    def __init__(self, c: Client, cap: int) -> None:
        self.c = c
        self.cap = cap

    def __bool__(self) -> bool:
        return self.c.capable(self.cap)


Handler = Callable[[Client, P.Request], Any]


class Control:
    def __init__(self, table: ChannelTable, nonce: bytes, listener: socket.socket,
                 host_ops: dict[int, Handler], services: dict[tuple[int, int], Any],
                 fallback: Any, hello_flags: int = 0) -> None:
        """services: (family, type or -1 for every type) -> the service making those
        sockets; fallback: the service answering for ids nobody holds (closed sockets);
        hello_flags: RN_HELLO_* of the running kernel, told to every stub."""
        self.table = table
        self.hello_flags = hello_flags
        self.nonce = nonce
        self.listener = listener
        self.services = services
        self.fallback = fallback
        self.clients: dict[int, Client] = {}
        # clients that said HELLO (programs, `rocketnet run`): `host list` and other
        # administration neither count as clients nor keep an on-demand host up
        self.greeted: set[int] = set()
        # Dialers (RN_OP_DIALER): host ends on which processes holding the inherited
        # other end send one end of a fresh socketpair to become a control connection.
        self.dialers: dict[int, socket.socket] = {}
        self.hello_args = (0, 0)    # HELLO's arg0, arg1 (rn_protocol.h): set by the host
        self.internal_errors = 0           # calls that raised unexpectedly (answered EIO)
        self.requests = 0                  # RPCs served: round trips the programs made
        self.running = True
        self.host_ops: dict[int, Handler] = {
            P.OP_HELLO: self.op_hello, P.OP_SOCKET: self.op_socket, P.OP_DIALER: self.op_dialer}
        self.host_ops.update(host_ops)
        table.watch(listener.fileno(), EP_IN, self.accept_clients)

    def busy(self) -> bool:
        return bool(self.greeted or self.dialers)

    # ---- connections ----------------------------------------------------------------

    def accept_clients(self, fd: int, ev: int) -> None:
        while True:
            try:
                s, _ = self.listener.accept()
            except OSError:
                return
            if peercred(s)[1] != os.getuid():
                s.close()       # the host serves only its own user (or dialer holders)
                continue
            self.add_client(s)

    def add_client(self, s: socket.socket) -> None:
        s.setblocking(False)
        s.setsockopt(SOL_SOCKET, SO_PASSCRED, 1)    # every request carries its sender
        c = Client(s)
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
                self.add_client(s)

    def drop_client(self, c: Client) -> None:
        self.table.unwatch(c.fd)
        del self.clients[c.fd]
        self.greeted.discard(c.fd)
        c.s.close()

    def client_event(self, fd: int, ev: int) -> None:
        c = self.clients[fd]
        for _ in range(32):
            try:
                msg, anc, _flags, _addr = c.s.recvmsg(P.REQ.size + P.MAX_PAYLOAD + 1, ANC_SPACE,
                                                      MSG_CMSG_CLOEXEC)
            except BlockingIOError:
                return
            except OSError:
                self.drop_client(c)
                return
            if not msg:
                self.drop_client(c)
                return
            self.requests += 1
            passed: list[int] = []
            cred = NO_CRED
            for level, kind, data in anc:
                if level == SOL_SOCKET and kind == SCM_CREDENTIALS and len(data) >= UCRED.size:
                    cred = UCRED.unpack_from(data)
                elif level == SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    passed.extend(array.array("i", data[: len(data) - len(data) % 4]))
            c.sent_by(*cred)
            try:
                req = P.parse_request(msg, passed[0] if passed else -1)
                reply, rfd = self.dispatch(c, req)
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
                for fd in passed:
                    os.close(fd)
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
            svc = ch.svc
        else:
            # id 0 (socket(), host calls) is never a socket's (ChannelTable.new_id)
            svc = table.holder(req.sock_id) if req.sock_id else None
            if svc is None:
                host_op = self.host_ops.get(req.op)
                if host_op is not None:
                    return host_op(c, req)
                svc = self.fallback
        if req.op not in svc.public_ops and not self.holds_socket(c, req):
            return P.response(-1, errno.EBADF), None   # not a socket of the caller's
        return svc.dispatch(c, ch, req)

    def holds_socket(self, c: Client, req: P.Request) -> bool:
        """Whether the process that sent req holds an fd of the socket it names: its
        /proc/<pid>/fd entry (the hinted one first) is the inode the host gave out.
        A sender named by a connection maker that may name others (the seccomp
        supervisor) may instead be served on the maker's fds: mid-call the socket can be
        the maker's alone (a fresh A before it is installed in the program).  An id the
        host never gave out names nothing to protect."""
        ino = self.table.inodes.get(req.sock_id)
        if ino is None:
            return True
        proven = c.proven
        key = (c.pid, req.sock_id)
        if key in proven:
            return True
        target = f"socket:[{ino}]"
        found = fd_table_holds(c.pid, req.fd_hint, target)
        if not found and c.owner != c.pid and c.owner_supervises():
            found = fd_table_holds(c.owner, req.fd_hint, target)
        if found:
            c.prove(req.sock_id)
        return found

    # ---- host calls -------------------------------------------------------------------

    def op_hello(self, c: Client, req: P.Request):  # type: ignore[no-untyped-def]
        if req.args[1] != P.PROTO_VERSION:
            return P.response(-1, errno.EPROTO), None
        self.greeted.add(c.fd)
        return P.response(os.getpid(), 0, self.nonce + HELLO_FLAGS.pack(self.hello_flags),
                          *self.hello_args), None

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
            resp, fd = svc.new_socket(family, type_, proto)
        except OSError as e:        # EMFILE, ENOBUFS... making the kernel sockets
            return P.response(-1, e.errno or errno.ENOBUFS), None
        if fd is None:
            return resp, fd
        # arg1: A's inode, which the stub's cache keys on (it need not fstat A)
        ret, err, plen, arg0, _ = P.RESP.unpack_from(resp)
        c.prove(ret)        # A goes to the caller
        return P.response(ret, err, resp[P.RESP.size:], arg0,
                          self.table.inodes.get(ret, 0)), fd


def fd_table_holds(pid: int, hint: int, target: str) -> bool:
    """/proc/<pid>/fd has an entry for target ("socket:[ino]", ...), fd hint-1 first."""
    fds = f"/proc/{pid}/fd/"
    try:
        if hint > 0 and os.readlink(fds + str(hint - 1)) == target:
            return True
    except OSError:
        pass
    if pid <= 0:
        return False
    try:
        names = os.listdir(fds)
    except OSError:
        return False
    for name in names:
        try:
            if os.readlink(fds + name) == target:
                return True
        except OSError:
            continue
    return False


def holds_listener(pid: int) -> bool:
    """pid holds a seccomp user-notification listener (kernel-given, its fd table)."""
    return fd_table_holds(pid, 0, "anon_inode:seccomp notify")

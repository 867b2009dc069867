"""The stack host: the process that plays the kernel for shimmed programs.

One event loop (epoll) drives everything: the control socket where processes connect,
one control connection per process (short RPCs from the stub), one channel per shim
socket (the S end of the socket pair whose A end is the program's fd), and the stack's
timers.  The stack itself (rocketnet.NetStack) is sans-I/O: this module moves bytes
between channels and stack sockets and turns RPCs into stack calls.

Stream channel (TCP):
- app -> stack: bytes the program writes to A are read from S while the TCP send
  buffer has room; EOF on S is the program's shutdown(SHUT_WR), POLLHUP on S is the
  last close of A (close in Linux terms).
- stack -> app: received bytes are written to S; the peer's FIN becomes
  shutdown(S, SHUT_WR), so the program reads 0.
- connect: the stub first fills A with "filler" bytes until A is not writable; the
  host discards exactly that many bytes once the handshake is over, so POLLOUT on A
  appears when the connection is established (ARCHITECTURE.md section 2).
- failure (refused, reset, timed out): S is closed with the filler or data unread, so
  A reports POLLERR|POLLHUP and ECONNRESET; the errno is kept for SO_ERROR.
"""
from __future__ import annotations

import argparse
import array
import errno
import fcntl
import json
import os
import secrets
import select
import signal
import socket
import sys
import termios
import time
import traceback
from collections import OrderedDict, deque

from rocketnet.socket import Socket, SocketError
from rocketnet.stack import NetStack
from shim import ifinfo, kprofile, netconfig, runtime, sockaddr
from shim import protocol as P
from shim.alg import AF_ALG, AlgChannel, AlgService
from shim.dgram import DgramChannel, DgramService
from shim.netlink import NetlinkChannel, NetlinkService
from shim.unix import UnixService

SERVED = {(socket.AF_INET, socket.SOCK_STREAM), (socket.AF_INET6, socket.SOCK_STREAM)}
DGRAM_SERVED = {(socket.AF_INET, socket.SOCK_DGRAM), (socket.AF_INET6, socket.SOCK_DGRAM)}
READ_CHUNK = 256 * 1024
# S's send buffer (SO_SNDBUFFORCE beyond wmem_max): what the program has not read yet,
# on top of the TCP receive buffer, like the tail of Linux's autotuned rcvbuf.
CHANNEL_BUF = 1024 * 1024
# close() with SO_LINGER waits while the socket is in one of these (FIN not yet acked)
LINGER_STATES = {"ESTABLISHED", "SYN_RECEIVED", "CLOSE_WAIT", "FIN_WAIT_1", "CLOSING",
                 "LAST_ACK"}
DEAD_KEEP = 4096                    # sockets whose errno is kept for SO_ERROR after failure
SOL_SOCKET = socket.SOL_SOCKET
SO_ERROR = socket.SO_ERROR
SO_ACCEPTCONN = 30
SO_SNDBUFFORCE = 32
SO_RCVBUFFORCE = 33
SO_PEERCRED = 17               # Linux; PyPy 3.9's socket module lacks the name
EP_IN, EP_OUT = select.EPOLLIN, select.EPOLLOUT
EP_HUPS = select.EPOLLHUP | select.EPOLLERR
TCP_ESTABLISHED_OR_LATER = {"ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING",
                            "LAST_ACK", "TIME_WAIT"}


def unprivileged_port_start() -> int:
    """The host kernel's net.ipv4.ip_unprivileged_port_start (1024 if unreadable)."""
    try:
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 1024


def set_sndbuf(s: socket.socket, size: int) -> None:
    """A kernel send buffer of 2 * size (beyond wmem_max if the host may)."""
    try:
        s.setsockopt(SOL_SOCKET, SO_SNDBUFFORCE, size)
    except OSError:
        s.setsockopt(SOL_SOCKET, socket.SO_SNDBUF, size)


class Channel:
    """One shim socket: the host's S end and the stack socket behind it."""

    __slots__ = ("sock_id", "family", "s", "fd", "sk", "filler", "connecting", "listening",
                 "out", "app_eof", "app_closed", "fin_to_app", "mask", "pending_accept",
                 "a_shut", "more", "nb_connect", "unseen_fail", "a_sndbuf", "s_sndbuf")

    def __init__(self, sock_id: int, family: int, s: socket.socket, sk: Socket) -> None:
        self.sock_id = sock_id
        self.family = family
        self.s = s
        self.fd = s.fileno()
        self.sk = sk
        self.filler = 0            # filler bytes still to discard from S
        self.connecting = False
        self.listening = False
        self.out: deque[memoryview] = deque()   # received bytes S did not take yet
        self.app_eof = False       # the program will write no more (EOF on S)
        self.app_closed = False    # the last A is closed (POLLHUP on S)
        self.fin_to_app = False    # shutdown(S, SHUT_WR) done
        self.mask = 0
        self.pending_accept: deque[Socket] = deque()
        self.a_shut = False        # A is shut for writing: never connected (writes: EPIPE)
        self.more = False          # MSG_MORE: what the program writes is held back
        self.nb_connect = False    # the last connect was non-blocking (its result unseen)
        self.unseen_fail: int | None = None     # see op_connect


        # SO_SNDBUF / SO_RCVBUF set by the program: the kernel send buffers of A and S
        # (0: the defaults), inherited by accepted sockets as the stack's buffers are
        self.a_sndbuf = 0
        self.s_sndbuf = 0

    def size_like(self, other: Channel, a: socket.socket) -> None:
        """Buffer sizes of other's pair for this one, whose A is not handed over yet."""
        self.a_sndbuf, self.s_sndbuf = other.a_sndbuf, other.s_sndbuf
        if self.a_sndbuf:
            a.setsockopt(SOL_SOCKET, socket.SO_SNDBUF, self.a_sndbuf)
        if self.s_sndbuf:
            set_sndbuf(self.s, self.s_sndbuf)


class Client:
    """One process's control connection."""

    __slots__ = ("s", "fd", "pid", "uid")

    def __init__(self, s: socket.socket) -> None:
        self.s = s
        self.fd = s.fileno()
        self.pid = 0
        self.uid = 0               # effective uid of the process that made the connection


class StackHost:
    def __init__(self, name: str, idle_timeout: float | None,
                 net: argparse.Namespace | None = None) -> None:
        self.name = name
        self.idle_timeout = idle_timeout
        self.nonce = secrets.token_hex(P.NONCE_LEN // 2).encode()
        seed = net.seed if net is not None and net.seed is not None else secrets.randbits(32)
        # the running kernel's answers where Linux versions differ (shim/kprofile.py)
        self.stack = NetStack(seed=seed, profile=kprofile.probe())
        self.ep = select.epoll()
        self.devices: dict = {}         # fd -> device with on_readable() (TAP, wire)
        if net is not None:
            for dev in netconfig.configure(self.stack, net.eth, net.addr, net.gateway,
                                           net.pcap, net.impair, net.seed):
                self.devices[dev.fileno()] = dev
                self.ep.register(dev.fileno(), EP_IN)
        self.clients: dict[int, Client] = {}
        # Dialers (RN_OP_DIALER): host ends on which processes holding the inherited
        # other end send one end of a fresh socketpair to become a control connection.
        self.dialers: dict[int, socket.socket] = {}
        self.current: Client | None = None     # the client whose RPC is being served
        self.channels: dict[int, Channel] = {}          # by S fd
        self.by_sock: dict[Socket, Channel] = {}
        self.by_id: dict[int, Channel] = {}
        self.dead: OrderedDict[int, int] = OrderedDict()  # sock_id -> pending errno
        self.closed_fds: set[int] = set()   # channel fds closed while serving one batch
        # Failed sockets, kept so that the program can use them again (RN_OP_REOPEN).
        self.dormant: OrderedDict[int, Channel] = OrderedDict()
        # Sockets the program closed while bytes it wrote were still queued in S: the
        # bytes, drained from S, go to the stack as its send buffer frees, then FIN.
        self.orphans: dict[Socket, deque[bytes]] = {}
        # close() with SO_LINGER {1, secs} (RN_OP_LINGER): the waiter ends the host closes
        # once what the socket sent is acknowledged; recently closed sockets by id.
        self.lingering: dict[Socket, list[socket.socket]] = {}
        self.recent_closed: OrderedDict[int, Socket] = OrderedDict()
        self.ids = 0
        self.running = True
        self.idle_since = time.monotonic()
        self.ctl_path = runtime.ctl_path(name)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            os.unlink(self.ctl_path)
        except FileNotFoundError:
            pass
        old_umask = os.umask(0o077)
        try:
            self.listener.bind(str(self.ctl_path))
        finally:
            os.umask(old_umask)
        self.listener.listen(128)
        self.listener.setblocking(False)
        self.ep.register(self.listener.fileno(), EP_IN)
        # Signals wake the loop through this pair (PEP 475 would otherwise resume epoll).
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        self.ep.register(self.wake_r.fileno(), EP_IN)
        self.internal_errors = 0           # calls that raised unexpectedly (answered EIO)
        self.host_ops = {P.OP_HELLO: self.op_hello, P.OP_SOCKET: self.op_socket,
                         P.OP_DIALER: self.op_dialer, P.OP_REOPEN: self.op_reopen,
                         P.OP_HOST_STATS: self.op_host_stats, P.OP_HOST_STOP: self.op_host_stop}
        self.host_ops[P.OP_HOST_PCAP] = self.op_host_pcap
        self.host_ops[P.OP_LINGER] = self.op_linger
        self.host_ops[P.OP_RDEND] = self.op_rdend
        self.socket_ops = {
            P.OP_BIND: self.op_bind, P.OP_LISTEN: self.op_listen, P.OP_CONNECT: self.op_connect,
            P.OP_SHUTDOWN: self.op_shutdown, P.OP_GETSOCKNAME: self.op_getsockname,
            P.OP_GETPEERNAME: self.op_getpeername, P.OP_GETSOCKOPT: self.op_getsockopt,
            P.OP_SETSOCKOPT: self.op_setsockopt, P.OP_IOCTL: self.op_ioctl,
            P.OP_MORE: self.op_more,
            P.OP_OOB: self.op_oob,
        }
        self.dgram = DgramService(self)    # datagram channels (shim/dgram.py)
        self.socket_ops[P.OP_DGRAM_CHECK] = self.op_ioctl   # ENOTTY unless datagram
        self.socket_ops[P.OP_DGRAM_SYNC] = self.op_ioctl
        self.socket_ops[P.OP_IOCTL] = self.op_ifioctl    # SIOCGIF*: the stack's interfaces
        self.netlink = NetlinkService(self)   # NETLINK_ROUTE sockets (shim/netlink.py)
        self.alg = AlgService(self)        # AF_ALG sockets (shim/alg.py)
        self.unix = UnixService(self)      # AF_UNIX sockets (shim/unix.py)
        self.host_ops[P.OP_UNIX_PAIR] = self.unix.new_pair
        for op in self.alg.ops:
            self.socket_ops.setdefault(op, self.op_ioctl)

    # ---- event loop -------------------------------------------------------------

    def serve(self) -> None:
        stack = self.stack
        while self.running:
            now = time.monotonic()
            due = stack.poll_at(now)
            timeout = -1.0 if due is None else max(0.0, due - now)
            if (self.idle_timeout is not None and not self.clients and not self.channels
                    and not self.dialers):
                left = self.idle_since + self.idle_timeout - now
                if left <= 0:
                    break
                timeout = left if timeout < 0 else min(timeout, left)
            try:
                events = self.ep.poll(timeout, 512)
            except InterruptedError:
                continue
            closed = self.closed_fds
            closed.clear()
            for fd, ev in events:
                if closed and fd in closed:
                    continue        # closed in this batch: the fd may be a new channel's
                ch = self.channels.get(fd)
                if ch is not None:
                    try:
                        self.channel_event(ch, ev)
                    except Exception:   # a bug ends that socket, not every program's
                        self.internal_errors += 1
                        traceback.print_exc()           # into host.log
                        if self.channels.get(fd) is ch:
                            self.close_channel(ch)
                elif fd in self.clients:
                    self.client_event(self.clients[fd], ev)
                elif fd in self.devices:
                    self.devices[fd].on_readable()
                elif fd in self.dialers:
                    self.dialer_event(self.dialers[fd])
                elif fd == self.listener.fileno():
                    self.accept_clients()
                elif fd == self.wake_r.fileno():
                    self.wake_r.recv(64)
                elif fd in self.unix.listeners:
                    self.unix.event(fd, ev)
            self.run_stack()
            if self.lingering:
                self.check_lingering()
            if self.clients or self.channels or self.dialers:
                self.idle_since = time.monotonic()

    def run_stack(self) -> None:
        """Poll the stack and serve every socket whose state it changed."""
        stack = self.stack
        for _ in range(64):
            stack.poll(time.monotonic())
            changed = stack.take_events()
            if not changed:
                return
            for sk in changed:
                ch = self.by_sock.get(sk)
                if ch is not None:
                    self.service(ch)
                elif sk in self.orphans:
                    self.feed_orphan(sk)

    # ---- control connections ----------------------------------------------------

    def accept_clients(self) -> None:
        while True:
            try:
                s, _ = self.listener.accept()
            except BlockingIOError:
                return
            except OSError:
                return
            pid, uid, _gid = self.peercred(s)
            if uid != os.getuid():
                s.close()       # the host serves only its own user (or dialer holders)
                continue
            self.add_client(s, pid, uid)

    def add_client(self, s: socket.socket, pid: int, uid: int) -> None:
        s.setblocking(False)
        c = Client(s)
        c.pid = pid
        c.uid = uid
        self.clients[c.fd] = c
        self.ep.register(c.fd, EP_IN)

    def dialer_event(self, d: socket.socket) -> None:
        """Control connections sent over a dialer: served whatever the sender's uid."""
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
                self.ep.unregister(d.fileno())  # every holder closed it
                del self.dialers[d.fileno()]
                d.close()
                return
            for fd in fds:
                try:
                    s = socket.socket(fileno=fd)
                except OSError:
                    os.close(fd)
                    continue
                if s.family != socket.AF_UNIX or s.type != socket.SOCK_SEQPACKET:
                    s.close()
                    continue
                pid, uid, _gid = self.peercred(s)
                self.add_client(s, pid, uid)

    @staticmethod
    def peercred(s: socket.socket) -> tuple[int, int, int]:
        raw = s.getsockopt(SOL_SOCKET, SO_PEERCRED, 12)
        return tuple(array.array("i", raw))  # type: ignore[return-value]

    def drop_client(self, c: Client) -> None:
        self.ep.unregister(c.fd)
        del self.clients[c.fd]
        c.s.close()

    def client_event(self, c: Client, ev: int) -> None:
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
                reply, fd = self.dispatch(c, P.parse_request(msg))
            except ValueError:
                reply, fd = P.response(-1, errno.EINVAL), None
            except Exception:   # a bug in one call must not take every program's sockets down
                self.internal_errors += 1
                traceback.print_exc()               # into host.log
                reply, fd = P.response(-1, errno.EIO), None
            try:
                if fd is None:
                    c.s.send(reply)
                else:
                    c.s.sendmsg([reply], [(SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
            except OSError:
                self.drop_client(c)
                return
            finally:
                if fd is not None:
                    os.close(fd)
            if not self.running:
                return

    # ---- RPCs ---------------------------------------------------------------------

    def dispatch(self, c: Client, req: P.Request):
        """Run one RPC; returns (reply bytes, fd to pass or None)."""
        if req.sock_id in self.unix.socks:
            return self.unix.dispatch(c, req)
        op = self.socket_ops.get(req.op)
        if op is None:
            host_op = self.host_ops.get(req.op)
            if host_op is None:
                return P.response(-1, errno.ENOSYS), None
            return host_op(c, req)
        self.current = c
        ch = self.by_id.get(req.sock_id)
        if ch is None:
            dormant = self.dormant.get(req.sock_id)
            if dormant is not None and self.reusable(dormant, req):
                return P.response(-1, P.ERR_REOPEN), None
            return self.dead_socket_op(req, self.dead.get(req.sock_id),
                                       dormant.family if dormant is not None else None)
        if isinstance(ch, NetlinkChannel):
            return self.netlink.dispatch(ch, req)
        if isinstance(ch, AlgChannel):
            return self.alg.dispatch(ch, req)
        if isinstance(ch, DgramChannel):
            op = self.dgram.ops.get(req.op, op)
            self.dgram.before_op(ch)
        try:
            return op(ch, req)
        except SocketError as e:
            return P.response(-1, e.errno), None
        finally:
            self.run_stack()

    def op_hello(self, c: Client, req: P.Request):
        if req.args[1] != P.PROTO_VERSION:
            return P.response(-1, errno.EPROTO), None
        c.pid = req.args[0]
        return P.response(os.getpid(), 0, self.nonce), None

    def op_dialer(self, c: Client, req: P.Request):
        """A new dialer: the caller passes it on to the processes it starts."""
        a, d = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        d.setblocking(False)
        self.dialers[d.fileno()] = d
        self.ep.register(d.fileno(), EP_IN)
        return P.response(0), a.detach()

    def op_socket(self, c: Client, req: P.Request):
        family, type_, proto = req.args[0], req.args[1], req.args[2]
        if family == socket.AF_NETLINK:
            return self.netlink.new_socket(type_, proto)
        if family == AF_ALG:
            return self.alg.new_socket(type_, proto)
        if family == socket.AF_UNIX:
            return self.unix.new_socket(type_, proto)
        if (family, type_) in DGRAM_SERVED:
            reply = self.dgram.new_socket(family, type_, proto)
            if reply[0] == P.response(-1, errno.EPROTONOSUPPORT):
                # a protocol the stack lacks (UDP-Lite...) is the kernel's, which
                # answers EPROTONOSUPPORT itself for one it lacks too
                return P.response(-1, P.ERR_PASSTHROUGH), None
            return reply
        if (family, type_) not in SERVED:
            return P.response(-1, P.ERR_PASSTHROUGH), None
        try:
            sk = self.stack.socket(family, type_, proto)
        except SocketError as e:
            return P.response(-1, e.errno), None
        sock_id, a, s = self.new_pair()
        ch = Channel(sock_id, family, s, sk)
        # Not connected: A refuses writes (EPIPE, SIGPIPE) as an unconnected TCP socket
        # does; connect swaps in a writable A (RN_OP_REOPEN).  A listener never writes.
        a.shutdown(socket.SHUT_WR)
        ch.a_shut = True
        self.add_channel(ch)
        return P.response(sock_id, 0, b"", P.KIND_STREAM), a.detach()

    def op_reopen(self, c: Client, req: P.Request):
        """A fresh pair for a socket whose A cannot serve the next call (see rn_protocol.h)."""
        old = self.by_id.get(req.sock_id)
        unseen = None
        if old is not None and old.a_shut and not old.listening:
            self.close_channel(old)
            sk = old.sk                          # same stack socket: options, binding kept
        else:
            old = self.dormant.pop(req.sock_id, None)
            if old is None:
                return P.response(-1, errno.EBADF), None
            err = self.dead.pop(req.sock_id, None)
            if old.nb_connect:
                unseen = err or 0
            try:
                sk = old.sk.renewed()
            except SocketError as e:
                return P.response(-1, e.errno), None
        sock_id, a, s = self.new_pair()
        ch = Channel(sock_id, old.family, s, sk)
        ch.unseen_fail = unseen


        ch.size_like(old, a)
        self.add_channel(ch)
        return P.response(sock_id, 0, b"", P.KIND_STREAM), a.detach()

    def next_id(self) -> int:
        self.ids = (self.ids + 1) & 0xFFFFFFFF or 1
        return self.ids

    def new_pair(self) -> tuple[int, socket.socket, socket.socket]:
        """A fresh socket id and its pair: A named for recognition, S ready for the loop."""
        sock_id = self.next_id()
        a, s = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        a.bind(b"\0" + P.NAME_PREFIX + self.nonce + b"-%d" % sock_id)
        s.setblocking(False)
        set_sndbuf(s, CHANNEL_BUF)
        return sock_id, a, s

    def add_channel(self, ch: Channel) -> None:
        self.channels[ch.fd] = ch
        self.by_sock[ch.sk] = ch
        self.by_id[ch.sock_id] = ch
        self.ep.register(ch.fd, 0)
        self.update_mask(ch)

    @staticmethod
    def reusable(ch: Channel, req: P.Request) -> bool:
        """Whether a call on a failed socket uses it again (Linux: the socket is CLOSED
        and usable); the argument checks Linux makes first still fail here."""
        if req.op == P.OP_GETSOCKOPT and req.args[0] == SOL_SOCKET and req.args[1] == SO_ERROR:
            return False
        if req.op in (P.OP_GETPEERNAME, P.OP_SHUTDOWN):
            return False
        if req.op == P.OP_CONNECT:
            try:
                return sockaddr.decode(ch.family, req.payload, for_bind=False) is not None
            except SocketError:
                return False        # EAFNOSUPPORT, EINVAL...: dead_socket_op answers
        return True

    def dead_socket_op(self, req: P.Request, err: int | None, family: int | None = None):
        """A socket whose channel the host closed after a failure (refused, reset)."""
        if err is None:
            return P.response(-1, errno.EBADF), None
        if req.op == P.OP_GETSOCKOPT and req.args[0] == SOL_SOCKET and req.args[1] == SO_ERROR:
            self.dead[req.sock_id] = 0
            return P.response(0, 0, err.to_bytes(4, "little", signed=True)), None
        if req.op in (P.OP_GETPEERNAME, P.OP_SHUTDOWN):
            return P.response(-1, errno.ENOTCONN), None
        if req.op == P.OP_CONNECT:
            try:
                if family is not None and sockaddr.decode(family, req.payload,
                                                          for_bind=False) is None:
                    return P.response(0), None      # AF_UNSPEC: disconnect, nothing to do
            except SocketError as e:
                return P.response(-1, e.errno), None
            return P.response(-1, err or errno.ECONNABORTED), None
        return P.response(-1, errno.EINVAL), None

    def op_bind(self, ch: Channel, req: P.Request):
        addr = sockaddr.decode(ch.family, req.payload, for_bind=True)
        port = addr[1] if isinstance(addr, tuple) and len(addr) > 1 else 0
        c = self.current
        if c is not None and c.uid != 0 and 0 < port < unprivileged_port_start():
            raise SocketError(errno.EACCES)     # Linux: no CAP_NET_BIND_SERVICE
        self.retry_in_use(ch.sk.bind, addr)
        return P.response(0), None

    def retry_in_use(self, call, *args) -> None:  # type: ignore[no-untyped-def]
        """call(*args), once more on EADDRINUSE if sockets whose last A is closed held
        the port: Linux frees it in close(), before the program's next call."""
        try:
            call(*args)
        except SocketError as e:
            if e.errno != errno.EADDRINUSE or not self.reap_closed():
                raise
            call(*args)

    def reap_closed(self) -> bool:
        """Handle now the EPOLLHUP of TCP channels whose last A is closed (it may be
        queued behind the current RPC). True if there were any."""
        p = select.poll()
        for fd, c in self.channels.items():
            if type(c) is Channel:
                p.register(fd, 0)           # POLLHUP is always reported
        hup = [fd for fd, ev in p.poll(0) if ev & select.POLLHUP]
        for fd in hup:
            c = self.channels.get(fd)
            if c is not None:
                self.channel_event(c, select.EPOLLHUP)
        return bool(hup)

    def op_listen(self, ch: Channel, req: P.Request):
        self.retry_in_use(ch.sk.listen, req.args[0])
        ch.listening = True
        self.update_mask(ch)
        return P.response(0), None

    def op_connect(self, ch: Channel, req: P.Request):
        filler, nonblocking = req.args[0], req.args[1]
        if len(req.payload) >= 2 and sockaddr.family_of(req.payload) == socket.AF_UNSPEC:
            # Linux (__inet_stream_connect): AF_UNSPEC disconnects, in any state; the
            # socket is then unconnected and usable again (RN_OP_REOPEN on next use).
            self.discard_now(ch, filler)
            if ch.a_shut and ch.sk.state == "CLOSED" and not ch.listening:
                return P.response(0), None
            self.fail(ch, 0)
            ch.sk.abort(time.monotonic())
            return P.response(0), None
        if ch.unseen_fail is not None:
            # Linux: the first connect after a non-blocking one failed unseen by connect
            # only reports (the error, else ECONNABORTED) and disconnects
            err, ch.unseen_fail = ch.unseen_fail or errno.ECONNABORTED, None
            self.discard_now(ch, filler)
            return P.response(-1, err), None
        state = ch.sk.state
        if state == "SYN_SENT":
            ch.filler += filler            # discarded with the first filler
            return P.response(-1, errno.EALREADY), None
        if state != "CLOSED" or ch.listening:
            self.discard_now(ch, filler)   # nothing starts: the filler goes now
            err = errno.EINVAL if ch.listening else errno.EISCONN
            return P.response(-1, err), None
        try:
            addr = sockaddr.decode(ch.family, req.payload, for_bind=False)
            if addr is None:
                raise SocketError(errno.EINVAL)   # AF_UNSPEC on an unconnected socket: no-op
            if ch.a_shut:
                self.discard_now(ch, filler)
                return P.response(-1, P.ERR_REOPEN), None
            ch.sk.connect(addr, time.monotonic())
        except SocketError:
            self.discard_now(ch, filler)
            raise
        ch.filler += filler
        ch.connecting = True
        ch.nb_connect = bool(nonblocking)
        self.update_mask(ch)
        if nonblocking:
            return P.response(-1, errno.EINPROGRESS), None
        self.run_stack()
        if ch.sk.state in TCP_ESTABLISHED_OR_LATER:
            return P.response(0), None
        err = ch.sk.error
        if err:
            ch.sk.take_error()
            return P.response(-1, err), None
        return P.response(-1, errno.EINPROGRESS), None

    def discard_now(self, ch: Channel, count: int) -> None:
        """Drop the filler the stub wrote when no connection starts.

        Whatever the program wrote before it stays in S ahead of the filler; those bytes
        are read into the send path first, so only the last `count` bytes are dropped.
        """
        if not count:
            return
        chunks = []
        while True:
            try:
                data = ch.s.recv(READ_CHUNK)
            except BlockingIOError:
                break
            if not data:
                break
            chunks.append(data)
        data = b"".join(chunks)[:-count]
        if data and ch.sk.state in TCP_ESTABLISHED_OR_LATER:
            ch.sk.send(data)

    def op_shutdown(self, ch: Channel, req: P.Request):
        how = req.args[0]
        if how not in (socket.SHUT_RD, socket.SHUT_WR, socket.SHUT_RDWR):
            raise SocketError(errno.EINVAL)
        if ch.listening and how != socket.SHUT_WR:
            # Linux: shutdown(SHUT_RD/RDWR) on a listener closes it; accept() then fails.
            ch.sk.close(time.monotonic())
            ch.listening = False
            return P.response(0), None
        if ch.sk.state not in TCP_ESTABLISHED_OR_LATER and ch.sk.state != "SYN_SENT":
            raise SocketError(errno.ENOTCONN)
        return P.response(0), None

    def op_getsockname(self, ch: Channel, req: P.Request):
        return P.response(0, 0, sockaddr.encode(ch.family, ch.sk.getsockname())), None

    def op_getpeername(self, ch: Channel, req: P.Request):
        return P.response(0, 0, sockaddr.encode(ch.family, ch.sk.getpeername())), None

    def op_getsockopt(self, ch: Channel, req: P.Request):
        level, name, optlen = req.args[0], req.args[1], req.args[2]
        if optlen < 0:
            raise SocketError(errno.EINVAL)
        if level == SOL_SOCKET and name == SO_ACCEPTCONN:
            value = int(ch.listening).to_bytes(4, "little")
            return P.response(0, 0, value[:optlen]), None
        c = self.current
        ch.sk.privileged = c is None or c.uid == 0      # netfilter gets are root-only
        value = ch.sk.getsockopt(level, name, min(optlen, P.MAX_PAYLOAD))
        return P.response(0, 0, value), None

    def op_setsockopt(self, ch: Channel, req: P.Request):
        c = self.current
        if (req.args[0] == SOL_SOCKET and req.args[1] in (SO_SNDBUFFORCE, SO_RCVBUFFORCE)
                and c is not None and c.uid != 0):
            raise SocketError(errno.EPERM)      # Linux: CAP_NET_ADMIN only
        ch.sk.privileged = c is None or c.uid == 0      # Linux checks capabilities per call
        ch.sk.setsockopt(req.args[0], req.args[1], req.payload)
        ch.family = ch.sk.family        # IPV6_ADDRFORM turns AF_INET6 into AF_INET
        if req.args[0] == SOL_SOCKET and type(ch) is Channel:
            t = ch.sk.inner
            # the pair buffers what the stack does behind it, so together they hold
            # what Linux's (doubled) sk_sndbuf / sk_rcvbuf would, not a megabyte more
            if req.args[1] in (socket.SO_SNDBUF, SO_SNDBUFFORCE):
                ch.a_sndbuf = t.sndbuf_limit // 2
                return P.response(0, 0, b"", ch.a_sndbuf), None   # the stub sets A's
            if req.args[1] in (socket.SO_RCVBUF, SO_RCVBUFFORCE):
                ch.s_sndbuf = t.rcvbuf_limit // 4   # S holds half, pump_rx's chunk half
                set_sndbuf(ch.s, ch.s_sndbuf)
        return P.response(0), None

    def op_more(self, ch: Channel, req: P.Request):
        """MSG_MORE on (args[0]=1) or off: what is already in S goes with the old state."""
        if not ch.app_eof and not ch.listening:
            self.read_app(ch, 0)
        ch.more = bool(req.args[0])
        ch.sk.set_more(ch.more)
        return P.response(0), None

    def op_oob(self, ch: Channel, req: P.Request):
        """send(MSG_OOB): the program wrote the bytes before the urgent one to A; take
        them first, then queue the urgent byte behind them."""
        if not self.sending(ch) or ch.app_eof or len(req.payload) != 1:
            raise SocketError(errno.EPIPE)
        self.read_app(ch, 0)
        queued = fcntl.ioctl(ch.fd, termios.FIONREAD, b"\0\0\0\0")
        if int.from_bytes(queued, sys.byteorder) or ch.sk.send_space() <= 0:
            raise SocketError(errno.EAGAIN)     # no room for all of it yet
        if ch.sk.send(req.payload, ch.more, urgent=True) != 1:
            raise SocketError(errno.EAGAIN)
        return P.response(1), None

    def op_linger(self, c: Client, req: P.Request):
        """The program closed an A with SO_LINGER {1, secs} (see rn_protocol.h)."""
        ch = self.by_id.get(req.sock_id)
        if ch is not None and not isinstance(ch, (NetlinkChannel, DgramChannel, AlgChannel)):
            p = select.poll()
            p.register(ch.fd, select.POLLIN)
            if not any(ev & select.POLLHUP for _fd, ev in p.poll(0)):
                return P.response(0), None      # other references to A remain
            self.read_app(ch, select.EPOLLHUP)
            self.run_stack()
            sk: Socket | None = ch.sk
        else:
            sk = self.recent_closed.get(req.sock_id)
        if sk is None or sk.state not in LINGER_STATES:
            return P.response(0), None
        secs = sk.inner.linger[1]
        a, w = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lingering.setdefault(sk, []).append(w)
        return P.response(max(secs, 1)), a.detach()

    def op_rdend(self, c: Client, req: P.Request):
        """A read on A ended with EOF or ECONNRESET (args[0] = -1: is about to start on
        a socket that may never have connected): what Linux's tcp_recvmsg answers."""
        seen = req.args[0]
        ch = self.by_id.get(req.sock_id)
        if ch is not None:
            if type(ch) is not Channel:
                return P.response(0), None          # not TCP: the kernel's answer stands
            if ch.listening or (ch.a_shut and ch.sk.state == "CLOSED"):
                return P.response(-1, errno.ENOTCONN), None
            return P.response(0, 0, b"", int(ch.fin_to_app)), None     # FIN: final
        if seen < 0:
            # the stub's process saw a blocking connect fail: Linux disconnected the
            # socket then (tcp_disconnect), so reads fail with ENOTCONN, no error left
            if req.sock_id in self.dormant:
                self.dead[req.sock_id] = 0
                return P.response(-1, errno.ENOTCONN), None
            return P.response(0), None
        ch = self.dormant.get(req.sock_id)
        err = self.dead.get(req.sock_id)
        if ch is not None and ch.fin_to_app:
            return P.response(0, 0, b"", 1), None   # reads after a FIN stay 0 (SOCK_DONE)
        if err:
            self.dead[req.sock_id] = 0                  # taken, as sock_error() does
            return P.response(-1, err), None
        return P.response(0, 0, b"", 1 if ch is not None or seen else 0), None

    def check_lingering(self) -> None:
        """Wake close() calls whose socket has nothing unacknowledged left (Linux
        sk_stream_wait_close: no longer in FIN_WAIT_1, CLOSING or LAST_ACK)."""
        for sk in list(self.lingering):
            if sk in self.orphans or sk.state in LINGER_STATES:
                continue
            for w in self.lingering.pop(sk):
                w.close()

    def op_ioctl(self, ch: Channel, req: P.Request):
        raise SocketError(errno.ENOTTY)

    def op_ifioctl(self, ch: Channel, req: P.Request):
        """SIOCGIF*/SIOCSIF*: args[0] = request, payload = struct ifreq; SIOCGIFCONF answers every
        entry (the stub copies what fits in the program's ifc_len)."""
        c = self.current
        privileged = c is None or c.uid == 0        # CAP_NET_ADMIN for SIOCSIF*
        return P.response(0, 0, ifinfo.ioctl(self.stack.interfaces, req.args[0],
                                             req.payload, privileged)), None

    def op_host_stats(self, c: Client, req: P.Request):
        """args[0]: 0 = host and stack counters, 1 = interfaces (`rocketnet ip`);
        args[1]: offset into the JSON text; ret = its total length (page on)."""
        if req.args[0] == 1:
            info = {"interfaces": netconfig.describe(self.stack)}
        else:
            info = {
                "name": self.name, "pid": os.getpid(), "clients": len(self.clients),
                "sockets": len(self.channels), "internal_errors": self.internal_errors,
                "stack": dict(self.stack.stats),
            }
        text = json.dumps(info).encode()
        off = max(0, req.args[1])
        return P.response(len(text), 0, text[off : off + P.MAX_PAYLOAD]), None

    def op_host_pcap(self, c: Client, req: P.Request):
        """`rocketnet run --pcap DIR` on a running host: capture every interface."""
        try:
            netconfig.start_capture(self.stack, os.fsdecode(req.payload))
        except OSError as e:
            return P.response(-1, e.errno or errno.EIO), None
        return P.response(0), None

    def op_host_stop(self, c: Client, req: P.Request):
        self.running = False
        return P.response(0), None

    # ---- channels -----------------------------------------------------------------

    def update_mask(self, ch: Channel) -> None:
        if isinstance(ch, NetlinkChannel):
            self.netlink.update_mask(ch)
            return
        if isinstance(ch, DgramChannel):
            self.dgram.update_mask(ch)
            return
        if isinstance(ch, AlgChannel):
            return              # POLLHUP only (shim/alg.py)
        want = 0
        if ch.listening:
            if ch.pending_accept:
                want |= EP_OUT
            if not ch.app_eof:
                want |= EP_IN       # EOF/HUP: the program closed the listener
        elif not ch.app_eof and self.sending(ch):
            if ch.filler or ch.sk.send_space() > 0:
                want |= EP_IN
        if ch.out:
            want |= EP_OUT
        if want != ch.mask:
            ch.mask = want
            self.ep.modify(ch.fd, want)

    @staticmethod
    def sending(ch: Channel) -> bool:
        """Whether S is read: only once connected (before, S holds the stub's filler)."""
        return not ch.connecting and ch.sk.state in TCP_ESTABLISHED_OR_LATER

    def channel_event(self, ch: Channel, ev: int) -> None:
        if isinstance(ch, NetlinkChannel):
            self.netlink.event(ch, ev)
            return
        if isinstance(ch, DgramChannel):
            self.dgram.event(ch, ev)
            return
        if isinstance(ch, AlgChannel):
            self.alg.event(ch, ev)
            return
        if ev & EP_OUT:
            if ch.listening:
                self.hand_over_accepted(ch)
            else:
                self.flush_out(ch)
                self.service(ch)    # after the backlog: FIN or failure may be due now
        if ev & EP_IN or ev & EP_HUPS:
            self.read_app(ch, ev)
        if ch.fd in self.channels:
            self.update_mask(ch)

    def read_app(self, ch: Channel, ev: int) -> None:
        """Bytes the program wrote to A: filler to drop, then payload for the stack."""
        s, sk = ch.s, ch.sk
        now = time.monotonic()
        while not ch.app_eof:
            if ch.listening:
                want = READ_CHUNK
            elif not self.sending(ch):
                break
            elif ch.filler:
                want = min(ch.filler, READ_CHUNK)
            else:
                want = min(sk.send_space(), READ_CHUNK)
                if want <= 0:
                    break
            try:
                data = s.recv(want)
            except BlockingIOError:
                break
            except ConnectionResetError:
                data = b""
            if not data:
                ch.app_eof = True
                break
            if ch.listening:
                continue            # nothing a program writes to a listener means anything
            if ch.filler:
                ch.filler -= len(data)
                continue
            try:
                sk.send(data, ch.more)
            except SocketError:
                pass                # Linux drops it too: EPIPE was the program's to see
        if ev & select.EPOLLHUP:
            ch.app_closed = True
        if ch.app_closed:
            self.app_closed(ch, now)
        elif ch.app_eof:
            self.app_shut_write(ch, now)

    def app_closed(self, ch: Channel, now: float) -> None:
        """The last A is closed: what the program wrote still goes out, then FIN."""
        tail: deque[bytes] = deque()
        while not ch.app_eof and not ch.listening:
            try:
                data = ch.s.recv(READ_CHUNK)
            except (BlockingIOError, ConnectionResetError):
                break
            if not data:
                break
            if ch.filler:
                cut = min(ch.filler, len(data))
                ch.filler -= cut
                data = data[cut:]
            if data:
                tail.append(data)
        self.close_channel(ch)
        self.recent_closed[ch.sock_id] = ch.sk
        while len(self.recent_closed) > DEAD_KEEP:
            self.recent_closed.popitem(last=False)
        if tail and ch.sk.state in TCP_ESTABLISHED_OR_LATER:
            self.orphans[ch.sk] = tail
            self.feed_orphan(ch.sk)
        else:
            ch.sk.close(now)        # FIN, or RST if unread data remains (the stack's rule)

    def feed_orphan(self, sk: Socket) -> None:
        tail = self.orphans[sk]
        try:
            while tail:
                n = sk.send(tail[0])
                if n < len(tail[0]):
                    tail[0] = tail[0][n:]
                    return
                tail.popleft()
        except SocketError:
            tail.clear()
        del self.orphans[sk]
        sk.close(time.monotonic())

    def app_shut_write(self, ch: Channel, now: float) -> None:
        """The program shut A down for writing: FIN after what it wrote."""
        sk = ch.sk
        if sk.state in TCP_ESTABLISHED_OR_LATER:
            try:
                sk.shutdown_write(now)
            except SocketError:
                pass

    def service(self, ch: Channel) -> None:
        """The stack changed this socket: move data and state to the program."""
        if isinstance(ch, NetlinkChannel):
            self.netlink.service(ch)
            return
        if isinstance(ch, DgramChannel):
            self.dgram.service(ch)
            return
        sk = ch.sk
        if ch.connecting:
            if sk.state in TCP_ESTABLISHED_OR_LATER:
                ch.connecting = False
            elif sk.state == "CLOSED":
                self.fail(ch, sk.take_error() or errno.ECONNREFUSED)
                return
        if ch.listening:
            while True:
                new = sk.accept()
                if new is None:
                    break
                ch.pending_accept.append(new)
            self.hand_over_accepted(ch)
        else:
            self.pump_rx(ch)
            if sk.error and sk.state == "CLOSED" and not ch.out:
                self.fail(ch, sk.take_error())
                return
            if sk.rx_eof and not ch.out and not ch.fin_to_app:
                ch.fin_to_app = True
                try:
                    ch.s.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
        if ch.fd in self.channels:
            if not ch.app_eof and ch.mask & EP_IN == 0:
                self.read_app(ch, 0)
            self.update_mask(ch)

    def pump_rx(self, ch: Channel) -> None:
        """Received bytes to the program, no faster than it reads them.

        Only what S accepts is taken from the stack (at most one chunk waits here), so
        a slow reader closes the TCP window as it would on Linux.
        """
        self.flush_out(ch)
        sk, s = ch.sk, ch.s
        while not ch.out and sk.rx_available():
            want = 2 * ch.s_sndbuf if ch.s_sndbuf else READ_CHUNK
            t = sk.inner
            if t.urg_state:
                off = t.urgent_offset()
                if off == 0:
                    # urgent data: out of band on A (POLLPRI, SIOCATMARK, SO_OOBINLINE)
                    try:
                        s.send(bytes((t.rcvbuf[0],)), socket.MSG_OOB)
                    except OSError:
                        return              # full: EPOLLOUT retries
                    t.take_urgent()
                    continue
                if off is not None and off < want:
                    want = off              # what comes before the mark first
            data = sk.recv(want)
            try:
                n = s.send(data)
            except BlockingIOError:
                n = 0
            except OSError:
                return              # the program is gone; the stack resets on close
            if n < len(data):
                ch.out.append(memoryview(data)[n:])

    def flush_out(self, ch: Channel) -> None:
        out = ch.out
        while out:
            try:
                n = ch.s.send(out[0])
            except BlockingIOError:
                return
            except OSError:
                out.clear()         # the program is gone; the stack resets on close
                return
            if n < len(out[0]):
                out[0] = out[0][n:]
                return
            out.popleft()

    def hand_over_accepted(self, ch: Channel) -> None:
        """Give each established connection to the program: one record + its A fd."""
        while ch.pending_accept:
            sk = ch.pending_accept[0]
            sock_id, a, s = self.new_pair()
            if getattr(sk.inner, "oobinline", False):   # inherited from the listener
                a.setsockopt(SOL_SOCKET, socket.SO_OOBINLINE, 1)
            new = Channel(sock_id, ch.family, s, sk)
            new.size_like(ch, a)        # the buffer sizes are inherited too
            rec = P.accept_record(sock_id, sockaddr.encode(ch.family, sk.getpeername()))
            try:
                ch.s.sendmsg([rec], [(SOL_SOCKET, socket.SCM_RIGHTS,
                                      array.array("i", [a.fileno()]))])
            except OSError:
                s.close()
                return          # full (EAGAIN: EPOLLOUT retries) or the listener is gone
            finally:
                a.close()
            ch.pending_accept.popleft()
            self.add_channel(new)
            self.service(new)

    def fail(self, ch: Channel, err: int) -> None:
        """Connection failed or reset: A sees POLLERR|POLLHUP; errno kept for SO_ERROR."""
        self.dead[ch.sock_id] = err
        while len(self.dead) > DEAD_KEEP:
            self.dead.popitem(last=False)
        self.close_channel(ch)
        self.dormant[ch.sock_id] = ch
        while len(self.dormant) > DEAD_KEEP:
            self.dormant.popitem(last=False)

    def close_channel(self, ch: Channel) -> None:
        if self.channels.pop(ch.fd, None) is None:
            return
        self.closed_fds.add(ch.fd)
        self.by_sock.pop(ch.sk, None)
        self.by_id.pop(ch.sock_id, None)
        self.ep.unregister(ch.fd)
        ch.s.close()
        for sk in ch.pending_accept:
            sk.abort(time.monotonic())
        ch.pending_accept.clear()

    def close(self) -> None:
        now = time.monotonic()
        for ch in list(self.channels.values()):
            self.close_channel(ch)
            ch.sk.abort(now)
        for c in list(self.clients.values()):
            self.drop_client(c)
        for d in self.dialers.values():
            d.close()
        self.dialers.clear()
        self.unix.close()
        netconfig.close_devices(self.stack)
        self.listener.close()
        self.wake_r.close()
        self.wake_w.close()
        for p in (self.ctl_path, self.ctl_path.with_name("host.pid")):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m shim.host", description="Run a stack host.")
    ap.add_argument("--name", default=runtime.DEFAULT_HOST)
    ap.add_argument("--idle-timeout", type=float, default=None,
                    help="exit this many seconds after the last client and socket are gone")
    ap.add_argument("--ready-fd", type=int, default=None,
                    help="write one byte to this fd once the host accepts connections")
    netconfig.add_arguments(ap)
    args = ap.parse_args(argv)
    try:
        host = StackHost(args.name, args.idle_timeout, args)
    except (OSError, ValueError) as e:
        print(f"rocketnet host {args.name}: {e}", file=sys.stderr)
        return 1
    (host.ctl_path.with_name("host.pid")).write_text(f"{os.getpid()}\n")

    def stop(signum, frame):
        host.running = False
        try:
            host.wake_w.send(b"x")
        except OSError:
            pass
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    if args.ready_fd is not None:
        os.write(args.ready_fd, b"1")
        os.close(args.ready_fd)
    try:
        host.serve()
    finally:
        host.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

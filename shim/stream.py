"""The stream (TCP) service of the stack host: the calls on TCP sockets.  The data path
(Channel, bytes and state between S and the stack socket) is shim/streampump.py.

- connect: the stub first fills A with "filler" bytes until A is not writable; the
  host discards exactly that many bytes once the handshake is over, so POLLOUT on A
  appears when the connection is established (ARCHITECTURE.md section 2).
- failure (refused, reset, timed out): S is closed with the filler or data unread, so
  A reports POLLERR|POLLHUP and ECONNRESET; the errno is kept for SO_ERROR.
- a failed socket stays dormant so that the program can use it again (RN_OP_REOPEN);
  close() with SO_LINGER waits for the host (RN_OP_LINGER); a read that ended asks
  what Linux's tcp_recvmsg answers (RN_OP_RDEND).
The socket-level calls every inet socket shares (bind, listen, names, options,
interface ioctls) are here too; the datagram service uses them (inet_ops).
"""
from __future__ import annotations

import errno
import fcntl
import functools
import os
import select
import socket
import sys
import termios
import time
from collections import OrderedDict, deque
from typing import Any, Callable

from rocketnet.socket import Socket, SocketError
from rocketnet.stack import NetStack
from shim import hostlog, ifinfo, sockaddr
from shim import protocol as P
from shim.channels import ChannelTable, set_sndbuf
from shim.streampump import (
    CHANNEL_BUF,
    CHANNEL_BUF_MIN,
    READ_CHUNK,
    SYNCED,
    TCP_ESTABLISHED_OR_LATER,
    Channel,
    StreamPump,
)

# close() with SO_LINGER waits while the socket is in one of these (FIN not yet acked)
LINGER_STATES = {"ESTABLISHED", "SYN_RECEIVED", "CLOSE_WAIT", "FIN_WAIT_1", "CLOSING",
                 "LAST_ACK"}
SOL_SOCKET = socket.SOL_SOCKET
SO_ERROR = socket.SO_ERROR
SO_ACCEPTCONN = 30
SO_SNDBUFFORCE = 32
SO_RCVBUFFORCE = 33
# Options a TCP socket that never connected may set without a round trip: the stub
# keeps them and sends them with the socket's next call (c_stub/defer.c, RN_OP_SETOPTS;
# their sets cannot fail there).  BIND, LISTEN and CONNECT carry them in their payload.
KEPT_OPTIONS = ((SOL_SOCKET, socket.SO_REUSEADDR), (SOL_SOCKET, socket.SO_REUSEPORT),
                (SOL_SOCKET, socket.SO_KEEPALIVE), (SOL_SOCKET, socket.SO_SNDBUF),
                (SOL_SOCKET, socket.SO_RCVBUF), (socket.IPPROTO_TCP, socket.TCP_NODELAY))
CARRIERS = frozenset({P.OP_BIND, P.OP_LISTEN, P.OP_CONNECT})


@functools.cache
def sysctl_fd(path: str) -> int:
    """A sysctl file held open: a read at offset 0 gives its value now (an open
    file's read was 11 system calls per bind)."""
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC)


def unprivileged_port_start() -> int:
    """The host kernel's net.ipv4.ip_unprivileged_port_start now (1024 if unreadable)."""
    try:
        return int(os.pread(sysctl_fd("/proc/sys/net/ipv4/ip_unprivileged_port_start"),
                            32, 0).split()[0])
    except (OSError, ValueError, IndexError):
        return 1024


ZEROS = bytes(65536)
FILL_MAX = 16 << 20


def fill(a: socket.socket) -> int:
    """The connect filler (ARCHITECTURE.md section 2) written by the host into an A it
    has not handed over yet: A's send buffer full, so A turns writable only when the
    host discards these bytes from S after the handshake; -> their count."""
    total = 0
    while total < FILL_MAX:
        try:
            total += a.send(ZEROS, socket.MSG_DONTWAIT)
        except OSError:     # full (EAGAIN), or S is closed already (failed)
            break
    return total


class StreamService(StreamPump):
    def __init__(self, table: ChannelTable, stack: NetStack,
                 run_stack: Callable[[], None]) -> None:
        self.table = table
        self.stack = stack
        self.run_stack = run_stack
        self.dead: OrderedDict[int, int] = OrderedDict()  # sock_id -> pending errno
        # Failed sockets, kept so that the program can use them again (RN_OP_REOPEN).
        self.dormant: OrderedDict[int, Channel] = OrderedDict()
        # Sockets the program closed while bytes it wrote were still queued in S: the
        # bytes, drained from S, go to the stack as its send buffer frees, then FIN.
        self.orphans: dict[Socket, deque[bytes]] = {}
        # close() with SO_LINGER {1, secs} (RN_OP_LINGER): the waiter ends the host closes
        # once what the socket sent is acknowledged; recently closed sockets by id.
        self.lingering: dict[Socket, list[socket.socket]] = {}
        self.recent_closed: OrderedDict[int, Socket] = OrderedDict()
        # ids known without a channel (ChannelTable.holder): never rebound
        self.held_maps = (self.dormant, self.dead, self.recent_closed)
        # the calls every inet socket shares (the datagram service uses them too)
        self.inet_ops: dict[int, Callable[[Any, P.Request], Any]] = {
            P.OP_BIND: self.op_bind, P.OP_LISTEN: self.op_listen,
            P.OP_GETSOCKNAME: self.op_getsockname, P.OP_GETPEERNAME: self.op_getpeername,
            P.OP_GETSOCKOPT: self.op_getsockopt, P.OP_SETSOCKOPT: self.op_setsockopt,
            P.OP_IOCTL: self.op_ifioctl, P.OP_DGRAM_CHECK: self.op_ioctl,
            P.OP_DGRAM_SYNC: self.op_ioctl,
        }
        self.ops = dict(self.inet_ops)
        self.ops.update({
            P.OP_CONNECT: self.op_connect, P.OP_SHUTDOWN: self.op_shutdown,
            P.OP_MORE: self.op_more, P.OP_OOB: self.op_oob, P.OP_SETOPTS: self.op_setopts,
        })
        # calls that name a socket which may have no channel left
        self.id_ops = {P.OP_REOPEN: self.op_reopen, P.OP_LINGER: self.op_linger,
                       P.OP_RDEND: self.op_rdend}

    # ---- the service interface --------------------------------------------------------

    def new_socket(self, family: int, type_: int, proto: int):  # type: ignore[no-untyped-def]
        try:
            sk = self.stack.socket(family, type_, proto)
        except SocketError as e:
            return P.response(-1, e.errno), None
        sk.uid = getattr(self.table.caller, "uid", 0)      # sk_uid (ss -e)
        # S carries nothing until listen sizes it (accept records): connect swaps in
        # a new pair (fresh_pair)
        sock_id, a, s = self.table.new_pair(socket.SOCK_STREAM)
        ch = Channel(self, sock_id, family, s, sk)
        # Not connected: A refuses writes (EPIPE, SIGPIPE) as an unconnected TCP socket
        # does; connect swaps in a writable A (RN_OP_REOPEN).  A listener never writes.
        a.shutdown(socket.SHUT_WR)
        ch.a_shut = True
        self.add(ch)
        return P.response(sock_id, 0, b"", P.KIND_STREAM), a.detach()

    # close() with SO_LINGER asks after the program closed its last fd
    public_ops = frozenset({P.OP_LINGER})

    def dispatch(self, c: Any, ch: Channel | None, req: P.Request):  # type: ignore[no-untyped-def]
        """One call on a TCP socket; ch is None once its channel is gone (failed: the
        socket is dormant; or closed)."""
        id_op = self.id_ops.get(req.op)
        if id_op is not None:
            return id_op(c, req)
        op = self.ops.get(req.op)
        if op is None:
            return P.response(-1, errno.ENOSYS), None
        if ch is None:
            dormant = self.dormant.get(req.sock_id)
            if dormant is not None and self.reusable(dormant, req):
                return P.response(-1, P.ERR_REOPEN), None
            return self.dead_socket_op(req, self.dead.get(req.sock_id),
                                       dormant.family if dormant is not None else None)
        if req.args[3] and req.op in CARRIERS:
            req = self.carried_options(ch, req)
        return self.call(op, ch, req)

    def call(self, op: Callable[[Any, P.Request], Any], ch: Any, req: P.Request):  # type: ignore[no-untyped-def]
        try:
            return op(ch, req)
        except SocketError as e:
            return P.response(-1, e.errno), None
        finally:
            self.run_stack()

    def op_reopen(self, c: Any, req: P.Request):  # type: ignore[no-untyped-def]
        """A fresh pair for a socket whose A cannot serve the next call (see rn_protocol.h)."""
        old = self.table.by_id.get(req.sock_id)
        unseen = None
        if old is not None and old.a_shut and not old.listening:
            ch, a = self.fresh_pair(old)
            self.update_mask(ch)
            return P.response(ch.sock_id, 0, b"", P.KIND_STREAM), a.detach()
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
        sock_id, a, s = self.table.new_pair(socket.SOCK_STREAM,
                                            Channel.s_size(old, CHANNEL_BUF_MIN))
        ch = Channel(self, sock_id, old.family, s, sk)
        ch.unseen_fail = unseen
        ch.size_like(old, a)
        self.add(ch)
        return P.response(sock_id, 0, b"", P.KIND_STREAM), a.detach()

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
        if 0 < port < unprivileged_port_start() and not self.table.caller.may_bind_service():
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
        return self.reap_hups(list(self.table.of_service(self)))

    def reap_listeners(self, port: int) -> None:
        """A listener on port whose last A the program closed before this connect is
        closed for it (Linux: refused); its EPOLLHUP may still be queued: handle it now."""
        entries = self.stack.tcp.listen_table.ports.get(port)
        if entries:
            chans = (self.table.by_sock.get(e.sock.owner) for e in entries)
            self.reap_hups([c for c in chans if c is not None])

    def reap_hups(self, chans: list) -> bool:
        p = select.poll()
        for c in chans:
            p.register(c.fd, 0)             # POLLHUP is always reported
        hup = [fd for fd, ev in p.poll(0) if ev & select.POLLHUP]
        for fd in hup:
            c = self.table.by_fd.get(fd)
            if c is not None:
                self.event(c, select.EPOLLHUP)
        return bool(hup)

    def op_listen(self, ch: Channel, req: P.Request):
        self.retry_in_use(ch.sk.listen, req.args[0])
        if ch.a_shut:       # the pair new_socket made: S takes accept records from now
            set_sndbuf(ch.s, Channel.s_size(ch, CHANNEL_BUF_MIN))
        ch.listening = True
        self.update_mask(ch)
        return P.response(0), None

    def op_connect(self, ch: Channel, req: P.Request):
        filler, nonblocking, unfilled = req.args[0], req.args[1], req.args[2]
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
            if ch.a_shut and not unfilled:
                self.discard_now(ch, filler)
                return P.response(-1, P.ERR_REOPEN), None
            if unfilled and not ch.a_shut:
                return P.response(-1, P.ERR_FILL), None     # A is the program's to fill
            self.reap_listeners(addr[1])
            ch.sk.connect(addr, time.monotonic())
        except SocketError:
            self.discard_now(ch, filler)
            raise
        a = None
        if ch.a_shut:
            # the writable A goes with the reply (with the program's O_NONBLOCK)
            ch, a = self.fresh_pair(ch, bool(nonblocking))
        ch.filler += filler
        ch.connecting = True
        ch.nb_connect = bool(nonblocking)
        if nonblocking or a is None:
            self.update_mask(ch)
        if nonblocking:
            ret, err = -1, errno.EINPROGRESS
        else:
            self.run_stack()
            if a is not None and self.table.alive(ch):
                # a fresh S is registered now, with the mask the stack's pass left (on
                # loopback the established connection's): one epoll_ctl, not two
                self.update_mask(ch)
            ret, err = -1, ch.sk.error
            if ch.sk.inner.state in SYNCED:
                ret, err = 0, 0
            elif err:
                ch.sk.take_error()
            else:
                err = errno.EINPROGRESS
        if a is None:
            return P.response(ret, err), None
        if err == errno.EINPROGRESS and ch.connecting and self.table.alive(ch):
            ch.filler += fill(a)    # A turns writable when the handshake is over
            ch.s_drained = False
        # A's inode: the stub's cache keys on it (it need not fstat A)
        ino = P.INO.pack(self.table.inodes.get(ch.sock_id, 0))
        return P.response(ret, err, ino, P.KIND_STREAM, ch.sock_id), a.detach()

    def fresh_pair(self, old: Channel,
                   a_nonblocking: bool = False) -> tuple[Channel, socket.socket]:
        """A new pair for old's stack socket (options and binding kept); old's goes."""
        self.close_channel(old)
        sock_id, a, s = self.table.new_pair(socket.SOCK_STREAM, Channel.s_size(old, CHANNEL_BUF),
                                            a_nonblocking)
        ch = Channel(self, sock_id, old.family, s, old.sk)
        ch.size_like(old, a)
        ch.s_drained = True     # nobody has written to A: the host still holds it
        self.table.add(ch, first_mask=True)     # registered by the caller's update_mask
        self.table.caller.prove(sock_id)    # A goes to it
        return ch, a

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
        ch.sk.privileged = self.table.caller.net_admin    # netfilter gets are root-only
        value = ch.sk.getsockopt(level, name, min(optlen, P.MAX_PAYLOAD))
        return P.response(0, 0, value), None

    def op_setsockopt(self, ch: Channel, req: P.Request):
        return P.response(0, 0, b"", self.set_option(ch, req.args[0], req.args[1],
                                                     req.payload)), None

    def set_option(self, ch: Channel, level: int, name: int, value: bytes | int) -> int:
        """setsockopt of the program's bytes, or of an int option the stub kept; ->
        the reply's arg0 (SO_SNDBUF: the size the stub sets on A, else 0)."""
        privileged = self.table.caller.net_admin     # Linux checks capabilities per call
        if (level == SOL_SOCKET and name in (SO_SNDBUFFORCE, SO_RCVBUFFORCE)
                and not privileged):
            raise SocketError(errno.EPERM)      # Linux: CAP_NET_ADMIN only
        ch.sk.privileged = privileged
        ch.sk.setsockopt(level, name, value)
        ch.family = ch.sk.family        # IPV6_ADDRFORM turns AF_INET6 into AF_INET
        if level == SOL_SOCKET and type(ch) is Channel:
            t = ch.sk.inner
            # the pair buffers what the stack does behind it, so together they hold
            # about what Linux's (doubled) sk_sndbuf / sk_rcvbuf would, not a megabyte
            # more. A holds the stack's send buffer again (the kernel doubles it for
            # its overhead): with half, the stack's buffer ran dry before the program
            # refilled A, and each round trip took half a window (tools/smallbuf)
            if name in (socket.SO_SNDBUF, SO_SNDBUFFORCE):
                ch.a_sndbuf = t.sndbuf_limit
                return ch.a_sndbuf      # the stub sets A's
            if name in (socket.SO_RCVBUF, SO_RCVBUFFORCE):
                ch.s_sndbuf = ch.s_auto = t.rcvbuf_limit // 4   # S: half (kernel-doubled)
                if ch.listening or not ch.a_shut:   # else S is sized at listen or swapped
                    set_sndbuf(ch.s, ch.s_sndbuf)
        return 0

    def kept_option_limits(self) -> tuple[int, int]:
        """HELLO's arg0 and arg1 (rn_protocol.h): (1, 0), the stub may keep options
        (it reads a kept SO_SNDBUF / SO_RCVBUF back from A, as this kernel computes it);
        (0, 0), so that it keeps nothing, where the running kernel answers one of
        KEPT_OPTIONS unlike the stack's model."""
        prof = self.stack.profile
        for family in (socket.AF_INET, socket.AF_INET6):
            for proto in (0, socket.IPPROTO_TCP):
                for level, name in KEPT_OPTIONS:
                    if prof.option(family, proto, level, name) is not None:
                        return 0, 0
        return 1, 0

    def op_setopts(self, ch: Channel, req: P.Request):
        """Options the stub kept (RN_OP_SETOPTS): set in the program's order."""
        self.set_kept(ch, req.payload, req.args[0])
        return P.response(0), None

    def carried_options(self, ch: Channel, req: P.Request) -> P.Request:
        """BIND/LISTEN/CONNECT with the kept options at the end of the payload (arg3 =
        their count): set them, then the call goes on without them."""
        n = req.args[3]
        size = n * P.SETOPT.size
        if not 0 < size <= len(req.payload):
            raise SocketError(errno.EINVAL)
        self.set_kept(ch, req.payload[-size:], n)
        a0, a1, a2, _ = req.args
        return P.Request(req.op, req.sock_id, (a0, a1, a2, 0), req.payload[:-size],
                         req.fd_hint, req.fd)

    def set_kept(self, ch: Channel, data: bytes, n: int) -> None:
        if n * P.SETOPT.size != len(data):
            raise SocketError(errno.EINVAL)
        for level, name, value in P.SETOPT.iter_unpack(data):
            if (level, name) not in KEPT_OPTIONS:
                raise SocketError(errno.EINVAL)     # not an option the stub may keep
            try:
                self.set_option(ch, level, name, value)     # the int as the program's 4 bytes
            except SocketError as e:    # the program was told 0: never silently lost
                hostlog.log.warning("sock %d: kept option %d/%d = %d failed: %s",
                                    ch.sock_id, level, name, value,
                                    errno.errorcode.get(e.errno, e.errno))

    def op_more(self, ch: Channel, req: P.Request):
        """MSG_MORE on (args[0]=1) or off: what is already in S goes with the old state."""
        if not ch.app_eof and not ch.listening:
            self.event(ch, select.EPOLLIN)
        ch.more = bool(req.args[0])
        ch.sk.set_more(ch.more)
        return P.response(0), None

    def op_oob(self, ch: Channel, req: P.Request):
        """send(MSG_OOB): the program wrote the bytes before the urgent one to A; take
        them first, then queue the urgent byte behind them."""
        if not self.sending(ch) or ch.app_eof or len(req.payload) != 1:
            raise SocketError(errno.EPIPE)
        self.event(ch, select.EPOLLIN)
        queued = fcntl.ioctl(ch.fd, termios.FIONREAD, b"\0\0\0\0")
        if int.from_bytes(queued, sys.byteorder) or ch.sk.send_space() <= 0:
            raise SocketError(errno.EAGAIN)     # no room for all of it yet
        if ch.sk.send(req.payload, ch.more, urgent=True) != 1:
            raise SocketError(errno.EAGAIN)
        return P.response(1), None

    def op_linger(self, c: Any, req: P.Request):  # type: ignore[no-untyped-def]
        """The program closed an A with SO_LINGER {1, secs} (see rn_protocol.h)."""
        ch = self.table.by_id.get(req.sock_id)
        if ch is not None:
            p = select.poll()
            p.register(ch.fd, select.POLLIN)
            if not any(ev & select.POLLHUP for _fd, ev in p.poll(0)):
                return P.response(0), None      # other references to A remain
            self.event(ch, select.EPOLLHUP)
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

    def op_rdend(self, c: Any, req: P.Request):  # type: ignore[no-untyped-def]
        """A read on A ended with EOF or ECONNRESET (args[0] = -1: is about to start on
        a socket that may never have connected): what Linux's tcp_recvmsg answers."""
        seen = req.args[0]
        ch = self.table.by_id.get(req.sock_id)
        if ch is not None:
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
        if ch is None and err is None and req.sock_id not in self.recent_closed:
            # not a socket of this host (it died and another started): never an EOF
            return P.response(-1, errno.ECONNRESET), None
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

    def op_ifioctl(self, ch: Any, req: P.Request):  # type: ignore[no-untyped-def]
        """SIOCGIF*/SIOCSIF*: args[0] = request, payload = struct ifreq; SIOCGIFCONF answers
        every entry (the stub copies what fits in the program's ifc_len)."""
        return P.response(0, 0, ifinfo.ioctl(self.stack.interfaces, req.args[0], req.payload,
                                             self.table.caller.net_admin)), None

















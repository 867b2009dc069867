"""AF_ALG channels of the stack host (the kernel crypto API socket; issue 8).

socket(AF_ALG, SOCK_SEQPACKET, 0) gives the program the A end of a SOCK_SEQPACKET
pair (RN_KIND_ALG); the host keeps S and an `rocketnet.alg` engine object behind it:
an `AlgSocket` for the transform socket, an `Operation` for each socket accept()
gives (a new pair, its A passed with SCM_RIGHTS as for TCP accept).
- app -> host: the stub queues struct rn_alg_hdr + input on A and makes an
  RN_OP_ALG_SEND RPC; the host runs every queued message through the engine and
  answers with the last one's result, so sendmsg returns Linux's errno itself.
- host -> app: RN_OP_ALG_RECV runs the request; the result goes on S as one message
  (struct rn_alg_res + bytes) that the stub reads natively.  A blocking read of an
  incomplete request (MSG_MORE still set) is completed when more input arrives.
S is polled for POLLHUP only: the last close of A releases the socket.
Transform, hash and rng sockets have no poll method in Linux (no events at all): their
A keeps a filler message queued on S (rn_protocol.h), so it never polls writable; the
host sends the first, and the stub queues a new one when an RPC's answer asks for it.
POLLIN on an skcipher/aead operation socket follows af_alg_poll (no MSG_MORE pending,
or input queued): the host keeps one one-byte marker message queued on S while that
holds; reads skip markers.
Keys and data are never logged.
"""
from __future__ import annotations

import errno
import os
import select
import socket
import struct
import sys
from collections.abc import Container
from typing import Any

try:
    from rocketnet.alg import ALG_SET_KEY, AlgError, AlgSocket, Control, Operation
    from rocketnet.alg.calls import ALG
    HAVE_ALG = True
except ImportError:  # no `cryptography` for this interpreter (Debian's PyPy has none)
    HAVE_ALG = False
from rocketnet.socket import Net, Socket
from rocketnet.stack import NetStack
from rocketnet.transport import SocketSet
from shim import hostlog
from shim import protocol as P
from shim._stub import ffi, lib
from shim.channels import Channel, ChannelTable, kernel_answer

AF_ALG = 38
KIND_ALG: int = lib.RN_KIND_ALG
OP_ALG_ACCEPT: int = lib.RN_OP_ALG_ACCEPT
OP_ALG_SEND: int = lib.RN_OP_ALG_SEND
OP_ALG_RECV: int = lib.RN_OP_ALG_RECV
MAGIC: int = lib.RN_ALG_MAGIC
F_MORE: int = lib.RN_ALG_MORE
F_CTL: int = lib.RN_ALG_CTL
F_IV: int = lib.RN_ALG_IV
F_FILL: int = lib.RN_ALG_FILL
IV_MAX: int = lib.RN_ALG_IV_MAX
HDR = struct.Struct(f"=6I{IV_MAX}s")
RES = struct.Struct("=iI")
if HDR.size != ffi.sizeof("struct rn_alg_hdr") or RES.size != ffi.sizeof("struct rn_alg_res"):
    raise ImportError("shim._stub does not match shim/alg.py: rebuild the package")
SOL_SOCKET = socket.SOL_SOCKET
S_SNDBUF = 4 * 1024 * 1024           # the largest result one read can give
MAX_RESULT = S_SNDBUF // 2 - 4096    # what a SEQPACKET message of that buffer can hold
SALG_HEAD = 24                       # sizeof(struct sockaddr_alg) - sizeof(salg_name)
SO_TYPE, SO_PROTOCOL, SO_DOMAIN = 3, 38, 39


class AlgChannel(Channel):
    """One AF_ALG shim socket: the host's S end and its engine object."""

    __slots__ = ("pending", "marked", "key_parts", "fill", "refill")

    def __init__(self, svc: AlgService, sock_id: int, s: socket.socket,
                 obj: AlgSocket | Operation) -> None:
        # the channel's stack-side object: a Socket whose inner is the engine's object
        super().__init__(svc, sock_id, AF_ALG, s,
                         Socket(svc.net, ALG, None, AF_ALG, socket.SOCK_SEQPACKET, 0, obj))
        self.pending: int | None = None   # length of a blocking read still waiting
        self.marked = False                # a readiness marker is queued on S
        self.key_parts = bytearray()       # a long ALG_SET_KEY arriving in parts
        self.fill = 0                      # filler size A needs (0: it polls as usual)
        self.refill = False                # the queued filler was taken: ask for a new one


class AlgService:
    def __init__(self, table: ChannelTable, stack: NetStack) -> None:
        self.table = table
        self.stack = stack
        # AF_ALG sockets are numbered apart from the stack's (not in ss or sock_diag)
        self.net = Net(stack.net.routes, stack.profile, SocketSet())
        self.ops = {
            P.OP_BIND: self.op_bind, P.OP_SETSOCKOPT: self.op_setsockopt,
            P.OP_GETSOCKOPT: self.op_getsockopt, OP_ALG_ACCEPT: self.op_accept,
            OP_ALG_SEND: self.op_send, OP_ALG_RECV: self.op_recv, P.OP_IOCTL: self.op_ioctl,
            P.OP_RDEND: kernel_answer, P.OP_LINGER: kernel_answer,
        }
        stack.stats.setdefault("alg_sockets", 0)

    # ---- creation -----------------------------------------------------------------

    def new_socket(self, family: int, type_: int, proto: int):  # type: ignore[no-untyped-def]
        if not HAVE_ALG:    # as a kernel built without CONFIG_CRYPTO_USER_API, but named
            hostlog.log.warning("socket(AF_ALG): EAFNOSUPPORT: the host's interpreter %s has "
                                "no `cryptography` (tools/pypy-setup; rocketnet --version)",
                                sys.executable)
            return P.response(-1, errno.EAFNOSUPPORT), None
        if type_ != socket.SOCK_SEQPACKET:
            return P.response(-1, errno.ESOCKTNOSUPPORT), None
        if proto != 0:
            return P.response(-1, errno.EPROTONOSUPPORT), None
        return self.new_channel(AlgSocket(os.urandom, self.stack.profile.optmem_max,
                                          self.stack.profile.alg_misfit))

    def new_channel(self, obj: AlgSocket | Operation):  # type: ignore[no-untyped-def]
        sock_id, a, s = self.table.new_pair(socket.SOCK_SEQPACKET, S_SNDBUF // 2)
        ch = AlgChannel(self, sock_id, s, obj)
        if not isinstance(obj, Operation) or obj.kind in ("hash", "rng"):
            # a quarter of A's send buffer and more: unix_writable() says no
            ch.fill = a.getsockopt(SOL_SOCKET, socket.SO_SNDBUF) // 4 + 1
            try:
                a.send(filler(ch.fill), socket.MSG_DONTWAIT)
            except OSError:
                ch.fill = 0
        self.table.add(ch)
        self.stack.stats["alg_sockets"] += 1
        self.mark(ch)
        return P.response(ch.sock_id, 0, b"", KIND_ALG), a.detach()

    # ---- events -------------------------------------------------------------------

    public_ops: frozenset[int] = frozenset()

    # no ids without a channel: an AF_ALG socket lives as long as its channel
    held_maps: tuple[Container[int], ...] = ()

    def event(self, ch: AlgChannel, ev: int) -> None:
        if ev & (select.EPOLLHUP | select.EPOLLERR):
            self.table.close(ch)
            ch.sk.abort(0.0)

    def service(self, ch: AlgChannel) -> None:
        """The stack has no part in an AF_ALG socket."""

    def update_mask(self, ch: AlgChannel) -> None:
        """S is polled for POLLHUP only (the mask stays 0)."""

    # ---- RPCs ---------------------------------------------------------------------

    def dispatch(self, c: Any, ch: AlgChannel | None, req: P.Request):  # type: ignore[no-untyped-def]
        op = self.ops.get(req.op)
        if op is None:
            return P.response(-1, errno.EOPNOTSUPP), None
        try:
            resp, fd = op(ch, req)
        except AlgError as e:
            resp, fd = P.response(-1, e.errno), None
        if ch.refill:           # the answer asks the stub for a new filler (arg[1])
            ch.refill = False
            ret, err, plen, arg0, _ = P.RESP.unpack_from(resp)
            resp = P.RESP.pack(ret, err, plen, arg0, ch.fill) + resp[P.RESP.size:]
        return resp, fd

    def op_bind(self, ch: AlgChannel, req: P.Request):  # type: ignore[no-untyped-def]
        obj = ch.sk.inner
        if not isinstance(obj, AlgSocket):
            raise AlgError(errno.EOPNOTSUPP)
        raw = req.payload
        if len(raw) < SALG_HEAD:
            raise AlgError(errno.EINVAL)
        if obj.refcnt:
            self.reap(obj)
        type_ = raw[2:15].split(b"\0", 1)[0]
        feat, mask = struct.unpack_from("=II", raw, 16)
        name = raw[SALG_HEAD:-1].split(b"\0", 1)[0] if len(raw) > SALG_HEAD else b""
        try:
            obj.bind(type_.decode("ascii"), name.decode("ascii"), feat, mask)
        except UnicodeDecodeError:
            raise AlgError(errno.ENOENT) from None
        return P.response(0), None

    def reap(self, parent: AlgSocket) -> None:
        """Release the operation sockets of `parent` the program has closed already (their
        POLLHUP may still wait in the event loop): bind's and setsockopt's EBUSY is then
        exact."""
        for ch in self.table.of_service(self):
            obj = ch.sk.inner
            if isinstance(obj, Operation) and obj.parent is parent:
                p = select.poll()
                p.register(ch.fd, 0)
                if any(ev & (select.POLLHUP | select.POLLERR) for _fd, ev in p.poll(0)):
                    self.event(ch, select.EPOLLHUP)

    def op_setsockopt(self, ch: AlgChannel, req: P.Request):  # type: ignore[no-untyped-def]
        level, name, optlen = req.args[0], req.args[1], req.args[2]
        if level == SOL_SOCKET:
            return P.response(0), None
        obj = ch.sk.inner
        if not isinstance(obj, AlgSocket):
            raise AlgError(errno.EOPNOTSUPP)
        if obj.refcnt:
            self.reap(obj)
        value = req.payload
        if name == ALG_SET_KEY and optlen > len(value):
            # a key longer than an RPC payload comes in parts, args[3] = its offset
            # (c_stub/control.c do_setsockopt); the last part sets it
            off = req.args[3]
            if off == 0:
                ch.key_parts = bytearray()
            if off != len(ch.key_parts) or off + len(value) > optlen:
                ch.key_parts = bytearray()
                raise AlgError(errno.EINVAL)
            ch.key_parts += value
            if len(ch.key_parts) < optlen:
                return P.response(0), None
            value, ch.key_parts = bytes(ch.key_parts), bytearray()
        obj.setsockopt(level, name, value, optlen)
        return P.response(0), None

    def op_getsockopt(self, ch: AlgChannel, req: P.Request):  # type: ignore[no-untyped-def]
        level, name, optlen = req.args[0], req.args[1], req.args[2]
        if optlen < 0:
            raise AlgError(errno.EINVAL)
        if level != SOL_SOCKET:
            raise AlgError(errno.EOPNOTSUPP)
        value = {SO_TYPE: socket.SOCK_SEQPACKET, SO_DOMAIN: AF_ALG}.get(name, 0)
        return P.response(0, 0, value.to_bytes(4, "little")[:optlen]), None

    def op_ioctl(self, ch: AlgChannel, req: P.Request):  # type: ignore[no-untyped-def]
        raise AlgError(errno.ENOTTY)

    def op_accept(self, ch: AlgChannel, req: P.Request):  # type: ignore[no-untyped-def]
        self.drain(ch)
        new = ch.sk.inner.accept()
        return self.new_channel(new)

    def op_send(self, ch: AlgChannel, req: P.Request):  # type: ignore[no-untyped-def]
        ret, err = self.drain(ch)
        self.complete_pending(ch)
        self.mark(ch)
        if err:
            return P.response(-1, err), None
        return P.response(ret), None

    def op_recv(self, ch: AlgChannel, req: P.Request):  # type: ignore[no-untyped-def]
        self.drain(ch)
        obj = ch.sk.inner
        if not isinstance(obj, Operation):
            raise AlgError(errno.EOPNOTSUPP)
        want, nonblocking = min(max(req.args[0], 0), MAX_RESULT), req.args[1]
        ch.pending = None
        out = obj.recv(want, bool(nonblocking))  # an error queues nothing: a marker stays
        if out is None:
            if nonblocking:
                raise AlgError(errno.EAGAIN)
            ch.pending = want
            ch.marked = False       # the blocked read skips the queued marker
            return P.response(1), None
        ch.marked = False           # the stub reads past the queued marker to the result
        self.put_result(ch, 0, out)
        self.mark(ch)
        return P.response(0), None

    # ---- the data path ----------------------------------------------------------------

    def drain(self, ch: AlgChannel) -> tuple[int, int]:
        """Run every message the program queued on A; -> (bytes taken, errno) of the last."""
        ret, err = 0, 0
        obj = ch.sk.inner
        while True:
            try:
                msg = ch.s.recv(S_SNDBUF)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            if not msg:
                break
            ctl = None
            more = False
            if len(msg) >= HDR.size and int.from_bytes(msg[:4], "little") == MAGIC:
                _m, flags, op, assoclen, ivlen, _r, ivraw = HDR.unpack_from(msg)
                if flags & F_FILL:
                    ch.refill = ch.fill > 0
                    continue
                data = msg[HDR.size:]
                more = bool(flags & F_MORE)
                if flags & F_CTL:
                    iv = None
                    if flags & F_IV:
                        iv = ivraw[:ivlen] if ivlen <= IV_MAX else bytes(IV_MAX + 1)
                    ctl = Control(op, iv, assoclen)
            else:
                data = msg          # spliced or sent into A without a header
            try:
                if not isinstance(obj, Operation):
                    raise AlgError(errno.EOPNOTSUPP)
                ret, err = obj.send(data, more, ctl), 0
            except AlgError as e:
                ret, err = -1, e.errno
        return ret, err

    def complete_pending(self, ch: AlgChannel) -> None:
        """A blocking read waits for this input: its result goes to A now, if complete."""
        if ch.pending is None:
            return
        obj = ch.sk.inner
        assert isinstance(obj, Operation)
        try:
            out = obj.recv(ch.pending)
        except AlgError as e:
            ch.pending = None
            self.put_result(ch, e.errno, b"")
            return
        if out is not None:
            ch.pending = None
            self.put_result(ch, 0, out)

    def mark(self, ch: AlgChannel) -> None:
        """Keep A readable while af_alg_poll would say POLLIN (skcipher and aead)."""
        obj = ch.sk.inner
        if ch.marked or not isinstance(obj, Operation) or obj.kind not in ("skcipher", "aead"):
            return
        if obj.more and not obj.used:
            return
        try:
            ch.s.send(b"\0")
            ch.marked = True
        except OSError:
            pass

    def put_result(self, ch: AlgChannel, err: int, data: bytes) -> None:
        try:
            ch.s.send(RES.pack(err, 0) + data)
        except OSError:
            pass            # the program is gone: POLLHUP closes the channel


def filler(size: int) -> bytes:
    return HDR.pack(MAGIC, F_FILL, 0, 0, 0, 0, b"") + bytes(max(0, size - HDR.size))

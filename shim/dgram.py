"""Datagram channels of the stack host (UDP sockets; ARCHITECTURE.md section 2).

A datagram socket's A/S pair is SOCK_SEQPACKET: every message is one datagram, a
``struct rn_dgram_hdr`` (c_stub/rn_protocol.h) followed by the payload.
- app -> stack: the host reads S only while the stack can take a datagram (the loopback
  device has a buffer); a full A is the program's blocking send (EAGAIN when
  non-blocking), as a full socket send buffer would be.  The header carries the
  destination sockaddr, or nothing for the connected peer.
- stack -> app: each received datagram is one message on S with the source address;
  while S is full the datagrams stay in the stack socket's receive queue, which drops
  beyond SO_RCVBUF (RcvbufErrors).  A pending error (ICMP port unreachable on a
  connected socket) is an RN_DG_ERROR message; the stub takes the errno with SO_ERROR.
- The last close of A is POLLHUP on S: the socket is closed.
"""
from __future__ import annotations

import errno
import select
import socket
import struct
from collections.abc import Container
from typing import Any, Callable

from rocketnet.socket import Socket, SocketError
from rocketnet.stack import NetStack
from rocketnet.transport.udp import MAX_PAYLOAD_V4, MAX_PAYLOAD_V6, needs_scope
from shim import protocol as P
from shim import sockaddr
from shim.channels import Channel, ChannelTable, kernel_answer, set_sndbuf

EP_IN, EP_OUT = select.EPOLLIN, select.EPOLLOUT
EP_HUPS = select.EPOLLHUP | select.EPOLLERR
SOL_SOCKET = socket.SOL_SOCKET
IPPROTO_ICMP, IPPROTO_ICMPV6 = 1, 58
A_SNDBUF = 512 * 1024           # the program's datagrams in flight to the host
S_SNDBUF_MIN = 160 * 1024       # at least two largest datagrams towards the program
READ_BATCH = 64                 # datagrams read from one S per wake-up
READ_BYTES = 128 * 1024         # ... and bytes: Linux delivers each datagram as it is
                                # sent; a large burst would overflow the receiver's
                                # SO_RCVBUF where Linux interleaves its reads
HDR = P.DGRAM_HDR
HDR_SIZE = HDR.size
DG_MORE = P.DG_MORE
DG_SEND_IP = P.DG_SEND_TTL | P.DG_SEND_TOS
TOS_OFF, TTL_OFF = 12, 13                       # struct rn_dgram_hdr's tos, ttl
ADDR_OFF = 20                   # offsetof(struct rn_dgram_hdr, addr)
_FAM = struct.Struct("=H")
_IN = struct.Struct("!H4s")
_IN6 = struct.Struct("!HI16sI")
_SCOPE = struct.Struct("=I")    # sin6_scope_id: host byte order
_EE = struct.Struct("=IBBBBII")  # struct sock_extended_err
_U16X2 = struct.Struct("=HH")
_ERRHDR_CACHE: dict[int, bytes] = {}
NO_DEST: tuple[bytes, int, tuple[bytes, int, int]] = (b"", -1, (b"", 0, 0))


class DgramChannel(Channel):
    """One datagram shim socket: the host's S end and the datagram Socket behind it."""

    __slots__ = ("err_seq", "dest_cache", "last_dest", "src_cache", "s_sndbuf", "cm", "more",
                 "burst")

    def __init__(self, svc: DgramService, sock_id: int, family: int, s: socket.socket,
                 sk: Socket) -> None:
        super().__init__(svc, sock_id, family, s, sk)
        self.err_seq = 0                  # last error sequence signalled to the program
        self.dest_cache: dict[bytes, tuple[bytes, int, int]] = {}
        # the last destination (sockaddr, its length, destination()'s answer): compared
        # in place with the next datagram's, no key object per datagram to the same peer
        self.last_dest: tuple[bytes, int, tuple[bytes, int, int]] = NO_DEST
        self.src_cache: dict[tuple, bytes] = {}
        self.s_sndbuf = 0
        self.cm = (0, 0)                  # RN_DG_CM_* bits for IPv4 / IPv6 datagrams
        # whether S holds another message after one (read_app): a poll(0) costs a system
        # call, a receive that finds none raises (a few microseconds): the poll while
        # wake-ups bring one datagram each (request/response), the receive in bursts
        more = select.poll()
        more.register(s.fileno(), select.POLLIN)
        self.more = more.poll
        self.burst = False

    def forget_destinations(self) -> None:
        """The socket changed (connect, an option): destinations are checked anew."""
        self.dest_cache.clear()
        self.last_dest = NO_DEST


class DgramService:
    def __init__(self, table: ChannelTable, stack: NetStack, run_stack: Callable[[], None],
                 inet: Any) -> None:
        self.table = table
        self.stack = stack
        self.run_stack = run_stack
        self.inet = inet            # the calls every inet socket shares (shim/stream.py)
        self.buf = bytearray(HDR_SIZE + 65536 + 64)
        self.mv = memoryview(self.buf)
        self.ops = {P.OP_CONNECT: self.op_connect, P.OP_SHUTDOWN: self.op_shutdown,
                    P.OP_SETSOCKOPT: self.op_setsockopt, P.OP_DGRAM_CHECK: self.op_dgram_check,
                    P.OP_DGRAM_SYNC: self.op_dgram_sync, P.OP_GETSOCKOPT: self.op_getsockopt,
                    P.OP_RDEND: kernel_answer, P.OP_LINGER: kernel_answer}
        stack.stats.setdefault("udp_channel_drops", 0)

    # ---- creation ---------------------------------------------------------------

    def new_socket(self, family: int, type_: int, proto: int):  # type: ignore[no-untyped-def]
        if proto == (IPPROTO_ICMP if family == socket.AF_INET else IPPROTO_ICMPV6) and \
                not self.table.caller.may_ping():
            return P.response(-1, errno.EACCES), None    # outside ping_group_range
        try:
            sk = self.stack.socket(family, type_, proto)
        except SocketError as e:
            if e.errno == errno.EPROTONOSUPPORT:
                # a protocol the stack lacks (UDP-Lite...) is the kernel's, which
                # answers EPROTONOSUPPORT itself for one it lacks too
                return P.response(-1, P.ERR_PASSTHROUGH), None
            return P.response(-1, e.errno), None
        sk.uid = getattr(self.table.caller, "uid", 0)      # sk_uid (ss -e)
        sock_id, a, s = self.table.new_pair(socket.SOCK_SEQPACKET)
        set_sndbuf(a, A_SNDBUF // 2)
        ch = DgramChannel(self, sock_id, family, s, sk)  # type: ignore[arg-type]
        self.size_s(ch)
        self.table.add(ch)
        self.update_mask(ch)
        return P.response(ch.sock_id, 0, b"", P.KIND_DGRAM), a.detach()

    public_ops: frozenset[int] = frozenset()

    # no ids without a channel: a datagram socket lives as long as its channel
    held_maps: tuple[Container[int], ...] = ()

    def dispatch(self, c: Any, ch: DgramChannel | None, req: P.Request):  # type: ignore[no-untyped-def]
        assert ch is not None           # holds() is False: the host routes by channel
        op = self.ops.get(req.op) or self.inet.inet_ops.get(req.op)
        if op is None:
            return P.response(-1, errno.ENOSYS), None
        self.before_op(ch)
        return self.inet.call(op, ch, req)

    def size_s(self, ch: DgramChannel) -> None:
        want = max(ch.sk.inner.so_rcvbuf, S_SNDBUF_MIN)
        if want != ch.s_sndbuf:
            ch.s_sndbuf = want
            set_sndbuf(ch.s, want // 2)

    # ---- events -----------------------------------------------------------------

    def update_mask(self, ch: DgramChannel) -> None:
        """EP_OUT while there is something for the program: an error not yet signalled,
        else datagrams, unless they wait behind a signalled error: held until the program
        takes it, so the record is the last message on A and a batched receive (recvmmsg)
        never reads past it."""
        want = 0 if ch.app_eof else EP_IN
        inner = ch.sk.inner
        if (inner.err_seq != ch.err_seq) if inner.error else inner.rxq:
            want |= EP_OUT
        if want != ch.mask:         # per datagram: no call when it stays
            self.table.modify(ch, want)

    def event(self, ch: DgramChannel, ev: int) -> None:
        if ev & EP_OUT:
            self.service(ch)
            if not self.table.alive(ch):
                return
        if ev & (EP_IN | EP_HUPS):
            self.read_app(ch)
            if ev & select.EPOLLHUP and self.table.alive(ch):
                # the last A is closed: what the program sent before still goes out
                for _ in range(4096):
                    if ch.app_eof:
                        break
                    self.run_stack()
                    self.read_app(ch)
                self.close(ch)
                return
            # sending sets no error and takes nothing from the receive queue: only the
            # program's EOF changes the mask here (service keeps it for the rest)
            if ch.app_eof and self.table.alive(ch):
                self.update_mask(ch)

    def read_app(self, ch: DgramChannel) -> None:
        """Datagrams the program sent: one message each, while the stack can take them.
        Runs per datagram: names bound once, the header's flags read once."""
        if ch.app_eof:
            return
        sk = ch.sk
        inner = sk.inner
        layer = sk.layer
        send = layer.send
        recv_into = ch.s.recv_into
        more = ch.more
        dest_cache = ch.dest_cache
        buf, mv = self.buf, self.mv
        stats = self.stack.stats
        budget = READ_BYTES
        burst = ch.burst
        got = room = 0
        last_raw, last_len, last_dest = ch.last_dest
        for _ in range(READ_BATCH):
            if budget <= 0:
                break
            if not room:        # the devices asked once per batch, not per datagram
                room = layer.send_room()
                if not room:
                    break
            try:
                n = recv_into(buf)
            except BlockingIOError:
                break
            except OSError:
                n = 0
            if n == 0:
                ch.app_eof = True
                break
            budget -= n
            got += 1
            room -= 1
            if n < HDR_SIZE:
                stats["udp_channel_drops"] += 1
                continue
            flags = buf[0]
            alen = buf[2] | (buf[3] << 8)
            try:
                if (flags & DG_MORE and sk.calls.corks) or inner.corked is not None or \
                        inner.cork_on:
                    self.cork(ch, mv[HDR_SIZE:n], alen, flags & DG_MORE)
                elif alen:
                    if alen == last_len and buf.startswith(last_raw, ADDR_OFF):
                        dest = last_dest
                    else:
                        raw = bytes(mv[ADDR_OFF:ADDR_OFF + alen])
                        dest = dest_cache.get(raw)
                        if dest is None:
                            dest = self.destination(ch, raw)
                            if len(dest_cache) > 256:
                                dest_cache.clear()
                            dest_cache[raw] = dest
                        last_raw, last_len, last_dest = ch.last_dest = raw, alen, dest
                    if flags & DG_SEND_IP:
                        self.send_with_ip(ch, mv[HDR_SIZE:n], dest[0], dest[1], dest[2])
                    elif dest[2]:
                        send(inner, mv[HDR_SIZE:n], dest[0], dest[1], dest[2])
                    else:
                        send(inner, mv[HDR_SIZE:n], dest[0], dest[1])
                elif inner.rip is not None:
                    if flags & DG_SEND_IP:
                        self.send_with_ip(ch, mv[HDR_SIZE:n], inner.rip, inner.rport)
                    else:
                        send(inner, mv[HDR_SIZE:n], inner.rip, inner.rport)
                else:
                    stats["udp_channel_drops"] += 1
            except SocketError:
                stats["udp_channel_drops"] += 1
            if not burst:
                if not more(0):
                    break
                burst = True
        ch.burst = got > 1

    def send_with_ip(self, ch: DgramChannel, data: memoryview, rip: bytes, rport: int,
                     oif: int = 0) -> None:
        """A datagram whose sendmsg control data set its TTL / hop limit or TOS / traffic
        class (the header's ttl and tos)."""
        f = self.buf[0]
        kw = {"ttl": self.buf[TTL_OFF] if f & P.DG_SEND_TTL else -1,
              "tos": self.buf[TOS_OFF] if f & P.DG_SEND_TOS else -1}
        if oif:
            kw["oif"] = oif
        ch.sk.layer.send(ch.sk.inner, data, rip, rport, **kw)

    def cork(self, ch: DgramChannel, data: memoryview, alen: int, more: int) -> None:
        """A part of a corked datagram (MSG_MORE, UDP_CORK): its destination counts only
        when it starts the datagram."""
        sk = ch.sk
        if sk.inner.corked is not None:
            rip, rport, oif = sk.inner.corked[:3]
        elif alen:
            rip, rport, oif = self.destination(ch, bytes(self.mv[ADDR_OFF:ADDR_OFF + alen]))
        elif sk.inner.rip is not None:
            rip, rport, oif = sk.inner.rip, sk.inner.rport, 0
        else:
            raise SocketError(errno.EDESTADDRREQ)
        sk.cork(data, rip, rport, oif, bool(more))

    def destination(self, ch: DgramChannel, raw: bytes) -> tuple[bytes, int, int]:
        """A destination sockaddr -> (unmapped address, port, outgoing interface: the
        scope id of a link-scoped IPv6 address, else 0), with udp_sendmsg's checks."""
        if len(raw) < 2:
            raise SocketError(errno.EINVAL)
        fam = _FAM.unpack_from(raw)[0]
        sk = ch.sk
        if ch.family == socket.AF_INET or fam == socket.AF_INET:
            if len(raw) < 16:
                raise SocketError(errno.EINVAL)
            if fam not in (socket.AF_INET, socket.AF_UNSPEC):
                raise SocketError(errno.EAFNOSUPPORT)
            if ch.family == socket.AF_INET6 and sk.inner.v6only:
                raise SocketError(errno.ENETUNREACH)
            port, a = _IN.unpack_from(raw, 2)
            addr: tuple = (socket.inet_ntop(socket.AF_INET, a), port)
            if ch.family == socket.AF_INET6:
                addr = ("::ffff:" + addr[0], port, 0, 0)
        elif fam == socket.AF_UNSPEC:
            if sk.inner.rip is None:
                raise SocketError(errno.EDESTADDRREQ)
            return sk.inner.rip, sk.inner.rport, 0
        elif fam != socket.AF_INET6:
            raise SocketError(errno.EINVAL)
        else:
            addr = sockaddr.decode(ch.family, raw, for_bind=False)
        rip, rport = sk.resolve(addr)
        oif = addr[3] if len(addr) > 3 and needs_scope(rip) else 0
        if rport == 0 and sk.calls.port_required:
            raise SocketError(errno.EINVAL)
        udp = sk.layer
        if udp.out_route(sk.inner, rip, oif) is None:
            raise SocketError(errno.ENETUNREACH)
        if len(rip) == 4 and not sk.inner.broadcast and udp.is_broadcast(rip):
            raise SocketError(errno.EACCES)
        return rip, rport, oif

    def service(self, ch: DgramChannel) -> None:
        """The stack changed this socket: received datagrams and errors to the program."""
        inner = ch.sk.inner
        s = ch.s
        if inner.error and inner.err_seq != ch.err_seq:
            try:
                s.send(_error_record(inner.error))
                ch.err_seq = inner.err_seq
            except BlockingIOError:
                pass
            except OSError:
                ch.err_seq = inner.err_seq
        rxq = inner.rxq
        if rxq and not (inner.error and inner.err_seq == ch.err_seq):   # not held (update_mask)
            cache = ch.src_cache
            family = ch.family
            sendmsg = s.sendmsg
            popleft = rxq.popleft
            while rxq:
                dg = rxq[0]
                key = (dg.src, dg.sport, dg.dst, dg.tos, dg.ttl, dg.ifindex)
                hdr = cache.get(key)
                if hdr is None:
                    hdr = _source_header(family, dg, ch.cm[dg.version == 6])
                    if len(cache) > 256:
                        cache.clear()
                    cache[key] = hdr
                try:
                    sendmsg((hdr, dg.data))
                except BlockingIOError:
                    break
                except OSError:
                    pass            # the program is gone: POLLHUP closes the channel
                popleft()
                inner.rx_bytes -= dg.cost
        if ch.live:
            self.update_mask(ch)

    def close(self, ch: DgramChannel) -> None:
        self.table.close(ch)
        ch.sk.close()

    # ---- RPCs ---------------------------------------------------------------------

    def before_op(self, ch: DgramChannel) -> None:
        """Datagrams the program sent before this call go through the stack first (on
        Linux they were delivered, and their ICMP errors set, before sendto returned)."""
        if not ch.app_eof:
            self.read_app(ch)
            self.run_stack()

    def op_connect(self, ch: DgramChannel, req: P.Request):
        raw = req.payload
        if len(raw) < 2:
            raise SocketError(errno.EINVAL)
        if _FAM.unpack_from(raw)[0] == socket.AF_UNSPEC:
            ch.sk.connect(None)
        else:
            addr = sockaddr.decode(ch.family, raw, for_bind=False)
            ch.sk.connect(addr)
        ch.forget_destinations()
        self.service(ch)            # a pending error is gone: held datagrams go on now
        return P.response(0), None

    def op_getsockopt(self, ch: DgramChannel, req: P.Request):
        resp = self.inet.op_getsockopt(ch, req)
        self.service(ch)            # SO_ERROR took the error: held datagrams go on now
        return resp

    def op_shutdown(self, ch: DgramChannel, req: P.Request):
        how = req.args[0]
        if how not in (socket.SHUT_RD, socket.SHUT_WR, socket.SHUT_RDWR):
            raise SocketError(errno.EINVAL)
        ch.sk.shutdown(how)
        return P.response(0), None

    def op_setsockopt(self, ch: DgramChannel, req: P.Request):
        ch.sk.privileged = self.table.caller.net_admin  # Linux checks capabilities per call
        ch.sk.setsockopt(req.args[0], req.args[1], req.payload)
        self.size_s(ch)
        ch.forget_destinations()
        ch.src_cache.clear()
        ch.cm = _cmsg_bits(ch)
        return P.response(0), None

    def op_dgram_check(self, ch: DgramChannel, req: P.Request):
        inner = ch.sk.inner
        if req.args[0] == 1:
            rip = inner.rip
            if rip is None:
                raise SocketError(errno.EDESTADDRREQ)
        else:
            rip = self.destination(ch, req.payload)[0]
        limit = MAX_PAYLOAD_V4 if len(rip) == 4 else MAX_PAYLOAD_V6
        return P.response(0, 0, b"", limit), None


    def op_dgram_sync(self, ch: DgramChannel, req: P.Request):
        stats = self.stack.stats
        for _ in range(4):
            busy = False
            for c in self.table.of_service(self):
                if not c.app_eof and self.table.alive(c):
                    before = stats["udp_out_datagrams"]
                    self.read_app(c)
                    busy = busy or stats["udp_out_datagrams"] != before
            self.run_stack()
            if not busy:
                break
        if req.args[0] == 1:
            resp = self.errqueue(ch)
            self.service(ch)        # the error may be gone: held datagrams go on before the reply
            return resp, None
        return P.response(0), None

    def errqueue(self, ch: DgramChannel) -> bytes:
        """recvmsg(MSG_ERRQUEUE): the oldest error queue entry, laid out for the stub:
        struct sock_extended_err, u16 name length, u16 offender length, name (28 bytes),
        offender (28 bytes), then the payload; EAGAIN when the queue is empty."""
        e = ch.sk.recv_error()
        if e is None:
            return P.response(-1, errno.EAGAIN)
        fam = ch.family
        name = sockaddr.encode(fam, ch.sk._format(e.addr, e.port))
        off = sockaddr.encode(fam, ch.sk._format(e.offender, 0))
        ee = _EE.pack(e.errno, e.origin, e.type, e.code, 0, 0, 0)
        body = ee + _U16X2.pack(len(name), len(off)) + name.ljust(28, b"\0") + off.ljust(
            28, b"\0") + e.data
        return P.response(len(e.data), 0, body[:P.MAX_PAYLOAD])


def _error_record(err: int) -> bytes:
    rec = _ERRHDR_CACHE.get(err)
    if rec is None:
        rec = _ERRHDR_CACHE[err] = HDR.pack(P.DG_ERROR, 0, err, 0, 0, 0, b"", b"")
    return rec


def _cmsg_bits(ch: DgramChannel) -> tuple[int, int]:
    """Which control messages recvmsg gives for an IPv4 and an IPv6 datagram."""
    o = ch.sk.option
    common = (P.DG_CM_TSTAMP if o(SOL_SOCKET, 29) else 0) | (
        P.DG_CM_TSTAMPNS if o(SOL_SOCKET, 35) else 0)
    ip = (P.DG_CM_PKTINFO if o(0, 8) else 0) | (P.DG_CM_TTL if o(0, 12) else 0) | (
        P.DG_CM_TOS if o(0, 13) else 0)
    ip6 = 0
    if ch.family == socket.AF_INET6:
        ip6 = (P.DG_CM_PKTINFO6 if o(41, 49) else 0) | (P.DG_CM_HOPLIMIT if o(41, 51) else 0) | (
            P.DG_CM_TCLASS if o(41, 66) else 0)
    # an IPv4 datagram on an IPv6 socket gets IPV6_PKTINFO but no hop limit / class
    return common | ip | (ip6 & P.DG_CM_PKTINFO6), common | ip6


def _source_header(family: int, dg, cm: int) -> bytes:  # type: ignore[no-untyped-def]
    src = dg.src
    if family == socket.AF_INET:
        sa = _FAM.pack(socket.AF_INET) + _IN.pack(dg.sport, src) + bytes(8)
    else:
        if len(src) == 4:
            src = b"\x00" * 10 + b"\xff\xff" + src
        sa = _FAM.pack(socket.AF_INET6) + _IN6.pack(dg.sport, 0, src, 0)
        if src[0] == 0xFE and src[1] & 0xC0 == 0x80:      # link-local: scope id = iif
            sa = sa[:-4] + _SCOPE.pack(dg.ifindex)
    return HDR.pack(cm, len(sa), 0, dg.ifindex, dg.tos, dg.ttl, sa, dg.dst)

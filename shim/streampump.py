"""The stream (TCP) data path of the stack host: the Channel of a TCP shim socket and
what moves bytes and state between its S end and the stack socket (shim/stream.py
has the socket calls).

- app -> stack: bytes the program writes to A are read from S while the TCP send
  buffer has room (event); EOF on S is the program's shutdown(SHUT_WR), POLLHUP on
  S the last close of A (app_closed: what it wrote still goes, then FIN).
- stack -> app: received bytes are written to S straight from the TCP receive ring and
  taken from it only as S accepts them (service), so they go no faster than the program
  reads; the peer's FIN becomes shutdown(S, SHUT_WR); failure closes S (fail).
"""
from __future__ import annotations

import array
import errno
import fcntl
import select
import socket
import struct
import termios
import time
from collections import OrderedDict, deque
from typing import Any

from rocketnet.socket import Socket, SocketError
from rocketnet.stack import NetStack
from rocketnet.transport import STATE_NAMES
from shim import protocol as P
from shim import sockaddr
from shim.channels import Channel as ChannelBase
from shim.channels import ChannelTable, set_sndbuf

READ_CHUNK = 256 * 1024
# S's send buffer (SO_SNDBUFFORCE beyond wmem_max): what the program has not read yet,
# on top of the TCP receive buffer, like the tail of Linux's autotuned rcvbuf.  It
# starts small and doubles each time the program has read all it held, so a program
# that never reads holds about what Linux's would (the receive buffer), one that
# reads fast gets the large buffer that keeps the host's wake-ups few.
CHANNEL_BUF = 1024 * 1024
CHANNEL_BUF_MIN = 32 * 1024
OUTQ = struct.Struct("i")
DEAD_KEEP = 4096                    # sockets whose errno is kept for SO_ERROR after failure
SOL_SOCKET = socket.SOL_SOCKET
EP_IN, EP_OUT = select.EPOLLIN, select.EPOLLOUT
EP_HUPS = select.EPOLLHUP | select.EPOLLERR
TCP_ESTABLISHED_OR_LATER = {"ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING",
                            "LAST_ACK", "TIME_WAIT"}
# the same states as the TCB's numbers: the per-packet paths read the TCB (sk.inner)
# directly, without a name lookup per call
SYNCED = frozenset(n for n, name in STATE_NAMES.items() if name in TCP_ESTABLISHED_OR_LATER)
CLOSED = next(n for n, name in STATE_NAMES.items() if name == "CLOSED")


class Channel(ChannelBase):
    """One TCP shim socket: the host's S end and the stack socket behind it."""

    __slots__ = ("filler", "s_full", "app_closed", "fin_to_app", "a_shut", "more", "nb_connect",
                 "unseen_fail", "a_sndbuf", "s_sndbuf", "s_auto", "s_drained", "w_len", "w_limit")

    def __init__(self, svc: Any, sock_id: int, family: int, s: socket.socket,
                 sk: Socket) -> None:
        super().__init__(svc, sock_id, family, s, sk)
        self.filler = 0            # filler bytes still to discard from S
        self.s_full = False        # S did not take all received bytes: EPOLLOUT awaited
        self.app_closed = False    # the last A is closed (POLLHUP on S)
        self.fin_to_app = False    # shutdown(S, SHUT_WR) done
        self.pending_accept: deque[Socket] = deque()
        self.a_shut = False        # A is shut for writing: never connected (writes: EPIPE)
        self.more = False          # MSG_MORE: what the program writes is held back
        self.nb_connect = False    # the last connect was non-blocking (its result unseen)
        self.unseen_fail: int | None = None     # see op_connect
        # SO_SNDBUF / SO_RCVBUF set by the program: the kernel send buffers of A and S
        # (0: the defaults), inherited by accepted sockets as the stack's buffers are
        self.a_sndbuf = 0
        self.s_sndbuf = 0
        self.s_auto = CHANNEL_BUF_MIN   # S's send buffer while the program sets none
        # the last read of S found it empty: nothing to read until epoll says so
        self.s_drained = False
        # the longest send queue update_mask found the TCB writable with, and the
        # limit then: writable() holds for any queue no longer under a limit no lower
        # (room only grows), so event and service leave the mask alone then
        self.w_len = self.w_limit = -1

    def size_like(self, other: Channel, a: socket.socket) -> None:
        """Buffer sizes of other's pair for this one, whose A is not handed over yet
        (its S was made s_size(other, ...) large)."""
        self.a_sndbuf, self.s_sndbuf = other.a_sndbuf, other.s_sndbuf
        if self.a_sndbuf:
            a.setsockopt(SOL_SOCKET, socket.SO_SNDBUF, self.a_sndbuf)
        if self.s_sndbuf:
            self.s_auto = self.s_sndbuf

    @staticmethod
    def s_size(other: Channel, default: int) -> int:
        """The send buffer of S for a pair sized like other's (size_like)."""
        return other.s_sndbuf or default

    def s_limit(self) -> int:
        """How large S may grow while the program reads all it holds: the default's
        megabyte, or with SO_RCVBUF the channel's starting size (the first grows only
        for a program that keeps up; one that stops holds what Linux's would)."""
        return max(self.s_sndbuf, CHANNEL_BUF_MIN) if self.s_sndbuf else CHANNEL_BUF


def push_tail(sk: Socket, tail: deque) -> None:
    """Hand the stack what it takes of the bytes a closed program left (SocketError
    passes through); what does not fit stays at the head of tail."""
    while tail:
        n = sk.send(tail[0])
        if n < len(tail[0]):
            tail[0] = tail[0][n:]
            return
        tail.popleft()


class StreamPump:
    """The data-path half of StreamService (its channels' events and the stack's)."""

    table: ChannelTable
    stack: NetStack
    dead: OrderedDict[int, int]
    dormant: OrderedDict[int, Channel]
    orphans: dict[Socket, deque[bytes]]
    recent_closed: OrderedDict[int, Socket]

    def add(self, ch: Channel) -> None:
        self.table.add(ch, first_mask=True)
        self.update_mask(ch)

    def update_mask(self, ch: Channel) -> None:
        if ch.listening:
            want = EP_OUT if ch.pending_accept else 0
            if not ch.app_eof:
                want |= EP_IN       # EOF/HUP: the program closed the listener
        elif ch.app_eof or ch.connecting:
            want = 0
        else:
            t = ch.sk.inner
            want = 0
            if t.state in SYNCED:
                if ch.filler:
                    want = EP_IN
                elif t.writable():
                    want = EP_IN
                    n, limit = t.sndbuf.length, t.sndbuf_limit
                    if n > ch.w_len or limit < ch.w_limit:
                        ch.w_len, ch.w_limit = n, limit     # see Channel.w_len
        if ch.s_full:
            want |= EP_OUT
        if want != ch.mask:
            self.table.modify(ch, want)

    @staticmethod
    def mask_holds(ch: Channel, t: Any) -> bool:
        """Whether ch's mask is right as it is after a read or a stack event: S waits
        for the program's bytes and has none, and the TCB is as writable as when the
        mask was set (Channel.w_len), unless memory pressure may shrink the send buffer
        (writable's check)."""
        if not (ch.mask == EP_IN and ch.s_drained and not ch.s_full and not ch.app_eof
                and t.state in SYNCED and not ch.filler and t.sndbuf.length <= ch.w_len
                and t.sndbuf_limit >= ch.w_limit and ch.live):
            return False
        mem = t.sndbuf.mem
        return mem.held <= mem.mark

    @staticmethod
    def sending(ch: Channel) -> bool:
        """Whether S is read: only once connected (before, S holds the stub's filler)."""
        return not ch.connecting and ch.sk.state in TCP_ESTABLISHED_OR_LATER

    def event(self, ch: Channel, ev: int) -> None:
        """Readiness of S (the host loop), or ev EP_IN from a socket call or a stack
        event that wants what the program wrote: first what waited for room in S
        (EP_OUT), then the bytes the program wrote to A (filler to drop, then payload
        for the stack), then the mask.  One call per wake-up of a request/response."""
        if ev & EP_OUT:
            if ch.listening:
                self.hand_over_accepted(ch)
            else:
                self.service(ch)    # what waited for room, then FIN or failure
                if not ch.s_full and ch.s_auto < ch.s_limit():
                    ch.s_auto *= 2  # the program read all S held: a larger S
                    set_sndbuf(ch.s, ch.s_auto)
        if ev & EP_IN or ev & EP_HUPS:
            s, t = ch.s, ch.sk.inner
            while not ch.app_eof:
                room = None         # payload goes straight into the send ring
                if ch.listening:
                    want = READ_CHUNK
                elif ch.connecting or t.state not in SYNCED:
                    break
                elif ch.filler:
                    want = min(ch.filler, READ_CHUNK)
                else:
                    room = t.send_buffer(READ_CHUNK)
                    if room is None:
                        break       # no room, or FIN queued
                    want = room.nbytes  # a byte view: its length
                try:
                    got = s.recv_into(room) if room is not None else len(s.recv(want))
                except BlockingIOError:
                    ch.s_drained = True
                    break
                except ConnectionResetError:
                    got = 0
                if not got:
                    ch.app_eof = True
                    if not ev & select.EPOLLHUP and self.hung_up(s):
                        ev |= select.EPOLLHUP   # a close, not a shutdown: no FIN first
                    break
                if ch.listening:
                    continue        # nothing a program writes to a listener means anything
                if ch.filler:
                    ch.filler -= got
                    continue
                t.send_queued(got, ch.more)
                if got < want:
                    ch.s_drained = True
                    break           # S is empty now; epoll (level-triggered) tells of more
                ch.s_drained = False    # more may wait: read again once the stack takes it
            if ev & select.EPOLLHUP:
                ch.app_closed = True
            if ch.app_closed:
                self.app_closed(ch, time.monotonic())
            elif ch.app_eof:
                self.app_shut_write(ch, time.monotonic())
            elif self.mask_holds(ch, t):
                return
        if ch.live:
            self.update_mask(ch)

    @staticmethod
    def hung_up(s: socket.socket) -> bool:
        """EOF on S: is the last A closed (POLLHUP), rather than shut down for writing?"""
        p = select.poll()
        p.register(s.fileno(), 0)
        return any(ev & select.POLLHUP for _, ev in p.poll(0))

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
        sk = ch.sk
        if sk.inner.linger == (1, 0):
            self.abort_after_sent(sk, tail, now)
        elif tail and sk.state in TCP_ESTABLISHED_OR_LATER:
            self.orphans[sk] = tail
            self.feed_orphan(sk)
        else:
            sk.close(now)           # FIN, or RST if unread data remains (the stack's rule)

    def abort_after_sent(self, sk: Socket, tail: deque, now: float) -> None:
        """close() with SO_LINGER {1, 0}: on Linux what send() returned for is already
        on its way (on loopback, in the peer's queue) when the reset goes; what the
        peer's window cannot take is dropped.  So: send the tail while the stack moves
        it, then RST."""
        tcb = sk.inner
        for _ in range(64):
            try:
                push_tail(sk, tail)
            except SocketError:
                break
            before = tcb.snd_nxt
            self.stack.poll(now)
            if tcb.snd_nxt == before:
                break               # all out, or the peer's window is full
        sk.close(now)

    def orphaned(self, sk: Socket) -> None:
        """The stack changed a socket that has no channel: a closed one still sending."""
        if sk in self.orphans:
            self.feed_orphan(sk)

    def feed_orphan(self, sk: Socket) -> None:
        tail = self.orphans[sk]
        try:
            push_tail(sk, tail)
            if tail:
                return              # the rest when the send buffer frees
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
        """The stack changed this socket: move data and state to the program, in one
        pass.  Received bytes go to the program no faster than it reads them: written
        to S from the receive ring in place and taken from the ring only as S accepts
        them, so a slow reader closes the TCP window as it would on Linux."""
        sk = ch.sk
        t = sk.inner                # the TCB: read directly, once per stack event
        if ch.connecting:
            if t.state in SYNCED:
                ch.connecting = False
            elif t.state == CLOSED:
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
            rx = t.rcvbuf
            if rx.length or ch.s_full:
                ch.s_full = False
                s = ch.s
                while rx.length:
                    if not t.rcvbuf_lock and t.held_due():  # held_due's first test, inline
                        # what S holds is not read yet: the receive buffer's autotuning
                        # waits for the program's reads (the kernel's count of S's queue)
                        t.held = OUTQ.unpack(fcntl.ioctl(s.fileno(), termios.TIOCOUTQ,
                                                         b"\0\0\0\0"))[0]
                    if t.urg_state and t.urgent_offset() == 0:
                        # urgent data: out of band on A (POLLPRI, SIOCATMARK, SO_OOBINLINE)
                        try:
                            s.send(bytes((rx[0],)), socket.MSG_OOB)
                        except BlockingIOError:
                            ch.s_full = True
                            break
                        except OSError:
                            break   # the program is gone; the stack resets on close
                        t.take_urgent()
                        continue
                    view = t.peek(READ_CHUNK)   # up to an urgent mark: what is before it first
                    try:
                        n = s.send(view)
                    except BlockingIOError:
                        n = 0
                    except OSError:
                        break       # the program is gone; the stack resets on close
                    if n:
                        t.consume(n)
                    if n < view.nbytes:
                        ch.s_full = True
                        break
            if t.error and t.state == CLOSED and not ch.s_full:
                self.fail(ch, sk.take_error())
                return
            if t.fin_received and not rx.length and not ch.fin_to_app:
                ch.fin_to_app = True
                try:
                    ch.s.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
            if self.mask_holds(ch, t):
                return
        if ch.live:
            if not ch.app_eof and (ch.mask & EP_IN == 0 or not ch.s_drained):
                self.event(ch, EP_IN)   # what the program wrote meanwhile, then the mask
            else:
                self.update_mask(ch)

    def hand_over_accepted(self, ch: Channel) -> None:
        """Give each established connection to the program: one record + its A fd."""
        while ch.pending_accept:
            sk = ch.pending_accept[0]
            sock_id, a, s = self.table.new_pair(socket.SOCK_STREAM,
                                                Channel.s_size(ch, CHANNEL_BUF_MIN))
            if getattr(sk.inner, "oobinline", False):   # inherited from the listener
                a.setsockopt(SOL_SOCKET, socket.SO_OOBINLINE, 1)
            new = Channel(self, sock_id, ch.family, s, sk)
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
            # A was just handed over: what the program writes to it from now on, epoll
            # reports once S is registered (level-triggered); no read of S to find out
            new.s_drained = True
            self.add(new)
            self.service(new)

    def fail(self, ch: Channel, err: int) -> None:
        """Connection failed or reset: A sees POLLERR|POLLHUP; errno kept for SO_ERROR."""
        self.table.conn_log.failed(ch.sock_id, ch.sk, err)
        self.dead[ch.sock_id] = err
        while len(self.dead) > DEAD_KEEP:
            self.dead.popitem(last=False)
        self.close_channel(ch)
        self.dormant[ch.sock_id] = ch
        while len(self.dormant) > DEAD_KEEP:
            self.dormant.popitem(last=False)

    def close_channel(self, ch: Channel) -> None:
        if not self.table.close(ch):
            return
        for sk in ch.pending_accept:
            sk.abort(time.monotonic())
        ch.pending_accept.clear()

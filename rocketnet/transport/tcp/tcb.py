"""The transmission control block with its buffers and socket options."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import SocketError
from ...iface import InterfaceWrapper
from . import congestion
from .assembler import Assembler
from .consts import (
    CLOSE_WAIT,
    CLOSED,
    EAGAIN,
    EINVAL,
    EPIPE,
    ESTABLISHED,
    GSO_MAX,
    HALF,
    RECV_STATES,
    STATE_NAMES,
    SYN_RECEIVED,
    SYN_SENT,
    URG_READ,
    URG_VALID,
    M,
)
from .listen import ListenEntry
from .ring import ByteRing
from .rtt import SendTimes

if TYPE_CHECKING:
    from .layer import TcpLayer


class TcpSocket:
    """A TCP control block with its buffers and socket options (SocketInner::Tcp)."""

    # _room's size_goal() and the (mss, max_snd_wnd) it is for: they rarely change
    goal_for: tuple[int, int] = (0, -1)
    goal = 0

    def __init__(self, layer: TcpLayer, family: int) -> None:
        self.layer = layer
        self.family = family  # AF_INET (2) or AF_INET6 (10): the application's view
        self.owner: Any = None  # the Socket facade, set by the socket layer
        self.handle = 0
        self.state = CLOSED
        self.released = False  # the application closed it
        self.ever_connected = False
        self.was_established = False
        self.error = 0
        # binding
        self.bind_addr: bytes | None = None  # in the socket's family form (4 or 16 bytes)
        self.local_port = 0
        self.cover4: bytes | None = None
        self.cover6: bytes | None = None
        self.in_bind_table = False
        # connection
        self.version = 4  # IP version on the wire
        self.iface: InterfaceWrapper | None = None
        self.lip = b""
        self.rip = b""
        self.rport = 0
        self.key: tuple | None = None
        self.listen_entry: ListenEntry | None = None  # for a listener
        self.parent: ListenEntry | None = None  # for a child not yet accepted
        # send side
        self.iss = 0
        self.snd_una = 0
        self.snd_nxt = 0
        self.snd_max = 0
        self.snd_wnd = 0
        self.max_snd_wnd = 0
        self.snd_wl1 = 0
        self.snd_wl2 = 0
        self.snd_wscale = 0
        self.data_seq = 0  # sequence number of sndbuf[0]
        self.sndbuf = ByteRing(layer.mem)  # unacknowledged and unsent data, from data_seq
        self.fin_queued = False
        # urgent data we send: segments before snd_up carry URG (urg_mode: snd_up not
        # yet acknowledged)
        self.urg_mode = False
        self.snd_up = 0
        self.mss = layer.config.default_mss  # effective send MSS
        self.peer_mss = 536
        self.advmss = 0
        self.cwnd = 0
        self.ssthresh = 0x7FFFFFFF
        self.dupacks = 0
        self.recover: int | None = None  # snd_max when fast recovery began
        self.cc: congestion.Reno = congestion.make(layer.config.congestion)
        self.ca_state = 0  # Linux tcpi_ca_state: 0 open, 1 disorder, 3 recovery, 4 loss
        # SACK scoreboard (RFC 6675): sorted, merged [start, end) in absolute stream
        # positions (abs = bytes_acked + offset from data_seq)
        self.sack_ok = False
        self.sacked: list[list[int]] = []
        self.sacked_bytes = 0
        self.retx_next = 0  # abs: holes below this were retransmitted in this recovery
        self.lost_out = 0
        # timestamps (RFC 7323)
        self.ts_ok = False
        self.ts_recent = 0
        self.ts_recent_set = False
        self.ts_offset = 0
        self.last_ack_sent = 0
        # receive side
        self.irs = 0
        self.rcv_nxt = 0
        self.rcv_adv = 0  # right edge of the window we advertised
        self.rcv_wscale = 0
        self.ws_ok = False
        self.rcvbuf = ByteRing(layer.mem)  # in-order data not yet read, then out-of-order
        self.fin_received = False
        self.ack_pending = False
        self.unacked_segs = 0
        self.delack_at: float | None = None  # delayed-ACK timer
        self.quick = 0  # quick ACKs left (Linux icsk_ack.quick)
        self.ato_init = False  # the first data arrived (quickack mode entered)
        # Linux icsk_ack.rcv_mss / ICSK_ACK_PUSHED(2) / pingpong: what lets a read that
        # empties the buffer ACK at once (tcp_cleanup_rbuf)
        self.rcv_mss = 0  # largest segment received (at most advmss)
        self.pushed = 0  # since our last ACK: 1 a PSH or short segment, 2 two of them
        self.pingpong = False  # interactive: our data follows the peer's within ATO
        # out-of-order data: its ranges (abs positions count stream bytes;
        # bytes_received is the abs position of rcv_nxt); the bytes are in rcvbuf
        self.ooo = Assembler()
        self.ooo_fin: int | None = None  # abs position of an out-of-order FIN
        self.ooo_packets = 0
        # urgent data received (Linux urg_data): state 0 none, URG_NOTYET (announced,
        # byte not here yet), URG_VALID (urg_byte at stream position urg_pos),
        # URG_READ (taken with MSG_OOB; a normal read still skips it unless inline)
        self.urg_state = 0
        self.urg_pos = 0
        self.urg_byte = 0
        self.oobinline = False
        # timers
        self.rto = layer.config.rto_init
        self.srtt = 0.0
        self.rttvar = 0.0
        self.rtt_time = 0.0  # when the SYN / SYN-ACK went out
        self.tx = SendTimes()  # data segments' send times (RTT samples)
        self.retransmits = 0  # consecutive timeouts (backoff)
        self.retrans_stamp = 0.0  # first transmission of what is being retransmitted
        self.user_timeout = 0  # TCP_USER_TIMEOUT, ms (0: use retries2)
        self.total_retrans = 0
        self.rto_at: float | None = None
        self.deadline: float | None = None  # TIME_WAIT / FIN_WAIT_2 / keepalive
        self.heap_at: float | None = None
        self.last_recv = 0.0
        self.probes = 0
        # counters (TCP_INFO)
        self.segs_out = 0
        self.segs_in = 0
        self.data_segs_out = 0
        self.data_segs_in = 0
        self.bytes_acked = 0
        self.bytes_received = 0
        self.bytes_sent = 0
        self.bytes_retrans = 0
        self.last_data_sent = 0.0
        self.last_data_recv = 0.0
        self.last_ack_recv = 0.0
        # options
        cfg = layer.config
        self.sndbuf_limit = cfg.so_sndbuf  # autotuned from tcp_wmem[1]
        self.sndbuf_lock = False  # SO_SNDBUF set: no autotuning
        self.rcvbuf_limit = cfg.so_rcvbuf  # autotuned from tcp_rmem[1]
        self.rcvbuf_lock = False  # SO_RCVBUF set: no autotuning
        self.rcvq_space = 0  # bytes read in the last measured round trip
        self.rcvq_time = 0.0  # when the current measurement began
        self.rcvq_read = 0  # bytes read by then
        self.held = 0  # of what recv gave, bytes the application has not read yet
        self.so_sndbuf = cfg.so_sndbuf  # what getsockopt(SO_SNDBUF) reports
        self.so_rcvbuf = cfg.so_rcvbuf
        self.reuseaddr = False
        self.reuseport = False
        self.keepalive = False
        self.keepidle = 7200
        self.keepintvl = 75
        self.keepcnt = 9
        self.nodelay = False
        self.cork = False
        self.more = False  # the last send had MSG_MORE
        self.probe_push = False  # the probe timer sends a corked partial segment
        self.last_oow_ack: float | None = None  # when an invalid segment was last answered
        self.port_range = 0  # IP_LOCAL_PORT_RANGE: hi << 16 | lo (0: the host's range)
        self.dsack: tuple[int, int] | None = None  # duplicate to report (RFC 2883)
        self.user_mss = 0
        self.linger: tuple[int, int] = (0, 0)
        self.v6only = False
        self.ttl = 64
        self.tos = 0
        self.hops = 64
        self.congestion = b"cubic"

    # ------------------------------------------------------------------ queries
    @property
    def state_name(self) -> str:
        return STATE_NAMES[self.state]

    def rx_available(self) -> int:
        return self.rcvbuf.length

    def send_space(self) -> int:
        """What a write may queue now, as Linux's tcp_sendmsg: while the queue is under
        the send buffer a new "skb" may start, and it takes up to size_goal bytes
        whatever the limit. So a 4 KiB SO_SNDBUF still lets a 64 KiB segment go out
        per round trip on lo, not 4 KiB."""
        return 0 if self.fin_queued else self._room()[0]

    def _room(self) -> tuple[int, int]:
        """send_space() but for the FIN, and the size goal (0, 0 if no room)."""
        buf = self.sndbuf
        mem = self.layer.mem
        if mem.held > mem.mark and mem.over(buf.capacity):   # no call without pressure
            self.layer.moderate_sndbuf(self)  # the send buffer under memory pressure
        free = self.sndbuf_limit - buf.length
        if free <= 0:
            return 0, 0
        key = (self.mss, self.max_snd_wnd)
        if key != self.goal_for:
            self.goal_for = key
            self.goal = self.size_goal()
        goal = self.goal
        return (free if free > goal else goal), goal

    def writable(self) -> bool:
        """Whether a writer waiting for room should be woken now (the host's readiness
        check: it then waits for the program's bytes): room for half what the send
        buffer holds, as Linux's sk_stream_is_writeable, or for a full segment if
        less. Not for the last few bytes of room while a window is in flight: the ACK
        frees the buffer anyway, and the host would wake once per round trip to take
        a few bytes it cannot send yet. (A write, send_space, takes any room.)"""
        if self.fin_queued:
            return False
        buf = self.sndbuf
        mem = self.layer.mem
        if mem.held > mem.mark and mem.over(buf.capacity):   # as _room
            self.layer.moderate_sndbuf(self)
        free = self.sndbuf_limit - buf.length
        half = buf.length >> 1
        return free > 0 and free >= (half if half < self.mss else self.mss)

    def mss_cache(self) -> int:
        """Linux's mss_cache (what TCP_MAXSEG reports once connected): the MSS bounded
        to half the peer's largest window (tcp_bound_to_half_wnd, re-applied by
        tcp_sync_mss each time that window grows, so it follows max_snd_wnd)."""
        mss = self.mss
        w = self.max_snd_wnd
        cut = w >> 1 if w > 536 else w
        if cut and mss > cut:
            return cut if cut > 56 else 56  # 68 less the header with timestamps
        return mss

    def size_goal(self) -> int:
        """Linux tcp_xmit_size_goal: one GSO segment of 64 KiB bounded to half the
        peer's largest window, in whole MSS (mss_cache, bounded the same way), at
        least one."""
        mss = self.mss_cache()
        w = self.max_snd_wnd
        cut = w >> 1 if w > 536 else w
        goal = GSO_MAX if not cut or cut > GSO_MAX else cut
        return (goal // mss) * mss if goal >= mss else mss

    @property
    def rx_eof(self) -> bool:
        return self.fin_received and not self.rcvbuf.length

    @property
    def ooo_bytes(self) -> int:
        """Out-of-order bytes held."""
        return self.ooo.held()

    def rcv_wnd_free(self) -> int:
        free = self.rcvbuf_limit - self.rcvbuf.length
        return free if free > 0 else 0

    # ------------------------------------------------------------------ app data
    def send(self, data: bytes | bytearray | memoryview, more: bool = False,
             urgent: bool = False) -> int:
        """Queue data; ``more`` is MSG_MORE: hold a partial segment back (like TCP_CORK)
        until a later send without it. ``urgent`` is MSG_OOB: the last byte queued is
        urgent (the urgent pointer points just past it, BSD style as Linux)."""
        st = self.state
        if self.fin_queued or (st not in (ESTABLISHED, CLOSE_WAIT, SYN_SENT, SYN_RECEIVED)):
            if self.error:
                err = self.error
                self.error = 0
                raise SocketError(err)
            raise SocketError(EPIPE)
        if st == SYN_SENT or st == SYN_RECEIVED:
            return 0  # not connected yet: would block
        free, goal = self._room()
        if free <= 0:
            return 0
        if isinstance(data, memoryview) and data.format != "B":
            data = data.cast("B")  # bytes, whatever the exporter's item type
        n = len(data)
        if n > free:
            data = memoryview(data)[:free]
            n = free
        if n:
            self.sndbuf.append(data, self.sndbuf_limit + goal)
            self.layer.dirty[self] = None
            if urgent:
                self.snd_up = (self.data_seq + self.sndbuf.length) & M
                self.urg_mode = True
        self.more = more
        return n

    def send_buffer(self, most: int) -> memoryview | None:
        """Room in the send ring for what a write may queue now (send_space(), at most
        ``most`` bytes), in place and contiguous (up to the end of the ring's storage,
        grown as ByteRing.write grows it), or None: the host fills it straight from
        the program's socket (recv_into) and queues what it got with
        ``send_queued``. For a connected socket (the state checks of send are the
        caller's)."""
        if self.fin_queued:
            return None
        buf = self.sndbuf
        mem = self.layer.mem
        free = self.sndbuf_limit - buf.length
        if free > 0 and mem.held <= mem.mark and self.goal_for == (self.mss, self.max_snd_wnd):
            goal = self.goal  # _room's common case: room, no pressure, the size goal known
            n = free if free > goal else goal
        else:
            n, goal = self._room()
            if n <= 0:
                return None
        if most < n:
            n = most
        p = buf.length  # placed after the readable bytes as ByteRing.write places them
        # (a send ring has nothing written ahead)
        if p + n > buf.capacity:
            buf.reserve(p + n, self.sndbuf_limit + goal)
        cap = buf.capacity
        p += buf.head
        if p >= cap:
            p -= cap
        e = p + n
        return buf.mv[p : e if e <= cap else cap]

    def send_queued(self, n: int, more: bool = False) -> None:
        """The first ``n`` bytes of ``send_buffer`` were filled: queue them, as send
        (``more``: MSG_MORE)."""
        if n:
            self.sndbuf.length += n  # commit (a send ring has nothing written ahead)
            self.layer.dirty[self] = None
        self.more = more

    def recv(self, maxlen: int) -> bytes:
        n = self._readable(maxlen)
        if n <= 0:
            return b""
        data = self.rcvbuf.read(n)
        self.consume(0)  # what a read does, the bytes already taken
        return data

    def peek(self, maxlen: int) -> memoryview:
        """What recv(maxlen) would return, in place in the receive ring and not taken
        yet (as far as it is contiguous there, up to the end of the ring's storage):
        the host writes it to the program straight from the ring (one copy), then
        ``consume``s what the program's socket took."""
        buf = self.rcvbuf
        n = buf.length  # _readable, inline: the host's every read
        if maxlen < n:
            n = maxlen
        if self.urg_state and n > 0:
            n = self._urg_limit(n)
        h = buf.head
        e = h + (n if n > 0 else 0)
        cap = buf.capacity
        return buf.mv[h : e if e <= cap else cap]

    def consume(self, n: int) -> None:
        """The first ``n`` bytes of ``peek`` were read (0 < n <= len(peek(...))), or
        (n == 0, from recv) bytes already taken from the ring: what a read does then,
        the ring, the urgent mark, autotuning, the window. One call per read of the
        host's."""
        buf = self.rcvbuf
        if n:
            mem = buf.mem
            if n == buf.length and not buf.ahead and mem.held <= mem.mark:
                buf.head = buf.length = 0  # ByteRing.drop's drained case, inline
            else:
                buf.drop(n)
        if not buf.length and self.fin_received:
            buf.release()  # the last bytes read: the ring is not needed any more
        if self.urg_state and self.bytes_received - buf.length > self.urg_pos:
            self.urg_state = 0  # read past the mark
        layer = self.layer
        if not self.rcvbuf_lock and self.held_due():   # no call with a set SO_RCVBUF
            layer.rcvbuf_adjust(self)
        # the window opened (Linux tcp_cleanup_rbuf): ACK at once a delayed ACK that
        # covers more than a segment, or, when the read emptied the buffer, one for a
        # pushed segment unless interactive (the sender may wait for it: its send
        # buffer or cwnd may be full); else a window update if the window grew enough
        if self.state not in RECV_STATES:
            return
        if self.delack_at is not None and (
            ((self.rcv_nxt - self.last_ack_sent) & M) > self.rcv_mss
            or not buf.length and (self.pushed == 2 or self.pushed and not self.pingpong)
        ):
            self.ack_pending = True
            layer.dirty[self] = None
            return
        free = self.rcvbuf_limit - buf.length
        top = 0xFFFF << self.rcv_wscale
        if free > top:
            free = top  # what the window field can say
        grow = ((self.rcv_nxt + free) - self.rcv_adv) & M
        if grow & HALF:
            return
        lim = self.rcvbuf_limit >> 1
        mss2 = 2 * self.mss
        if grow >= (lim if lim < mss2 else mss2):
            self.ack_pending = True
            layer.dirty[self] = None

    def _readable(self, maxlen: int) -> int:
        n = self.rcvbuf.length
        if maxlen < n:
            n = maxlen
        if self.urg_state and n > 0:
            n = self._urg_limit(n)
        return n

    def held_due(self) -> bool:
        """Whether the next read may run receive-buffer autotuning, which counts what
        the host's own queue to the program holds (``held``): the host asks the
        kernel for that only then. That is: autotuning is on and a round trip has
        passed since it last measured what the application read."""
        if self.rcvbuf_lock:
            return False
        rtt = self.srtt
        return self.layer.now - self.rcvq_time >= (rtt if rtt > 0.001 else 0.001)

    # ------------------------------------------------------------------ urgent data
    def _urg_limit(self, n: int) -> int:
        """A read stops at the urgent mark; at the mark it skips the out-of-band byte
        (unless SO_OOBINLINE) and goes on (Linux tcp_recvmsg)."""
        buf = self.rcvbuf
        off = self.urg_pos - (self.bytes_received - buf.length)
        if off < 0:
            self.urg_state = 0
            return n
        if off == 0:
            if self.urg_state >= URG_VALID and not self.oobinline:
                buf.drop(1)
                self.urg_state = 0
                return n if n <= buf.length else buf.length
            return n
        return off if off < n else n

    def recv_oob(self) -> bytes:
        """recv(MSG_OOB): the urgent byte (Linux tcp_recv_urg)."""
        st = self.urg_state
        if self.oobinline or st == 0 or st == URG_READ:
            raise SocketError(EINVAL)
        if st == URG_VALID:
            self.urg_state = URG_READ
            return bytes((self.urg_byte,))
        if self.state == CLOSED or self.fin_received:
            return b""
        raise SocketError(EAGAIN)

    def at_mark(self) -> bool:
        """SIOCATMARK: the next byte to read is the urgent one."""
        return bool(self.urg_state) and self.urg_pos == self.bytes_received - self.rcvbuf.length

    def urgent_offset(self) -> int | None:
        """Where the received urgent byte (not yet taken) lies in the receive buffer."""
        if self.urg_state != URG_VALID:
            return None
        off = self.urg_pos - (self.bytes_received - self.rcvbuf.length)
        return off if off >= 0 else None

    def take_urgent(self) -> int:
        """Remove the urgent byte at the head of the receive buffer (urgent_offset() is
        0) and return it: the stack host hands it to the program out of band."""
        b = self.rcvbuf[0]
        self.urg_state = 0
        self.consume(1)  # taken as a read takes it
        return b

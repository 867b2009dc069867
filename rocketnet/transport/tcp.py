"""The TCP engine (RFC 9293 state machine, RFC 6298 timers, RFC 7323 window scaling,
RFC 5681/6582 congestion control), driven by ``TcpLayer.poll``-style calls.

``TcpSocket`` is the transmission control block plus its buffers and options;
``TcpLayer`` owns every TCB, the ListenTable, the bind table, timers and the
segment input/output paths. Nothing here does I/O or reads a clock: time is the
``now`` given by the caller, frames go to the interfaces' devices.

Sequence numbers are plain ints modulo 2**32; comparisons go through ``(a - b) & M``.
"""

from __future__ import annotations

import hashlib
import heapq
import random
import struct
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import SocketError
from ..iface import InterfaceWrapper
from ..wire.checksum import checksum, pseudo_header_sum
from ..wire.checksum import verify as verify_checksum
from ..wire.tcp import ACK, FIN, PSH, RST, SYN, URG, TcpOptions, parse_tcp_options
from . import congestion
from .listen import ANY, ListenEntry, ListenTable, overlaps
from .rtt import SendTimes

# errno values (Linux)
EPIPE = 32
EINVAL = 22
EAGAIN = 11
EADDRINUSE = 98
EADDRNOTAVAIL = 99
ENOTCONN = 107
ECONNRESET = 104
ECONNREFUSED = 111
ETIMEDOUT = 110

# TCP states, numbered as Linux (tcpi_state)
ESTABLISHED = 1
SYN_SENT = 2
SYN_RECEIVED = 3
FIN_WAIT_1 = 4
FIN_WAIT_2 = 5
TIME_WAIT = 6
CLOSED = 7
CLOSE_WAIT = 8
LAST_ACK = 9
LISTEN = 10
CLOSING = 11

STATE_NAMES = {
    ESTABLISHED: "ESTABLISHED",
    SYN_SENT: "SYN_SENT",
    SYN_RECEIVED: "SYN_RECEIVED",
    FIN_WAIT_1: "FIN_WAIT_1",
    FIN_WAIT_2: "FIN_WAIT_2",
    TIME_WAIT: "TIME_WAIT",
    CLOSED: "CLOSED",
    CLOSE_WAIT: "CLOSE_WAIT",
    LAST_ACK: "LAST_ACK",
    LISTEN: "LISTEN",
    CLOSING: "CLOSING",
}

M = 0xFFFFFFFF
HALF = 0x80000000

_TCP = struct.Struct("!HHIIBBHHH")
# Ethernet header is copied as bytes; these cover IP + TCP fixed headers.
_IP4TCP = struct.Struct("!BBHHHBBH4s4sHHIIBBHHH")
_IP6TCP = struct.Struct("!IHBB16s16sHHIIBBHHH")
_U16 = struct.Struct("!H")
_TSOPT = struct.Struct("!IIIII")  # NOP NOP TS 10 + tsval + tsecr (+ following word)
_TS_WORD = 0x0101080A  # NOP, NOP, kind 8, length 10: the aligned timestamp option
_TS3 = struct.Struct("!III")
_U32 = struct.Struct("!I")
_U32X2 = struct.Struct("!II")

# States in which the connection may carry our data / FIN.
_SEND_STATES = frozenset((ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, CLOSING, LAST_ACK))
# States in which received payload is accepted.
_RECV_STATES = frozenset((ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2))
_SYNCHRONIZED = frozenset(
    (ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT)
)

INT_MAX = 0x7FFFFFFF
V4_MSS_CAP = 65535 - 40  # largest MSS an IPv4 packet can carry (Linux lo: 65495)
V6_MSS_CAP = 65535 - 20


def _port_order(lo: int, span: int, start: int, parity: int) -> Iterator[int]:
    """The ports lo..lo+span-1 from lo+start on, wrapping: those of one parity first."""
    for par in (parity, parity ^ 1):
        for i in range(span):
            p = lo + (start + i) % span
            if p & 1 == par:
                yield p


class TcpConfig:
    """Tunables (Linux defaults unless noted)."""

    def __init__(self) -> None:
        self.msl = 30.0  # TIME_WAIT = 2*MSL = 60 s, Linux TCP_TIMEWAIT_LEN
        self.rto_init = 1.0
        self.rto_min = 0.2
        self.rto_max = 120.0
        self.syn_retries = 6
        self.synack_retries = 5
        self.retries2 = 15
        self.fin_timeout = 60.0
        # the buffers start at tcp_rmem[1] / tcp_wmem[1] (so_rcvbuf / so_sndbuf) and,
        # unless SO_RCVBUF / SO_SNDBUF fix them, grow up to tcp_rmem[2] / tcp_wmem[2]
        # (rcvbuf / sndbuf): the receive buffer with what the application reads per
        # round trip (Linux tcp_rcv_space_adjust), the send buffer with the congestion
        # window (tcp_sndbuf_expand)
        self.rcvbuf = 6 * 1024 * 1024
        self.sndbuf = 4 * 1024 * 1024
        self.somaxconn = 4096           # net.core.somaxconn
        self.so_sndbuf = 16384          # net.ipv4.tcp_wmem[1]: SO_SNDBUF of a new socket
        self.so_rcvbuf = 131072         # net.ipv4.tcp_rmem[1]
        self.init_cwnd = 10
        self.rcv_wscale = 7  # enough for 8 MiB windows
        self.default_mss = 536
        self.ephemeral = (32768, 60999)
        # sysctl-like switches (net.ipv4.tcp_sack / tcp_timestamps / tcp_window_scaling)
        self.sack = True
        self.timestamps = True
        self.window_scaling = True
        self.congestion = b"cubic"  # net.ipv4.tcp_congestion_control
        # out-of-order queue bound: at most this many separate blocks (the bytes are
        # bounded by the receive buffer)
        self.ooo_max_blocks = 1024
        # delayed ACK (Linux TCP_DELACK_MIN; TCP_MAX_QUICKACKS at the start of a transfer)
        self.delack = 0.04
        self.max_quickacks = 16
        # RFC 5961 challenge ACKs and out-of-window duplicate ACKs: at most one per
        # socket per net.ipv4.tcp_invalid_ratelimit; host-wide at most
        # net.ipv4.tcp_challenge_ack_limit per second (INT_MAX, off, since Linux 6.0)
        self.invalid_ratelimit = 0.5
        self.challenge_ack_limit = INT_MAX


class TcpSocket:
    """A TCP control block with its buffers and socket options (SocketInner::Tcp)."""

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
        self.link_hdr = b""
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
        self.sndbuf = bytearray()
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
        self.rcvbuf = bytearray()
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
        # out-of-order queue: sorted, disjoint [abs_start, bytearray]; abs positions
        # count stream bytes (bytes_received is the abs position of rcv_nxt)
        self.ooo: list[list[Any]] = []
        self.ooo_bytes = 0
        self.ooo_fin: int | None = None  # abs position of an out-of-order FIN
        self.ooo_last = 0  # abs start of the block changed last (first SACK block)
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
        return len(self.rcvbuf)

    def send_space(self) -> int:
        if self.fin_queued:
            return 0
        free = self.sndbuf_limit - len(self.sndbuf)
        return free if free > 0 else 0

    @property
    def rx_eof(self) -> bool:
        return self.fin_received and not self.rcvbuf

    def rcv_wnd_free(self) -> int:
        free = self.rcvbuf_limit - len(self.rcvbuf)
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
        free = self.sndbuf_limit - len(self.sndbuf)
        if free <= 0:
            return 0
        n = len(data)
        if n > free:
            data = memoryview(data)[:free]
            n = free
        if n:
            self.sndbuf += data
            self.layer.dirty[self] = None
            if urgent:
                self.snd_up = (self.data_seq + len(self.sndbuf)) & M
                self.urg_mode = True
        self.more = more
        return n

    def recv(self, maxlen: int) -> bytes:
        buf = self.rcvbuf
        n = len(buf)
        if maxlen < n:
            n = maxlen
        if self.urg_state and n > 0:
            n = self._urg_limit(n)
        if n <= 0:
            return b""
        if n == len(buf):
            data = bytes(buf)
            buf.clear()
        else:
            with memoryview(buf) as m:
                data = bytes(m[:n])
            del buf[:n]
        if self.urg_state and self.bytes_received - len(buf) > self.urg_pos:
            self.urg_state = 0  # read past the mark
        if not self.rcvbuf_lock:
            self.layer.rcvbuf_adjust(self)
        self.layer.window_opened(self)
        return data

    # ------------------------------------------------------------------ urgent data
    def _urg_limit(self, n: int) -> int:
        """A read stops at the urgent mark; at the mark it skips the out-of-band byte
        (unless SO_OOBINLINE) and goes on (Linux tcp_recvmsg)."""
        buf = self.rcvbuf
        off = self.urg_pos - (self.bytes_received - len(buf))
        if off < 0:
            self.urg_state = 0
            return n
        if off == 0:
            if self.urg_state >= URG_VALID and not self.oobinline:
                del buf[0]
                self.urg_state = 0
                return n if n <= len(buf) else len(buf)
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
        return bool(self.urg_state) and self.urg_pos == self.bytes_received - len(self.rcvbuf)

    def urgent_offset(self) -> int | None:
        """Where the received urgent byte (not yet taken) lies in the receive buffer."""
        if self.urg_state != URG_VALID:
            return None
        off = self.urg_pos - (self.bytes_received - len(self.rcvbuf))
        return off if off >= 0 else None

    def take_urgent(self) -> int:
        """Remove the urgent byte at the head of the receive buffer (urgent_offset() is
        0) and return it: the stack host hands it to the program out of band."""
        b = self.rcvbuf[0]
        del self.rcvbuf[0]
        self.urg_state = 0
        self.layer.window_opened(self)
        return b


URG_NOTYET = 1
URG_VALID = 2
URG_READ = 3


class TcpLayer:
    """Every TCP control block of one stack, and the segment paths between them and
    the interfaces."""

    def __init__(
        self,
        ifaces: list[InterfaceWrapper],
        stats: dict[str, int],
        seed: int = 0,
        config: TcpConfig | None = None,
    ) -> None:
        self.ifaces = ifaces
        self.stats = stats
        self.config = config or TcpConfig()
        self.now = 0.0
        self.conns: dict[tuple, TcpSocket] = {}
        self.listen_table = ListenTable()
        self.bound: dict[int, list[TcpSocket]] = {}
        self.dirty: dict[TcpSocket, None] = {}  # ordered set: need output
        self.events: set[TcpSocket] = set()
        self.timers: list[tuple[float, int, TcpSocket]] = []
        self._timer_seq = 0
        self._isn_key = hashlib.blake2b(str(seed).encode(), digest_size=16).digest()
        self._rng = random.Random(seed)
        self._challenge_sec = -1  # the second the host-wide challenge ACK budget is for
        self._challenge_left = 0
        self.on_free: Callable[[TcpSocket], None] | None = None
        self.probe: Any = None  # a rocketnet.transport.probe.TcpProbe when switched on
        self.ip_ident = 0
        for k in (
            "tcp_segments_sent",
            "tcp_segments_received",
            "tcp_payload_bytes_sent",
            "tcp_payload_bytes_received",
            "tcp_retransmits",
            "tcp_rst_sent",
            "tcp_rst_received",
            "tcp_active_opens",
            "tcp_passive_opens",
            "tcp_timeouts",
            "tcp_fast_retransmits",
            "tcp_tx_backpressure",
        ):
            stats.setdefault(k, 0)

    # ------------------------------------------------------------------ helpers
    def _count(self, key: str) -> None:
        st = self.stats
        st[key] = st.get(key, 0) + 1

    def _isn(self, lip: bytes, lport: int, rip: bytes, rport: int) -> int:
        """RFC 6528: ISN = M + F(4-tuple, secret), M a 4 microsecond clock (``now``)."""
        h = hashlib.blake2b(
            lip + rip + struct.pack("!HH", lport, rport), key=self._isn_key, digest_size=4
        ).digest()
        return (int.from_bytes(h, "big") + int(self.now * 250000)) & M

    def _ts_offset(self, lip: bytes, lport: int, rip: bytes, rport: int) -> int:
        """Per-connection timestamp offset (Linux secure_tcp_ts_off)."""
        h = hashlib.blake2b(
            rip + lip + struct.pack("!HH", rport, lport), key=self._isn_key, digest_size=4
        ).digest()
        return int.from_bytes(h, "big")

    def _arm(self, tcb: TcpSocket) -> None:
        t = tcb.rto_at
        d = tcb.deadline
        if d is not None and (t is None or d < t):
            t = d
        d = tcb.delack_at
        if d is not None and (t is None or d < t):
            t = d
        if t is None:
            return
        h = tcb.heap_at
        if h is None or t < h:
            tcb.heap_at = t
            self._timer_seq += 1
            heapq.heappush(self.timers, (t, self._timer_seq, tcb))

    def next_deadline(self) -> float | None:
        timers = self.timers
        while timers:
            t, _s, tcb = timers[0]
            if tcb.heap_at != t:
                heapq.heappop(timers)
                continue
            actual = tcb.rto_at
            d = tcb.deadline
            if d is not None and (actual is None or d < actual):
                actual = d
            d = tcb.delack_at
            if d is not None and (actual is None or d < actual):
                actual = d
            if actual is None or actual > t:
                # the timer was stopped or pushed back since it was queued
                heapq.heappop(timers)
                tcb.heap_at = None
                if actual is not None:
                    self._arm(tcb)
                continue
            return t
        return None

    def _mark(self, tcb: TcpSocket) -> None:
        self.events.add(tcb)
        if self.probe is not None:
            self.probe.state(tcb)

    # ------------------------------------------------------------------ binding
    def _bind_conflict(self, tcb: TcpSocket, port: int, cover4: Any, cover6: Any) -> bool:
        for o in self.bound.get(port, ()):
            if o is tcb:
                continue
            if not (overlaps(o.cover4, cover4) or overlaps(o.cover6, cover6)):
                continue
            if tcb.reuseport and o.reuseport:
                continue
            # Linux inet_bind_conflict: a TIME_WAIT socket keeps the SO_REUSEADDR of
            # the socket it was, so both must have it, as for any non-listener
            if tcb.reuseaddr and o.reuseaddr and o.state != LISTEN:
                continue
            return True
        return False

    def bind(self, tcb: TcpSocket, addr: bytes, port: int, for_connect: bool = False,
             no_port: bool = False) -> None:
        """Bind ``tcb`` to ``addr`` (socket-family form; all zeroes = any) and
        ``port`` (0 = ephemeral). Raises EINVAL / EADDRINUSE.  no_port
        (IP_BIND_ADDRESS_NO_PORT) with port 0: only the address now; connect or listen
        picks the port (and the socket may be bound again until then)."""
        if tcb.in_bind_table or tcb.state != CLOSED:
            raise SocketError(EINVAL)
        if no_port and port == 0:
            tcb.bind_addr = addr
            return
        cover4, cover6 = _coverage(tcb.family, addr, tcb.v6only)
        if port == 0:
            port = self._pick_port(tcb, cover4, cover6, for_connect)
        elif self._bind_conflict(tcb, port, cover4, cover6):
            raise SocketError(EADDRINUSE)
        tcb.bind_addr = addr
        tcb.local_port = port
        tcb.cover4, tcb.cover6 = cover4, cover6
        self.bound.setdefault(port, []).append(tcb)
        tcb.in_bind_table = True

    @staticmethod
    def _unbound_addr(tcb: TcpSocket) -> bytes:
        """The address a socket without a port binds to: the one an
        IP_BIND_ADDRESS_NO_PORT bind gave, else any."""
        if tcb.bind_addr is not None:
            return tcb.bind_addr
        return b"\x00" * (4 if tcb.family == 2 else 16)

    def _pick_port(
        self, tcb: TcpSocket, cover4: Any, cover6: Any, for_connect: bool = False
    ) -> int:
        lo, hi = self.config.ephemeral
        r = tcb.port_range
        if r:
            # IP_LOCAL_PORT_RANGE narrows the range (inet_sk_get_local_port_range)
            if lo <= r & 0xFFFF <= hi:
                lo = r & 0xFFFF
            if lo <= r >> 16 <= hi:
                hi = r >> 16
        span = hi - lo + 1
        start = self._rng.randrange(span)
        # connect() tries ports of lo's parity first, bind(0) the others (as Linux,
        # which keeps the two from exhausting each other's ports)
        first = lo & 1 if for_connect else (lo & 1) ^ 1
        bound = self.bound
        for p in _port_order(lo, span, start, first):
            if p not in bound:
                return p
        for p in _port_order(lo, span, start, first):
            if not self._bind_conflict(tcb, p, cover4, cover6):
                return p
        if for_connect:
            # Linux reuses TIME_WAIT ports for outgoing connections on loopback
            # (tcp_tw_reuse=2); connect() then retires a TIME_WAIT with the same 4-tuple.
            for p in _port_order(lo, span, start, first):
                if all(o.state == TIME_WAIT for o in bound.get(p, ())):
                    return p
        raise SocketError(EADDRINUSE if not for_connect else EADDRNOTAVAIL)

    def _unbind(self, tcb: TcpSocket) -> None:
        if tcb.in_bind_table:
            lst = self.bound.get(tcb.local_port)
            if lst is not None:
                try:
                    lst.remove(tcb)
                except ValueError:
                    pass
                if not lst:
                    del self.bound[tcb.local_port]
            tcb.in_bind_table = False

    # ------------------------------------------------------------------ listen/accept
    def listen(self, tcb: TcpSocket, backlog: int) -> None:
        somax = self.config.somaxconn
        if backlog < 0 or backlog > somax:
            backlog = somax
        if tcb.state == LISTEN:
            assert tcb.listen_entry is not None
            tcb.listen_entry.backlog = backlog
            return
        if tcb.state != CLOSED or tcb.ever_connected:
            raise SocketError(EINVAL)
        if not tcb.in_bind_table:
            self.bind(tcb, self._unbound_addr(tcb), 0)
        if self.listen_table.conflicts(tcb):
            raise SocketError(EADDRINUSE)
        tcb.listen_entry = self.listen_table.add(tcb, backlog)
        tcb.state = LISTEN
        self._mark(tcb)

    def accept(self, tcb: TcpSocket) -> TcpSocket | None:
        entry = tcb.listen_entry
        if tcb.state != LISTEN or entry is None:
            raise SocketError(EINVAL)
        if not entry.accept_queue:
            return None
        child = entry.accept_queue.popleft()
        child.parent = None
        return child

    # ------------------------------------------------------------------ connect
    def connect(self, tcb: TcpSocket, rip: bytes, rport: int, now: float) -> None:
        """Start an active open to rip:rport (wire form, 4 or 16 bytes)."""
        from ..iface import route, source_address

        self.now = now
        iface = route(self.ifaces, rip)
        if iface is None:
            raise SocketError(101)  # ENETUNREACH
        version = 4 if len(rip) == 4 else 6
        if tcb.bind_addr is not None and any(tcb.bind_addr) and not _is_mapped_any(tcb.bind_addr):
            lip = _unmap(tcb.bind_addr)
            if len(lip) != len(rip):
                raise SocketError(EINVAL if version == 6 else 101)
        else:
            lip = source_address(iface, rip)
            if lip is None:
                raise SocketError(EADDRNOTAVAIL)
        if not tcb.in_bind_table:
            self.bind(tcb, self._unbound_addr(tcb), 0, for_connect=True)
        key = (lip, tcb.local_port, rip, rport)
        old = self.conns.get(key)
        if old is not None:
            if old.state == TIME_WAIT:
                self._free(old)
            else:
                raise SocketError(EADDRNOTAVAIL)
        self._setup_conn(tcb, iface, version, lip, rip, rport)
        tcb.iss = self._isn(lip, tcb.local_port, rip, rport)
        tcb.ts_offset = self._ts_offset(lip, tcb.local_port, rip, rport)
        tcb.snd_una = tcb.snd_nxt = tcb.snd_max = tcb.iss
        tcb.data_seq = (tcb.iss + 1) & M
        tcb.state = SYN_SENT
        tcb.ever_connected = True
        tcb.error = 0
        tcb.retransmits = 0
        tcb.rto = self.config.rto_init
        self.conns[key] = tcb
        self._count("tcp_active_opens")
        self.dirty[tcb] = None
        self._mark(tcb)

    def _setup_conn(
        self, tcb: TcpSocket, iface: InterfaceWrapper, version: int, lip: bytes, rip: bytes,
        rport: int,
    ) -> None:
        tcb.iface = iface
        tcb.version = version
        tcb.lip = lip
        tcb.rip = rip
        tcb.rport = rport
        tcb.key = (lip, tcb.local_port, rip, rport)
        tcb.link_hdr = iface.link_header_v4 if version == 4 else iface.link_header_v6
        cap = V4_MSS_CAP if version == 4 else V6_MSS_CAP
        mss = iface.mtu - (40 if version == 4 else 60)
        if mss > cap:
            mss = cap
        if tcb.user_mss and tcb.user_mss < mss:
            mss = tcb.user_mss
        tcb.advmss = mss
        tcb.rcv_wscale = self.config.rcv_wscale
        # autotuning grows the buffer once a round trip reads more than an initial
        # window (Linux tcp_init_buffer_space)
        w = self.config.init_cwnd * mss
        tcb.rcvq_space = w if w < tcb.rcvbuf_limit else tcb.rcvbuf_limit
        tcb.rcvq_time = self.now

    # ------------------------------------------------------------------ app close
    def shutdown_write(self, tcb: TcpSocket, now: float) -> None:
        self.now = now
        st = tcb.state
        if st in (LISTEN, CLOSED) and not tcb.ever_connected:
            raise SocketError(ENOTCONN)
        if tcb.fin_queued:
            return
        if st in (ESTABLISHED, SYN_RECEIVED, SYN_SENT):
            tcb.fin_queued = True
            if st == ESTABLISHED:
                tcb.state = FIN_WAIT_1
        elif st == CLOSE_WAIT:
            tcb.fin_queued = True
            tcb.state = LAST_ACK
        else:
            return
        self.dirty[tcb] = None
        self._mark(tcb)

    def close(self, tcb: TcpSocket, now: float) -> None:
        self.now = now
        tcb.released = True
        st = tcb.state
        if st == LISTEN:
            self._close_listener(tcb)
            return
        if st == CLOSED or st == SYN_SENT:
            self._free(tcb)
            return
        if tcb.linger[0] and tcb.linger[1] == 0:
            self.abort(tcb, now)
            return
        if tcb.rcvbuf and st != TIME_WAIT:
            # Linux: unread data at close -> RST instead of FIN
            self._send_rst_for(tcb)
            self._free(tcb)
            return
        if st == TIME_WAIT:
            return
        if not tcb.fin_queued:
            self.shutdown_write(tcb, now)
        if tcb.state == FIN_WAIT_2:
            self._set_deadline(tcb, now + self.config.fin_timeout)

    def abort(self, tcb: TcpSocket, now: float) -> None:
        self.now = now
        tcb.released = True
        if tcb.state == LISTEN:
            self._close_listener(tcb)
            return
        if tcb.state in (SYN_RECEIVED, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT):
            self._send_rst_for(tcb)
        self._free(tcb)

    def _close_listener(self, tcb: TcpSocket) -> None:
        entry = tcb.listen_entry
        if entry is not None:
            self.listen_table.remove(entry)
            for child in list(entry.syn_queue.values()) + list(entry.accept_queue):
                child.released = True
                self._send_rst_for(child)
                self._free(child)
            entry.syn_queue.clear()
            entry.accept_queue.clear()
        tcb.listen_entry = None
        tcb.state = CLOSED
        self._free(tcb)

    def _free(self, tcb: TcpSocket) -> None:
        """Forget a connection: demux table, bind table, timers. The application's
        socket is dropped from the SocketSet only if it was released."""
        if tcb.key is not None and self.conns.get(tcb.key) is tcb:
            del self.conns[tcb.key]
        if tcb.parent is not None:
            entry = tcb.parent
            entry.syn_queue.pop(tcb.key, None)
            try:
                entry.accept_queue.remove(tcb)
            except ValueError:
                pass
            tcb.parent = None
        if tcb.listen_entry is not None:
            self.listen_table.remove(tcb.listen_entry)
            tcb.listen_entry = None
        if tcb.state != CLOSED:
            tcb.state = CLOSED
        self._unbind(tcb)
        tcb.rto_at = None
        tcb.deadline = None
        tcb.delack_at = None
        tcb.heap_at = None
        self.dirty.pop(tcb, None)
        self._mark(tcb)
        if tcb.released:
            # nobody reads or resends these any more (the host may keep the socket
            # a while for SO_ERROR): give the memory back now
            tcb.rcvbuf = bytearray()
            tcb.sndbuf = bytearray()
            tcb.ooo = []
            tcb.ooo_bytes = 0
            tcb.tx.clear()
            self.events.discard(tcb)
            if self.on_free is not None:
                self.on_free(tcb)

    def _set_deadline(self, tcb: TcpSocket, t: float | None) -> None:
        tcb.deadline = t
        self._arm(tcb)

    def _enter_time_wait(self, tcb: TcpSocket) -> None:
        tcb.state = TIME_WAIT
        tcb.rto_at = None
        self._set_deadline(tcb, self.now + 2 * self.config.msl)
        self._mark(tcb)

    def _enter_closed(self, tcb: TcpSocket, err: int) -> None:
        if err:
            tcb.error = err
        tcb.state = CLOSED
        self._free(tcb)

    # ------------------------------------------------------------------ window
    def _window(self, tcb: TcpSocket) -> int:
        """Window field value to advertise now (and update rcv_adv)."""
        free = tcb.rcvbuf_limit - len(tcb.rcvbuf)
        if free < 0:
            free = 0
        lim = tcb.rcvbuf_limit >> 1
        mss = tcb.mss
        if free < (lim if lim < mss else mss):
            free = 0  # receiver-side silly window avoidance
        cur = (tcb.rcv_adv - tcb.rcv_nxt) & M
        if cur & HALF:
            cur = 0
        if free < cur:
            free = cur  # never shrink the window
        sc = tcb.rcv_wscale
        w = free >> sc
        if w > 0xFFFF:
            w = 0xFFFF
        edge = (tcb.rcv_nxt + (w << sc)) & M
        if ((edge - tcb.rcv_adv) & M) < HALF:
            tcb.rcv_adv = edge
        return w

    def rcvbuf_adjust(self, tcb: TcpSocket) -> None:
        """Receive-buffer autotuning (Linux tcp_rcv_space_adjust, "DRS"): once per
        round trip, if the application read more than in the last one, the buffer
        becomes room for twice that plus 16 segments, up to tcp_rmem's max. A reader
        that keeps up gets the window the path needs; a slow one keeps a small buffer."""
        now = self.now
        rtt = tcb.srtt if tcb.srtt > 0.001 else 0.001
        if now - tcb.rcvq_time < rtt:
            return
        read = tcb.bytes_received - len(tcb.rcvbuf) - tcb.held
        copied = read - tcb.rcvq_read
        tcb.rcvq_time = now
        tcb.rcvq_read = read
        if copied <= tcb.rcvq_space:
            return
        tcb.rcvq_space = copied
        want = 2 * copied + 16 * tcb.advmss
        cap = self.config.rcvbuf
        if want > cap:
            want = cap
        if want > tcb.rcvbuf_limit:
            tcb.rcvbuf_limit = want

    def window_opened(self, tcb: TcpSocket) -> None:
        """The application took data (Linux tcp_cleanup_rbuf): ACK at once a delayed
        ACK that covers more than a segment, or, when the read emptied the buffer, one
        for a pushed segment unless interactive (the sender may wait for it: its send
        buffer or cwnd may be full); else a window update if the window grew enough."""
        if tcb.state not in _RECV_STATES:
            return
        if tcb.delack_at is not None and (
            ((tcb.rcv_nxt - tcb.last_ack_sent) & M) > tcb.rcv_mss
            or not tcb.rcvbuf and (tcb.pushed == 2 or tcb.pushed and not tcb.pingpong)
        ):
            tcb.ack_pending = True
            self.dirty[tcb] = None
            return
        free = tcb.rcvbuf_limit - len(tcb.rcvbuf)
        top = 0xFFFF << tcb.rcv_wscale
        if free > top:
            free = top  # what the window field can say
        grow = ((tcb.rcv_nxt + free) - tcb.rcv_adv) & M
        if grow & HALF:
            return
        lim = tcb.rcvbuf_limit >> 1
        mss2 = 2 * tcb.mss
        if grow >= (lim if lim < mss2 else mss2):
            tcb.ack_pending = True
            self.dirty[tcb] = None

    # ------------------------------------------------------------------ output
    def _xmit(
        self,
        tcb: TcpSocket,
        flags: int,
        seq: int,
        src: Any = None,
        start: int = 0,
        plen: int = 0,
        opts: bytes = b"",
    ) -> bool:
        """Build and send one segment of tcb's connection. Payload is
        ``src[start:start+plen]``. Returns False on device backpressure."""
        iface = tcb.iface
        if iface is None:
            return False
        eth = iface.link_header_len
        v4 = tcb.version == 4
        iphl = 20 if v4 else 40
        thl = 20 + len(opts)
        ts = tcb.ts_ok and not flags & SYN
        if ts:
            thl += 12
        blocks = None
        if (tcb.ooo or tcb.dsack is not None) and flags & ACK and tcb.sack_ok:
            blocks = self._sack_blocks(tcb, 3 if ts else 4, plen == 0)
            thl += 4 + 8 * len(blocks)
            if not blocks:
                blocks = None
                thl -= 4
        size = eth + iphl + thl + plen
        dev = iface.dev.device
        buf = dev.alloc_tx_buffer(size)
        if buf is None:
            self.stats["tcp_tx_backpressure"] += 1
            return False
        mv = buf.view
        if eth:
            mv[0:eth] = tcb.link_hdr
        if flags & ACK:
            ack = tcb.last_ack_sent = tcb.rcv_nxt
            win = self._window(tcb) if not flags & SYN else _syn_window(tcb)
            tcb.ack_pending = False
            tcb.unacked_segs = 0
            tcb.pushed = 0
            if plen and tcb.ato_init and self.now - tcb.last_data_recv < self.config.delack:
                tcb.pingpong = True  # a reply within ATO: interactive (tcp_event_data_sent)
            tcb.delack_at = None
            if tcb.quick:
                tcb.quick -= 1
        else:
            ack = 0
            win = 0 if flags & RST else _syn_window(tcb)
        off = (thl >> 2) << 4
        urp = 0
        if tcb.urg_mode:
            du = (tcb.snd_up - seq) & M
            if 0 < du < HALF:
                flags |= URG
                urp = du if du < 0xFFFF else 0xFFFF
        if v4:
            ident = self.ip_ident = (self.ip_ident + 1) & 0xFFFF
            _IP4TCP.pack_into(
                mv, eth, 0x45, tcb.tos, iphl + thl + plen, ident, 0x4000, tcb.ttl, 6, 0,
                tcb.lip, tcb.rip, tcb.local_port, tcb.rport, seq, ack, off, flags, win, 0, urp,
            )
        else:
            _IP6TCP.pack_into(
                mv, eth, 0x60000000 | (tcb.tos << 20), thl + plen, 6, tcb.hops, tcb.lip,
                tcb.rip, tcb.local_port, tcb.rport, seq, ack, off, flags, win, 0, urp,
            )
        p = eth + iphl + 20
        if opts:
            mv[p : p + len(opts)] = opts
            p += len(opts)
        if ts:
            _TS3.pack_into(mv, p, _TS_WORD, (int(self.now * 1000) + tcb.ts_offset) & M,
                           tcb.ts_recent)
            p += 12
        if blocks is not None:
            _U32.pack_into(mv, p, 0x01010500 | (2 + 8 * len(blocks)))
            p += 4
            for left, right in blocks:
                _U32X2.pack_into(mv, p, left, right)
                p += 8
        if plen:
            mv[p : p + plen] = src[start : start + plen]
        if not iface.checksum_offload:
            if v4:
                _U16.pack_into(mv, eth + 10, checksum(mv[eth : eth + 20]))
            t0 = eth + iphl
            c = checksum(mv[t0:size], pseudo_header_sum(tcb.lip, tcb.rip, 6, size - t0))
            _U16.pack_into(mv, t0 + 16, c)
        dev.send(buf)
        st = self.stats
        st["tcp_segments_sent"] += 1
        tcb.segs_out += 1
        if plen:
            st["tcp_payload_bytes_sent"] += plen
            tcb.data_segs_out += 1
            tcb.last_data_sent = self.now
        return True

    def _cur_mss(self, tcb: TcpSocket) -> int:
        """Payload that fits in one segment now: the MSS less the SACK blocks our
        ACKs carry while the out-of-order queue is not empty (Linux tcp_current_mss)."""
        if tcb.ooo and tcb.sack_ok:
            n = len(tcb.ooo)
            cap = 3 if tcb.ts_ok else 4
            return tcb.mss - 4 - 8 * (n if n < cap else cap)
        return tcb.mss

    def _sack_blocks(self, tcb: TcpSocket, cap: int, pure_ack: bool) -> list[tuple[int, int]]:
        """RFC 2018 blocks for our out-of-order queue: the block changed last first,
        then the others from the highest down; a pending D-SACK block (RFC 2883) before
        them, once, on a pure ACK (the MSS of data segments leaves no room for it)."""
        dsack = tcb.dsack
        tcb.dsack = None
        if dsack is not None and pure_ack:
            if not tcb.ooo:
                return [dsack]
            return [dsack, *self._sack_blocks(tcb, cap - 1, False)]
        base = tcb.rcv_nxt - tcb.bytes_received
        last = tcb.ooo_last
        first = None
        rest = []
        for ent in reversed(tcb.ooo):
            st = ent[0]
            en = st + len(ent[1])
            if first is None and st <= last < en:
                first = ((base + st) & M, (base + en) & M)
            elif len(rest) < cap:
                rest.append(((base + st) & M, (base + en) & M))
        out = [first] if first is not None else []
        out.extend(rest)
        return out[:cap]

    def _dsack_old(self, tcb: TcpSocket, seq: int, plen: int) -> None:
        """Data from seq, plen long, starts below rcv_nxt: the next ACK reports the
        duplicate part (RFC 2883 D-SACK, as Linux's tcp_send_dupack / tcp_data_queue)."""
        if plen and tcb.sack_ok and (seq - tcb.rcv_nxt) & HALF:
            end = (seq + plen) & M
            if 0 < (end - tcb.rcv_nxt) & M < HALF:
                end = tcb.rcv_nxt
            tcb.dsack = (seq, end)

    def _send_ack(self, tcb: TcpSocket) -> bool:
        return self._xmit(tcb, ACK, _acceptable_seq(tcb))

    def _send_rst_for(self, tcb: TcpSocket) -> None:
        if tcb.iface is None or tcb.key is None:
            return
        if self._xmit(tcb, RST | ACK, _acceptable_seq(tcb)):
            self._count("tcp_rst_sent")

    def _syn_options(self, tcb: TcpSocket, synack: bool) -> bytes:
        """Options of our SYN (everything enabled) or SYN-ACK (what the peer offered),
        in Linux's order: MSS, SACK-permitted, timestamps, NOP + window scale."""
        cfg = self.config
        if synack:
            ws = tcb.rcv_wscale if tcb.ws_ok else None
            if not tcb.ws_ok:
                tcb.rcv_wscale = 0
            sack = tcb.sack_ok
            ts = (self._tsval(tcb), tcb.ts_recent) if tcb.ts_ok else None
        else:
            if not cfg.window_scaling:
                tcb.rcv_wscale = 0
            ws = tcb.rcv_wscale if cfg.window_scaling else None
            sack = cfg.sack
            ts = (self._tsval(tcb), 0) if cfg.timestamps else None
        return TcpOptions(mss=tcb.advmss, wscale=ws, sack_perm=sack, timestamps=ts).to_bytes()

    def _tsval(self, tcb: TcpSocket) -> int:
        """Our timestamp clock: milliseconds of ``now`` plus a per-connection offset."""
        return (int(self.now * 1000) + tcb.ts_offset) & M

    def _output(self, tcb: TcpSocket) -> bool:
        """Send whatever tcb may send now. Returns False if the device pushed back
        (tcb stays dirty)."""
        st = tcb.state
        now = self.now
        if st == SYN_SENT or st == SYN_RECEIVED:
            if tcb.snd_nxt == tcb.iss:
                synack = st == SYN_RECEIVED
                flags = SYN | ACK if synack else SYN
                if not self._xmit(tcb, flags, tcb.iss, opts=self._syn_options(tcb, synack)):
                    return False
                tcb.rtt_time = now
                tcb.snd_nxt = tcb.snd_max = (tcb.iss + 1) & M
                if tcb.rto_at is None:
                    tcb.rto_at = now + tcb.rto
                    self._arm(tcb)
            if tcb.ack_pending and st == SYN_RECEIVED:
                tcb.ack_pending = False
            return True
        if st not in _SEND_STATES:
            if tcb.ack_pending and st in _SYNCHRONIZED:
                return self._send_ack(tcb)
            tcb.ack_pending = False
            return True
        sent_any = False
        sackmode = bool(tcb.sacked) or (tcb.recover is not None and tcb.sack_ok)
        if sackmode and tcb.recover is not None and tcb.sack_ok:
            # RFC 6675 NextSeg: retransmit holes while the pipe has room
            while self._pipe(tcb) < tcb.cwnd:
                hole = self._next_hole(tcb)
                if hole is None:
                    break
                r = self._retransmit_range(tcb, hole[0], hole[1])
                if r < 0:
                    return False
                if r == 0:
                    break
                sent_any = True
        sndbuf = tcb.sndbuf
        buffered = len(sndbuf)
        data_end = (tcb.data_seq + buffered) & M
        mss = tcb.mss if not tcb.ooo else self._cur_mss(tcb)
        sv = memoryview(sndbuf) if buffered else None
        try:
            while True:
                snd_nxt = tcb.snd_nxt
                cap = mss
                if sackmode and snd_nxt != tcb.snd_max:
                    # resending after a timeout: skip what the peer has SACKed
                    a = self._abs(tcb, snd_nxt)
                    for s_, e_ in tcb.sacked:
                        if e_ <= a:
                            continue
                        if s_ <= a:
                            snd_nxt = tcb.snd_nxt = (snd_nxt + e_ - a) & M
                            a = e_
                            continue
                        if s_ - a < cap:
                            cap = s_ - a
                        break
                off = (snd_nxt - tcb.data_seq) & M
                unsent = buffered - off if off <= buffered else 0
                in_flight = (snd_nxt - tcb.snd_una) & M
                usable = tcb.snd_wnd - in_flight
                u2 = tcb.cwnd - (self._pipe(tcb) if sackmode else in_flight)
                if u2 < usable:
                    usable = u2
                if unsent > 0:
                    n = unsent if unsent < cap else cap
                    if usable < n:
                        n = usable
                    if n <= 0:
                        # window closed: persist timer (probes) if nothing in flight
                        if in_flight == 0 and tcb.rto_at is None:
                            tcb.rto_at = now + tcb.rto
                            self._arm(tcb)
                        break
                    if n < mss and n == unsent and not tcb.fin_queued and not tcb.urg_mode:
                        if in_flight and not tcb.nodelay:
                            break  # Nagle: wait for more data or the ACK
                        if (tcb.cork or tcb.more) and not tcb.probe_push:
                            # cork / MSG_MORE: wait for more data, at most one probe
                            # timer (Linux: max(RTO, 200 ms), then tcp_write_wakeup)
                            if in_flight == 0 and tcb.rto_at is None:
                                tcb.rto_at = now + tcb.rto
                                self._arm(tcb)
                            break
                    flags = ACK
                    last = n == unsent
                    if last:
                        flags |= PSH
                        if tcb.fin_queued:
                            flags |= FIN
                    if not self._xmit(tcb, flags, snd_nxt, sv, off, n):
                        return False
                    sent_any = True
                    new_nxt = (snd_nxt + n + (1 if flags & FIN else 0)) & M
                    dn = (new_nxt - tcb.snd_max) & M
                    if dn and dn < HALF:
                        # new data (not a retransmission)
                        tcb.tx.sent(self._abs(tcb, new_nxt), now)
                        tcb.bytes_sent += n
                        tcb.snd_max = new_nxt
                    else:
                        a = self._abs(tcb, snd_nxt)
                        tcb.tx.resend(a, a + n + (flags & FIN), self.now)
                        tcb.bytes_retrans += n
                    tcb.snd_nxt = new_nxt
                    if tcb.rto_at is None:
                        tcb.rto_at = now + tcb.rto
                        self._arm(tcb)
                    if last and flags & FIN:
                        break
                elif tcb.fin_queued and snd_nxt == data_end:
                    if not self._xmit(tcb, FIN | ACK, snd_nxt):
                        return False
                    sent_any = True
                    tcb.snd_nxt = (snd_nxt + 1) & M
                    a = self._abs(tcb, snd_nxt)
                    if snd_nxt == tcb.snd_max:
                        tcb.tx.sent(a + 1, now)
                        tcb.snd_max = tcb.snd_nxt
                    else:
                        tcb.tx.resend(a, a + 1, self.now)
                    if tcb.rto_at is None:
                        tcb.rto_at = now + tcb.rto
                        self._arm(tcb)
                    break
                else:
                    break
        finally:
            if sv is not None:
                sv.release()
        if tcb.ack_pending and not sent_any:
            return self._send_ack(tcb)
        return True

    def flush(self) -> bool:
        """Run output for every dirty connection. Returns True if anything was
        processed."""
        dirty = self.dirty
        if not dirty:
            return False
        todo = list(dirty)
        dirty.clear()
        for i, tcb in enumerate(todo):
            if not self._output(tcb):
                # device full: keep this and the rest for the next round
                for t in todo[i:]:
                    dirty[t] = None
                break
        return True

    # ------------------------------------------------------------------ timers
    def run_timers(self, now: float) -> None:
        self.now = now
        timers = self.timers
        while timers and timers[0][0] <= now:
            t, _s, tcb = heapq.heappop(timers)
            if tcb.heap_at != t:
                continue
            tcb.heap_at = None
            if tcb.deadline is not None and tcb.deadline <= now:
                tcb.deadline = None
                self._on_deadline(tcb, now)
            if tcb.rto_at is not None and tcb.rto_at <= now:
                tcb.rto_at = None
                self._on_rto(tcb, now)
            if tcb.delack_at is not None and tcb.delack_at <= now:
                tcb.delack_at = None
                tcb.pingpong = False  # no reply came: bulk, not interactive
                if tcb.state in _SYNCHRONIZED and tcb.rcv_nxt != tcb.last_ack_sent:
                    self._send_ack(tcb)
            self._arm(tcb)

    def _on_deadline(self, tcb: TcpSocket, now: float) -> None:
        st = tcb.state
        if st == TIME_WAIT or (st == FIN_WAIT_2 and tcb.released):
            tcb.state = CLOSED
            self._free(tcb)
        elif tcb.keepalive and st in (ESTABLISHED, CLOSE_WAIT, FIN_WAIT_2):
            self._keepalive(tcb, now)

    def _keepalive(self, tcb: TcpSocket, now: float) -> None:
        idle = now - tcb.last_recv
        if tcb.probes == 0 and idle < tcb.keepidle:
            self._set_deadline(tcb, tcb.last_recv + tcb.keepidle)
            return
        if tcb.probes >= tcb.keepcnt:
            self._send_rst_for(tcb)
            self._enter_closed(tcb, ETIMEDOUT)
            return
        tcb.probes += 1
        self._xmit(tcb, ACK, (tcb.snd_una - 1) & M)
        self._set_deadline(tcb, now + tcb.keepintvl)

    def start_keepalive(self, tcb: TcpSocket) -> None:
        if tcb.keepalive and tcb.state in (ESTABLISHED, CLOSE_WAIT):
            tcb.probes = 0
            self._set_deadline(tcb, max(tcb.last_recv, self.now) + tcb.keepidle)

    def _on_rto(self, tcb: TcpSocket, now: float) -> None:
        cfg = self.config
        st = tcb.state
        if st == SYN_SENT or st == SYN_RECEIVED:
            limit = cfg.syn_retries if st == SYN_SENT else cfg.synack_retries
            if tcb.retransmits >= limit:
                self._count("tcp_timeouts")
                if st == SYN_RECEIVED and tcb.parent is not None:
                    tcb.released = True
                self._enter_closed(tcb, ETIMEDOUT)
                return
            tcb.retransmits += 1
            tcb.total_retrans += 1
            self.stats["tcp_retransmits"] += 1
            tcb.rto = min(tcb.rto * 2, cfg.rto_max)
            tcb.snd_nxt = tcb.iss  # resend SYN / SYN-ACK
            self._output(tcb)
            tcb.rto_at = now + tcb.rto
            return
        if st not in _SEND_STATES:
            return
        in_flight = (tcb.snd_nxt - tcb.snd_una) & M
        idle = in_flight == 0 and tcb.snd_max == tcb.snd_una
        if idle and tcb.snd_wnd and len(tcb.sndbuf) > ((tcb.snd_nxt - tcb.data_seq) & M):
            # corked data waited a whole probe interval: send it (tcp_write_wakeup);
            # nothing is unacknowledged, so no retransmission or user timeout applies
            tcb.probe_push = True
            self._output(tcb)
            tcb.probe_push = False
            return
        if tcb.retransmits == 0:
            tcb.retrans_stamp = now - tcb.rto  # when the head was (about) first sent
        ut = tcb.user_timeout
        if ut and (now - tcb.retrans_stamp) * 1000 >= ut:
            # TCP_USER_TIMEOUT: data (or probes) unacknowledged for too long
            self._count("tcp_timeouts")
            self._send_rst_for(tcb)
            self._enter_closed(tcb, ETIMEDOUT)
            return
        if idle:
            # persist timer: zero window probe (one byte below snd_una, as Linux)
            if tcb.sndbuf and tcb.snd_wnd == 0:
                self._xmit(tcb, ACK, (tcb.snd_una - 1) & M)
                self._count("tcp_zero_window_probes")
                tcb.probes += 1
                tcb.retransmits += 1  # backoff; reset by any ACK
                tcb.rto = min(tcb.rto * 2, cfg.rto_max)
                tcb.rto_at = now + tcb.rto
            return
        if tcb.retransmits >= cfg.retries2:
            self._count("tcp_timeouts")
            self._send_rst_for(tcb)
            self._enter_closed(tcb, ETIMEDOUT)
            return
        tcb.retransmits += 1
        tcb.total_retrans += 1
        self.stats["tcp_retransmits"] += 1
        self._count("tcp_timeouts")
        tcb.ssthresh = tcb.cc.on_rto(tcb, now)
        tcb.cwnd = tcb.mss
        tcb.dupacks = 0
        tcb.recover = None
        tcb.ca_state = 4
        tcb.rto = min(tcb.rto * 2, cfg.rto_max)
        tcb.snd_nxt = tcb.snd_una  # go back N (SACKed data is skipped)
        self._output(tcb)
        tcb.rto_at = now + tcb.rto
        if self.probe is not None:
            self.probe.loss(tcb, "rto")

    def _oow_limited(self, tcb: TcpSocket, now: float, counter: str) -> bool:
        """Linux __tcp_oow_rate_limited: an answer to an invalid segment at most once
        per invalid_ratelimit per socket (no ACK ping-pong with a confused peer)."""
        last = tcb.last_oow_ack
        if last is not None and 0.0 <= now - last < self.config.invalid_ratelimit:
            self._count(counter)
            return True
        tcb.last_oow_ack = now
        return False

    def _challenge_ack(self, tcb: TcpSocket, now: float) -> None:
        """RFC 5961 challenge ACK, rate limited as Linux's tcp_send_challenge_ack."""
        if self._oow_limited(tcb, now, "tcp_ack_skipped_challenge"):
            return
        limit = self.config.challenge_ack_limit
        if limit != INT_MAX:
            # host-wide budget per second, randomized as Linux (RFC 5961 section 7)
            sec = int(now)
            if sec != self._challenge_sec:
                self._challenge_sec = sec
                half = (limit + 1) >> 1
                self._challenge_left = self._rng.randint(half, limit + half - 1)
            if self._challenge_left <= 0:
                self._count("tcp_ack_skipped_challenge")
                return
            self._challenge_left -= 1
        self._count("tcp_challenge_acks")
        self._send_ack(tcb)

    # ------------------------------------------------------------------ input
    def ip_input(
        self,
        iface: InterfaceWrapper,
        version: int,
        src: bytes,
        dst: bytes,
        proto: int,
        seg: memoryview,
    ) -> None:
        """IpHandler for poll_interfaces."""
        if proto != 6:
            self._count("drop_unknown_protocol")
            return
        n = len(seg)
        if n < 20:
            self._count("drop_tcp_truncated")
            return
        sport, dport, seq, ack, off, flags, window, _c, _u = _TCP.unpack_from(seg, 0)
        hl = (off >> 4) << 2
        if hl < 20 or hl > n:
            self._count("drop_tcp_data_offset")
            return
        if not iface.checksum_offload and not verify_checksum(
            seg, pseudo_header_sum(src, dst, 6, n)
        ):
            self._count("drop_tcp_checksum")
            return
        st = self.stats
        st["tcp_segments_received"] += 1
        tcb = self.conns.get((dst, dport, src, sport))
        if tcb is None:
            self._no_conn(iface, version, src, dst, sport, dport, seq, ack, flags, window,
                          seg, hl, n)
            return
        tcb.segs_in += 1
        plen = n - hl
        # ---- fast path (header prediction): ESTABLISHED, in order, pure ACK and/or
        # data, no options or just the aligned timestamp option
        if (
            tcb.state == ESTABLISHED
            and (flags & (SYN | FIN | RST | URG | ACK)) == ACK
            and seq == tcb.rcv_nxt
        ):
            if hl == 20:
                if not tcb.sacked:
                    if self._process_ack(tcb, seq, ack, window, plen) and plen:
                        self._accept_data(tcb, seg, hl, plen)
                    return
            elif hl == 32 and tcb.ts_ok:
                word, tsval, tsecr = _TS3.unpack_from(seg, 20)
                if word == _TS_WORD and not ((tsval - tcb.ts_recent) & HALF) and not tcb.sacked:
                    if seq == tcb.last_ack_sent:
                        tcb.ts_recent = tsval
                    if self._process_ack(tcb, seq, ack, window, plen, tsecr) and plen:
                        self._accept_data(tcb, seg, hl, plen)
                    return
        self._segment(tcb, seq, ack, flags, window, seg, hl, plen)

    def _accept_data(self, tcb: TcpSocket, seg: memoryview, hl: int, plen: int) -> None:
        free = tcb.rcvbuf_limit - len(tcb.rcvbuf)
        if plen > free:
            plen = free if free > 0 else 0
            if plen == 0:
                self._count("drop_tcp_rcvbuf_full")
                tcb.ack_pending = True
                self._send_ack(tcb)
                return
        if tcb.released:
            # data for a closed application: reset (Linux: tcp_abort_on_data)
            self._send_rst_for(tcb)
            self._enter_closed(tcb, 0)
            return
        tcb.rcvbuf += seg[hl : hl + plen]
        if plen >= tcb.rcv_mss:
            tcb.rcv_mss = plen if plen < tcb.advmss else tcb.advmss
            if seg[13] & PSH:
                tcb.pushed |= 1  # likely the end of a write (tcp_measure_rcv_mss)
        else:
            tcb.pushed = 2 if tcb.pushed else 1
        tcb.rcv_nxt = (tcb.rcv_nxt + plen) & M
        tcb.bytes_received += plen
        tcb.data_segs_in += 1
        gap = self.now - tcb.last_data_recv
        tcb.last_data_recv = self.now
        self.stats["tcp_payload_bytes_received"] += plen
        self.events.add(tcb)
        if tcb.urg_state == URG_NOTYET:
            self._urg_arrived(tcb)
        tcb.unacked_segs += 1
        if not tcb.ato_init or gap > tcb.rto:
            # the first data, or data after a gap longer than a timeout (the sender is
            # restarting, maybe after losses): quickack mode (Linux tcp_event_data_recv)
            tcb.ato_init = True
            q = (tcb.rcvbuf_limit - len(tcb.rcvbuf)) // (2 * tcb.mss)
            mq = self.config.max_quickacks
            tcb.quick = 2 if q <= 0 else (q if q < mq else mq)
        if tcb.ooo or tcb.ooo_fin is not None:
            self._ooo_drain(tcb)
            self._send_ack(tcb)  # a hole was filled: tell the sender at once
        elif tcb.unacked_segs >= 2 or (
            ((tcb.rcv_adv - tcb.rcv_nxt) & M) * 2 < ((tcb.rcv_adv - tcb.last_ack_sent) & M)
        ):
            # more than one segment unacknowledged, or over half the window we offered
            # in our last ACK used up: ACK now
            self._send_ack(tcb)
        elif tcb.quick:
            tcb.ack_pending = True  # quickack mode: ACK at the end of this round
            self.dirty[tcb] = None
        elif tcb.delack_at is None:
            # delayed ACK: a reply, or the next segment, carries it; else the timer
            tcb.delack_at = self.now + self.config.delack
            self._arm(tcb)

    # ------------------------------------------------------------------ SACK (sender)
    def _abs(self, tcb: TcpSocket, seq: int) -> int:
        """Absolute stream position of sequence number ``seq`` (send side)."""
        d = (seq - tcb.data_seq) & M
        if d & HALF:
            d -= 1 << 32
        return tcb.bytes_acked + d

    def _sack_update(self, tcb: TcpSocket, blocks: tuple[tuple[int, int], ...]) -> float | None:
        """Merge SACK blocks into the scoreboard. Returns an RTT sample from a block that
        grew to end at a segment never resent (Linux tcp_sacktag), else None."""
        una = self._abs(tcb, tcb.snd_una)
        top = self._abs(tcb, tcb.snd_max)
        sb = tcb.sacked
        changed = False
        rtt = None
        for left, right in blocks:
            s = self._abs(tcb, left)
            e = self._abs(tcb, right)
            if s < una:
                s = una  # D-SACK or stale: keep only what is above snd_una
            if e > top or s >= e:
                continue
            changed = True
            i = 0
            n = len(sb)
            while i < n and sb[i][1] < s:
                i += 1
            j = i
            edge = e
            grew = True
            while j < n and sb[j][0] <= e:
                if sb[j][0] < edge <= sb[j][1]:
                    grew = False  # the segment ending at the edge was SACKed before
                if sb[j][0] < s:
                    s = sb[j][0]
                if sb[j][1] > e:
                    e = sb[j][1]
                j += 1
            sb[i:j] = [[s, e]]
            if grew and rtt is None:
                rtt = tcb.tx.sack_sample(edge, self.now)
        if changed:
            tcb.sacked_bytes = sum(e - s for s, e in sb)
        return rtt

    def _sack_prune(self, tcb: TcpSocket) -> None:
        una = self._abs(tcb, tcb.snd_una)
        sb = tcb.sacked
        while sb and sb[0][1] <= una:
            del sb[0]
        if sb and sb[0][0] < una:
            sb[0][0] = una
        tcb.sacked_bytes = sum(e - s for s, e in sb)

    def _unsacked(self, tcb: TcpSocket, a: int, b: int) -> int:
        """Bytes in [a, b) not covered by the scoreboard."""
        n = b - a
        if n <= 0:
            return 0
        for s, e in tcb.sacked:
            if e <= a:
                continue
            if s >= b:
                break
            n -= (e if e < b else b) - (s if s > a else a)
        return n

    def _pipe(self, tcb: TcpSocket) -> int:
        """RFC 6675 pipe: bytes thought to be in the network."""
        una = self._abs(tcb, tcb.snd_una)
        if tcb.recover is not None and tcb.sack_ok:
            top = self._abs(tcb, tcb.snd_max)
            high = tcb.sacked[-1][1] if tcb.sacked else una
            lim = tcb.retx_next if tcb.retx_next > una else una
            if lim > high:
                high = lim
            # retransmitted holes + everything above the highest SACKed byte;
            # holes not yet retransmitted count as lost
            return self._unsacked(tcb, una, lim) + (top - high if top > high else 0)
        return self._unsacked(tcb, una, self._abs(tcb, tcb.snd_nxt))

    def _next_hole(self, tcb: TcpSocket) -> tuple[int, int] | None:
        """First un-SACKed range at or after retx_next below the highest SACKed byte."""
        sb = tcb.sacked
        if not sb:
            return None
        p = tcb.retx_next
        una = self._abs(tcb, tcb.snd_una)
        if p < una:
            p = una
        for s, e in sb:
            if p < s:
                return p, s
            if p < e:
                p = e
        return None

    def _sack_loss(self, tcb: TcpSocket) -> bool:
        """RFC 6675 IsLost(SND.UNA): DupThresh SACKed segments above it."""
        return len(tcb.sacked) >= 3 or tcb.sacked_bytes > 2 * tcb.mss

    def _enter_recovery(self, tcb: TcpSocket) -> None:
        now = self.now
        tcb.ssthresh = tcb.cc.on_loss(tcb, now)
        tcb.recover = tcb.snd_max
        tcb.ca_state = 3
        self._count("tcp_fast_retransmits")
        tcb.retx_next = self._abs(tcb, tcb.snd_una)
        if tcb.sack_ok:
            tcb.cwnd = tcb.ssthresh
            # the first hole goes out now whatever the pipe (RFC 6675 5 (4.2))
            hole = self._next_hole(tcb)
            if hole is None:
                self._retransmit_head(tcb)
                tcb.retx_next = self._abs(tcb, tcb.snd_una) + tcb.mss
            else:
                self._retransmit_range(tcb, hole[0], hole[1])
            self.dirty[tcb] = None
        else:
            tcb.cwnd = tcb.ssthresh + 3 * tcb.mss
            self._retransmit_head(tcb)
        tcb.rto_at = now + tcb.rto
        self._arm(tcb)
        if self.probe is not None:
            self.probe.loss(tcb, "recovery")

    def _retransmit_range(self, tcb: TcpSocket, start: int, end: int) -> int:
        """Resend up to one MSS from absolute position ``start`` (below ``end``).
        Returns the bytes sent, -1 on device backpressure."""
        off = start - tcb.bytes_acked
        buffered = len(tcb.sndbuf)
        if off < 0 or off >= buffered:
            return 0
        n = end - start
        mss = self._cur_mss(tcb)
        if n > mss:
            n = mss
        if n > buffered - off:
            n = buffered - off
        with memoryview(tcb.sndbuf) as sv:
            if not self._xmit(tcb, ACK, (tcb.data_seq + off) & M, sv, off, n):
                return -1
        tcb.retx_next = start + n
        tcb.total_retrans += 1
        tcb.bytes_retrans += n
        tcb.tx.resend(start, start + n, self.now)
        self.stats["tcp_retransmits"] += 1
        return n

    def _process_ack(
        self, tcb: TcpSocket, seq: int, ack: int, window: int, plen: int, tsecr: int = 0,
        sack: tuple[tuple[int, int], ...] = (),
    ) -> bool:
        """ACK field processing in synchronized states. Returns False if the segment
        must be dropped (ack of unsent data)."""
        una = tcb.snd_una
        d = (ack - una) & M
        now = self.now
        tcb.last_recv = now
        sack_rtt = self._sack_update(tcb, sack) if sack else None
        if d == 0 or d & HALF:
            if sack_rtt is not None:
                self._rtt_sample(tcb, sack_rtt)  # as Linux: duplicate ACKs too
            if d == 0:
                # duplicate ACK?
                if (
                    plen == 0
                    and tcb.snd_max != una
                    and (window << tcb.snd_wscale) == tcb.snd_wnd
                ):
                    tcb.dupacks += 1
                    if tcb.recover is None:
                        if tcb.ca_state == 0:
                            tcb.ca_state = 1
                        if tcb.dupacks >= 3 or (tcb.sacked and self._sack_loss(tcb)):
                            self._enter_recovery(tcb)
                    elif not tcb.sack_ok:
                        tcb.cwnd += tcb.mss  # NewReno window inflation
                        self.dirty[tcb] = None
                    else:
                        self.dirty[tcb] = None  # the pipe shrank
                self._update_window(tcb, seq, ack, window)
            return True
        if d > ((tcb.snd_max - una) & M):
            # ACK of something not yet sent
            tcb.ack_pending = True
            self.dirty[tcb] = None
            return False
        # new data acknowledged
        tcb.last_ack_recv = now
        una_abs = self._abs(tcb, una)
        ack_abs = una_abs + d
        tcb.snd_una = ack
        if tcb.urg_mode and ((ack - tcb.snd_up) & M) < HALF:
            tcb.urg_mode = False
        if ((ack - tcb.snd_nxt) & M) < HALF:
            tcb.snd_nxt = ack
        acked = d
        if una == tcb.iss:
            acked -= 1  # SYN
        sndbuf = tcb.sndbuf
        nd = (ack - tcb.data_seq) & M
        if nd & HALF:
            nd = 0
        if nd > len(sndbuf):
            nd = len(sndbuf)  # the rest is our FIN
        if nd:
            if nd == len(sndbuf):
                sndbuf.clear()
            else:
                del sndbuf[:nd]
            tcb.data_seq = (tcb.data_seq + nd) & M
            tcb.bytes_acked += nd
            self.events.add(tcb)
        self._ack_rtt(tcb, una_abs, ack_abs, sack_rtt, tsecr)
        tcb.retransmits = 0
        if tcb.sacked:
            self._sack_prune(tcb)
        # congestion control
        if tcb.recover is not None:
            if ((ack - tcb.recover) & M) < HALF:
                # full ACK: leave fast recovery (RFC 6582 3.2 (3))
                tcb.cwnd = tcb.ssthresh
                tcb.recover = None
                tcb.ca_state = 0
            elif tcb.sack_ok:
                una_abs = self._abs(tcb, ack)
                if tcb.retx_next < una_abs:
                    tcb.retx_next = una_abs
            else:
                # partial ACK (NewReno): retransmit the next hole, deflate the window
                self._retransmit_head(tcb)
                c = tcb.cwnd - acked + tcb.mss
                tcb.cwnd = c if c > tcb.mss else tcb.mss
        else:
            if tcb.ca_state == 4 and ((ack - tcb.snd_max) & M) < HALF:
                tcb.ca_state = 0
            elif tcb.ca_state == 1 and not tcb.sacked:
                tcb.ca_state = 0
            # grow the window only if it was used (Linux tcp_is_cwnd_limited, RFC 7661):
            # in slow start if the flight was over half of it, else nearly all of it
            flight = (tcb.snd_max - una) & M
            if (flight + tcb.mss >= tcb.cwnd
                    or tcb.cwnd < tcb.ssthresh and tcb.cwnd < 2 * flight):
                tcb.cc.on_ack(tcb, acked, now)
                self._sndbuf_expand(tcb)
        tcb.dupacks = 0
        self._update_window(tcb, seq, ack, window)
        # retransmission timer
        if tcb.snd_una == tcb.snd_max:
            tcb.rto_at = None
        else:
            tcb.rto_at = now + tcb.rto
            self._arm(tcb)
        if tcb.sndbuf or tcb.fin_queued:
            self.dirty[tcb] = None
        return True

    def _update_window(self, tcb: TcpSocket, seq: int, ack: int, window: int) -> None:
        if self.probe is not None:  # every processed ACK ends here
            self.probe.ack(tcb)
        wl1 = tcb.snd_wl1
        if (
            ((wl1 - seq) & M) & HALF
            or (wl1 == seq and not ((ack - tcb.snd_wl2) & M) & HALF)
        ):
            w = window << tcb.snd_wscale
            if w != tcb.snd_wnd:
                opened = w > tcb.snd_wnd
                tcb.snd_wnd = w
                if w > tcb.max_snd_wnd:
                    tcb.max_snd_wnd = w
                    self._sndbuf_expand(tcb)
                if opened and tcb.sndbuf:
                    self.dirty[tcb] = None
                    if w and tcb.snd_una == tcb.snd_max and tcb.rto_at is not None:
                        tcb.rto_at = None  # persist timer no longer needed
            tcb.snd_wl1 = seq
            tcb.snd_wl2 = ack

    def _ack_rtt(self, tcb: TcpSocket, una_abs: int, ack_abs: int, sack_rtt: float | None,
                 tsecr: int) -> None:
        """At most one RTT sample from an ACK that advanced snd_una (rtt.SendTimes);
        the retransmission timer's backoff ends only with a sample (RFC 6298 5)."""
        tx = tcb.tx
        oldest = tx.first_sent(una_abs)
        first, resent = tx.acked(ack_abs)
        now = self.now
        if first is not None and resent < 0:
            self._rtt_sample(tcb, now - first)
        elif sack_rtt is not None:
            self._rtt_sample(tcb, sack_rtt)
        elif tsecr and oldest is not None:
            if resent > oldest:
                oldest = resent
            off = tcb.ts_offset
            sent = (tsecr - (int(oldest * 1000) + off)) & M
            r = (int(now * 1000) + off - tsecr) & M
            if sent < HALF and r < HALF:
                self._rtt_sample(tcb, r / 1000.0)

    def _rtt_sample(self, tcb: TcpSocket, r: float) -> None:
        cfg = self.config
        if r < 0:
            r = 0.0
        if tcb.srtt == 0.0:
            tcb.srtt = r if r > 0 else 1e-6
            tcb.rttvar = r / 2
        else:
            tcb.rttvar = 0.75 * tcb.rttvar + 0.25 * abs(tcb.srtt - r)
            tcb.srtt = 0.875 * tcb.srtt + 0.125 * r
        # Linux: rto = srtt + max(4*rttvar, rto_min)
        v = 4 * tcb.rttvar
        rto = tcb.srtt + (v if v > cfg.rto_min else cfg.rto_min)
        tcb.rto = rto if rto < cfg.rto_max else cfg.rto_max

    def _retransmit_head(self, tcb: TcpSocket) -> None:
        """Resend one segment starting at snd_una."""
        off = (tcb.snd_una - tcb.data_seq) & M
        buffered = len(tcb.sndbuf)
        if off > buffered:
            return
        n = min(buffered - off, self._cur_mss(tcb))
        flags = ACK
        if tcb.fin_queued and off + n == buffered:
            flags |= FIN
        if n == 0 and not flags & FIN:
            return
        with memoryview(tcb.sndbuf) as sv:
            if self._xmit(tcb, flags, tcb.snd_una, sv, off, n):
                tcb.total_retrans += 1
                tcb.bytes_retrans += n
                self.stats["tcp_retransmits"] += 1
                a = self._abs(tcb, tcb.snd_una)
                tcb.tx.resend(a, a + n + (flags & FIN), self.now)

    def _no_conn(
        self, iface: InterfaceWrapper, version: int, src: bytes, dst: bytes, sport: int,
        dport: int, seq: int, ack: int, flags: int, window: int, seg: memoryview, hl: int,
        n: int,
    ) -> None:
        if flags & RST:
            self._count("drop_tcp_rst_no_socket")
            return
        if flags & SYN and not flags & ACK:
            entry = self.listen_table.lookup(version, dst, dport)
            if entry is not None:
                self._syn_to_listener(entry, iface, version, src, dst, sport, dport, seq,
                                      window, seg, hl)
                return
        self._count("drop_tcp_no_socket")
        # RFC 9293: reset for a segment to a closed port
        plen = n - hl
        if flags & ACK:
            self._raw_rst(iface, version, dst, src, dport, sport, ack, 0, RST)
        else:
            seglen = plen + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
            self._raw_rst(iface, version, dst, src, dport, sport, 0, (seq + seglen) & M,
                          RST | ACK)

    def icmp_error(
        self, version: int, lip: bytes, rip: bytes, lport: int, rport: int, err: int
    ) -> None:
        """An ICMP error about one of our segments (rocketnet.iface.ip): as Linux
        tcp_v4_err/tcp_v6_err, it aborts a connection still opening (connect() fails
        with err); on others it is only a soft error."""
        tcb = self.conns.get((lip, lport, rip, rport))
        if tcb is None:
            return
        self._count("tcp_icmp_errors")
        if tcb.state == SYN_SENT:
            self._enter_closed(tcb, err)

    def _raw_rst(
        self, iface: InterfaceWrapper | None, version: int, lip: bytes, rip: bytes, lport: int,
        rport: int, seq: int, ack: int, flags: int,
    ) -> None:
        """Send a reset that belongs to no connection (flags: RST or RST|ACK)."""
        if iface is None:
            return
        eth = iface.link_header_len
        v4 = version == 4
        iphl = 20 if v4 else 40
        size = eth + iphl + 20
        dev = iface.dev.device
        buf = dev.alloc_tx_buffer(size)
        if buf is None:
            self.stats["tcp_tx_backpressure"] += 1
            return
        mv = buf.view
        if eth:
            mv[0:eth] = iface.link_header_v4 if v4 else iface.link_header_v6
        if v4:
            ident = self.ip_ident = (self.ip_ident + 1) & 0xFFFF
            _IP4TCP.pack_into(mv, eth, 0x45, 0, 40, ident, 0x4000, 64, 6, 0, lip, rip, lport,
                              rport, seq, ack, 0x50, flags, 0, 0, 0)
        else:
            _IP6TCP.pack_into(mv, eth, 0x60000000, 20, 6, 64, lip, rip, lport, rport, seq, ack,
                              0x50, flags, 0, 0, 0)
        if not iface.checksum_offload:
            if v4:
                _U16.pack_into(mv, eth + 10, checksum(mv[eth : eth + 20]))
            t0 = eth + iphl
            c = checksum(mv[t0:size], pseudo_header_sum(lip, rip, 6, 20))
            _U16.pack_into(mv, t0 + 16, c)
        dev.send(buf)
        self.stats["tcp_segments_sent"] += 1
        self._count("tcp_rst_sent")

    def _syn_to_listener(
        self, entry: ListenEntry, iface: InterfaceWrapper, version: int, src: bytes,
        dst: bytes, sport: int, dport: int, seq: int, window: int, seg: memoryview, hl: int,
    ) -> None:
        if entry.accept_full() or entry.syn_full():
            self._count("drop_tcp_listen_overflow")
            return
        lsock = entry.sock
        opts = parse_tcp_options(seg[20:hl]) if hl > 20 else TcpOptions()
        child = TcpSocket(self, lsock.family)
        for name in (
            "reuseaddr", "reuseport", "keepalive", "keepidle", "keepintvl", "keepcnt",
            "nodelay", "cork", "user_mss", "linger", "v6only", "ttl", "tos", "hops",
            "sndbuf_limit", "sndbuf_lock", "rcvbuf_limit", "rcvbuf_lock", "so_sndbuf",
            "so_rcvbuf", "congestion",
            "user_timeout", "oobinline",
        ):
            setattr(child, name, getattr(lsock, name))
        child.bind_addr = lsock.bind_addr
        child.local_port = dport
        # the child holds the port for its own local address (Linux inherits the bucket)
        child.cover4, child.cover6 = (dst, None) if version == 4 else (None, dst)
        self.bound.setdefault(dport, []).append(child)
        child.in_bind_table = True
        child.released = False
        child.ever_connected = True
        self._setup_conn(child, iface, version, dst, src, sport)
        self._syn_params(child, opts, window)
        child.irs = seq
        child.rcv_nxt = (seq + 1) & M
        child.rcv_adv = child.rcv_nxt
        child.iss = self._isn(dst, dport, src, sport)
        child.ts_offset = self._ts_offset(dst, dport, src, sport)
        child.cc = congestion.make(child.congestion)
        child.snd_una = child.snd_nxt = child.snd_max = child.iss
        child.data_seq = (child.iss + 1) & M
        child.snd_wl1 = seq
        child.snd_wl2 = child.iss
        child.state = SYN_RECEIVED
        child.parent = entry
        child.last_recv = self.now
        entry.syn_queue[child.key] = child
        self.conns[child.key] = child  # type: ignore[index]
        self._count("tcp_passive_opens")
        self._output(child)

    def _syn_params(self, tcb: TcpSocket, opts: TcpOptions, window: int) -> None:
        peer_mss = opts.mss if opts.mss else 536
        tcb.peer_mss = peer_mss
        mss = min(peer_mss, tcb.advmss)
        if tcb.user_mss and tcb.user_mss < mss:
            mss = tcb.user_mss
        tcb.mss = max(mss, 64)
        if opts.wscale is not None:
            tcb.ws_ok = True
            tcb.snd_wscale = min(opts.wscale, 14)
        else:
            tcb.ws_ok = False
            tcb.snd_wscale = 0
            tcb.rcv_wscale = 0
        tcb.snd_wnd = window  # windows in SYN segments are never scaled
        tcb.max_snd_wnd = window
        cfg = self.config
        # SYN_SENT: we offered everything enabled; SYN_RECEIVED: answer what is offered
        tcb.sack_ok = bool(opts.sack_perm and cfg.sack)
        if opts.timestamps is not None and cfg.timestamps:
            tcb.ts_ok = True
            tcb.ts_recent = opts.timestamps[0]
            tcb.ts_recent_set = True
            tcb.mss = max(tcb.mss - 12, 64)  # every segment carries the option
        else:
            tcb.ts_ok = False
        if not cfg.window_scaling:
            tcb.ws_ok = False
            tcb.snd_wscale = 0
            tcb.rcv_wscale = 0
        tcb.cwnd = cfg.init_cwnd * tcb.mss
        self._sndbuf_expand(tcb)

    def _sndbuf_expand(self, tcb: TcpSocket) -> None:
        """Room for two congestion windows (at least the initial one) in the send
        buffer, up to tcp_wmem's max, as Linux's tcp_sndbuf_expand counts them: each
        segment as the memory it may take (per_mss).  Not bounded by the peer's window:
        a peer that does not read lets Linux queue up to tcp_wmem's max."""
        if tcb.sndbuf_lock:
            return
        cfg = self.config
        mss = tcb.mss
        segs = tcb.cwnd // mss if mss else 0
        if segs < cfg.init_cwnd:
            segs = cfg.init_cwnd
        # MAX_TCP_HEADER + the aligned skb_shared_info, rounded up to a power of two,
        # + the aligned sk_buff (x86-64): 87040 for two initial windows of 1448 bytes
        w = 2 * segs * ((1 << (mss + 640 - 1).bit_length()) + 256)
        if w > cfg.sndbuf:
            w = cfg.sndbuf
        if w > tcb.sndbuf_limit:
            tcb.sndbuf_limit = w
            self.events.add(tcb)

    def _segment(
        self, tcb: TcpSocket, seq: int, ack: int, flags: int, window: int, seg: memoryview,
        hl: int, plen: int,
    ) -> None:
        """RFC 9293 3.10.7: segment arrives (general path)."""
        st = tcb.state
        now = self.now
        if st == SYN_SENT:
            self._syn_sent(tcb, seq, ack, flags, window, seg, hl)
            return
        if st == CLOSED or st == LISTEN:
            return
        opts = parse_tcp_options(seg[20:hl]) if hl > 20 else None
        tsopt = opts.timestamps if opts is not None and tcb.ts_ok else None
        useq = 0
        if flags & URG:
            up = _U16.unpack_from(seg, 18)[0]
            useq = (seq + up - 1) & M if up else seq  # BSD: points past the urgent byte
        # RFC 7323 5.3: PAWS
        if tsopt is not None and not flags & RST and tcb.ts_recent_set:
            if (tsopt[0] - tcb.ts_recent) & HALF:
                self._count("drop_tcp_paws")
                self._dsack_old(tcb, seq, plen)
                if ((plen or flags & FIN) and not flags & SYN
                        or not self._oow_limited(tcb, now, "tcp_ack_skipped_paws")):
                    self._send_ack(tcb)  # data never loops: only bare ones are limited
                return
        # 1. sequence number check
        syn = 1 if flags & SYN else 0
        fin = 1 if flags & FIN else 0
        seglen = plen + syn + fin
        d = (seq - tcb.rcv_nxt) & M
        if d & HALF:
            d -= 1 << 32
        wnd = (tcb.rcv_adv - tcb.rcv_nxt) & M
        if wnd & HALF:
            wnd = 0
        if st == SYN_RECEIVED and flags & SYN and not flags & ACK and seq == tcb.irs:
            # retransmitted SYN: resend SYN-ACK
            tcb.snd_nxt = tcb.iss
            self._output(tcb)
            return
        if st == TIME_WAIT and flags & SYN and not flags & ACK and d > 0:
            # new connection reusing a TIME_WAIT 4-tuple (Linux accepts it)
            iface = tcb.iface
            key = tcb.key
            self._free(tcb)
            if iface is not None and key is not None:
                self._no_conn(iface, tcb.version, key[2], key[0], key[3], key[1], seq, ack,
                              flags, window, seg, hl, hl + plen)
            return
        if syn and st != SYN_RECEIVED:
            # RFC 5961 4.2: a SYN in a synchronized state, wherever it falls, gets a
            # challenge ACK
            self._challenge_ack(tcb, now)
            return
        if seglen == 0:
            ok = d == 0 if wnd == 0 else 0 <= d < wnd
        else:
            ok = wnd > 0 and (0 <= d < wnd or 0 <= d + seglen - 1 < wnd)
        if not ok:
            if not flags & RST:
                if st == TIME_WAIT and fin and d == -1:
                    self._set_deadline(tcb, now + 2 * self.config.msl)
                self._count("drop_tcp_out_of_window")
                self._dsack_old(tcb, seq, plen)
                if seglen or not self._oow_limited(tcb, now, "tcp_ack_skipped_seq"):
                    self._send_ack(tcb)  # as for PAWS (a SYN got a challenge above)
            return
        if tsopt is not None and ((seq - tcb.last_ack_sent) & M == 0 or
                                  (seq - tcb.last_ack_sent) & HALF):
            tcb.ts_recent = tsopt[0]
            tcb.ts_recent_set = True
        if d < 0:
            # trim the part we already have (and report it: D-SACK)
            if not syn:
                self._dsack_old(tcb, seq, plen)
            skip = -d
            if syn:
                syn = 0
                skip -= 1
                seq = (seq + 1) & M
            if skip > plen:
                skip = plen
            hl += skip
            plen -= skip
            seq = (seq + skip) & M
            d = 0
        if d + plen > wnd and not flags & RST:
            # trim what lies beyond the window (and a FIN beyond it)
            cut = d + plen - wnd
            if cut > plen:
                cut = plen
            plen -= cut
            fin = 0
        # 2. RST (RFC 5961 3.2: exact match resets, else a challenge ACK)
        if flags & RST:
            self._count("tcp_rst_received")
            if d != 0:
                self._challenge_ack(tcb, now)
                return
            if st == SYN_RECEIVED:
                if tcb.parent is not None:
                    tcb.released = True
                    self._enter_closed(tcb, 0)
                else:
                    self._enter_closed(tcb, ECONNREFUSED)
            elif st in (ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2):
                self._enter_closed(tcb, ECONNRESET)
            elif st == CLOSE_WAIT:
                self._enter_closed(tcb, EPIPE)
            else:
                self._enter_closed(tcb, 0)
            return
        # 3. SYN in a synchronized state: challenge ACK (RFC 5961 4.2)
        if syn:
            self._challenge_ack(tcb, now)
            return
        # 4. ACK
        if not flags & ACK:
            return
        if st == SYN_RECEIVED:
            da = (ack - tcb.snd_una) & M
            if 0 < da <= ((tcb.snd_max - tcb.snd_una) & M):
                entry = tcb.parent
                if entry is not None:
                    if entry.accept_full():
                        self._count("drop_tcp_listen_overflow")
                        return  # as Linux: drop, the SYN-ACK timer will retry
                    entry.syn_queue.pop(tcb.key, None)
                    entry.accept_queue.append(tcb)
                    self._mark(entry.sock)
                tcb.state = ESTABLISHED
                tcb.was_established = True
                tcb.snd_wnd = window << tcb.snd_wscale
                if tcb.snd_wnd > tcb.max_snd_wnd:
                    tcb.max_snd_wnd = tcb.snd_wnd
                    self._sndbuf_expand(tcb)
                tcb.snd_wl1, tcb.snd_wl2 = seq, ack
                if tcb.retransmits == 0:
                    self._rtt_sample(tcb, now - tcb.rtt_time)  # SYN-ACK to ACK
                tcb.retransmits = 0
                self._mark(tcb)
                if tcb.fin_queued:
                    tcb.state = FIN_WAIT_1
                self.start_keepalive(tcb)
            else:
                self._raw_rst(tcb.iface, tcb.version, tcb.lip, tcb.rip, tcb.local_port,  # type: ignore[arg-type]
                              tcb.rport, ack, 0, RST)
                return
        else:
            old = (tcb.snd_una - ack) & M
            if 0 < old < HALF and old > max(tcb.max_snd_wnd, 65535):
                # RFC 5961 5.2: ACK too old to be from this connection
                self._challenge_ack(tcb, now)
                return
        if not self._process_ack(tcb, seq, ack, window, plen,
                                 tsopt[1] if tsopt is not None else 0,
                                 opts.sack_blocks if opts is not None and tcb.sack_ok else ()):
            return
        st = tcb.state
        if tcb.fin_queued:
            data_end = (tcb.data_seq + len(tcb.sndbuf)) & M
            fin_acked = not tcb.sndbuf and tcb.snd_una == ((data_end + 1) & M)
            if fin_acked:
                if st == FIN_WAIT_1:
                    tcb.state = st = FIN_WAIT_2
                    if tcb.released:
                        self._set_deadline(tcb, now + self.config.fin_timeout)
                    self._mark(tcb)
                elif st == CLOSING:
                    self._enter_time_wait(tcb)
                    return
                elif st == LAST_ACK:
                    self._enter_closed(tcb, 0)
                    return
        if st == TIME_WAIT:
            if fin:
                self._send_ack(tcb)
                self._set_deadline(tcb, now + 2 * self.config.msl)
            return
        # 6. payload
        if st not in _RECV_STATES:
            return
        if flags & URG:
            self._check_urg(tcb, useq)
        if d > 0:
            if plen or fin:
                self._ooo_queue(tcb, d, seg, hl, plen, fin)
            return
        if plen:
            self._accept_data(tcb, seg, hl, plen)
            if tcb.state == CLOSED:
                return
        # 7. FIN
        if fin and not tcb.fin_received:
            self._rcv_fin(tcb)

    def _check_urg(self, tcb: TcpSocket, ptr: int) -> None:
        """An urgent pointer arrived (Linux tcp_check_urg): note where the urgent byte
        is; a later pointer replaces an earlier one."""
        d = (ptr - tcb.rcv_nxt) & M
        if d & HALF:
            return  # the byte is already here: nothing new
        pos = tcb.bytes_received + d
        if tcb.urg_state and pos <= tcb.urg_pos:
            return
        tcb.urg_state = URG_NOTYET
        tcb.urg_pos = pos
        self._mark(tcb)

    def _urg_arrived(self, tcb: TcpSocket) -> None:
        """In-order data arrived while an urgent byte was announced: is it here?"""
        back = tcb.bytes_received - tcb.urg_pos
        if 0 < back <= len(tcb.rcvbuf):
            tcb.urg_state = URG_VALID
            tcb.urg_byte = tcb.rcvbuf[len(tcb.rcvbuf) - back]
            self._mark(tcb)

    def _rcv_fin(self, tcb: TcpSocket) -> None:
        """The FIN at rcv_nxt arrived (in order, or from the out-of-order queue)."""
        tcb.fin_received = True
        tcb.ooo_fin = None
        tcb.rcv_nxt = (tcb.rcv_nxt + 1) & M
        self._mark(tcb)
        st = tcb.state
        if st == ESTABLISHED or st == SYN_RECEIVED:
            tcb.state = CLOSE_WAIT
        elif st == FIN_WAIT_1:
            tcb.state = CLOSING
        elif st == FIN_WAIT_2:
            self._send_ack(tcb)
            self._enter_time_wait(tcb)
            return
        self._send_ack(tcb)

    def _ooo_queue(
        self, tcb: TcpSocket, d: int, seg: memoryview, hl: int, plen: int, fin: int,
    ) -> None:
        """Keep data that arrived ahead of rcv_nxt (d > 0 bytes ahead), merged into the
        out-of-order queue, within the receive buffer and a block-count bound; answer
        with an immediate (duplicate) ACK carrying SACK blocks."""
        tcb.ooo_packets += 1
        start = tcb.bytes_received + d
        if fin:
            tcb.ooo_fin = start + plen
        if plen:
            if tcb.released:
                self._send_rst_for(tcb)
                self._enter_closed(tcb, 0)
                return
            room = tcb.rcvbuf_limit - len(tcb.rcvbuf) - tcb.ooo_bytes
            if plen > room or len(tcb.ooo) >= self.config.ooo_max_blocks:
                self._count("drop_tcp_ooo_limit")
            else:
                self._ooo_insert(tcb, start, seg[hl : hl + plen])
        self._send_ack(tcb)

    def _ooo_insert(self, tcb: TcpSocket, start: int, data: memoryview) -> None:
        ooo = tcb.ooo
        end = start + len(data)
        # first block that ends at or after start (blocks are disjoint and sorted)
        i = len(ooo)
        while i > 0 and ooo[i - 1][0] + len(ooo[i - 1][1]) >= start:
            i -= 1
        if i == len(ooo) or ooo[i][0] > end:
            ooo.insert(i, [start, bytearray(data)])
            tcb.ooo_bytes += len(data)
            tcb.ooo_last = start
            return
        ent = ooo[i]
        before = len(ent[1])
        o_s = start if start > ent[0] else ent[0]
        o_e = ent[0] + before
        if end < o_e:
            o_e = end
        if o_e > o_s and tcb.sack_ok:
            # some of it was here already: D-SACK the first overlap (tcp_data_queue_ofo)
            base = tcb.rcv_nxt - tcb.bytes_received
            tcb.dsack = ((base + o_s) & M, (base + o_e) & M)
        if start < ent[0]:
            # extend the block to the left (rare: rebuild it)
            ent[1][0:0] = data[: ent[0] - start]
            ent[0] = start
        e_end = ent[0] + len(ent[1])
        if end > e_end:
            ent[1] += data[e_end - start :]
            e_end = end
        # absorb following blocks that now touch this one
        j = i + 1
        while j < len(ooo) and ooo[j][0] <= e_end:
            nxt = ooo[j]
            n_end = nxt[0] + len(nxt[1])
            if n_end > e_end:
                ent[1] += memoryview(nxt[1])[e_end - nxt[0] :]
                e_end = n_end
            tcb.ooo_bytes -= len(nxt[1])
            j += 1
        del ooo[i + 1 : j]
        tcb.ooo_bytes += len(ent[1]) - before
        tcb.ooo_last = start if start >= ent[0] else ent[0]

    def _ooo_drain(self, tcb: TcpSocket) -> None:
        """Move what the out-of-order queue holds at rcv_nxt into the receive buffer."""
        ooo = tcb.ooo
        pos = tcb.bytes_received
        while ooo and ooo[0][0] <= pos:
            st, data = ooo[0]
            n_end = st + len(data)
            if n_end > pos:
                free = tcb.rcvbuf_limit - len(tcb.rcvbuf)
                take = n_end - pos
                if take > free:
                    take = free
                if take <= 0:
                    break
                with memoryview(data) as mv:
                    tcb.rcvbuf += mv[pos - st : pos - st + take]
                tcb.rcv_nxt = (tcb.rcv_nxt + take) & M
                tcb.bytes_received += take
                self.stats["tcp_payload_bytes_received"] += take
                pos += take
                if pos < n_end:
                    del data[: pos - st]
                    ooo[0][0] = pos
                    tcb.ooo_bytes -= pos - st
                    break
            tcb.ooo_bytes -= len(data)
            del ooo[0]
        if not ooo:
            tcb.ooo_bytes = 0
        if tcb.urg_state == URG_NOTYET:
            self._urg_arrived(tcb)
        self.events.add(tcb)
        tcb.ack_pending = True
        self.dirty[tcb] = None
        if tcb.ooo_fin is not None and tcb.ooo_fin == tcb.bytes_received and not tcb.fin_received:
            self._rcv_fin(tcb)

    def _syn_sent(
        self, tcb: TcpSocket, seq: int, ack: int, flags: int, window: int, seg: memoryview,
        hl: int,
    ) -> None:
        if flags & ACK:
            da = (ack - tcb.iss) & M
            if not 0 < da <= ((tcb.snd_max - tcb.iss) & M):
                if not flags & RST:
                    self._raw_rst(tcb.iface, tcb.version, tcb.lip, tcb.rip,  # type: ignore[arg-type]
                                  tcb.local_port, tcb.rport, ack, 0, RST)
                return
            if flags & RST:
                self._count("tcp_rst_received")
                self._enter_closed(tcb, ECONNREFUSED)
                return
        elif flags & RST:
            return
        if not flags & SYN:
            return
        opts = parse_tcp_options(seg[20:hl]) if hl > 20 else TcpOptions()
        self._syn_params(tcb, opts, window)
        tcb.irs = seq
        tcb.rcv_nxt = (seq + 1) & M
        tcb.rcv_adv = tcb.rcv_nxt
        tcb.last_recv = self.now
        if flags & ACK:
            tcb.snd_una = ack
            if ((ack - tcb.snd_nxt) & M) < HALF:
                tcb.snd_nxt = ack
            if tcb.retransmits == 0:
                self._rtt_sample(tcb, self.now - tcb.rtt_time)
            tcb.retransmits = 0
            tcb.rto_at = None
            tcb.snd_wl1, tcb.snd_wl2 = seq, ack
            tcb.state = ESTABLISHED
            tcb.was_established = True
            if tcb.fin_queued:
                tcb.state = FIN_WAIT_1
            self._mark(tcb)
            self._send_ack(tcb)
            self.start_keepalive(tcb)
            if tcb.sndbuf or tcb.fin_queued:
                self.dirty[tcb] = None
        else:
            # simultaneous open
            tcb.state = SYN_RECEIVED
            tcb.snd_nxt = tcb.iss
            self._output(tcb)


def _acceptable_seq(tcb: TcpSocket) -> int:
    """Sequence number for a segment without data (Linux tcp_acceptable_seq): the
    highest sent, not snd_nxt, which a timeout rewinds to snd_una; the peer has
    already seen data up to snd_max, so an ACK stamped lower is outside its window and
    dropped. Capped at the right edge of the peer's window should it have shrunk by
    more than its scaling rounds off."""
    top = tcb.snd_max
    edge = (tcb.snd_una + tcb.snd_wnd) & M
    over = (top - edge) & M
    return edge if over and not over & HALF and over >= 1 << tcb.snd_wscale else top


def _syn_window(tcb: TcpSocket) -> int:
    free = tcb.rcvbuf_limit - len(tcb.rcvbuf)
    w = free if free < 0xFFFF else 0xFFFF
    if w < 0:
        w = 0
    edge = (tcb.rcv_nxt + w) & M
    tcb.rcv_adv = edge
    return w


def _unmap(addr: bytes) -> bytes:
    if len(addr) == 16 and addr[:12] == b"\x00" * 10 + b"\xff\xff":
        return addr[12:]
    return addr


def _is_mapped_any(addr: bytes) -> bool:
    return addr == b"\x00" * 10 + b"\xff\xff" + b"\x00" * 4


def _coverage(family: int, addr: bytes, v6only: bool) -> tuple[bytes | None, bytes | None]:
    """Which IPv4 / IPv6 local addresses a socket bound to ``addr`` answers for."""
    if family == 2:
        return (ANY if not any(addr) else addr), None
    if addr[:12] == b"\x00" * 10 + b"\xff\xff":
        v4 = addr[12:]
        return (ANY if not any(v4) else v4), None
    if not any(addr):
        return (None if v6only else ANY), ANY
    return None, addr

"""TcpLayer: every control block of one stack, and the connection lifecycle (open,
close, free); the segment paths and timers are its mixins."""

from __future__ import annotations

import hashlib
import random
import struct
from collections.abc import Callable
from typing import Any

from ...errors import SocketError
from ...iface import InterfaceWrapper
from .buffers import BuffersMixin
from .config import TcpConfig
from .consts import (
    CLOSE_WAIT,
    CLOSED,
    EADDRNOTAVAIL,
    EINVAL,
    ENOTCONN,
    ESTABLISHED,
    FIN_WAIT_1,
    FIN_WAIT_2,
    LAST_ACK,
    LISTEN,
    SYN_RECEIVED,
    SYN_SENT,
    TIME_WAIT,
    V4_MSS_CAP,
    V6_MSS_CAP,
    M,
)
from .input import InputMixin
from .listen import ListenTable
from .output import OutputMixin
from .ports import PortsMixin, is_mapped_any, unmap
from .reassembly import ReassemblyMixin
from .recovery import RecoveryMixin
from .ring import RingMemory
from .tcb import TcpSocket
from .timers import TimersMixin


class TcpLayer(
    InputMixin, OutputMixin, RecoveryMixin, ReassemblyMixin, BuffersMixin, TimersMixin, PortsMixin
):
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
        self.mem = RingMemory(self.config.mem_pressure, self.config.mem_limit)
        self.now = 0.0
        self.conns: dict[tuple, TcpSocket] = {}
        self.listen_table = ListenTable()
        self.bound: dict[int, list[TcpSocket]] = {}
        self.dirty: dict[TcpSocket, None] = {}  # ordered set: need output
        # ordered set (no call per insertion): changed, for the application
        self.events: dict[TcpSocket, None] = {}
        self.timers: list[tuple[float, int, TcpSocket]] = []
        self._timer_seq = 0
        self._isn_key = hashlib.blake2b(str(seed).encode(), digest_size=16).digest()
        self._rng = random.Random(seed)
        self._challenge_sec = -1  # the second the host-wide challenge ACK budget is for
        self._challenge_left = 0
        self.on_free: Callable[[TcpSocket], None] | None = None
        self.probe: Any = None  # a rocketnet.transport.tcp.probe.TcpProbe when switched on
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

    def _mark(self, tcb: TcpSocket) -> None:
        self.events[tcb] = None
        if self.probe is not None:
            self.probe.state(tcb)

    def connect(self, tcb: TcpSocket, rip: bytes, rport: int, now: float) -> None:
        """Start an active open to rip:rport (wire form, 4 or 16 bytes)."""
        from ...iface import route, source_address

        self.now = now
        iface = route(self.ifaces, rip)
        if iface is None:
            raise SocketError(101)  # ENETUNREACH
        version = 4 if len(rip) == 4 else 6
        if tcb.bind_addr is not None and any(tcb.bind_addr) and not is_mapped_any(tcb.bind_addr):
            lip = unmap(tcb.bind_addr)
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
        cap = V4_MSS_CAP if version == 4 else V6_MSS_CAP
        mss = iface.mtu - (40 if version == 4 else 60)
        if mss > cap:
            mss = cap
        if tcb.user_mss and tcb.user_mss < mss:
            mss = tcb.user_mss
        tcb.advmss = mss
        # Linux tcp_select_initial_window: the scale that fits the largest window the
        # receive buffer may offer; a set SO_RCVBUF clamps it to that buffer's window
        # (ilog2(space) - 15: 0 below 64 KiB), else tcp_rmem[2]'s
        ws = self.config.rcv_wscale
        if tcb.rcvbuf_lock:
            ws = min(ws, max(0, tcb.rcvbuf_limit.bit_length() - 16))
        tcb.rcv_wscale = ws
        # autotuning grows the buffer once a round trip reads more than an initial
        # window (Linux tcp_init_buffer_space)
        w = self.config.init_cwnd * mss
        tcb.rcvq_space = w if w < tcb.rcvbuf_limit else tcb.rcvbuf_limit
        tcb.rcvq_time = self.now

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
        if tcb.rcvbuf.length and st != TIME_WAIT:
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
            tcb.rcvbuf.release()
            tcb.sndbuf.release()
            tcb.ooo.clear()
            tcb.tx.clear()
            self.events.pop(tcb, None)
            if self.on_free is not None:
                self.on_free(tcb)

    def _enter_time_wait(self, tcb: TcpSocket) -> None:
        tcb.state = TIME_WAIT
        tcb.rto_at = None
        # nothing more to send or to receive: the rings (but unread data) go back now,
        # not after 2 MSL (a thousand closed connections must not hold their buffers)
        tcb.sndbuf.release()
        tcb.tx.clear()
        tcb.ooo.clear()
        if not tcb.rcvbuf.length:
            tcb.rcvbuf.release()
        self._set_deadline(tcb, self.now + 2 * self.config.msl)
        self._mark(tcb)

    def _enter_closed(self, tcb: TcpSocket, err: int) -> None:
        if err:
            tcb.error = err
        tcb.state = CLOSED
        self._free(tcb)

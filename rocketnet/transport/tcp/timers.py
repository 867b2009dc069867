"""Timers: the timer heap, retransmission timeout (RFC 6298), persist,
keepalive, delayed ACK, TIME_WAIT / FIN_WAIT_2, and the RTT estimator."""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from ...wire.tcp import ACK
from .consts import (
    CLOSE_WAIT,
    CLOSED,
    ESTABLISHED,
    ETIMEDOUT,
    FIN_WAIT_2,
    SEND_STATES,
    SYN_RECEIVED,
    SYN_SENT,
    SYNCHRONIZED,
    TIME_WAIT,
    M,
)

if TYPE_CHECKING:
    from .tcb import TcpSocket


class TimersMixin:
    """TcpLayer's timers part."""

    def _arm(self, tcb: TcpSocket, t: float) -> None:
        """A timer of tcb was set to ``t``: a heap entry only if it comes before the
        connection's (heap_at is never after any timer of it, so one entry at heap_at
        covers them all). A timer stopped or pushed back leaves the entry where it is
        (lazy re-arm): the wake-up at heap_at finds nothing due and re-arms at the
        connection's first timer, as Linux lets a cleared delayed-ACK timer fire. So a
        request/response exchange, whose delayed-ACK and retransmission timers move
        every segment, touches the heap about once per delayed-ACK interval, not three
        times per segment. The hot callers inline the comparison."""
        h = tcb.heap_at
        if h is None or t < h:
            tcb.heap_at = t
            self._timer_seq += 1
            heapq.heappush(self.timers, (t, self._timer_seq, tcb))

    def next_deadline(self) -> float | None:
        """When the first timer of any connection may be due: never later than it,
        earlier only where a timer was stopped or pushed back since its connection's
        heap entry was made (see _arm). Exact for connections without timers: their
        entries, and entries superseded by an earlier one, go here."""
        timers = self.timers
        while timers:
            t, _s, tcb = timers[0]
            if tcb.heap_at == t:
                if tcb.rto_at is not None or tcb.delack_at is not None or \
                        tcb.deadline is not None:
                    return t
                tcb.heap_at = None  # nothing left to time
            heapq.heappop(timers)
        return None

    def _set_deadline(self, tcb: TcpSocket, t: float) -> None:
        tcb.deadline = t
        self._arm(tcb, t)

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
                if tcb.state in SYNCHRONIZED and tcb.rcv_nxt != tcb.last_ack_sent:
                    self._send_ack(tcb)
            for t in (tcb.rto_at, tcb.deadline, tcb.delack_at):  # what still runs
                if t is not None:
                    self._arm(tcb, t)

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
        if st not in SEND_STATES:
            return
        in_flight = (tcb.snd_nxt - tcb.snd_una) & M
        idle = in_flight == 0 and tcb.snd_max == tcb.snd_una
        if idle and tcb.snd_wnd and tcb.sndbuf.length > ((tcb.snd_nxt - tcb.data_seq) & M):
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
            if tcb.sndbuf.length and tcb.snd_wnd == 0:
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
        if tcb.snd_wnd == 0:
            # the window closed behind data in flight: the retransmission is a window
            # probe (Linux retransmits the head anyway), so the answer reopens it
            self._xmit(tcb, ACK, (tcb.snd_una - 1) & M)
        else:
            self._output(tcb)
        tcb.rto_at = now + tcb.rto
        if self.probe is not None:
            self.probe.loss(tcb, "rto")

    def _rtt_sample(self, tcb: TcpSocket, r: float) -> None:
        cfg = self.config
        if r < 0:
            r = 0.0
        if tcb.srtt == 0.0:
            tcb.srtt = r if r > 1e-6 else 1e-6
            tcb.rttvar = r / 2
        else:
            d = tcb.srtt - r
            tcb.rttvar = 0.75 * tcb.rttvar + 0.25 * (d if d >= 0 else -d)
            # at least 1 us, as Linux's srtt_us: thousands of 0 s samples (a bulk
            # transfer's ACKs handled in the wake-up that sent the data) would decay it
            # to 0.0, which means "no sample yet" (and TCP_INFO reports no RTT)
            srtt = 0.875 * tcb.srtt + 0.125 * r
            tcb.srtt = srtt if srtt > 1e-6 else 1e-6
        # Linux: rto = srtt + max(4*rttvar, rto_min)
        v = 4 * tcb.rttvar
        rto = tcb.srtt + (v if v > cfg.rto_min else cfg.rto_min)
        tcb.rto = rto if rto < cfg.rto_max else cfg.rto_max


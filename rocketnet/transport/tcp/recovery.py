"""Loss recovery: the SACK scoreboard (RFC 6675), pipe, holes, fast
recovery (RFC 6582 NewReno without SACK) and retransmission."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...wire.tcp import ACK, FIN
from .consts import (
    HALF,
    M,
)

if TYPE_CHECKING:
    from .tcb import TcpSocket


class RecoveryMixin:
    """TcpLayer's recovery part."""

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
        self._arm(tcb, tcb.rto_at)
        if self.probe is not None:
            self.probe.loss(tcb, "recovery")

    def _retransmit_range(self, tcb: TcpSocket, start: int, end: int) -> int:
        """Resend up to one MSS from absolute position ``start`` (below ``end``).
        Returns the bytes sent, -1 on device backpressure."""
        off = start - tcb.bytes_acked
        buffered = tcb.sndbuf.length
        if off < 0 or off >= buffered:
            return 0
        n = end - start
        mss = self._cur_mss(tcb)
        if n > mss:
            n = mss
        if n > buffered - off:
            n = buffered - off
        if not self._xmit(tcb, ACK, (tcb.data_seq + off) & M, off, n):
            return -1
        tcb.retx_next = start + n
        tcb.total_retrans += 1
        tcb.bytes_retrans += n
        tcb.tx.resend(start, start + n, self.now)
        self.stats["tcp_retransmits"] += 1
        return n

    def _retransmit_head(self, tcb: TcpSocket) -> None:
        """Resend one segment starting at snd_una."""
        off = (tcb.snd_una - tcb.data_seq) & M
        buffered = tcb.sndbuf.length
        if off > buffered:
            return
        n = min(buffered - off, self._cur_mss(tcb))
        flags = ACK
        if tcb.fin_queued and off + n == buffered:
            flags |= FIN
        if n == 0 and not flags & FIN:
            return
        if self._xmit(tcb, flags, tcb.snd_una, off, n):
            tcb.total_retrans += 1
            tcb.bytes_retrans += n
            self.stats["tcp_retransmits"] += 1
            a = self._abs(tcb, tcb.snd_una)
            tcb.tx.resend(a, a + n + (flags & FIN), self.now)

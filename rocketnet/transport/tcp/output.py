"""Segment output: building segments, what may be sent now (Nagle, cork,
windows), ACKs and resets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...iface import InterfaceWrapper
from ...wire.ipv4 import Ipv4Repr
from ...wire.ipv6 import Ipv6Repr
from ...wire.tcp import ACK, FIN, PSH, RST, SYN, URG, TcpOptions, TcpRepr
from .consts import (
    HALF,
    SEND_STATES,
    SYN_RECEIVED,
    SYN_SENT,
    SYNCHRONIZED,
    U32,
    U32X2,
    M,
)

if TYPE_CHECKING:
    from .tcb import TcpSocket


class OutputMixin:
    """TcpLayer's output part."""

    def _xmit(
        self,
        tcb: TcpSocket,
        flags: int,
        seq: int,
        start: int = 0,
        plen: int = 0,
        opts: bytes = b"",
    ) -> bool:
        """Build and send one segment of tcb's connection. Payload is the send
        buffer's bytes [start, start + plen). Returns False on device backpressure."""
        iface = tcb.iface
        if iface is None:
            return False
        v4 = tcb.version == 4
        thl = 20 + len(opts) if opts else 20
        ts = tcb.ts_ok and not flags & SYN
        if ts:
            thl += 12
        blocks = None
        if (tcb.ooo.starts or tcb.dsack is not None) and flags & ACK and tcb.sack_ok:
            blocks = self._sack_blocks(tcb, 3 if ts else 4, plen == 0)
            thl += 4 + 8 * len(blocks)
            if not blocks:
                blocks = None
                thl -= 4
        # the frame first: the connection's state changes only for a segment that goes
        tok = iface.transmit(tcb.rip, (20 if v4 else 40) + thl + plen)
        if tok is None:
            self.stats["tcp_tx_backpressure"] += 1
            return False
        if flags & ACK:
            ack = tcb.last_ack_sent = tcb.rcv_nxt
            if flags & SYN:
                win = _syn_window(tcb)
            else:
                # the window we advertise (and rcv_adv), as Linux __tcp_select_window
                free = tcb.rcvbuf_limit - tcb.rcvbuf.length
                if free < 0:
                    free = 0
                lim = tcb.rcvbuf_limit >> 1
                mss = tcb.mss
                if free < (lim if lim < mss else mss):
                    free = 0  # receiver-side silly window avoidance
                elif free > 4 * tcb.advmss and self.mem.over(tcb.rcvbuf.capacity):
                    free = 4 * tcb.advmss  # memory pressure: the clamp
                cur = (tcb.rcv_adv - ack) & M
                if cur & HALF:
                    cur = 0
                if free < cur:
                    free = cur  # never shrink the window
                sc = tcb.rcv_wscale
                win = free >> sc
                if win > 0xFFFF:
                    win = 0xFFFF
                edge = (ack + (win << sc)) & M
                if ((edge - tcb.rcv_adv) & M) < HALF:
                    tcb.rcv_adv = edge
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
        urp = 0
        if tcb.urg_mode:
            du = (tcb.snd_up - seq) & M
            if 0 < du < HALF:
                flags |= URG
                urp = du if du < 0xFFFF else 0xFFFF
        # the timestamp option goes with the headers (emit_tcp packs it), before SACK
        tsval = (int(self.now * 1000) + tcb.ts_offset) & M if ts else -1
        if blocks is not None:
            opts += U32.pack(0x01010500 | (2 + 8 * len(blocks)))
            for left, right in blocks:
                opts += U32X2.pack(left, right)
        iface.emit_tcp(tok, v4, tcb.lip, tcb.rip, tcb.ttl if v4 else tcb.hops, tcb.tos,
                       tcb.local_port, tcb.rport, seq, ack, flags, win, urp, opts, tcb.sndbuf,
                       start, plen, tsval, tcb.ts_recent)
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
        ooo = tcb.ooo
        last = ooo.last
        first = None
        rest = []
        for st, en in zip(reversed(ooo.starts), reversed(ooo.ends)):
            if first is None and st <= last < en:
                first = ((base + st) & M, (base + en) & M)
            elif len(rest) < cap:
                rest.append(((base + st) & M, (base + en) & M))
        out = [first] if first is not None else []
        out.extend(rest)
        return out[:cap]

    def _send_ack(self, tcb: TcpSocket) -> bool:
        top = tcb.snd_max
        if ((top - tcb.snd_una) & M) <= tcb.snd_wnd:
            return self._xmit(tcb, ACK, top)  # inside the peer's window: _acceptable_seq's answer
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
                    self._arm(tcb, tcb.rto_at)
            if tcb.ack_pending and st == SYN_RECEIVED:
                tcb.ack_pending = False
            return True
        if st not in SEND_STATES:
            if tcb.ack_pending and st in SYNCHRONIZED:
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
        buffered = tcb.sndbuf.length
        data_end = (tcb.data_seq + buffered) & M
        mss = tcb.mss if not tcb.ooo.starts else self._cur_mss(tcb)
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
                        self._arm(tcb, tcb.rto_at)
                    break
                if n < mss and n == unsent and not tcb.fin_queued and not tcb.urg_mode:
                    if in_flight and not tcb.nodelay:
                        break  # Nagle: wait for more data or the ACK
                    if (tcb.cork or tcb.more) and not tcb.probe_push:
                        # cork / MSG_MORE: wait for more data, at most one probe
                        # timer (Linux: max(RTO, 200 ms), then tcp_write_wakeup)
                        if in_flight == 0 and tcb.rto_at is None:
                            tcb.rto_at = now + tcb.rto
                            self._arm(tcb, tcb.rto_at)
                        break
                flags = ACK
                last = n == unsent
                if last:
                    flags |= PSH
                    if tcb.fin_queued:
                        flags |= FIN
                if not self._xmit(tcb, flags, snd_nxt, off, n):
                    return False
                sent_any = True
                new_nxt = (snd_nxt + n + (1 if flags & FIN else 0)) & M
                dn = (new_nxt - tcb.snd_max) & M
                if dn and dn < HALF:
                    # new data (not a retransmission): tx.sent(_abs(new_nxt)), inline
                    a = (new_nxt - tcb.data_seq) & M
                    if a & HALF:
                        a -= 1 << 32
                    tcb.tx.segs.append((tcb.bytes_acked + a, now))
                    tcb.bytes_sent += n
                    tcb.snd_max = new_nxt
                else:
                    a = self._abs(tcb, snd_nxt)
                    tcb.tx.resend(a, a + n + (flags & FIN), self.now)
                    tcb.bytes_retrans += n
                tcb.snd_nxt = new_nxt
                if tcb.rto_at is None:
                    t = tcb.rto_at = now + tcb.rto
                    h = tcb.heap_at
                    if h is None or t < h:
                        self._arm(tcb, t)
                if last:
                    break  # the queue is sent (with the FIN if queued): no second pass
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
                    self._arm(tcb, tcb.rto_at)
                break
            else:
                break
        if tcb.ack_pending and not sent_any:
            return self._send_ack(tcb)
        return True

    def flush(self) -> bool:
        """Run output for every dirty connection. Returns True if anything was
        processed."""
        todo = self.dirty
        if not todo:
            return False
        self.dirty = {}  # what output marks now is for the next round
        for i, tcb in enumerate(todo):
            if not self._output(tcb):
                # device full: keep this and the rest for the next round
                dirty = self.dirty
                for t in list(todo)[i:]:
                    dirty[t] = None
                break
        return True

    def _raw_rst(
        self, iface: InterfaceWrapper | None, version: int, lip: bytes, rip: bytes, lport: int,
        rport: int, seq: int, ack: int, flags: int,
    ) -> None:
        """Send a reset that belongs to no connection (flags: RST or RST|ACK)."""
        if iface is None:
            return
        ip: Ipv4Repr | Ipv6Repr = (Ipv4Repr(lip, rip, 6, 20) if version == 4
                                   else Ipv6Repr(lip, rip, 6, 20))
        if not iface.dispatch(ip, TcpRepr(lport, rport, seq, ack, flags, 0, 0, b""), b""):
            self.stats["tcp_tx_backpressure"] += 1
            return
        self.stats["tcp_segments_sent"] += 1
        self._count("tcp_rst_sent")


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
    free = tcb.rcvbuf_limit - tcb.rcvbuf.length
    w = free if free < 0xFFFF else 0xFFFF
    if w < 0:
        w = 0
    edge = (tcb.rcv_nxt + w) & M
    tcb.rcv_adv = edge
    return w

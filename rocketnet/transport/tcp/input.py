"""Segment input: demultiplexing, the RFC 9293 3.10.7 segment-arrives
processing, ACK processing, SYN handling, urgent data and FIN."""

from __future__ import annotations

from ...iface import InterfaceWrapper
from ...iface.interface import IpRepr
from ...wire.checksum import pseudo_header_sum
from ...wire.checksum import verify as verify_checksum
from ...wire.tcp import ACK, FIN, PSH, RST, SYN, URG, TcpOptions, parse_tcp_options
from . import congestion
from .consts import (
    CLOSE_WAIT,
    CLOSED,
    CLOSING,
    ECONNREFUSED,
    ECONNRESET,
    EPIPE,
    ESTABLISHED,
    FIN_WAIT_1,
    FIN_WAIT_2,
    HALF,
    INT_MAX,
    LAST_ACK,
    LISTEN,
    RECV_STATES,
    SYN_RECEIVED,
    SYN_SENT,
    TCP,
    TCP_TS,
    TIME_WAIT,
    TS_WORD,
    U16,
    URG_NOTYET,
    URG_VALID,
    M,
)
from .listen import ListenEntry
from .tcb import TcpSocket

# the options an accepted connection inherits from its listener (TcpSocket attributes)
INHERITED = (
    "reuseaddr", "reuseport", "keepalive", "keepidle", "keepintvl", "keepcnt", "nodelay",
    "cork", "user_mss", "linger", "v6only", "ttl", "tos", "hops", "sndbuf_limit",
    "sndbuf_lock", "rcvbuf_limit", "rcvbuf_lock", "so_sndbuf", "so_rcvbuf", "congestion",
    "user_timeout", "oobinline",
)


class InputMixin:
    """TcpLayer's input part."""

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

    def ip_input(self, iface: InterfaceWrapper, ip: IpRepr, seg: memoryview) -> None:
        """IpHandler for poll_interfaces: a segment (``seg``) of the packet ``ip``."""
        version, src, dst = ip.version, ip.src, ip.dst
        n = seg.nbytes  # len(seg) without a call: the payload is a memoryview of bytes
        if n >= 32:  # the header and what would be the aligned timestamp option
            sport, dport, seq, ack, off, flags, window, _c, _u, word, tsval, tsecr = \
                TCP_TS.unpack_from(seg, 0)
        elif n >= 20:
            sport, dport, seq, ack, off, flags, window, _c, _u = TCP.unpack_from(seg, 0)
            word = tsval = tsecr = 0
        else:
            self._count("drop_tcp_truncated")
            return
        hl = (off >> 4) << 2
        if hl < 20 or hl > n:
            self._count("drop_tcp_data_offset")
            return
        if not iface.checksum_offload and not verify_checksum(
            seg, pseudo_header_sum(src, dst, 6, n)
        ):
            self._count("drop_tcp_checksum")
            return
        self.stats["tcp_segments_received"] += 1
        key = (dst, dport, src, sport)
        conns = self.conns
        if key not in conns:
            self._no_conn(iface, version, src, dst, sport, dport, seq, ack, flags, window,
                          seg, hl, n)
            return
        tcb = conns[key]
        tcb.segs_in += 1
        plen = n - hl
        # ---- header prediction (Linux tcp_rcv_established's fast path): ESTABLISHED, in
        # order, ACK (and PSH) only, no options or just the aligned timestamp option with
        # a TSval not older than TS.Recent, no SACK scoreboard. None of the general
        # path's checks (PAWS, window, RST, SYN, urgent, FIN) can fail or apply then.
        if (
            tcb.state == ESTABLISHED
            and (flags & (SYN | FIN | RST | URG | ACK)) == ACK
            and seq == tcb.rcv_nxt
            and not tcb.sacked
        ):
            predicted = hl == 20 or (hl == 32 and tcb.ts_ok and word == TS_WORD
                                     and not (tsval - tcb.ts_recent) & HALF)
            if predicted:
                if hl == 20:
                    tsecr = 0
                elif seq == tcb.last_ack_sent:
                    tcb.ts_recent = tsval
                if (ack == tcb.snd_una and plen and self.probe is None
                        and (window << tcb.snd_wscale) == tcb.snd_wnd):
                    # data acknowledging nothing new in the same window (a receiver's
                    # common segment): the window's bookkeeping alone, no ACK processing
                    # (Linux: tcp_update_wl instead of tcp_ack)
                    tcb.last_recv = self.now
                    wl1 = tcb.snd_wl1
                    if (wl1 - seq) & HALF or wl1 == seq:
                        tcb.snd_wl1 = seq
                        tcb.snd_wl2 = ack
                    self._accept_data(tcb, seg, hl, plen)
                elif self._process_ack(tcb, seq, ack, window, plen, tsecr) and plen:
                    self._accept_data(tcb, seg, hl, plen)
                return
        self._segment(tcb, seq, ack, flags, window, seg, hl, plen)

    def _accept_data(self, tcb: TcpSocket, seg: memoryview, hl: int, plen: int) -> None:
        free = tcb.rcvbuf_limit - tcb.rcvbuf.length
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
        buf = tcb.rcvbuf
        p = buf.head + buf.length
        if p + plen <= buf.capacity and not buf.ahead:
            buf.mv[p : p + plen] = seg[hl : hl + plen]  # ByteRing.write's common case
        else:
            buf.write(0, seg[hl : hl + plen], tcb.rcvbuf_limit, plen)
            a = buf.ahead - plen
            buf.ahead = a if a > 0 else 0
        buf.length += plen  # commit, inline
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
        self.events[tcb] = None
        if tcb.urg_state == URG_NOTYET:
            self._urg_arrived(tcb)
        tcb.unacked_segs += 1
        if not tcb.ato_init or gap > tcb.rto:
            # the first data, or data after a gap longer than a timeout (the sender is
            # restarting, maybe after losses): quickack mode (Linux tcp_event_data_recv)
            tcb.ato_init = True
            q = (tcb.rcvbuf_limit - tcb.rcvbuf.length) // (2 * tcb.mss)
            mq = self.config.max_quickacks
            tcb.quick = 2 if q <= 0 else (q if q < mq else mq)
        if tcb.ooo.starts or tcb.ooo_fin is not None:
            self._ooo_drain(tcb)
            self._send_ack(tcb)  # a hole was filled: tell the sender at once
        elif tcb.unacked_segs >= 2 and self._window_keeps_up(tcb):
            # a second segment, and the window would not shrink: ACK now (Linux
            # __tcp_ack_snd_check); a buffer filling up waits for the read that opens it
            # (TcpSocket.consume) or the timer, not an ACK that says "window smaller"
            self._send_ack(tcb)
        elif tcb.quick:
            tcb.ack_pending = True  # quickack mode: ACK at the end of this round
            self.dirty[tcb] = None
        elif tcb.delack_at is None:
            # delayed ACK: a reply, or the next segment, carries it; else the timer
            t = tcb.delack_at = self.now + self.config.delack
            h = tcb.heap_at
            if h is None or t < h:
                self._arm(tcb, t)

    @staticmethod
    def _window_keeps_up(tcb: TcpSocket) -> bool:
        """Whether the window we would offer now is no smaller than the one our last
        ACK offered: Linux's __tcp_select_window(sk) >= rcv_wnd, where the offer is
        capped (rcv_ssthresh) while over half the buffer is free."""
        free = tcb.rcvbuf_limit - tcb.rcvbuf.length
        return free * 2 >= tcb.rcvbuf_limit or free >= (tcb.rcv_adv - tcb.last_ack_sent) & M

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
        una_abs = (una - tcb.data_seq) & M  # recovery._abs, inline
        if una_abs & HALF:
            una_abs -= 1 << 32
        una_abs += tcb.bytes_acked
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
        if nd > sndbuf.length:
            nd = sndbuf.length  # the rest is our FIN
        if nd:
            mem = sndbuf.mem
            if nd == sndbuf.length and mem.held <= mem.mark:
                sndbuf.head = sndbuf.length = 0  # ByteRing.drop's drained case, inline
            else:
                sndbuf.drop(nd)
            tcb.data_seq = (tcb.data_seq + nd) & M
            tcb.bytes_acked += nd
            self.events[tcb] = None
        # at most one RTT sample; the timer's backoff ends only with one (RFC 6298 5)
        tx = tcb.tx
        segs = tx.segs
        if segs and not tx.resent and segs[-1][0] <= una_abs + d:
            # everything sent acknowledged, nothing resent: SendTimes.acked's first case
            r: float | None = now - segs[tx.head][1]
            tx.segs = []
            tx.head = 0
        else:
            r = tx.acked(una_abs, una_abs + d, now, sack_rtt, tsecr, tcb.ts_offset)
        if r is not None:
            self._rtt_sample(tcb, r)
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
        wl1 = tcb.snd_wl1
        if ((window << tcb.snd_wscale) == tcb.snd_wnd and self.probe is None
                and ((wl1 - seq) & HALF or wl1 == seq and not (ack - tcb.snd_wl2) & HALF)):
            tcb.snd_wl1 = seq  # _update_window's common case, inline: the same window
            tcb.snd_wl2 = ack
        else:
            self._update_window(tcb, seq, ack, window)
        # retransmission timer
        if tcb.snd_una == tcb.snd_max:
            tcb.rto_at = None
        else:
            t = tcb.rto_at = now + tcb.rto
            h = tcb.heap_at
            if h is None or t < h:
                self._arm(tcb, t)
        if tcb.sndbuf.length or tcb.fin_queued:
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
                if opened and tcb.sndbuf.length:
                    self.dirty[tcb] = None
                    if w and tcb.snd_una == tcb.snd_max and tcb.rto_at is not None:
                        tcb.rto_at = None  # persist timer no longer needed
            tcb.snd_wl1 = seq
            tcb.snd_wl2 = ack

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
        opts_of = lsock.__dict__        # plain attributes: one update, no call per name
        child.__dict__.update({name: opts_of[name] for name in INHERITED})
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
        mss = peer_mss if peer_mss < tcb.advmss else tcb.advmss
        if tcb.user_mss and tcb.user_mss < mss:
            mss = tcb.user_mss
        tcb.mss = mss if mss > 64 else 64
        if opts.wscale is not None:
            tcb.ws_ok = True
            tcb.snd_wscale = opts.wscale if opts.wscale < 14 else 14
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
            mss = tcb.mss - 12  # every segment carries the option
            tcb.mss = mss if mss > 64 else 64
        else:
            tcb.ts_ok = False
        if not cfg.window_scaling:
            tcb.ws_ok = False
            tcb.snd_wscale = 0
            tcb.rcv_wscale = 0
        tcb.cwnd = cfg.init_cwnd * tcb.mss
        self._sndbuf_expand(tcb)

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
            up = U16.unpack_from(seg, 18)[0]
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
            data_end = (tcb.data_seq + tcb.sndbuf.length) & M
            fin_acked = not tcb.sndbuf.length and tcb.snd_una == ((data_end + 1) & M)
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
        if st not in RECV_STATES:
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
        if 0 < back <= tcb.rcvbuf.length:
            tcb.urg_state = URG_VALID
            tcb.urg_byte = tcb.rcvbuf[tcb.rcvbuf.length - back]
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
            if tcb.sndbuf.length or tcb.fin_queued:
                self.dirty[tcb] = None
        else:
            # simultaneous open
            tcb.state = SYN_RECEIVED
            tcb.snd_nxt = tcb.iss
            self._output(tcb)

"""Buffer sizes: receive-buffer autotuning, send-buffer growth and moderation (the
window a segment advertises is output's _xmit's; the window update a read sends is
TcpSocket.consume's)."""

from __future__ import annotations

from typing import TYPE_CHECKING

SOCK_MIN_SNDBUF = 4608  # Linux: 2 * (2048 + the aligned sk_buff)

if TYPE_CHECKING:
    from .tcb import TcpSocket


class BuffersMixin:
    """TcpLayer's buffers part."""

    def rcvbuf_adjust(self, tcb: TcpSocket) -> None:
        """Receive-buffer autotuning (Linux tcp_rcv_space_adjust, "DRS"): once per
        round trip, if the application read more than in the last one, the buffer
        becomes room for twice that plus 16 segments, up to tcp_rmem's max. A reader
        that keeps up gets the window the path needs; a slow one keeps a small buffer.
        For a read when tcb.held_due(): autotuning on, a round trip since the last."""
        now = self.now
        read = tcb.bytes_received - tcb.rcvbuf.length - tcb.held
        copied = read - tcb.rcvq_read
        tcb.rcvq_time = now
        tcb.rcvq_read = read
        if copied <= tcb.rcvq_space or self.mem.over(tcb.rcvbuf.capacity):
            return  # (no growth under memory pressure, as Linux tcp_grow_window)
        tcb.rcvq_space = copied
        want = 2 * copied + 16 * tcb.advmss
        cap = self.config.rcvbuf
        if want > cap:
            want = cap
        if want > tcb.rcvbuf_limit:
            tcb.rcvbuf_limit = want

    def _sndbuf_expand(self, tcb: TcpSocket) -> None:
        """Room for two congestion windows (at least the initial one) in the send
        buffer, up to tcp_wmem's max, as Linux's tcp_sndbuf_expand counts them: each
        segment as the memory it may take (per_mss).  Not bounded by the peer's window:
        a peer that does not read lets Linux queue up to tcp_wmem's max."""
        if tcb.sndbuf_lock:
            return
        if self.mem.over(tcb.sndbuf.capacity):
            self.moderate_sndbuf(tcb)  # no growth (tcp_should_expand_sndbuf)
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
            self.events[tcb] = None

    def moderate_sndbuf(self, tcb: TcpSocket) -> None:
        """Memory pressure, the send ring over its share: the send buffer comes down
        to half what is queued (Linux sk_stream_moderate_sndbuf, when a write cannot
        get memory), so the writer waits until the queue drains below it."""
        if tcb.sndbuf_lock:
            return
        q = tcb.sndbuf.length >> 1
        if q < tcb.sndbuf_limit:
            tcb.sndbuf_limit = q if q > SOCK_MIN_SNDBUF else SOCK_MIN_SNDBUF

"""Out-of-order data: held in place in the receive ring (its ranges in an Assembler)
until the hole before it fills, and D-SACK reports of duplicates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .consts import (
    HALF,
    URG_NOTYET,
    M,
)

if TYPE_CHECKING:
    from .tcb import TcpSocket


class ReassemblyMixin:
    """TcpLayer's reassembly part."""

    def _dsack_old(self, tcb: TcpSocket, seq: int, plen: int) -> None:
        """Data from seq, plen long, starts below rcv_nxt: the next ACK reports the
        duplicate part (RFC 2883 D-SACK, as Linux's tcp_send_dupack / tcp_data_queue)."""
        if plen and tcb.sack_ok and (seq - tcb.rcv_nxt) & HALF:
            end = (seq + plen) & M
            if 0 < (end - tcb.rcv_nxt) & M < HALF:
                end = tcb.rcv_nxt
            tcb.dsack = (seq, end)

    def _ooo_queue(
        self, tcb: TcpSocket, d: int, seg: memoryview, hl: int, plen: int, fin: int,
    ) -> None:
        """Keep data that arrived ahead of rcv_nxt (d > 0 bytes ahead, within the
        window): written in place in the receive ring, its range recorded, within a
        bound on the number of ranges; answer with an immediate (duplicate) ACK
        carrying SACK blocks."""
        tcb.ooo_packets += 1
        start = tcb.bytes_received + d
        if fin:
            tcb.ooo_fin = start + plen
        if plen:
            if tcb.released:
                self._send_rst_for(tcb)
                self._enter_closed(tcb, 0)
                return
            ooo = tcb.ooo
            end = start + plen
            if not ooo.fits(start, end, self.config.ooo_max_blocks):
                self._count("drop_tcp_ooo_limit")
            else:
                tcb.rcvbuf.write(d, seg[hl : hl + plen], tcb.rcvbuf_limit, plen)
                dup = ooo.add(start, end)
                if dup is not None and tcb.sack_ok:
                    # some of it was here already: D-SACK the first overlap
                    # (tcp_data_queue_ofo)
                    base = tcb.rcv_nxt - tcb.bytes_received
                    tcb.dsack = ((base + dup[0]) & M, (base + dup[1]) & M)
        self._send_ack(tcb)

    def _ooo_drain(self, tcb: TcpSocket) -> None:
        """In-order data reached out-of-order data held in the ring: that becomes
        readable up to the next hole."""
        pos = tcb.bytes_received
        take = tcb.ooo.pop_front(pos) - pos
        if take > 0:
            tcb.rcvbuf.commit(take)
            tcb.rcv_nxt = (tcb.rcv_nxt + take) & M
            tcb.bytes_received += take
            self.stats["tcp_payload_bytes_received"] += take
        if tcb.urg_state == URG_NOTYET:
            self._urg_arrived(tcb)
        self.events[tcb] = None
        tcb.ack_pending = True
        self.dirty[tcb] = None
        if tcb.ooo_fin is not None and tcb.ooo_fin == tcb.bytes_received and not tcb.fin_received:
            self._rcv_fin(tcb)

"""The out-of-order queue: data ahead of rcv_nxt held until the hole
before it fills, and D-SACK reports of duplicates."""

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

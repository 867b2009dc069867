"""Round-trip time samples for one connection (RFC 6298, RFC 7323 4, as Linux's
tcp_clean_rtx_queue / tcp_sacktag / tcp_ack_update_rtt).

``SendTimes`` remembers when each segment of new data was first sent (by the absolute
stream position of its end) and which byte ranges were sent again. An ACK gives at
most one sample, in Linux's order of preference:

1. the cumulative ACK covers whole segments none of whose bytes were resent (Karn's
   rule): the time since the oldest of them was sent;
2. else a SACK block grew to end at a segment never resent: the time since it was sent;
3. else, with timestamps, the ACK advances snd_una and echoes a TSval no older than
   the first transmission of the oldest byte it acknowledges, nor than the latest
   retransmission of any byte it acknowledges. An older echo is the receiver's stale
   TS.Recent (RFC 7323 updates it only at the left window edge; the answer to a
   retransmission that arrives out of window echoes an earlier copy): Karn's
   ambiguity again, and such samples inflate the estimate by whole timeouts.

Positions are plain ints (no wrap); times are the engine's virtual seconds.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

from .consts import HALF, M

INF = float("inf")  # (pos, INF) sorts after every (pos, time)


class SendTimes:
    __slots__ = ("segs", "head", "resent")

    def __init__(self) -> None:
        # (end position, when first sent) of each segment of new data, ascending
        self.segs: list[tuple[int, float]] = []
        self.head = 0  # segs[:head] are acknowledged (dropped in batches)
        # sorted, merged [start, end, when last sent] of bytes sent again
        self.resent: list[list[Any]] = []

    def clear(self) -> None:
        self.segs = []
        self.head = 0
        self.resent = []

    def sent(self, end: int, now: float) -> None:
        """New data up to ``end`` went out for the first time."""
        self.segs.append((end, now))

    def resend(self, start: int, end: int, now: float) -> None:
        """Bytes [start, end) went out again: no sample may time them (Karn)."""
        r = self.resent
        i = len(r)
        while i and r[i - 1][0] > end:
            i -= 1
        # r[:i] start at or before end: merge with those reaching start
        j = i
        while j and r[j - 1][1] >= start:
            j -= 1
            if r[j][0] < start:
                start = r[j][0]
            if r[j][1] > end:
                end = r[j][1]
        r[j:i] = [[start, end, now]]

    def _clean(self, start: int, end: int) -> bool:
        for s, e, _t in self.resent:
            if s >= end:
                return True
            if e > start:
                return False
        return True

    def acked(self, una: int, ack: int, now: float, sack_rtt: float | None, tsecr: int,
              ts_offset: int) -> float | None:
        """snd_una advanced from ``una`` to ``ack``: forget what lies below it, and
        return the ACK's sample (the module's order; ``sack_rtt`` is the SACK
        blocks', ``tsecr`` the echoed timestamp, 0 if none), None if it gives none."""
        segs = self.segs
        oldest = first = None
        if segs:    # segs[head:] are not acknowledged yet (head < len(segs))
            h = self.head
            end, t = segs[h]
            if end > una:
                oldest = t  # the first transmission of the byte at una
            else:
                i = bisect_right(segs, (una, INF), h)
                if i < len(segs):
                    oldest = segs[i][1]
            if end <= ack:
                first = t
                if segs[-1][0] <= ack:
                    self.segs = []  # all acknowledged (a new list: no method call)
                    h = 0
                else:
                    h = bisect_right(segs, (ack, INF), h)
                    if h > 256 and h * 2 > len(segs):
                        del segs[:h]
                        h = 0
                self.head = h
        r = self.resent
        last = -1.0  # when the acknowledged bytes were last resent (-1.0: never)
        if r:
            for ent in r:
                if ent[0] >= ack:
                    break
                if ent[2] > last:
                    last = ent[2]
            while r and r[0][1] <= ack:
                del r[0]
        if first is not None and last < 0:
            return now - first
        if sack_rtt is not None:
            return sack_rtt
        if tsecr and oldest is not None:
            if last > oldest:
                oldest = last
            sent = (tsecr - (int(oldest * 1000) + ts_offset)) & M
            rtt = (int(now * 1000) + ts_offset - tsecr) & M
            if sent < HALF and rtt < HALF:
                return rtt / 1000.0
        return None

    def sack_sample(self, end: int, now: float) -> float | None:
        """A SACK block grew to ``end``: the RTT of the segment ending there, if it was
        never resent."""
        segs = self.segs
        i = bisect_left(segs, (end, -INF), self.head)
        if i == len(segs) or segs[i][0] != end:
            return None
        start = segs[i - 1][0] if i > 0 else end - 1
        if not self._clean(start, end):
            return None
        return now - segs[i][1]

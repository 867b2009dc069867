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


class SendTimes:
    __slots__ = ("ends", "times", "head", "resent")

    def __init__(self) -> None:
        self.ends: list[int] = []  # end position of each segment of new data, ascending
        self.times: list[float] = []  # when it was first sent
        self.head = 0  # ends[:head] are acknowledged (dropped in batches)
        # sorted, merged [start, end, when last sent] of bytes sent again
        self.resent: list[list[Any]] = []

    def clear(self) -> None:
        self.ends = []
        self.times = []
        self.head = 0
        self.resent = []

    def sent(self, end: int, now: float) -> None:
        """New data up to ``end`` went out for the first time."""
        self.ends.append(end)
        self.times.append(now)

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

    def acked(self, una: int) -> tuple[float | None, float]:
        """snd_una advanced to ``una``: forget what lies below it. Returns the first
        send time of the oldest segment now wholly acknowledged (None if none) and
        when the acknowledged bytes were last resent (-1.0: never)."""
        ends = self.ends
        h = self.head
        first = None
        n = len(ends)
        if h < n and ends[h] <= una:
            first = self.times[h]
            h = bisect_right(ends, una, h)
            if h == n:
                self.ends = []  # all acknowledged (new lists: no method calls per ACK)
                self.times = []
                h = 0
            elif h > 256 and h * 2 > n:
                del ends[:h]
                del self.times[:h]
                h = 0
            self.head = h
        r = self.resent
        last = -1.0
        for ent in r:
            if ent[0] >= una:
                break
            if ent[2] > last:
                last = ent[2]
        while r and r[0][1] <= una:
            del r[0]
        return first, last

    def first_sent(self, una: int) -> float | None:
        """When the segment holding position ``una`` was first sent."""
        i = bisect_right(self.ends, una, self.head)
        return self.times[i] if i < len(self.ends) else None

    def sack_sample(self, end: int, now: float) -> float | None:
        """A SACK block grew to ``end``: the RTT of the segment ending there, if it was
        never resent."""
        ends = self.ends
        i = bisect_left(ends, end, self.head)
        if i == len(ends) or ends[i] != end:
            return None
        start = ends[i - 1] if i > 0 else end - 1
        if not self._clean(start, end):
            return None
        return now - self.times[i]

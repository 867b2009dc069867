"""Which ranges of out-of-order data a receive ring holds (smoltcp's Assembler): the
bytes themselves are written in place in the ring, this keeps only their bounds.

Ranges are [start, end) in absolute stream positions (bytes since the connection's
first; ``bytes_received`` is the position of rcv_nxt), sorted, disjoint and not
touching, in two parallel lists so a lookup is a bisection. The count is bounded by
the caller (``TcpConfig.ooo_max_blocks``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator


class Assembler:
    __slots__ = ("starts", "ends", "last")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.last = 0  # start of the range changed last (the first SACK block)

    def __len__(self) -> int:
        return len(self.starts)

    def __bool__(self) -> bool:
        return bool(self.starts)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self.starts, self.ends)

    def held(self) -> int:
        """Bytes in all ranges."""
        return sum(self.ends) - sum(self.starts)

    def end(self) -> int:
        """End of the highest range (0 if none)."""
        return self.ends[-1] if self.ends else 0

    def fits(self, s: int, e: int, max_ranges: int) -> bool:
        """Whether adding [s, e) keeps at most ``max_ranges`` ranges."""
        if len(self.starts) < max_ranges:
            return True
        i = bisect_left(self.ends, s)
        return i < len(self.starts) and self.starts[i] <= e

    def add(self, s: int, e: int) -> tuple[int, int] | None:
        """Record [s, e) (s < e). Returns the first part of it that was held already
        (to report as a duplicate, RFC 2883), else None."""
        starts, ends = self.starts, self.ends
        i = bisect_left(ends, s)  # the first range that ends at or after s
        dup = None
        if i < len(starts) and starts[i] <= e:
            o_s = s if s > starts[i] else starts[i]
            o_e = e if e < ends[i] else ends[i]
            if o_e > o_s:
                dup = (o_s, o_e)
        j = i
        n = len(starts)
        ns, ne = s, e
        while j < n and starts[j] <= e:
            if starts[j] < ns:
                ns = starts[j]
            if ends[j] > ne:
                ne = ends[j]
            j += 1
        starts[i:j] = (ns,)
        ends[i:j] = (ne,)
        self.last = s
        return dup

    def pop_front(self, pos: int) -> int:
        """The in-order data now reaches ``pos``: remove the ranges that start at or
        before it and return the end of the contiguous data."""
        starts, ends = self.starts, self.ends
        k = 0
        n = len(starts)
        while k < n and starts[k] <= pos:
            if ends[k] > pos:
                pos = ends[k]
            k += 1
        if k:
            del starts[:k]
            del ends[:k]
        return pos

    def clear(self) -> None:
        self.starts = []
        self.ends = []

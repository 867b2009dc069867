"""Give memory back to the system after connections close.

Connection buffers are large blocks; freed, they stay with the allocator (glibc keeps
free heap pages mapped, and raises its mmap threshold after the first large free so
later buffers come from the heap too; PyPy frees raw buffers only at a major
collection). So when the number of live channels has fallen below its peak since the
last trim, by ``DROP`` or for ``INTERVAL`` seconds without more closing, the host
collects garbage and calls glibc's ``malloc_trim(0)``, at most once per ``INTERVAL``.
(Fixing the mmap threshold instead costs half the throughput: every buffer growth
then maps fresh pages.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

INTERVAL = 1.0
DROP = 16  # channels fewer than the peak since the last trim


def _malloc_trim():  # type: ignore[no-untyped-def]
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None     # not glibc: collecting is all there is


class Trimmer:
    def __init__(self) -> None:
        self.peak = 0
        self.live = 0
        self.last = 0.0  # the last trim
        self.changed = 0.0  # when the number of channels last changed
        self.trim = _malloc_trim()

    def due(self) -> float | None:
        """When a trim is waiting to run (the host loop must wake up for it)."""
        if self.live >= self.peak:
            return None
        last, changed = self.last, self.changed     # no max() call: per host wake-up
        return (last if last > changed else changed) + INTERVAL

    def tick(self, now: float, live: int) -> None:
        """Called once per host loop with the number of live channels."""
        if live != self.live:
            self.live = live
            self.changed = now
        if live > self.peak:
            self.peak = live
        if (live >= self.peak or now - self.last < INTERVAL
                or self.peak - live < DROP and now - self.changed < INTERVAL):
            return
        self.last = now
        self.peak = live
        gc.collect()
        if self.trim is not None:
            self.trim(0)

"""Give memory back to the system after connections close.

Connection buffers are large blocks. glibc raises its mmap threshold after the first
large free (up to 32 MiB), so from then on every buffer comes from a heap that
fragments and keeps its peak; PyPy frees raw buffers only at a major collection. So
the threshold is fixed at ``MMAP_THRESHOLD`` (larger buffers are mapped and unmapped on
their own), and when the number of live channels has fallen below its peak since the
last trim, by ``DROP`` or for ``INTERVAL`` seconds without more closing, the host
collects garbage and calls glibc's ``malloc_trim(0)``, at most once per ``INTERVAL``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

INTERVAL = 1.0
DROP = 16  # channels fewer than the peak since the last trim
MMAP_THRESHOLD = 1 << 20
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def _glibc():  # type: ignore[no-untyped-def]
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


class Trimmer:
    def __init__(self) -> None:
        self.peak = 0
        self.live = 0
        self.last = 0.0  # the last trim
        self.changed = 0.0  # when the number of channels last changed
        libc = _glibc()
        # not glibc: collecting is all there is
        self.trim = libc.malloc_trim if libc is not None else None
        if libc is not None:
            libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)

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

"""Fixed-size packet buffers carved from one block of memory (the seed's NetBufPool).

The block is anonymous mmap'd memory, as a TCP ring's storage (see
rocketnet/transport/tcp/ring.py): PyPy copies payload into and out of it with memcpy,
into a bytearray byte by byte.

``NetBufPool.alloc`` returns ``None`` when the pool is exhausted: callers treat that
as backpressure (try again after the device made progress), never as an error.
"""

from __future__ import annotations

import mmap


class NetBuf:
    """One buffer of a pool. ``view`` is a writable memoryview of ``capacity`` bytes;
    ``length`` is the number of valid bytes (the frame)."""

    __slots__ = ("pool", "index", "capacity", "length", "view", "in_use")

    def __init__(self, pool: NetBufPool, index: int, view: memoryview) -> None:
        self.pool = pool
        self.index = index
        self.capacity = len(view)
        self.length = 0
        self.view = view
        self.in_use = False

    def packet(self) -> memoryview:
        """The valid part of the buffer."""
        return self.view[: self.length]


class NetBufPool:
    """``count`` buffers of ``buf_size`` bytes each, with a free list (``free``: true
    while a buffer is free, a test without a call). ``spill``: the pool ``alloc``
    takes from when this one is empty or its buffers too small."""

    __slots__ = ("buf_size", "count", "memory", "_bufs", "free", "spill")

    def __init__(self, buf_size: int, count: int, spill: NetBufPool | None = None) -> None:
        if buf_size <= 0 or count <= 0:
            raise ValueError("buf_size and count must be positive")
        self.buf_size = buf_size
        self.count = count
        self.memory = mmap.mmap(-1, buf_size * count)
        mv = memoryview(self.memory)
        self._bufs = [
            NetBuf(self, i, mv[i * buf_size : (i + 1) * buf_size]) for i in range(count)
        ]
        self.free = list(reversed(self._bufs))
        self.spill = spill

    def alloc(self, size: int) -> NetBuf | None:
        """A free buffer able to hold ``size`` bytes (of the spill pool if this one
        has none), or None (exhausted / too big)."""
        free = self.free
        if size > self.buf_size or not free:
            pool = self.spill       # its buffer taken here: no second call per frame
            if pool is None:
                return None
            if pool.spill is not None:
                return pool.alloc(size)
            free = pool.free
            if size > pool.buf_size or not free:
                return None
        buf = free.pop()
        buf.length = size
        buf.in_use = True
        return buf

    def dealloc(self, buf: NetBuf) -> None:
        """Give a buffer back. Double frees and foreign buffers are ignored."""
        if buf.pool is not self or not buf.in_use:
            return
        buf.in_use = False
        buf.length = 0
        self.free.append(buf)

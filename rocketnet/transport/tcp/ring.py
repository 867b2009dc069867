"""A byte ring, the storage of a connection's send and receive buffers (smoltcp's
RingBuffer<u8>).

``length`` bytes from ``head`` are the readable ones (received in order and not yet
read; or sent and not yet acknowledged, and the unsent rest). A receive ring also
holds out-of-order data beyond them, written in place (``write`` at an offset past
the readable bytes; the Assembler says which ranges are there) and made readable
by ``commit`` once the hole before it fills. So each byte is copied once in and once
out, and nothing is ever inserted at or deleted from the front of a bytearray.

The storage grows on demand, doubling, to what the connection holds (never beyond
what its window or send buffer lets it hold), so an idle or slow connection keeps a
small ring; ``release`` gives it back when the connection is gone. All rings of a
stack charge their storage to one ``RingMemory`` (Linux's tcp_memory_allocated):
under memory pressure a ring over its share gives its storage back when it drains.

The storage is anonymous mmap'd memory, not a bytearray: raw memory outside the
garbage-collected heap, which PyPy copies with memcpy (into a bytearray it copies
byte by byte, and sends a slice of one only after copying it into a new string: a
PyPy host moved bulk TCP 4x slower than CPython for that alone); CPython copies
both alike. Released, it goes back to the system at once (munmap), not at the next
collection, and leaves no hole in the heap; but a released ring's storage, a little
per size, is kept for the next connections' rings (RingMemory.keep, SPARE_BYTES),
except under pressure.
"""

from __future__ import annotations

import mmap
import sys

MIN_CAPACITY = 4096
# Released storage is reused only where mmap refuses a resize while a view of it is
# alive (CPython); PyPy allows it, and a stale view would then write into another
# connection's ring instead of failing.
_VIEWS_CHECKED = sys.implementation.name == "cpython"
# released storage a stack keeps per size for the next rings (bytes): a connection's
# rings are made and released with it, and each fresh mapping cost an mmap, a munmap
# and a page fault per page touched
SPARE_BYTES = 256 * 1024


class RingMemory:
    """The storage all rings of a stack hold (Linux's tcp_memory_allocated) against
    tcp_mem's pressure mark and hard limit. Above the mark a ring is over its share
    when it holds more than the limit divided among the rings holding storage (Linux
    __sk_mem_raise_allocated's fair share): then its buffer stops growing and, when it
    drains, its storage is given back. So a few busy connections run free and a
    hundred share the limit."""

    __slots__ = ("held", "rings", "mark", "limit", "spare")

    def __init__(self, mark: int, limit: int) -> None:
        self.held = 0
        self.rings = 0  # rings holding storage
        self.mark = mark
        self.limit = limit
        self.spare: dict[int, list[mmap.mmap]] = {}  # released storage by size, not held

    def over(self, cap: int) -> bool:
        """A ring of ``cap`` bytes is over its share under memory pressure."""
        return self.held > self.mark and cap * self.rings > self.limit

    def take(self, size: int) -> mmap.mmap:
        """Storage of ``size`` bytes: a kept one, else a fresh mapping."""
        kept = self.spare.get(size)
        return kept.pop() if kept else mmap.mmap(-1, size)

    def keep(self, buf: mmap.mmap, size: int) -> bool:
        """Keep released storage for the next rings; False if it is not kept (under
        memory pressure, SPARE_BYTES of its size kept already, a view of it still
        alive, or an interpreter that cannot tell: it goes back to the system)."""
        if not _VIEWS_CHECKED:
            return False
        kept = self.spare.setdefault(size, [])
        if (len(kept) + 1) * size > SPARE_BYTES or self.held > self.mark:
            return False
        try:
            buf.resize(size)    # the same size: CPython refuses while a view is alive
        except (BufferError, ValueError, OSError):
            return False
        kept.append(buf)
        return True


class ByteRing:
    """Readable bytes [head, head + length) modulo the capacity, plus ``ahead``
    bytes after them that may hold data written ahead of its turn."""

    __slots__ = ("buf", "mv", "capacity", "head", "length", "ahead", "mem")

    def __init__(self, mem: RingMemory | None = None) -> None:
        self.mem = mem if mem is not None else RingMemory(1 << 62, 1 << 62)
        self.buf = bytearray()
        self.mv = memoryview(self.buf)
        self.capacity = 0  # len(buf), kept: the per-segment paths read it
        self.head = 0
        self.length = 0
        self.ahead = 0  # extent of bytes written past the readable ones

    def __len__(self) -> int:
        return self.length

    def __bool__(self) -> bool:
        return self.length > 0

    def __getitem__(self, i: int) -> int:
        """The i-th readable byte (0 <= i < length)."""
        if not 0 <= i < self.length:
            raise IndexError(i)
        p = self.head + i
        cap = self.capacity
        return self.mv[p - cap if p >= cap else p]

    def reserve(self, need: int, most: int = 0) -> None:
        """Room for ``need`` bytes from head (readable plus written ahead): grow the
        storage, doubling, to hold them, but not past ``most`` (the buffer's size, if
        given) unless ``need`` is larger; keeps the contents."""
        cap = self.capacity
        if need <= cap:
            return
        new = cap * 2 if cap else MIN_CAPACITY
        while new < need:
            new *= 2
        if most and new > most:
            new = need if need > most else most
        buf = self.mem.take(new)
        mv = memoryview(buf)
        if cap:
            h = self.head
            mv[: cap - h] = self.mv[h:]
            mv[cap - h : cap] = self.mv[:h]
        self._unmap()
        self.buf = buf
        self.mv = mv
        self.capacity = new
        self.head = 0
        mem = self.mem
        mem.held += new - cap
        if not cap:
            mem.rings += 1

    def write(self, off: int, data: bytes | bytearray | memoryview, most: int = 0,
              n: int = -1) -> int:
        """Put ``data`` at ``off`` bytes past the readable ones (0: where the next
        readable byte goes), growing the storage if needed (see reserve); ``commit``
        makes it readable. ``n`` is len(data) if the caller has it (a received
        segment's payload length: no len() per segment). Returns len(data)."""
        if n < 0:
            n = len(data)
        p = self.length + off
        if p + n > self.capacity:
            self.reserve(p + n, most)
        cap = self.capacity
        p += self.head
        if p >= cap:
            p -= cap
        first = cap - p
        if n <= first:
            self.mv[p : p + n] = data
        else:
            src = data if isinstance(data, memoryview) else memoryview(data)
            mv = self.mv
            mv[p:] = src[:first]
            mv[: n - first] = src[first:]
        if off + n > self.ahead:
            self.ahead = off + n
        return n

    def append(self, data: bytes | bytearray | memoryview, most: int = 0) -> None:
        """Add readable bytes at the tail (write at 0, then commit)."""
        n = self.write(0, data, most)
        self.length += n
        a = self.ahead - n
        self.ahead = a if a > 0 else 0

    def commit(self, n: int) -> None:
        """The ``n`` bytes written past the readable ones become readable."""
        self.length += n
        a = self.ahead - n
        self.ahead = a if a > 0 else 0

    def drop(self, n: int) -> None:
        """Discard the first ``n`` readable bytes (read, or acknowledged)."""
        length = self.length - n
        if length <= 0 and self.ahead == 0:
            mem = self.mem
            if mem.held > mem.mark and mem.over(self.capacity):   # no call without pressure
                self.release()  # drained, over its share under pressure: charge nothing
                return
            self.head = 0  # empty: start over at the front, the largest contiguous room
            self.length = 0
            return
        p = self.head + n
        cap = self.capacity
        self.head = p - cap if p >= cap else p
        self.length = length

    def read(self, n: int) -> bytes:
        """Take the first ``n`` readable bytes (n <= length) out of the ring."""
        h = self.head
        e = h + n
        cap = self.capacity
        mv = self.mv
        data = bytes(mv[h:e]) if e <= cap else b"".join((mv[h:], mv[: e - cap]))
        self.drop(n)
        return data

    def copy_to(self, dst: memoryview, at: int, off: int, n: int) -> None:
        """Copy readable bytes [off, off + n) to ``dst[at:at + n]`` (a frame)."""
        cap = self.capacity
        p = self.head + off
        if p >= cap:
            p -= cap
        first = cap - p
        mv = self.mv
        if n <= first:
            dst[at : at + n] = mv[p : p + n]
        else:
            dst[at : at + first] = mv[p:]
            dst[at + first : at + n] = mv[: n - first]

    def release(self) -> None:
        """Give the storage back (the connection is gone, or the ring drained under
        memory pressure)."""
        cap = self.capacity
        if cap:
            self.mem.held -= cap
            self.mem.rings -= 1
        self._unmap(keep=True)
        self.buf = bytearray()
        self.mv = memoryview(self.buf)
        self.capacity = self.head = self.length = self.ahead = 0

    def _unmap(self, keep: bool = False) -> None:
        """Let go of the storage (the ring takes new storage or none next): unmapped,
        or with keep kept for the next rings where RingMemory.keep takes it."""
        self.mv.release()
        if self.capacity and not (keep and self.mem.keep(self.buf, self.capacity)):
            try:
                self.buf.close()
            except BufferError:
                pass    # a view of it is still alive (CPython): unmapped with the last one

"""Fragment reassembly for IPv4 (RFC 791) and IPv6 (RFC 8200 4.5), with limits.

Sans-I/O: time comes in as ``now``. A datagram not complete ``timeout`` seconds after
its first fragment is dropped; the fragments held by all datagrams never exceed
``max_bytes`` (the oldest datagrams are evicted first, as Linux does). Overlapping
fragments drop the whole datagram (RFC 5722, Linux for IPv4 too); an exact duplicate
is ignored (networks duplicate).
"""

from __future__ import annotations

from collections import OrderedDict

MAX_DATAGRAM = 65535


class _Datagram:
    __slots__ = ("deadline", "total", "frags", "size", "first")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.total = -1
        self.frags: list[tuple[int, bytes]] = []
        self.size = 0
        self.first: object = None     # extra data kept from the offset-0 fragment


class Reassembler:
    def __init__(self, stats: dict[str, int], prefix: str, max_bytes: int = 4 << 20,
                 timeout: float = 30.0, max_datagrams: int = 1024) -> None:
        self.stats = stats
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.max_datagrams = max_datagrams
        self.pending: OrderedDict[tuple, _Datagram] = OrderedDict()
        self.mem = 0

    def _count(self, reason: str) -> None:
        k = self.prefix + reason
        self.stats[k] = self.stats.get(k, 0) + 1

    def _drop(self, key: tuple) -> None:
        d = self.pending.pop(key)
        self.mem -= d.size

    def add(self, key: tuple, offset: int, more: bool, data: bytes | memoryview, now: float,
            first: object = None) -> tuple[bytes, object] | None:
        """Add one fragment; returns (payload, first-fragment data) once complete."""
        n = len(data)
        end = offset + n
        if end > MAX_DATAGRAM:
            self._count("frag_too_big")
            if key in self.pending:
                self._drop(key)
            return None
        if more and (n == 0 or n & 7):
            self._count("frag_bad_len")
            return None
        d = self.pending.get(key)
        if d is None:
            if len(self.pending) >= self.max_datagrams:
                self._evict_oldest()
            d = self.pending[key] = _Datagram(now + self.timeout)
        if not more:
            if d.total >= 0 and d.total != end:
                self._count("frag_overlap")
                self._drop(key)
                return None
            d.total = end
        elif d.total >= 0 and end > d.total:
            self._count("frag_overlap")
            self._drop(key)
            return None
        for o, b in d.frags:
            e = o + len(b)
            if o < end and offset < e:
                if o == offset and e == end:
                    self._count("frag_duplicate")
                    return None
                self._count("frag_overlap")
                self._drop(key)
                return None
        while self.mem + n > self.max_bytes and self.pending:
            oldest = next(iter(self.pending))
            if oldest == key:
                self._count("frag_memory")
                self._drop(key)
                return None
            self._count("frag_memory")
            self._drop(oldest)
        d.frags.append((offset, bytes(data)))
        d.size += n
        self.mem += n
        if offset == 0 and first is not None:
            d.first = first
        if d.total >= 0 and d.size == d.total:
            self._drop(key)
            d.frags.sort(key=lambda f: f[0])
            self.stats[self.prefix + "reassembled"] = self.stats.get(
                self.prefix + "reassembled", 0) + 1
            return b"".join(b for _o, b in d.frags), d.first
        return None

    def _evict_oldest(self) -> None:
        self._count("frag_memory")
        self._drop(next(iter(self.pending)))

    def poll(self, now: float) -> None:
        p = self.pending
        while p:
            key, d = next(iter(p.items()))
            if d.deadline > now:
                break
            self._count("frag_timeout")
            self._drop(key)

    def next_deadline(self) -> float | None:
        if not self.pending:
            return None
        return next(iter(self.pending.values())).deadline

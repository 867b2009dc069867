"""The neighbor cache of an Ethernet interface (ARP for IPv4, NDP for IPv6): data and
its rules only; the interface's neighbor step (``InterfaceWrapper.resolve``) uses it
and sends the solicitations.

A frame for an unresolved neighbor waits in that neighbor's pending queue (bounded)
while solicitations go out; the queue is flushed when the reply arrives, or dropped
after ``max_probes`` unanswered solicitations (then the IP layer is told, so a
connecting socket gets EHOSTUNREACH as on Linux).

Entries are REACHABLE for ``reachable_time`` after a confirmation, then STALE: still
used, but the next use sends a solicitation, and an entry unconfirmed for
``max_probes * retrans`` more is removed. Sans-I/O: the interface passes the time in.
"""

from __future__ import annotations

from collections import deque

INCOMPLETE = "INCOMPLETE"
REACHABLE = "REACHABLE"
STALE = "STALE"
PROBE = "PROBE"
FAILED = "FAILED"
BROADCAST = b"\xff" * 6


def solicited_node(addr: bytes) -> bytes:
    return b"\xff\x02" + b"\x00" * 9 + b"\x01\xff" + addr[13:16]


def multicast_mac(addr: bytes) -> bytes:
    if len(addr) == 4:
        return b"\x01\x00\x5e" + bytes((addr[1] & 0x7F,)) + addr[2:4]
    return b"\x33\x33" + addr[12:16]


class Neighbor:
    __slots__ = ("ip", "mac", "state", "expires", "probes", "next_probe", "pending")

    def __init__(self, ip: bytes) -> None:
        self.ip = ip
        self.mac: bytes | None = None
        self.state = INCOMPLETE
        self.expires = 0.0
        self.probes = 0
        self.next_probe = 0.0
        self.pending: deque[bytearray] = deque()    # whole frames, destination MAC unset


class NeighborCache:
    def __init__(self, stats: dict[str, int], reachable_time: float = 30.0,
                 retrans: float = 1.0, max_probes: int = 3, pending_max: int = 64,
                 max_entries: int = 1024) -> None:
        self.stats = stats
        self.reachable_time = reachable_time
        self.retrans = retrans
        self.max_probes = max_probes
        self.pending_max = pending_max
        self.max_entries = max_entries
        self.entries: dict[bytes, Neighbor] = {}
        # the earliest time an entry may need the timers (never later than the first
        # deadline, maybe earlier): the interface scans the entries only once it is due
        self.due: float | None = None

    def note(self, t: float) -> None:
        """An entry got a deadline (a probe to send, an expiry) at ``t``."""
        if self.due is None or t < self.due:
            self.due = t

    def _count(self, k: str) -> None:
        self.stats[k] = self.stats.get(k, 0) + 1

    def confirm(self, ip: bytes, mac: bytes, now: float, create: bool = True) -> Neighbor | None:
        """Record ip -> mac (a reply, or a request from ip). Returns the entry."""
        e = self.entries.get(ip)
        if e is None:
            if not create:
                return None
            e = self.add(ip, now)
        e.mac = mac
        e.state = REACHABLE
        e.expires = now + self.reachable_time
        e.probes = 0
        self.note(e.expires)
        return e

    def _gc(self, now: float, force: bool = False) -> None:
        for ip, e in list(self.entries.items()):
            if e.state == STALE or force and e.state != REACHABLE:
                del self.entries[ip]

    def lookup(self, ip: bytes) -> Neighbor | None:
        return self.entries.get(ip)

    def add(self, ip: bytes, now: float) -> Neighbor:
        """A new INCOMPLETE entry (the oldest unconfirmed ones make room)."""
        if len(self.entries) >= self.max_entries:
            self._gc(now, force=True)
        e = self.entries[ip] = Neighbor(ip)
        e.next_probe = now
        self.note(now)
        return e

    def hold(self, e: Neighbor, frame: bytearray) -> None:
        """Queue a frame until e resolves (the oldest goes when the queue is full)."""
        if len(e.pending) >= self.pending_max:
            e.pending.popleft()
            self._count("drop_neigh_queue_full")
        e.pending.append(frame)

    def next_deadline(self) -> float | None:
        """The first deadline, by a scan of the entries (``due`` is the cheap bound)."""
        t = None
        for e in self.entries.values():
            if e.state in (INCOMPLETE, PROBE):
                d = e.next_probe
            elif e.state == REACHABLE:
                d = e.expires
            else:
                continue
            if t is None or d < t:
                t = d
        return t

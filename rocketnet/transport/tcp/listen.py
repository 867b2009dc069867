"""ListenTable: port -> listen entries, each with its SYN queue and accept queue."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .tcb import TcpSocket

ANY = b""  # wildcard marker in coverage sets


def overlaps(a: bytes | None, b: bytes | None) -> bool:
    """Do two address coverages (None = family not covered, ANY = whole family,
    else one address) share an address?"""
    if a is None or b is None:
        return False
    return a == ANY or b == ANY or a == b


class ListenEntry:
    __slots__ = ("sock", "backlog", "syn_queue", "accept_queue")

    def __init__(self, sock: TcpSocket, backlog: int) -> None:
        self.sock = sock
        self.backlog = backlog
        self.syn_queue: dict[Any, TcpSocket] = {}
        self.accept_queue: deque[TcpSocket] = deque()

    def accept_full(self) -> bool:
        # Linux sk_acceptq_is_full: ack_backlog > max_ack_backlog
        return len(self.accept_queue) > self.backlog

    def syn_full(self) -> bool:
        return len(self.syn_queue) > max(self.backlog, 64)


class ListenTable:
    def __init__(self) -> None:
        self.ports: dict[int, list[ListenEntry]] = {}

    def add(self, sock: TcpSocket, backlog: int) -> ListenEntry:
        entry = ListenEntry(sock, backlog)
        self.ports.setdefault(sock.local_port, []).append(entry)
        return entry

    def remove(self, entry: ListenEntry) -> None:
        lst = self.ports.get(entry.sock.local_port)
        if lst and entry in lst:
            lst.remove(entry)
            if not lst:
                del self.ports[entry.sock.local_port]

    def lookup(self, version: int, dst: bytes, port: int) -> ListenEntry | None:
        """Best listener for a SYN to dst:port (exact address beats wildcard, same
        family beats dual-stack)."""
        lst = self.ports.get(port)
        if not lst:
            return None
        best = None
        best_score = -1
        for e in lst:
            s = e.sock
            cover = s.cover4 if version == 4 else s.cover6
            if cover is None:
                continue
            if cover == ANY:
                score = 0
            elif cover == dst:
                score = 2
            else:
                continue
            if (version == 4) == (s.family == 2):
                score += 1
            if score > best_score:
                best, best_score = e, score
        return best

    def conflicts(self, sock: TcpSocket) -> bool:
        """Would ``sock`` listening clash with an existing listener (same port,
        overlapping addresses, not both SO_REUSEPORT)?"""
        for e in self.ports.get(sock.local_port, ()):
            o = e.sock
            if o is sock:
                continue
            if sock.reuseport and o.reuseport:
                continue
            if overlaps(o.cover4, sock.cover4) or overlaps(o.cover6, sock.cover6):
                return True
        return False

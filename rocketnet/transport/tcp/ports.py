"""Binding (the bind table, ephemeral ports) and listen/accept."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ...errors import SocketError
from .consts import (
    CLOSED,
    EADDRINUSE,
    EADDRNOTAVAIL,
    EINVAL,
    LISTEN,
    TIME_WAIT,
)
from .listen import ANY, overlaps

if TYPE_CHECKING:
    from .tcb import TcpSocket


class PortsMixin:
    """TcpLayer's ports part."""

    def _bind_conflict(self, tcb: TcpSocket, port: int, cover4: Any, cover6: Any) -> bool:
        for o in self.bound.get(port, ()):
            if o is tcb:
                continue
            if not (overlaps(o.cover4, cover4) or overlaps(o.cover6, cover6)):
                continue
            if tcb.reuseport and o.reuseport:
                continue
            # Linux inet_bind_conflict: a TIME_WAIT socket keeps the SO_REUSEADDR of
            # the socket it was, so both must have it, as for any non-listener
            if tcb.reuseaddr and o.reuseaddr and o.state != LISTEN:
                continue
            return True
        return False

    def bind(self, tcb: TcpSocket, addr: bytes, port: int, for_connect: bool = False,
             no_port: bool = False) -> None:
        """Bind ``tcb`` to ``addr`` (socket-family form; all zeroes = any) and
        ``port`` (0 = ephemeral). Raises EINVAL / EADDRINUSE.  no_port
        (IP_BIND_ADDRESS_NO_PORT) with port 0: only the address now; connect or listen
        picks the port (and the socket may be bound again until then)."""
        if tcb.in_bind_table or tcb.state != CLOSED:
            raise SocketError(EINVAL)
        if no_port and port == 0:
            tcb.bind_addr = addr
            return
        cover4, cover6 = _coverage(tcb.family, addr, tcb.v6only)
        if port == 0:
            port = self._pick_port(tcb, cover4, cover6, for_connect)
        elif self._bind_conflict(tcb, port, cover4, cover6):
            raise SocketError(EADDRINUSE)
        tcb.bind_addr = addr
        tcb.local_port = port
        tcb.cover4, tcb.cover6 = cover4, cover6
        self.bound.setdefault(port, []).append(tcb)
        tcb.in_bind_table = True

    @staticmethod
    def _unbound_addr(tcb: TcpSocket) -> bytes:
        """The address a socket without a port binds to: the one an
        IP_BIND_ADDRESS_NO_PORT bind gave, else any."""
        if tcb.bind_addr is not None:
            return tcb.bind_addr
        return b"\x00" * (4 if tcb.family == 2 else 16)

    def _pick_port(
        self, tcb: TcpSocket, cover4: Any, cover6: Any, for_connect: bool = False
    ) -> int:
        lo, hi = self.config.ephemeral
        r = tcb.port_range
        if r:
            # IP_LOCAL_PORT_RANGE narrows the range (inet_sk_get_local_port_range)
            if lo <= r & 0xFFFF <= hi:
                lo = r & 0xFFFF
            if lo <= r >> 16 <= hi:
                hi = r >> 16
        span = hi - lo + 1
        start = self._rng.randrange(span)
        # connect() tries ports of lo's parity first, bind(0) the others (as Linux,
        # which keeps the two from exhausting each other's ports)
        first = lo & 1 if for_connect else (lo & 1) ^ 1
        bound = self.bound
        for p in _port_order(lo, span, start, first):
            if p not in bound:
                return p
        for p in _port_order(lo, span, start, first):
            if not self._bind_conflict(tcb, p, cover4, cover6):
                return p
        if for_connect:
            # Linux reuses TIME_WAIT ports for outgoing connections on loopback
            # (tcp_tw_reuse=2); connect() then retires a TIME_WAIT with the same 4-tuple.
            for p in _port_order(lo, span, start, first):
                if all(o.state == TIME_WAIT for o in bound.get(p, ())):
                    return p
        raise SocketError(EADDRINUSE if not for_connect else EADDRNOTAVAIL)

    def _unbind(self, tcb: TcpSocket) -> None:
        if tcb.in_bind_table:
            lst = self.bound.get(tcb.local_port)
            if lst is not None:
                try:
                    lst.remove(tcb)
                except ValueError:
                    pass
                if not lst:
                    del self.bound[tcb.local_port]
            tcb.in_bind_table = False

    def listen(self, tcb: TcpSocket, backlog: int) -> None:
        somax = self.config.somaxconn
        if backlog < 0 or backlog > somax:
            backlog = somax
        if tcb.state == LISTEN:
            assert tcb.listen_entry is not None
            tcb.listen_entry.backlog = backlog
            return
        if tcb.state != CLOSED or tcb.ever_connected:
            raise SocketError(EINVAL)
        if not tcb.in_bind_table:
            self.bind(tcb, self._unbound_addr(tcb), 0)
        if self.listen_table.conflicts(tcb):
            raise SocketError(EADDRINUSE)
        tcb.listen_entry = self.listen_table.add(tcb, backlog)
        tcb.state = LISTEN
        self._mark(tcb)

    def accept(self, tcb: TcpSocket) -> TcpSocket | None:
        entry = tcb.listen_entry
        if tcb.state != LISTEN or entry is None:
            raise SocketError(EINVAL)
        if not entry.accept_queue:
            return None
        child = entry.accept_queue.popleft()
        child.parent = None
        return child


def _port_order(lo: int, span: int, start: int, parity: int) -> Iterator[int]:
    """The ports lo..lo+span-1 from lo+start on, wrapping: those of one parity first."""
    for par in (parity, parity ^ 1):
        for i in range(span):
            p = lo + (start + i) % span
            if p & 1 == par:
                yield p


def unmap(addr: bytes) -> bytes:
    if len(addr) == 16 and addr[:12] == b"\x00" * 10 + b"\xff\xff":
        return addr[12:]
    return addr


def is_mapped_any(addr: bytes) -> bool:
    return addr == b"\x00" * 10 + b"\xff\xff" + b"\x00" * 4


def _coverage(family: int, addr: bytes, v6only: bool) -> tuple[bytes | None, bytes | None]:
    """Which IPv4 / IPv6 local addresses a socket bound to ``addr`` answers for."""
    if family == 2:
        return (ANY if not any(addr) else addr), None
    if addr[:12] == b"\x00" * 10 + b"\xff\xff":
        v4 = addr[12:]
        return (ANY if not any(v4) else v4), None
    if not any(addr):
        return (None if v6only else ANY), ANY
    return None, addr

"""In-memory media joining stacks: a :class:`Hub` (a shared Ethernet segment with any
number of :class:`MemDevice` ports) and a :class:`Cable` (a point-to-point link with a
rate, a drop-tail queue and a propagation delay between two stacks' loopback devices).

Both can impair frames with a seeded :class:`~rocketnet.phy.Impairments` (loss, delay,
jitter, reordering, duplication, corruption), so a bad network is reproducible.
Frames in flight wait on a :class:`~rocketnet.phy.DelayLine`; :meth:`Medium.advance`
delivers the due ones (the :class:`~rocketnet.lab.Lab` calls it). Observers
(``medium.observers``, each ``f(now, medium, frame)``) see every frame as it is sent,
before any impairment: the frame printer hangs there.
"""

from __future__ import annotations

from collections.abc import Callable

from ..phy import DelayLine, Impairments, LoopbackDevice, NetBuf
from ..phy.device import EthernetDevice

Observer = Callable[[float, "Medium", bytes], None]


class Medium(DelayLine):
    """Frames in flight on a virtual clock, seen by ``observers``."""

    def __init__(self, name: str, impair: Impairments | None) -> None:
        super().__init__()
        self.name = name
        self.impair = impair if impair is not None and impair.active else None
        self.observers: list[Observer] = []

    def _observe(self, frame: bytes) -> None:
        for o in self.observers:
            o(self.now, self, frame)


class MemDevice(EthernetDevice):
    """An Ethernet NetDevice plugged into a :class:`Hub` (no checksum offload, so
    checksums are computed and verified as on a real NIC)."""

    def __init__(self, hub: Hub, mac: bytes, mtu: int = 1500, bufs: int = 256) -> None:
        super().__init__(mac, mtu, bufs)
        self.hub = hub
        hub.ports.append(self)

    def send(self, buf: NetBuf) -> None:
        frame = bytes(buf.view[: buf.length])
        buf.pool.dealloc(buf)
        self.hub.deliver(self, frame)


class Hub(Medium):
    """A shared Ethernet segment: every frame goes to every other port (stacks filter by
    MAC as NICs do). ``frames`` keeps everything sent, for inspection; ``drop(frame) ->
    bool`` (optional) loses chosen frames."""

    def __init__(self, impair: Impairments | None = None, name: str = "hub") -> None:
        super().__init__(name, impair)
        self.ports: list[MemDevice] = []
        self.frames: list[bytes] = []
        self.drop: Callable[[bytes], bool] | None = None

    def deliver(self, src: MemDevice, frame: bytes) -> None:
        self.frames.append(frame)
        self._observe(frame)
        if self.drop is not None and self.drop(frame):
            return
        for p in self.ports:
            if p is not src:
                self.carry(frame, self.now, p.inject, self.impair)


class CableEnd(LoopbackDevice):
    """One end of a :class:`Cable`: a loopback-like device whose frames go to the other
    end instead of coming back."""

    def __init__(self, cable: Cable, mtu: int, offload: bool, bufs: int) -> None:
        super().__init__(mtu=mtu, large_bufs=bufs, small_bufs=bufs)
        self._caps.checksum_offload = offload
        self.cable = cable
        self.peer: CableEnd | None = None
        self.busy_until = 0.0
        self.rx_dropped = 0

    def send(self, buf: NetBuf) -> None:
        frame = bytes(buf.view[: buf.length])
        buf.pool.dealloc(buf)
        self.cable.transmit(self, frame)

    def deliver(self, frame: bytes) -> None:
        buf = self.alloc_tx_buffer(len(frame))
        if buf is None:
            self.rx_dropped += 1
            return
        buf.view[: len(frame)] = frame
        self.rxq.append(buf)


class Cable(Medium):
    """Two stacks' loopback devices joined back to back (``a`` and ``b``): both keep
    127.0.0.1 and ::1, and a connection from one stack to 127.0.0.1:P reaches the other
    stack's listener on P. Each direction serializes at ``rate`` bit/s behind a
    drop-tail queue of ``queue_bytes``, then takes ``delay`` seconds plus what the
    seeded impairments add: ``impair`` for a to b, and for b to a too unless
    ``impair_ba`` gives that direction its own (asymmetric loss, say; an inactive one
    leaves b to a clean).
    ``offload=False`` computes and verifies checksums, so corrupted frames are caught
    and dropped."""

    def __init__(self, impair: Impairments | None = None, delay: float = 0.005,
                 rate: float = 100e6, queue_bytes: int = 256 * 1024, mtu: int = 1500,
                 offload: bool = True, bufs: int = 4096, name: str = "cable",
                 impair_ba: Impairments | None = None) -> None:
        super().__init__(name, impair)
        self.impair_ba = self.impair if impair_ba is None else (
            impair_ba if impair_ba.active else None)
        self.delay = delay
        self.rate = rate
        self.queue_bytes = queue_bytes
        self.a = CableEnd(self, mtu, offload, bufs)
        self.b = CableEnd(self, mtu, offload, bufs)
        self.a.peer, self.b.peer = self.b, self.a
        self.stats = {"sent": 0, "queue_drops": 0}

    def transmit(self, src: CableEnd, frame: bytes) -> None:
        dst = src.peer
        assert dst is not None
        self.stats["sent"] += 1
        self._observe(frame)
        start = src.busy_until if src.busy_until > self.now else self.now
        if (start - self.now) * self.rate / 8 > self.queue_bytes:
            self.stats["queue_drops"] += 1
            return
        src.busy_until = start + len(frame) * 8 / self.rate
        self.carry(frame, src.busy_until + self.delay, dst.deliver,
                   self.impair if src is self.a else self.impair_ba)


class DropLoopback(LoopbackDevice):
    """A loopback that loses the frames ``drop(frame) -> bool`` picks (kept in
    ``dropped``): scripted loss on a single stack."""

    def __init__(self) -> None:
        super().__init__()
        self.drop: Callable[[bytes], bool] | None = None
        self.dropped: list[bytes] = []

    def send(self, buf: NetBuf) -> None:
        if self.drop is not None:
            frame = bytes(buf.view[: buf.length])
            if self.drop(frame):
                self.dropped.append(frame)
                buf.pool.dealloc(buf)
                return
        super().send(buf)

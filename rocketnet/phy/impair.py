"""Seeded network impairments for virtual links: loss, delay, jitter, reordering,
duplication and corruption. Sans-I/O: ``apply(frame, now)`` says what to deliver when,
and a :class:`DelayLine` holds the frames in flight until then (the one carrier behind
the lab's media and the host's wire and TAP devices).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable

Deliver = Callable[[bytes], None]


class Impairments:
    """Probabilities are in [0, 1]; ``delay``/``jitter`` in seconds. ``reorder``: the
    probability that a frame is held back by an extra ``reorder_delay`` so later frames
    overtake it. ``corrupt``: probability that one byte (past the Ethernet header) is
    flipped, so checksums catch it. ``burst=(p_good_bad, p_bad_good, loss_bad)``: bursty
    loss as a Gilbert-Elliott chain (per frame: the state flips with those
    probabilities; in the bad state ``loss_bad`` applies instead of ``loss``).
    ``down=(start, end)``: nothing gets through in that time (a cut cable)."""

    __slots__ = ("loss", "delay", "jitter", "reorder", "reorder_delay", "duplicate",
                 "corrupt", "burst", "bad", "down", "rng", "stats")

    def __init__(self, loss: float = 0.0, delay: float = 0.0, jitter: float = 0.0,
                 reorder: float = 0.0, reorder_delay: float = 0.002, duplicate: float = 0.0,
                 corrupt: float = 0.0, seed: int = 0,
                 burst: tuple[float, float, float] | None = None,
                 down: tuple[float, float] | None = None) -> None:
        for name, p in (("loss", loss), ("reorder", reorder), ("duplicate", duplicate),
                        ("corrupt", corrupt)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be a probability, not {p}")
        if delay < 0 or jitter < 0 or reorder_delay < 0:
            raise ValueError("delays must not be negative")
        if burst is not None and not all(0.0 <= p <= 1.0 for p in burst):
            raise ValueError(f"burst must be three probabilities, not {burst}")
        self.loss = loss
        self.delay = delay
        self.jitter = jitter
        self.reorder = reorder
        self.reorder_delay = reorder_delay
        self.duplicate = duplicate
        self.corrupt = corrupt
        self.burst = burst
        self.bad = False
        self.down = down
        self.rng = random.Random(seed)
        self.stats = {"lost": 0, "duplicated": 0, "reordered": 0, "corrupted": 0, "down": 0}

    @property
    def active(self) -> bool:
        return bool(self.loss or self.delay or self.jitter or self.reorder or self.duplicate
                    or self.corrupt or self.burst or self.down)

    @classmethod
    def from_spec(cls, spec: str, seed: int = 0) -> Impairments:
        """``"loss=0.01,delay=0.005,jitter=0.001,reorder=0.05,dup=0.01,corrupt=0.001"``,
        and ``burst=P_GOOD_BAD:P_BAD_GOOD:LOSS`` (``down`` is for in-process use: its
        times are the clock the owner passes to ``apply``)."""
        kw: dict[str, float] = {}
        extra: dict[str, tuple] = {}
        names = {"loss": "loss", "delay": "delay", "jitter": "jitter", "reorder": "reorder",
                 "reorder_delay": "reorder_delay", "dup": "duplicate", "duplicate": "duplicate",
                 "corrupt": "corrupt"}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            k, _, v = part.partition("=")
            if k == "seed":
                seed = int(v)
                continue
            if k == "burst":
                vals = tuple(float(x) for x in v.split(":"))
                if len(vals) != 3:
                    raise ValueError(f"burst={v!r}: expected P_GOOD_BAD:P_BAD_GOOD:LOSS")
                extra[k] = vals
                continue
            if k not in names:
                raise ValueError(f"unknown impairment {k!r}")
            kw[names[k]] = float(v)
        return cls(seed=seed, **kw, **extra)

    def spec(self) -> str:
        """The ``from_spec`` text of these impairments, seed excluded (``down`` has none:
        its times belong to one owner's clock)."""
        if self.down is not None:
            raise ValueError("down has no spec: it is for in-process use")
        parts = [f"{k}={v!r}" for k, v in (
            ("loss", self.loss), ("delay", self.delay), ("jitter", self.jitter),
            ("reorder", self.reorder), ("dup", self.duplicate), ("corrupt", self.corrupt))
            if v]
        if self.reorder:
            parts.append(f"reorder_delay={self.reorder_delay!r}")
        if self.burst is not None:
            parts.append("burst=" + ":".join(repr(p) for p in self.burst))
        return ",".join(parts)

    def apply(self, frame: bytes, now: float) -> list[tuple[float, bytes]]:
        """(deliver_at, frame) pairs for one sent frame: none if lost, two if duplicated."""
        rng = self.rng
        st = self.stats
        down = self.down
        if down is not None and down[0] <= now < down[1]:
            st["down"] += 1
            return []
        loss = self.loss
        burst = self.burst
        if burst is not None:
            if rng.random() < (burst[1] if self.bad else burst[0]):
                self.bad = not self.bad
            if self.bad:
                loss = burst[2]
        if loss and rng.random() < loss:
            st["lost"] += 1
            return []
        copies = 1
        if self.duplicate and rng.random() < self.duplicate:
            st["duplicated"] += 1
            copies = 2
        out = []
        for _ in range(copies):
            f = frame
            if self.corrupt and len(f) > 14 and rng.random() < self.corrupt:
                st["corrupted"] += 1
                i = rng.randrange(14, len(f))
                b = bytearray(f)
                b[i] ^= 1 << rng.randrange(8)
                f = bytes(b)
            t = now + self.delay
            if self.jitter:
                t += rng.random() * self.jitter
            if self.reorder and rng.random() < self.reorder:
                st["reordered"] += 1
                t += self.reorder_delay
            out.append((t, f))
        return out


class DelayLine:
    """Frames in flight on a clock its owner moves: each waits, keyed by its delivery
    time, until :meth:`advance` reaches it; :meth:`carry` puts a frame on the line,
    through seeded :class:`Impairments` if given."""

    def __init__(self) -> None:
        self.now = 0.0
        self._events: list[tuple[float, int, Deliver, bytes]] = []
        self._seq = 0
        self.delivered = 0

    def carry(self, frame: bytes, start: float, deliver: Deliver,
              impair: Impairments | None) -> None:
        """Deliver ``frame`` at ``start`` (at once if that is now and nothing impairs it),
        or as ``impair`` decides."""
        if impair is None:
            if start <= self.now:
                deliver(frame)
                return
            plan = [(start, frame)]
        else:
            plan = impair.apply(frame, start)
        for at, f in plan:
            self._seq += 1
            heapq.heappush(self._events, (at, self._seq, deliver, f))

    def next_time(self) -> float | None:
        """When the next frame in flight arrives (None: nothing in flight)."""
        return self._events[0][0] if self._events else None

    def advance(self, now: float) -> None:
        """Set the time and deliver every frame due by then."""
        self.now = now
        ev = self._events
        while ev and ev[0][0] <= now:
            _t, _s, deliver, f = heapq.heappop(ev)
            self.delivered += 1
            deliver(f)

"""Seeded network impairments for virtual links: loss, delay, jitter, reordering,
duplication and corruption. Sans-I/O: ``apply(frame, now)`` says what to deliver when.
"""

from __future__ import annotations

import random


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

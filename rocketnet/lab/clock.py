"""The lab's clock: virtual seconds that only the lab moves (never the wall clock)."""

from __future__ import annotations

from ..stack import NetStack


class VirtualClock:
    """``now`` starts at 0.0 and moves only when you (or a :class:`~rocketnet.lab.Lab`)
    move it, so a run is the same every time."""

    __slots__ = ("now",)

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def step(self, stack: NetStack, dt: float = 0.001) -> None:
        """Move ``dt`` seconds on and poll ``stack`` once at the new time."""
        self.now += dt
        stack.poll(self.now)

"""Congestion control algorithms, selectable per socket (TCP_CONGESTION).

Each connection owns one instance. The engine calls:

- ``on_ack(tcb, acked, now)``: ``acked`` bytes newly acknowledged outside recovery;
  grows ``tcb.cwnd`` (slow start below ``tcb.ssthresh``, else congestion avoidance).
- ``on_loss(tcb, now) -> int``: entering fast recovery; returns the new ssthresh.
- ``on_rto(tcb, now) -> int``: retransmission timeout; returns the new ssthresh (the
  engine then sets cwnd to one segment, RFC 5681).

``Reno`` is NewReno's window arithmetic (RFC 5681; the recovery itself, RFC 6582 and
RFC 6675, lives in the engine). ``Cubic`` is RFC 9438 (C = 0.4, beta = 0.7, fast
convergence, Reno-friendly region), Linux's default. Windows are in bytes; the cubic
function is evaluated in segments of ``tcb.mss``. Time is the engine's virtual ``now``.
"""

from __future__ import annotations

from typing import Any

CWND_MAX = 0x3FFFFFFF


class Reno:
    name = b"reno"

    def on_ack(self, tcb: Any, acked: int, now: float) -> None:
        cwnd = tcb.cwnd
        mss = tcb.mss
        if cwnd < tcb.ssthresh:
            # slow start, RFC 5681 3.1: cwnd += min(N, SMSS) per ACK
            cwnd += acked if acked < mss else mss
        else:
            inc = mss * mss // cwnd
            cwnd += inc if inc > 0 else 1
        tcb.cwnd = cwnd if cwnd < CWND_MAX else CWND_MAX

    def on_loss(self, tcb: Any, now: float) -> int:
        flight = (tcb.snd_max - tcb.snd_una) & 0xFFFFFFFF
        half = flight >> 1
        return half if half > 2 * tcb.mss else 2 * tcb.mss

    def on_rto(self, tcb: Any, now: float) -> int:
        return self.on_loss(tcb, now)


class Cubic(Reno):
    name = b"cubic"
    C = 0.4
    BETA = 0.7

    def __init__(self) -> None:
        self.w_max = 0.0  # segments
        self.w_last_max = 0.0
        self.k = 0.0
        self.epoch: float | None = None
        self.origin = 0.0
        self.w_est = 0.0

    def on_ack(self, tcb: Any, acked: int, now: float) -> None:
        cwnd = tcb.cwnd
        if cwnd < tcb.ssthresh:
            Reno.on_ack(self, tcb, acked, now)
            return
        mss = tcb.mss
        cw = cwnd / mss
        if self.epoch is None:
            self.epoch = now
            if cw < self.w_max:
                self.k = ((self.w_max - cw) / self.C) ** (1.0 / 3.0)
                self.origin = self.w_max
            else:
                self.k = 0.0
                self.origin = cw
            self.w_est = cw
        t = now - self.epoch + tcb.srtt
        target = self.origin + self.C * (t - self.k) ** 3
        if target < cw:
            target = cw
        elif target > 1.5 * cw:
            target = 1.5 * cw
        segs = acked / mss
        # Reno-friendly estimate (RFC 9438 4.3), alpha = 3 (1 - beta) / (1 + beta)
        alpha = 3.0 * (1.0 - self.BETA) / (1.0 + self.BETA)
        self.w_est += alpha * segs / cw
        if self.w_est > target:
            target = self.w_est
        new = cwnd + int((target - cw) / cw * segs * mss)
        if new <= cwnd and target > cw:
            new = cwnd + 1
        tcb.cwnd = new if new < CWND_MAX else CWND_MAX

    def on_loss(self, tcb: Any, now: float) -> int:
        mss = tcb.mss
        cw = tcb.cwnd / mss
        # fast convergence
        if cw < self.w_last_max:
            self.w_last_max = cw
            self.w_max = cw * (1.0 + self.BETA) / 2.0
        else:
            self.w_last_max = cw
            self.w_max = cw
        self.epoch = None
        ss = int(tcb.cwnd * self.BETA)
        return ss if ss > 2 * mss else 2 * mss

    def on_rto(self, tcb: Any, now: float) -> int:
        return self.on_loss(tcb, now)


ALGORITHMS: dict[bytes, type[Reno]] = {b"cubic": Cubic, b"reno": Reno}


def make(name: bytes) -> Reno:
    """A new instance of the algorithm ``name``; KeyError if unknown."""
    return ALGORITHMS[name]()

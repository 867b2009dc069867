"""A loss campaign on the virtual clock: two NetStacks over a seeded ``rocketnet.lab``
Cable move bytes both ways under one impairment profile; every transfer must be
byte-exact and close, and make progress: no more retransmission timeouts in a row
without a byte delivered or acknowledged, while the link is up, than ``stall_limit``
allows (a chain of k timeouts needs k lost retransmissions or ACKs: at most 1e-4
likely, and never fewer than 6). Goodput is set against the Mathis et al. bound,
MSS / RTT * 1.22 / sqrt(p).

The profiles are the one definition of each bad network: ``impairments(name, seed)``
gives the seeded :class:`Impairments` of each direction, which the Cable here and the
stack hosts of ``tools/soak --profile`` (their ``--impair`` spec) both apply.

Used by tests/stack/test_tcp_campaign.py (short) and ``tools/soak --simulate`` (long).
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

from rocketnet.lab import Cable, Lab, payload, run_transfer
from rocketnet.phy import Impairments
from rocketnet.stack import NetStack

# name: Impairments arguments of both directions (``delay``: one-way, 5 ms unless given;
# a reordered frame is held back ``reorder_delay``, two delays unless given), plus
# ``loss_ba``: B to A's loss where it differs; ``offload``: False computes and checks
# checksums (so corrupted frames are dropped); ``pause``: (period, length) in which the
# server's program stops reading for ``length`` seconds out of every ``period``.
PROFILES: dict[str, dict[str, Any]] = {
    "loss0.1": {"loss": 0.001},
    "loss1": {"loss": 0.01},
    "loss5": {"loss": 0.05},
    "loss10": {"loss": 0.10},
    "loss20": {"loss": 0.20},
    "loss30": {"loss": 0.30},
    "issue13": {"loss": 0.05, "reorder": 0.05, "duplicate": 0.02, "corrupt": 0.01,
                "delay": 0.002, "offload": False},
    "reorder": {"reorder": 0.25},
    "dup": {"duplicate": 0.10},
    "corrupt": {"corrupt": 0.05, "offload": False},
    "jitter": {"delay": 0.02, "jitter": 0.01, "loss": 0.01},
    "bursty": {"loss": 0.001, "burst": (0.01, 0.3, 0.5)},
    "asymmetric": {"loss": 0.10, "loss_ba": 0.0},
    "down5s": {"loss": 0.01, "down": (0.1, 5.1)},
    "stopreader": {"loss": 0.01, "pause": (4.0, 3.0)},
}
MSS = 1448  # 1500 - 40 - the timestamp option
RATE = 100e6
DELAY = 0.005
NOT_IMPAIRMENTS = ("loss_ba", "offload", "pause")


def impairments(profile: str, seed: int) -> tuple[Impairments, Impairments]:
    """The seeded impairments of A to B and of B to A under ``profile``."""
    kw = {k: v for k, v in PROFILES[profile].items() if k not in NOT_IMPAIRMENTS}
    kw.setdefault("delay", DELAY)
    kw.setdefault("reorder_delay", 2 * kw["delay"])
    ab = Impairments(seed=seed, **kw)
    kw["loss"] = PROFILES[profile].get("loss_ba", kw.get("loss", 0.0))
    return ab, Impairments(seed=seed + 1_000_003, **kw)


def mean_loss(imp: Impairments) -> float:
    """The long-run loss rate of one direction."""
    if imp.burst is None:
        return imp.loss
    gb, bg, bad = imp.burst
    p_bad = gb / (gb + bg)
    return p_bad * bad + (1 - p_bad) * imp.loss


def stall_limit(ab: Impairments, ba: Impairments) -> int:
    """Timeouts in a row that a working TCP exceeds with probability below 1e-4."""
    p_ab, p_ba = (max(i.loss, i.burst[2] if i.burst else 0.0) + i.corrupt for i in (ab, ba))
    q = 1 - (1 - min(p_ab, 0.99)) * (1 - min(p_ba, 0.99))
    return max(6, math.ceil(math.log(1e-4) / math.log(q))) if q > 0 else 6


def mathis(ab: Impairments) -> float | None:
    """Mathis et al. bound in bytes/s for the A to B direction (None without loss)."""
    p = mean_loss(ab)
    if p <= 0:
        return None
    rtt = 2 * ab.delay + ab.jitter + 2 * 1500 * 8 / RATE
    return MSS / rtt * 1.22 / math.sqrt(p)


def run(profile: str, seed: int, size: int, limit: float = 3600.0) -> dict[str, Any]:
    """One transfer of ``size`` bytes each way under ``profile``. Returns the outcome;
    raises AssertionError if the bytes differ or the progress invariant breaks."""
    pause = PROFILES[profile].get("pause")
    ab, ba = impairments(profile, seed)
    cable = Cable(ab, delay=0.0, rate=RATE, offload=PROFILES[profile].get("offload", True),
                  impair_ba=ba)
    sa = NetStack(seed=2 * seed, loopback=cable.a)
    sb = NetStack(seed=2 * seed + 1, loopback=cable.b)
    lab = Lab([sa, sb], [cable])
    _lst, cli, srv = lab.connect(sa, sb)
    up, down = payload(seed, size), payload(seed + 1_000_003, size)
    wall = time.monotonic()
    limit_rtos = stall_limit(ab, ba)
    cut = ab.down
    st = {"progress": -1, "timeouts": 0, "stall": 0, "worst": 0, "up": None, "down": None}

    def observe(t: float, got_up: bytearray, got_down: bytearray) -> None:
        if st["up"] is None and len(got_up) == size:
            st["up"] = t
        if st["down"] is None and len(got_down) == size:
            st["down"] = t
        # the progress invariant
        progress = (len(got_up) + len(got_down) + cli.inner.bytes_acked
                    + srv.inner.bytes_acked + srv.inner.bytes_received)
        timeouts = sa.stats["tcp_timeouts"] + sb.stats["tcp_timeouts"]
        if progress != st["progress"]:
            st["progress"] = progress
            st["stall"] = 0
        elif timeouts != st["timeouts"] and not (
                cut is not None and cut[0] <= lab.now < cut[1] + 1.0):
            st["stall"] += timeouts - st["timeouts"]
            st["worst"] = max(st["worst"], st["stall"])
            assert st["stall"] <= limit_rtos, (profile, seed, t, st["stall"])
        st["timeouts"] = timeouts

    reads = None if pause is None else (lambda t: t % pause[0] >= pause[1])
    r = run_transfer(lab, cli, srv, up, down, limit, reads, observe)
    assert r["done"], (profile, seed, r["time"], len(r["up"]), len(r["down"]))
    assert hashlib.sha256(r["up"]).digest() == hashlib.sha256(up).digest(), (profile, seed)
    assert hashlib.sha256(r["down"]).digest() == hashlib.sha256(down).digest(), (profile, seed)
    done_up, done_down = st["up"], st["down"]
    timeouts, worst = st["timeouts"], st["worst"]
    elapsed = r["time"]
    return {
        "profile": profile, "seed": seed, "size": size, "time": elapsed,
        "wall": time.monotonic() - wall,
        "goodput_up": size / done_up if done_up else 0.0,
        "goodput_down": size / done_down if done_down else 0.0,
        "mathis": mathis(ab), "loss": mean_loss(ab),
        "timeouts": timeouts, "worst_stall_rtos": worst,
        "retransmits": sa.stats["tcp_retransmits"] + sb.stats["tcp_retransmits"],
    }


def table(results: list[dict[str, Any]]) -> str:
    """Per profile: runs, worst virtual time, mean goodput A to B and its ratio to the
    Mathis bound."""
    lines = [f"{'profile':<11} {'runs':>4} {'loss':>6} {'worst s':>8} {'goodput KB/s':>13} "
             f"{'Mathis KB/s':>12} {'ratio':>6} {'stall RTOs':>10}"]
    by: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by.setdefault(r["profile"], []).append(r)
    for name, rs in by.items():
        gp = sum(r["goodput_up"] for r in rs) / len(rs)
        m = rs[0]["mathis"]
        lines.append(
            f"{name:<11} {len(rs):>4} {rs[0]['loss']:>6.3f} {max(r['time'] for r in rs):>8.1f} "
            f"{gp / 1e3:>13.1f} {m / 1e3 if m else float('nan'):>12.1f} "
            f"{gp / m if m else float('nan'):>6.2f} "
            f"{max(r['worst_stall_rtos'] for r in rs):>10}")
    return "\n".join(lines)

"""A loss campaign on the virtual clock: two NetStacks over a seeded ``linksim.Link``
move bytes both ways under one impairment profile; every transfer must be byte-exact
and close, and make progress: no more retransmission timeouts in a row without a byte
delivered or acknowledged, while the link is up, than ``stall_limit`` allows (a chain
of k timeouts needs k lost retransmissions or ACKs: at most 1e-4 likely, and never
fewer than 6). Goodput is set against the Mathis et al. bound, MSS / RTT * 1.22 /
sqrt(p).

Used by tests/stack/test_tcp_campaign.py (short) and ``tools/soak --simulate`` (long).
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

from linksim import Link, Sim, make_stacks, payload, run_transfer

# name: Link arguments, plus "pause": (period, length) in which the server's program
# stops reading for ``length`` seconds out of every ``period`` (it reads otherwise)
PROFILES: dict[str, dict[str, Any]] = {
    "loss0.1": {"loss": 0.001},
    "loss1": {"loss": 0.01},
    "loss5": {"loss": 0.05},
    "loss10": {"loss": 0.10},
    "loss20": {"loss": 0.20},
    "loss30": {"loss": 0.30},
    "issue13": {"loss": 0.05, "reorder": 0.05, "dup": 0.02, "corrupt": 0.01, "delay": 0.002,
                "offload": False},
    "reorder": {"reorder": 0.25},
    "dup": {"dup": 0.10},
    "corrupt": {"corrupt": 0.05, "offload": False},
    "jitter": {"delay": 0.02, "jitter": 0.01, "loss": 0.01},
    "bursty": {"loss": 0.001, "ge": (0.01, 0.3, 0.5)},
    "asymmetric": {"loss": 0.10, "loss_ba": 0.0},
    "down5s": {"loss": 0.01, "down": (0.1, 5.1)},
    "stopreader": {"loss": 0.01, "pause": (4.0, 3.0)},
}
MSS = 1448  # 1500 - 40 - the timestamp option


def mean_loss(link: Link) -> float:
    """The long-run loss rate of one direction (A to B)."""
    if link.ge is None:
        return link.loss
    gb, bg, bad = link.ge
    p_bad = gb / (gb + bg)
    return p_bad * bad + (1 - p_bad) * link.loss


def stall_limit(link: Link) -> int:
    """Timeouts in a row that a working TCP exceeds with probability below 1e-4."""
    p_ab = max(link.loss, link.ge[2] if link.ge else 0.0) + link.corrupt
    p_ba = max(link.loss_ba, link.ge[2] if link.ge else 0.0) + link.corrupt
    q = 1 - (1 - min(p_ab, 0.99)) * (1 - min(p_ba, 0.99))
    return max(6, math.ceil(math.log(1e-4) / math.log(q))) if q > 0 else 6


def mathis(link: Link) -> float | None:
    """Mathis et al. bound in bytes/s for the A to B direction (None without loss)."""
    p = mean_loss(link)
    if p <= 0:
        return None
    rtt = 2 * link.delay + link.jitter + 2 * 1500 * 8 / link.rate
    return MSS / rtt * 1.22 / math.sqrt(p)


def run(profile: str, seed: int, size: int, limit: float = 3600.0) -> dict[str, Any]:
    """One transfer of ``size`` bytes each way under ``profile``. Returns the outcome;
    raises AssertionError if the bytes differ or the progress invariant breaks."""
    args = dict(PROFILES[profile])
    pause = args.pop("pause", None)
    link = Link(seed=seed, **args)
    sa, sb = make_stacks(link, 2 * seed)
    sim = Sim(link, sa, sb)
    _lst, cli, srv = sim.connect()
    up, down = payload(seed, size), payload(seed + 1_000_003, size)
    wall = time.monotonic()
    limit_rtos = stall_limit(link)
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
                link.down is not None and link.down[0] <= sim.now < link.down[1] + 1.0):
            st["stall"] += timeouts - st["timeouts"]
            st["worst"] = max(st["worst"], st["stall"])
            assert st["stall"] <= limit_rtos, (profile, seed, t, st["stall"])
        st["timeouts"] = timeouts

    reads = None if pause is None else (lambda t: t % pause[0] >= pause[1])
    r = run_transfer(sim, cli, srv, up, down, limit, reads, observe)
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
        "mathis": mathis(link), "loss": mean_loss(link),
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

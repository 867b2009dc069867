"""Integrity under a bad network: two NetStacks over a seeded lossy cable (rocketnet.lab),
virtual clock. Every run must deliver hash-equal bytes both ways, close cleanly, and
finish within a bounded virtual time."""

from __future__ import annotations

import hashlib
import struct

import pytest

from rocketnet import constants as C
from rocketnet.lab import Cable, Lab, payload, run_transfer
from rocketnet.phy import Impairments
from rocketnet.stack import NetStack
from rocketnet.transport import TcpConfig

MiB = 1 << 20


def _cable(seed: int, offload: bool = True, **impair: float) -> Cable:
    return Cable(Impairments(seed=seed, reorder_delay=0.01, **impair), offload=offload)


def _transfer(cable: Cable, size: int, limit: float, family: int = C.AF_INET,
              configure=None, config: TcpConfig | None = None,
              stack_seed: int = 0) -> tuple[dict, Lab]:
    sa = NetStack(seed=stack_seed, loopback=cable.a)
    sb = NetStack(seed=stack_seed + 1, loopback=cable.b)
    if config is not None:
        sa.tcp.config = config
        sb.tcp.config = config
    sim = Lab([sa, sb], [cable])
    addr = "127.0.0.1" if family == C.AF_INET else "::1"
    _lst, cli, srv = sim.connect(sa, sb, addr, 5001, configure=configure)
    up, down = payload(1, size), payload(2, size)
    r = run_transfer(sim, cli, srv, up, down, limit)
    assert r["done"], (r["time"], len(r["up"]), len(r["down"]))
    assert hashlib.sha256(r["up"]).digest() == hashlib.sha256(up).digest()
    assert hashlib.sha256(r["down"]).digest() == hashlib.sha256(down).digest()
    for _ in range(200):
        if {cli.state, srv.state} <= {"TIME_WAIT", "CLOSED"}:
            break
        sim.step(0.1)
    assert {cli.state, srv.state} <= {"TIME_WAIT", "CLOSED"}
    r["cli"], r["srv"] = cli, srv
    return r, sim


@pytest.mark.parametrize("seed,loss", [(1, 0.01), (2, 0.05)])
def test_lossy_reorder_dup_8mib_each_way(seed: int, loss: float) -> None:
    link = _cable(seed, loss=loss, duplicate=0.01, reorder=0.02)
    r, sim = _transfer(link, 8 * MiB, limit=120.0)
    st = link.impair.stats
    assert st["lost"] > 0 and st["duplicated"] > 0 and st["reordered"] > 0
    assert r["time"] < 60.0
    st = sim.stacks[0].stats
    assert st["tcp_retransmits"] > 0 and st["tcp_fast_retransmits"] > 0
    # SACK recovery repairs most losses without a timeout
    assert st["tcp_timeouts"] < st["tcp_fast_retransmits"]
    info = r["cli"].getsockopt(C.IPPROTO_TCP, C.TCP_INFO, 280)
    assert struct.unpack_from("=I", info, 100)[0] > 0  # tcpi_total_retrans


def test_corruption_without_offload_8mib_each_way() -> None:
    link = _cable(3, offload=False, corrupt=0.01)
    r, sim = _transfer(link, 8 * MiB, limit=120.0)
    assert link.impair.stats["corrupted"] > 100
    st = sim.stacks[0].stats
    dropped = sum(v for k, v in st.items() if k.startswith("drop_") and "checksum" in k)
    assert dropped > 0
    assert r["time"] < 60.0


def test_lossy_ipv6_newreno_without_sack_or_timestamps() -> None:
    cfg = TcpConfig()
    cfg.sack = False
    cfg.timestamps = False

    def reno(s) -> None:  # type: ignore[no-untyped-def]
        s.setsockopt(C.IPPROTO_TCP, C.TCP_CONGESTION, b"reno")

    link = _cable(4, loss=0.02, duplicate=0.01, reorder=0.01)
    r, sim = _transfer(link, 2 * MiB, limit=120.0, family=C.AF_INET6, configure=reno,
                       config=cfg)
    cli = r["cli"]
    assert cli.getsockopt(C.IPPROTO_TCP, C.TCP_CONGESTION, 16).rstrip(b"\0") == b"reno"
    assert not cli.inner.sack_ok and not cli.inner.ts_ok
    assert sim.stacks[0].stats["tcp_fast_retransmits"] > 0
    assert r["time"] < 60.0


def test_bursty_asymmetric_loss_and_a_cut_cable() -> None:
    """Gilbert-Elliott bursts from a to b with the cable cut that way for 0.5 s, plain
    loss from b to a: the bytes still arrive intact; the cut costs timeouts, not the
    connection."""
    link = Cable(Impairments(seed=5, loss=0.005, burst=(0.01, 0.3, 0.5), down=(1.0, 1.5)),
                 impair_ba=Impairments(seed=6, loss=0.02), delay=0.005, rate=20e6)
    r, sim = _transfer(link, 2 * MiB, limit=120.0)
    ab, ba = link.impair.stats, link.impair_ba.stats
    assert ab["lost"] > 0 and ab["down"] > 0 and ba["lost"] > 0 and ba["down"] == 0
    assert sim.stacks[0].stats["tcp_timeouts"] > 0
    assert link.delivered > 0 and r["time"] < 60.0


def test_acks_stay_acceptable_after_timeouts_both_ways() -> None:
    """Issue 13's profile (5% loss, 5% reordering, 2% duplication, 1% corruption, 2 ms):
    both sides time out; ACKs stamped with the rewound snd_nxt were outside the other's
    window and the transfer stopped for good."""
    link = Cable(Impairments(seed=24, loss=0.05, reorder=0.05, reorder_delay=0.004,
                             duplicate=0.02, corrupt=0.01), delay=0.002, offload=False)
    r, sim = _transfer(link, 2 * MiB, limit=120.0, stack_seed=48)
    assert sim.stacks[0].stats["tcp_timeouts"] > 0 and sim.stacks[1].stats["tcp_timeouts"] > 0
    assert r["time"] < 60.0

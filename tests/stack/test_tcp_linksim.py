"""Integrity under a bad network: two NetStacks over a seeded lossy link (netsim),
virtual clock. Every run must deliver hash-equal bytes both ways, close cleanly, and
finish within a bounded virtual time."""

from __future__ import annotations

import hashlib
import struct

import pytest
from linksim import Link, Sim, make_stacks, payload, run_transfer

from rocketnet import constants as C
from rocketnet.transport import TcpConfig

MiB = 1 << 20


def _transfer(link: Link, size: int, limit: float, family: int = C.AF_INET,
              configure=None, config: TcpConfig | None = None,
              stack_seed: int = 0) -> tuple[dict, Sim]:
    sa, sb = make_stacks(link, stack_seed)
    if config is not None:
        sa.tcp.config = config
        sb.tcp.config = config
    sim = Sim(link, sa, sb)
    _lst, cli, srv = sim.connect(family=family, configure=configure)
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
    link = Link(seed=seed, loss=loss, dup=0.01, reorder=0.02)
    r, sim = _transfer(link, 8 * MiB, limit=120.0)
    assert link.counts["lost"] > 0 and link.counts["dup"] > 0 and link.counts["reordered"] > 0
    assert r["time"] < 60.0
    st = sim.sa.stats
    assert st["tcp_retransmits"] > 0 and st["tcp_fast_retransmits"] > 0
    # SACK recovery repairs most losses without a timeout
    assert st["tcp_timeouts"] < st["tcp_fast_retransmits"]
    info = r["cli"].getsockopt(C.IPPROTO_TCP, C.TCP_INFO, 280)
    assert struct.unpack_from("=I", info, 100)[0] > 0  # tcpi_total_retrans


def test_corruption_without_offload_8mib_each_way() -> None:
    link = Link(seed=3, corrupt=0.01, offload=False)
    r, sim = _transfer(link, 8 * MiB, limit=120.0)
    assert link.counts["corrupted"] > 100
    st = sim.sa.stats
    dropped = sum(v for k, v in st.items() if k.startswith("drop_") and "checksum" in k)
    assert dropped > 0
    assert r["time"] < 60.0


def test_lossy_ipv6_newreno_without_sack_or_timestamps() -> None:
    cfg = TcpConfig()
    cfg.sack = False
    cfg.timestamps = False

    def reno(s) -> None:  # type: ignore[no-untyped-def]
        s.setsockopt(C.IPPROTO_TCP, C.TCP_CONGESTION, b"reno")

    link = Link(seed=4, loss=0.02, dup=0.01, reorder=0.01)
    r, sim = _transfer(link, 2 * MiB, limit=120.0, family=C.AF_INET6, configure=reno,
                       config=cfg)
    cli = r["cli"]
    assert cli.getsockopt(C.IPPROTO_TCP, C.TCP_CONGESTION, 16).rstrip(b"\0") == b"reno"
    assert not cli.inner.sack_ok and not cli.inner.ts_ok
    assert sim.sa.stats["tcp_fast_retransmits"] > 0
    assert r["time"] < 60.0


def test_acks_stay_acceptable_after_timeouts_both_ways() -> None:
    """Issue 13's profile (5% loss, 5% reordering, 2% duplication, 1% corruption, 2 ms):
    with this seed both sides time out at once; ACKs stamped with the rewound snd_nxt
    were outside the other's window and the transfer stopped for good."""
    link = Link(seed=24, loss=0.05, reorder=0.05, dup=0.02, corrupt=0.01, delay=0.002,
                offload=False)
    r, sim = _transfer(link, 2 * MiB, limit=120.0, stack_seed=48)
    assert sim.sa.stats["tcp_timeouts"] > 0 and sim.sb.stats["tcp_timeouts"] > 0
    assert r["time"] < 60.0

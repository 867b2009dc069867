"""Seeded impairments and the DelayLine that carries impaired frames (the lab's media,
the host's wire and TAP devices all use them)."""

from __future__ import annotations

import pytest
from campaign import PROFILES, impairments

from rocketnet.phy import DelayLine, Impairments


def test_spec_round_trip_decides_the_same() -> None:
    """``from_spec(spec())`` is the same impairment: equal fields, and with the same seed
    the same decision for every frame (what tools/soak hands a host as --impair)."""
    a = Impairments(loss=0.05, delay=0.002, jitter=0.001, reorder=0.05, reorder_delay=0.004,
                    duplicate=0.02, corrupt=0.01, burst=(0.01, 0.3, 0.5), seed=9)
    b = Impairments.from_spec(a.spec(), seed=9)
    for name in ("loss", "delay", "jitter", "reorder", "reorder_delay", "duplicate",
                 "corrupt", "burst"):
        assert getattr(a, name) == getattr(b, name), name
    frame = bytes(range(60))
    for i in range(2000):
        assert a.apply(frame, i * 0.001) == b.apply(frame, i * 0.001)
    assert a.stats == b.stats and a.stats["lost"] > 0 and a.stats["corrupted"] > 0


def test_a_cut_link_has_no_spec() -> None:
    with pytest.raises(ValueError, match="down"):
        Impairments(loss=0.01, down=(1.0, 2.0)).spec()


def test_every_campaign_profile_but_cuts_has_a_spec() -> None:
    """The real-host soak runs a profile through --impair: each direction's spec parses
    back to the same impairment."""
    for name in PROFILES:
        for imp in impairments(name, 1):
            if imp.down is None:
                assert Impairments.from_spec(imp.spec()).spec() == imp.spec(), name


def test_delay_line_delivers_in_time_order() -> None:
    line = DelayLine()
    got: list[bytes] = []
    line.carry(b"now", 0.0, got.append, None)               # unimpaired, due: at once
    assert got == [b"now"] and line.next_time() is None
    line.carry(b"late", 0.3, got.append, None)
    line.carry(b"early", 0.1, got.append, None)
    imp = Impairments(delay=0.2, seed=1)
    line.carry(b"delayed", 0.0, got.append, imp)
    assert line.next_time() == pytest.approx(0.1)
    line.advance(0.25)
    assert got == [b"now", b"early", b"delayed"]
    line.advance(0.3)
    assert got[-1] == b"late" and line.next_time() is None and line.delivered == 3

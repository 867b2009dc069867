"""The TCP probe: per-socket congestion-control events over a lossy cable (rocketnet.lab),
and nothing at all when it is off."""

from __future__ import annotations

import json

from rocketnet.lab import Cable, Lab, payload, run_transfer
from rocketnet.phy import Impairments
from rocketnet.stack import NetStack


def _run(probe: bool) -> tuple[list[dict], NetStack]:
    cable = Cable(Impairments(loss=0.02, seed=5), delay=0.01, rate=20e6)
    a, b = NetStack(seed=1, loopback=cable.a), NetStack(seed=2, loopback=cable.b)
    recs: list[dict] = []
    if probe:
        a.set_tcp_probe(recs.append)
    lab = Lab([a, b], [cable])
    _l, cli, srv = lab.connect(a, b)
    r = run_transfer(lab, cli, srv, payload(3, 1 << 20), b"", 60.0)
    assert r["done"]
    lab.run_for(1.0)
    return recs, a


def test_probe_records_state_ack_recovery_and_sack() -> None:
    recs, a = _run(True)
    json.dumps(recs)                                   # every record is JSON
    kinds = {r["ev"] for r in recs}
    assert {"state", "ack", "recovery"} <= kinds
    states = [r["state"] for r in recs if r["ev"] == "state"]
    assert states[0] == "SYN_SENT" and "ESTABLISHED" in states
    assert set(states) & {"FIN_WAIT_1", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT"}
    first = next(r for r in recs if r["ev"] == "state" and r["state"] == "ESTABLISHED")
    assert first["remote"] == "127.0.0.1:5001"
    acks = [r for r in recs if r["ev"] == "ack"]
    assert all(r["cwnd"] > 0 and r["mss"] > 0 for r in acks)
    assert max(r["srtt"] for r in acks) >= 20.0        # two 10 ms legs
    assert any("sack" in r for r in acks)
    rec = next(r for r in recs if r["ev"] == "recovery")
    assert rec["ssthresh"] is not None and rec["cwnd"] <= rec["ssthresh"] + 3 * rec["mss"]
    assert max(r["retrans"] for r in recs) > 0
    assert [r["t"] for r in recs] == sorted(r["t"] for r in recs)


def test_probe_off_by_default_and_switchable() -> None:
    recs, a = _run(False)
    assert recs == [] and a.tcp.probe is None
    a.set_tcp_probe(recs.append)
    assert a.tcp.probe is not None
    a.set_tcp_probe(None)
    assert a.tcp.probe is None

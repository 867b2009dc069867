"""Every program in examples/ runs and prints what its docstring promises."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(name: str) -> str:
    r = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_every_example_is_covered() -> None:
    assert {p.name for p in EXAMPLES.glob("*.py")} == {
        "two_stacks_tcp.py", "loss_recovery.py", "udp_multicast.py"}


def test_two_stacks_tcp() -> None:
    out = _run("two_stacks_tcp.py").splitlines()
    assert out[0] == "0.000000 eth0 ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28"
    flags = [m.group(1) for m in (re.search(r"Flags \[(.*?)\]", ln) for ln in out) if m]
    assert flags[:3] == ["S", "S.", "."]                    # the handshake
    assert "P." in flags and "F." in flags
    assert any("seq 1:6" in ln and "length 5" in ln for ln in out)
    assert "# client got b'hello'" in out
    assert out[-1] == "# client TIME_WAIT, server CLOSED"
    assert _run("two_stacks_tcp.py").splitlines() == out    # virtual clock: reproducible


def test_loss_recovery() -> None:
    out = _run("loss_recovery.py")
    assert "intact: True" in out
    assert re.search(r"SACK .*sack \d \{", out)
    assert "RETRANSMIT" in out
    lost = int(re.search(r"frames lost by the cable: (\d+)", out).group(1))
    retrans = int(re.search(r"tcp_retransmits: (\d+)", out).group(1))
    assert lost > 0 and retrans > 0


@pytest.mark.parametrize("line", ["# 10.0.0.2: b'hello, group'",
                                  "# 10.0.0.3: b'hello, group'", "# 10.0.0.4: None"])
def test_udp_multicast(line: str) -> None:
    out = _run("udp_multicast.py").splitlines()
    assert line in out
    assert re.fullmatch(r"0\.000000 eth0 IP 10\.0\.0\.1\.\d+ > 239\.1\.2\.3\.7000: UDP, length 12",
                        out[0])

"""`rocketnet run --pcap DIR` on a host that is already running: from then on every
interface is captured into DIR/<ifname>.pcap, readable by tshark.  Two stack hosts on a
wire segment (AF_UNIX only, no kernel traffic)."""
from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from tests.conftest import tshark_check

HERE = Path(__file__).parent
PEER = HERE / "realnet_peer.py"


def tcp_frames(pcap: Path, port: str) -> int:
    r = subprocess.run(["tshark", "-n", "-r", str(pcap), "-Y", f"tcp.port == {port}"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return len(r.stdout.splitlines())


def test_run_pcap_captures_lo_and_eth0_of_a_running_host(rn, tmp_path) -> None:
    seg = "pc" + uuid.uuid4().hex[:6]
    for name, addr in (("pa", "10.67.0.1/24"), ("pb", "10.67.0.2/24")):
        r = rn.run("host", "start", name, "--eth", f"wire:{seg}", "--addr", addr)
        assert r.returncode == 0, r.stderr
    pcap = tmp_path / "cap"
    size = "200000"
    try:
        # eth0: a server on host pb, the client on pa (captured from its run on)
        # lo: a server and a client both on pa
        for srv_host, listen, addr, port in (("pb", "0.0.0.0", "10.67.0.2", "47251"),
                                             ("pa", "127.0.0.1", "127.0.0.1", "47252")):
            srv = rn.popen("run", "--host", srv_host, "--", sys.executable, str(PEER),
                           "server", listen, port, size, stdout=subprocess.PIPE, text=True)
            try:
                assert srv.stdout.readline().strip() == "listening"
                r = rn.run("run", "--host", "pa", "--pcap", str(pcap), "--", sys.executable,
                           str(PEER), "client", addr, port, size, timeout=120)
                assert r.returncode == 0 and "client ok" in r.stdout, r.stdout + r.stderr
                assert srv.wait(60) == 0
            finally:
                srv.kill()
    finally:
        rn.run("host", "stop", "pa")
        rn.run("host", "stop", "pb")
    assert sorted(p.name for p in pcap.iterdir()) == ["eth0.pcap", "lo.pcap"]
    # the second run kept appending to the first run's files (same directory)
    assert tshark_check(pcap / "eth0.pcap") > 10 and tshark_check(pcap / "lo.pcap") > 10
    assert tcp_frames(pcap / "eth0.pcap", "47251") > 10
    assert tcp_frames(pcap / "lo.pcap", "47252") > 10
    assert tcp_frames(pcap / "lo.pcap", "47251") == 0
    arp = subprocess.run(["tshark", "-n", "-r", str(pcap / "eth0.pcap"), "-Y", "arp"],
                         capture_output=True, text=True, timeout=60)
    assert "10.67.0.2" in arp.stdout           # the link resolved the peer, captured too


def test_run_pcap_reports_an_unusable_directory(rn, tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    name = "pe" + uuid.uuid4().hex[:6]
    assert rn.run("host", "start", name).returncode == 0
    try:
        r = rn.run("run", "--host", name, "--pcap", str(blocker / "sub"), "--", "true")
        assert r.returncode != 0 and "--pcap" in r.stderr
    finally:
        rn.run("host", "stop", name)

"""Real peers, continued (issue 3): UDP between a shimmed program and a native one over
the TAP in a namespace the test creates (tap_host), and ping between two stack hosts on
a wire segment, clean and lossy.  Traffic stays in the namespace or on AF_UNIX."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import nsexec, tshark_check

HERE = Path(__file__).parent
PEER = HERE / "realnet_peer.py"
COUNT = "20"


def test_udp_shimmed_and_native_both_ways_v4_v6(rn, tap_host) -> None:
    ns, _pcap = tap_host
    # native server in the namespace, shimmed client on the stack
    for addr, port in (("10.77.0.1", "47111"), ("fd77::1", "47112")):
        srv = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(PEER),
                                "udpserver", addr, port, COUNT], stdout=subprocess.PIPE,
                               text=True)
        try:
            assert srv.stdout.readline().strip() == "listening"
            r = rn.run("run", "--host", "st", "--", sys.executable, str(PEER), "udpclient",
                       addr, port, COUNT, timeout=120)
            assert r.returncode == 0 and f"udp client ok {COUNT}" in r.stdout, \
                r.stdout + r.stderr
            assert srv.wait(30) == 0
            assert f"udp server ok {COUNT}" in srv.stdout.read()
        finally:
            srv.kill()
    # shimmed server on the stack, native client in the namespace
    for listen, addr, port in (("0.0.0.0", "10.77.0.2", "47113"), ("::", "fd77::2", "47114")):
        srv = rn.popen("run", "--host", "st", "--", sys.executable, str(PEER), "udpserver",
                       listen, port, COUNT, stdout=subprocess.PIPE, text=True)
        try:
            assert srv.stdout.readline().strip() == "listening"
            r = nsexec(ns, sys.executable, str(PEER), "udpclient", addr, port, COUNT,
                       timeout=120)
            assert r.returncode == 0 and f"udp client ok {COUNT}" in r.stdout, \
                r.stdout + r.stderr
            assert srv.wait(30) == 0
            assert f"udp server ok {COUNT}" in srv.stdout.read()
        finally:
            srv.kill()
    st = rn.stats("st")["stack"]
    assert st["udp_out_datagrams"] >= 4 * int(COUNT)
    # datagrams up to 100 + 97 * 19 bytes: some beyond 1500 went as IP fragments
    assert st["ipv4_reassembled"] > 0 and st["ipv6_reassembled"] > 0


def _ping_stats(out: str) -> tuple[int, int, float]:
    m = re.search(r"(\d+) packets transmitted, (\d+) received.*?([\d.]+)% packet loss", out)
    assert m, out
    return int(m.group(1)), int(m.group(2)), float(m.group(3))


@pytest.mark.skipif(shutil.which("ping") is None,
                    reason="ping is not installed (tools/setup installs iputils-ping)")
def test_two_wire_hosts_ping_clean_and_lossy(rn, tmp_path) -> None:
    seg, lossy = "pg" + uuid.uuid4().hex[:6], "pl" + uuid.uuid4().hex[:6]
    pcap = tmp_path / "pcap"
    hosts = [("ga", seg, "10.68.0.1/24", "fd68::1/64", []),
             ("gb", seg, "10.68.0.2/24", "fd68::2/64", []),
             ("la", lossy, "10.69.0.1/24", "fd69::1/64", ["--pcap", str(pcap)]),
             ("lb", lossy, "10.69.0.2/24", "fd69::2/64",
              ["--seed", "7", "--impair", "loss=0.3,reorder=0.1,dup=0.1"])]
    try:
        for name, s, a4, a6, extra in hosts:
            r = rn.run("host", "start", name, "--eth", f"wire:{s}", "--addr", a4, "--addr", a6,
                       *extra)
            assert r.returncode == 0, r.stderr
        for dst in ("10.68.0.2", "fd68::2"):
            r = rn.run("run", "--host", "ga", "--", "ping", "-c", COUNT, "-i", "0.05", "-W", "2",
                       dst, timeout=60)
            assert r.returncode == 0, r.stdout + r.stderr
            assert _ping_stats(r.stdout) == (int(COUNT), int(COUNT), 0.0), r.stdout
        for dst in ("10.69.0.2", "fd69::2"):
            r = rn.run("run", "--host", "la", "--", "ping", "-c", COUNT, "-i", "0.05", "-W", "1",
                       dst, timeout=60)
            sent, got, loss = _ping_stats(r.stdout)
            assert sent == int(COUNT) and 0 < got < sent and loss > 0, r.stdout + r.stderr
            assert r.returncode == 0, r.stdout + r.stderr       # some replies: ping's success
        imp = rn.run("ip", "--host", "lb", "-s", "link", check=True).stdout
        assert int(imp.split("impair_lost ")[1].split()[0]) > 0
        for name, *_rest in hosts:          # nothing crashed: every host still answers
            assert rn.stats(name)["name"] == name
    finally:
        for name, *_rest in hosts:
            rn.run("host", "stop", name)
    assert tshark_check(pcap / "eth0.pcap") > 20

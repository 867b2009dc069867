"""The contest's UDP and netperf cases through the shim: iperf3 -u (-b 1000G) and netperf
UDP_STREAM / UDP_RR (the TCP ones: test_netperf.py), servers and clients unmodified,
exactly as contest.md runs them."""
from __future__ import annotations

import re
import shutil

import pytest

RESULT = re.compile(r"^\[(  5|  6|SUM)\].*\s([\d.]+) (Mbits|Gbits)/sec.*receiver$", re.M)
NETPERF_OPTS = ["-s", "16k", "-S", "16k", "-m", "1k", "-M", "1k"]


def judge_netperf(output: str) -> float | None:
    for line in output.splitlines():
        f = line.split()
        if len(f) in (5, 6) and f[0].isdigit():
            return float(f[-1])
    return None


@pytest.mark.skipif(shutil.which("iperf3") is None, reason="iperf3 is not installed")
@pytest.mark.parametrize("args, stream", [
    (["-u", "-b", "1000G"], "  5"),
    (["-u", "-P", "5", "-b", "1000G"], "SUM"),
    (["-u", "-R", "-b", "1000G"], "  5"),
], ids=["BASIC_UDP", "PARALLEL_UDP", "REVERSE_UDP"])
def test_contest_udp_case(rn, iperf3_server, args, stream):
    before = rn.stats()["stack"]
    r = rn.run("run", "--", "iperf3", "-c", "127.0.0.1", "-p", "5001", "-t", "2", "-i", "0",
               *args, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = RESULT.findall(r.stdout)
    assert lines, r.stdout
    assert lines[-1][0] == stream, r.stdout
    assert float(lines[-1][1]) > 0
    after = rn.stats()["stack"]
    # the datagrams crossed OUR UDP
    assert after["udp_in_datagrams"] > before.get("udp_in_datagrams", 0)


RR = ["-r", "64,64", "-R", "1"]


@pytest.mark.skipif(shutil.which("netperf") is None, reason="netperf is not installed")
@pytest.mark.parametrize("test, extra, counter", [
    ("UDP_STREAM", [], "udp_in_datagrams"), ("UDP_RR", RR, "udp_in_datagrams")])
def test_contest_netperf_udp(rn, netserver, test, extra, counter):
    before = rn.stats()["stack"].get(counter, 0)
    r = rn.run("run", "--", "netperf", "-H", "127.0.0.1", "-p", "12865", "-t", test, "-l", "1",
               "--", *NETPERF_OPTS, *extra, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    value = judge_netperf(r.stdout)
    assert value is not None and value > 0, r.stdout
    # the test's traffic crossed the stack (netserver forks a child per test)
    assert rn.stats()["stack"][counter] > before

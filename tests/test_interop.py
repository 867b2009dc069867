"""TCP interoperability with Linux TCP: unmodified iperf3 natively in a test-made network
namespace on one side, iperf3 through the shim on the stack's eth0 (a TAP into that
namespace) on the other; both directions, IPv4 and IPv6.  The tap_host fixture has
tshark check every frame of the capture when the test ends."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import time

import pytest

from tests.conftest import nsexec

pytestmark = pytest.mark.skipif(shutil.which("iperf3") is None,
                                reason="iperf3 is not installed (tools/setup installs it)")


def wait_listening(ns: str, port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if f":{port} " in nsexec(ns, "ss", "-ltnH").stdout:
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port} in {ns}")


def check_result(out: str) -> dict:
    end = json.loads(out)["end"]
    sent, received = end["sum_sent"]["bytes"], end["sum_received"]["bytes"]
    assert sent > 0 and 0 < received <= sent
    return end


@pytest.mark.parametrize("family, server", [("4", "10.77.0.1"), ("6", "fd77::1")])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_shimmed_client_native_server(rn, tap_host, family, server, reverse):
    ns, _ = tap_host
    port = 5201
    srv = subprocess.Popen(["ip", "netns", "exec", ns, "iperf3", "-s", "-1", "-p", str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(ns, port)
        args = ["-R"] if reverse else []
        r = rn.run("run", "--host", "st", "--", "iperf3", "-c", server, "-p", str(port),
                   "-t", "2", "-i", "0", "-J", *args, timeout=90)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr
        end = check_result(r.stdout)
        if not reverse:
            # iperf3 reads TCP_INFO of the stack's socket: plausible values
            stream = end["streams"][0]["sender"]
            assert stream["max_snd_cwnd"] > 0
            assert stream["retransmits"] >= 0
        assert srv.wait(30) == 0
    finally:
        srv.kill()


@pytest.mark.parametrize("family, addr", [("4", "10.77.0.2"), ("6", "fd77::2")])
def test_native_client_shimmed_server(rn, tap_host, family, addr):
    ns, _ = tap_host
    srv = rn.popen("run", "--host", "st", "--", "iperf3", "-s", "-1", "-p", "5202",
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # Until the server listens, the stack answers RST and iperf3 fails at once.
        deadline = time.monotonic() + 15
        while True:
            r = nsexec(ns, "iperf3", "-c", addr, "-p", "5202", "-t", "2", "-i", "0", "-J",
                       timeout=90)
            if '"error"' not in r.stdout or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if r.returncode != 0:
            srv.kill()
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr + srv.communicate()[0]
        check_result(r.stdout)
        assert srv.wait(30) == 0
    finally:
        srv.kill()


NETPERF_RESULT = re.compile(r"^\s*(?:\d+\s+){3,4}([\d.]+)\s+([\d.]+)\s*$", re.M)


@pytest.mark.skipif(shutil.which("netperf") is None or shutil.which("netserver") is None,
                    reason="netperf/netserver are not installed")
@pytest.mark.parametrize("family, server", [("4", "10.77.0.1"), ("6", "fd77::1")])
@pytest.mark.parametrize("test, args", [("TCP_RR", ["-r", "64,64"]),
                                        ("TCP_STREAM", ["-m", "16k"])])
def test_shimmed_netperf_native_netserver(rn, tap_host, family, server, test, args):
    """netperf through the shim against Linux's netserver in the namespace: the control
    and the data connection are our TCP against Linux TCP."""
    ns, _ = tap_host
    port = 12867
    srv = subprocess.Popen(["ip", "netns", "exec", ns, "netserver", "-D", "-" + family,
                            "-L", server, "-p", str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(ns, port)
        before = rn.stats("st")["stack"]
        r = rn.run("run", "--host", "st", "--", "netperf", "-" + family, "-H", server,
                   "-p", str(port), "-t", test, "-l", "2", "--", "-" + family, *args,
                   timeout=90)
        assert r.returncode == 0, r.stdout + r.stderr
        m = NETPERF_RESULT.search(r.stdout)
        assert m, r.stdout + r.stderr
        elapsed, result = float(m.group(1)), float(m.group(2))
        assert elapsed > 1.5 and result > 0, r.stdout
        after = rn.stats("st")["stack"]
        moved = after["tcp_payload_bytes_sent"] - before["tcp_payload_bytes_sent"]
        if test == "TCP_STREAM":
            assert moved * 8 >= result * 1e6 * elapsed * 0.9    # 10^6 bit/s over elapsed
        else:
            assert moved >= 64 * result * elapsed * 0.9         # one request per trans.
    finally:
        srv.terminate()
        srv.wait(10)

"""Real peers: the Linux stack over a TAP device inside a network namespace this test
creates and removes, and two stack hosts joined by a WireDevice. Every pcap written is
dissected by tshark (no malformed packets, no checksum errors).

All traffic stays inside the namespace (TAP) or on AF_UNIX sockets (wire)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).parent
PEER = HERE / "realnet_peer.py"


def _tshark_check(pcap: Path) -> int:
    """Number of frames in pcap; fails on malformed packets or bad checksums."""
    assert shutil.which("tshark"), "tshark is required (tools/setup installs it)"
    base = ["tshark", "-n", "-r", str(pcap), "-o", "ip.check_checksum:TRUE",
            "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
            # the tests' TCP payload is random bytes: show it as data, so no
            # application dissector (Gryphon, Thrift...) mistakes it for its protocol
            "-d", "tcp.port==47100-47300,data", "--disable-protocol", "gryphon",
            "--disable-protocol", "thrift"]
    bad = subprocess.run(base + ["-Y", "_ws.malformed || _ws.expert.severity >= error"
                                 " || ip.checksum.status == 2 || tcp.checksum.status == 2"
                                 " || icmp.checksum.status == 2 || icmpv6.checksum.status == 2"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 0, bad.stderr
    assert bad.stdout.strip() == "", f"{pcap}: malformed or bad checksum:\n{bad.stdout[:2000]}"
    count = subprocess.run(base, capture_output=True, text=True, timeout=120)
    return len(count.stdout.splitlines())


def _netns_reason() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces and TAP devices need root"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing"
    if shutil.which("ip") is None:
        return "iproute2 (ip) is missing"
    return None


@pytest.fixture
def netns():
    reason = _netns_reason()
    if reason:
        pytest.skip(reason)
    name = "rn" + uuid.uuid4().hex[:10]
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot create a network namespace: {r.stderr.strip()}")
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def nsexec(ns: str, *cmd: str, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 60)
    return subprocess.run(["ip", "netns", "exec", ns, *cmd], **kw)


@pytest.fixture
def tap_host(rn, netns, tmp_path):
    """Stack host 'st' with eth0 = TAP 'rntap0' in the namespace; Linux side 10.77.0.1/24,
    fd77::1/64; the stack 10.77.0.2/24, fd77::2/64."""
    pcap = tmp_path / "pcap"
    r = subprocess.run(["ip", "netns", "exec", netns, *rn.cmd(
        "host", "start", "st", "--eth", "tap:rntap0", "--addr", "10.77.0.2/24",
        "--addr", "fd77::2/64", "--gateway", "10.77.0.1", "--pcap", str(pcap))],
        env=rn.env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    for cmd in (["ip", "addr", "add", "10.77.0.1/24", "dev", "rntap0"],
                ["ip", "addr", "add", "fd77::1/64", "dev", "rntap0", "nodad"],
                ["ip", "link", "set", "rntap0", "up"]):
        r = nsexec(netns, *cmd)
        assert r.returncode == 0, r.stderr
    yield netns, pcap
    rn.run("host", "stop", "st")
    for f in sorted(pcap.glob("*.pcap")):
        _tshark_check(f)


def test_linux_pings_the_stack_v4_v6_and_fragments(rn, tap_host) -> None:
    ns, pcap = tap_host
    if shutil.which("ping") is None:
        pytest.fail("ping is required (tools/setup installs iputils-ping)")
    for dst, size in (("10.77.0.2", "56"), ("fd77::2", "56"), ("10.77.0.2", "4000"),
                      ("fd77::2", "4000")):
        r = nsexec(ns, "ping", "-c", "3", "-i", "0.2", "-W", "3", "-s", size, dst)
        assert r.returncode == 0 and " 0% packet loss" in r.stdout, r.stdout + r.stderr
    st = rn.stats("st")["stack"]
    assert st["icmp_echo_replies_sent"] >= 6 and st["icmp6_echo_replies_sent"] >= 6
    assert st["ipv4_reassembled"] >= 3 and st["ipv6_reassembled"] >= 3
    # the stack learned Linux's MAC (ARP when replying / NDP NS from Linux)
    mac = nsexec(ns, "cat", "/sys/class/net/rntap0/address").stdout.strip()
    neigh = rn.run("ip", "--host", "st", "neigh", check=True).stdout
    assert f"10.77.0.1 dev eth0 lladdr {mac}" in neigh
    assert f"fd77::1 dev eth0 lladdr {mac}" in neigh
    link = nsexec(ns, "ip", "neigh", "show", "dev", "rntap0").stdout
    assert "10.77.0.2" in link and "fd77::2" in link


def test_stack_resolves_linux_by_arp_and_ndp_and_tcp_both_ways(rn, tap_host) -> None:
    ns, pcap = tap_host
    size = "3000000"
    for addr, port in (("10.77.0.1", "47101"), ("fd77::1", "47102")):
        # native server in the namespace, shimmed client: the stack resolves Linux
        srv = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(PEER), "server",
                                addr, port, size], stdout=subprocess.PIPE, text=True)
        try:
            assert srv.stdout.readline().strip() == "listening"
            r = rn.run("run", "--host", "st", "--", sys.executable, str(PEER), "client",
                       addr, port, size, timeout=60)
            assert r.returncode == 0 and "client ok" in r.stdout, r.stdout + r.stderr
            assert srv.wait(30) == 0
        finally:
            srv.kill()
    for listen, addr, port in (("0.0.0.0", "10.77.0.2", "47103"), ("::", "fd77::2", "47104")):
        # shimmed server on the stack, native client in the namespace
        srv = rn.popen("run", "--host", "st", "--", sys.executable, str(PEER), "server",
                       listen, port, size, stdout=subprocess.PIPE, text=True)
        try:
            assert srv.stdout.readline().strip() == "listening"
            r = nsexec(ns, sys.executable, str(PEER), "client", addr, port, size)
            assert r.returncode == 0 and "client ok" in r.stdout, r.stdout + r.stderr
            assert srv.wait(30) == 0
        finally:
            srv.kill()
    st = rn.stats("st")["stack"]
    assert st["tcp_payload_bytes_sent"] >= 4 * 3_000_000
    assert st.get("arp_requests_sent", 0) + st.get("ndp_solicits_sent", 0) >= 0
    ip = rn.run("ip", "--host", "st", "-s", "addr", check=True).stdout
    assert "inet 10.77.0.2/24 scope global eth0" in ip and "inet6 fe80::" in ip
    route = rn.run("ip", "--host", "st", "route", check=True).stdout
    assert "default via 10.77.0.1 dev eth0" in route


def test_errors_from_linux_reach_the_socket_layer(rn, tap_host) -> None:
    ns, pcap = tap_host
    # TCP connect to a closed port of Linux: RST -> ECONNREFUSED at once (v4 and v6);
    # unresolvable on-link address -> EHOSTUNREACH after 3 ARP probes, like Linux.
    for addr, want in (("10.77.0.1", "111"), ("fd77::1", "111"), ("10.77.0.99", "113")):
        r = rn.run("run", "--host", "st", "--", sys.executable, str(PEER), "refused", addr,
                   "9", timeout=30)
        assert r.stdout.split()[0] == want, r.stdout + r.stderr
    # Linux's connected UDP socket to a closed port of the stack: our ICMP port
    # unreachable makes its next recv fail with ECONNREFUSED.
    for addr in ("10.77.0.2", "fd77::2"):
        r = nsexec(ns, sys.executable, str(PEER), "udp-refused", addr, "9")
        assert r.stdout.strip() == "111", r.stdout + r.stderr
    st = rn.stats("st")["stack"]
    assert st["icmp_errors_sent"] >= 1 and st["icmp6_errors_sent"] >= 1


def test_two_hosts_over_wire_with_impairments(rn, tmp_path) -> None:
    """Two stack hosts on one virtual segment; the second sends through a lossy,
    reordering, duplicating, delaying link. TCP data arrives intact both ways."""
    if shutil.which("tshark") is None:
        pytest.fail("tshark is required (tools/setup installs it)")
    pcap_a, pcap_b = tmp_path / "a", tmp_path / "b"
    r = rn.run("host", "start", "wa", "--eth", "wire:seg1", "--addr", "10.66.0.1/24",
               "--addr", "fd66::1/64", "--pcap", str(pcap_a), "--seed", "1")
    assert r.returncode == 0, r.stderr
    r = rn.run("host", "start", "wb", "--eth", "wire:seg1", "--addr", "10.66.0.2/24",
               "--addr", "fd66::2/64", "--pcap", str(pcap_b), "--seed", "2", "--impair",
               "loss=0.01,reorder=0.02,dup=0.01")
    assert r.returncode == 0, r.stderr
    size = "300000"
    for listen, addr, port in (("0.0.0.0", "10.66.0.1", "47201"), ("::", "fd66::1", "47202")):
        srv = rn.popen("run", "--host", "wa", "--", sys.executable, str(PEER), "server",
                       listen, port, size, stdout=subprocess.PIPE, text=True)
        try:
            assert srv.stdout.readline().strip() == "listening"
            r = rn.run("run", "--host", "wb", "--", sys.executable, str(PEER), "client",
                       addr, port, size, timeout=120)
            assert r.returncode == 0 and "client ok" in r.stdout, r.stdout + r.stderr
            assert srv.wait(60) == 0
        finally:
            srv.kill()
    ip = rn.run("ip", "--host", "wb", "-s", "link", check=True).stdout
    lost = int(ip.split("impair_lost ")[1].split()[0])
    dup = int(ip.split("impair_duplicated ")[1].split()[0])
    assert lost > 0 and dup > 0
    sa, sb = rn.stats("wa")["stack"], rn.stats("wb")["stack"]
    assert sb["tcp_retransmits"] > 0 or sa["tcp_retransmits"] > 0
    rn.run("host", "stop", "wa")
    rn.run("host", "stop", "wb")
    for f in (pcap_a / "eth0.pcap", pcap_b / "eth0.pcap"):
        assert _tshark_check(f) > 100

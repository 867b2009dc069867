"""Real peers: the Linux stack over a TAP device inside a network namespace this test
creates and removes, and two stack hosts joined by a WireDevice. Every pcap written is
dissected by tshark (no malformed packets, no checksum errors).

All traffic stays inside the namespace (TAP) or on AF_UNIX sockets (wire)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import nsexec, start_tap_host, tshark_check
from tests.stack.campaign import impairments

HERE = Path(__file__).parent
PEER = HERE / "realnet_peer.py"


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


def _linux_counters(ns: str) -> dict[str, int]:
    """Linux's /proc/net/snmp counters in ``ns`` ("Tcp.RetransSegs", ...)."""
    lines = nsexec(ns, "cat", "/proc/net/snmp", check=True).stdout.splitlines()
    out = {}
    for names, values in zip(lines[::2], lines[1::2]):
        proto = names.split(":")[0]
        for k, v in zip(names.split()[1:], values.split()[1:]):
            out[f"{proto}.{k}"] = int(v)
    return out


def test_tcp_with_linux_through_an_impaired_tap_both_ways(rn, netns) -> None:
    """The stack's TAP impairs its frames both ways as the loss campaign's issue13
    profile says (loss 5%, reordering 5%, duplication 2%, corruption 1%, delay 2 ms);
    the peer is Linux. 3 MiB each way with each side connecting, hash-equal; the
    counters show every impairment happened both ways, and both TCPs repairing it.
    ``tools/soak --linux`` runs it long."""
    ab, ba = impairments("issue13", 7)
    start_tap_host(rn, netns, "--impair", ab.spec(), "--impair-rx", ba.spec(), "--seed", "7")
    size = str(3 << 20)
    srv = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, str(PEER), "server",
                            "10.77.0.1", "47105", size], stdout=subprocess.PIPE, text=True)
    try:
        assert srv.stdout.readline().strip() == "listening"
        r = rn.run("run", "--host", "st", "--", sys.executable, str(PEER), "client",
                   "10.77.0.1", "47105", size, timeout=300)
        assert r.returncode == 0 and "client ok" in r.stdout, r.stdout + r.stderr
        assert srv.wait(60) == 0
    finally:
        srv.kill()
    srv = rn.popen("run", "--host", "st", "--", sys.executable, str(PEER), "server",
                   "0.0.0.0", "47106", size, stdout=subprocess.PIPE, text=True)
    try:
        assert srv.stdout.readline().strip() == "listening"
        r = nsexec(netns, sys.executable, str(PEER), "client", "10.77.0.2", "47106", size,
                   timeout=300)
        assert r.returncode == 0 and "client ok" in r.stdout, r.stdout + r.stderr
        assert srv.wait(60) == 0
    finally:
        srv.kill()
    link = json.loads(rn.run("ip", "--host", "st", "--json", check=True).stdout)
    st = next(i for i in link if i["ifname"] == "eth0")["stats"]
    for way in ("tx", "rx"):
        for kind in ("lost", "duplicated", "reordered", "corrupted"):
            assert st[f"impair_{way}_{kind}"] > 0, (way, kind, st)
    stack = rn.stats("st")["stack"]
    assert stack["tcp_retransmits"] > 0 and stack["tcp_payload_bytes_sent"] >= 2 * (3 << 20)
    assert stack["drop_tcp_checksum"] > 0       # what we read corrupted, caught
    linux = _linux_counters(netns)
    assert linux["Tcp.RetransSegs"] > 0
    # our corrupted sends: Linux's IP or TCP checksum caught them
    assert linux["Ip.InHdrErrors"] + linux["Tcp.InCsumErrors"] > 0, linux


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
               "loss=0.01,reorder=0.02,dup=0.01,delay=0.002,jitter=0.001")
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
        assert tshark_check(f) > 100

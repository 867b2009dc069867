"""Name resolution in the stack's world (c_stub/resolv.c, shim/resolver.py).

In a namespace the test makes: DNS server A on the Linux end of the stack's TAP
(10.77.0.1, reached by shimmed programs only through the stack: the host's --dns) and
DNS server B on the namespace's own 127.0.0.1 (the namespace's resolv.conf, what native
programs use).  They give different answers; shimmed getent, python and curl must get
A's, natives B's.  Without a nameserver, a capture on the namespace's interfaces must
show no query leaving through the kernel, and the answer must be glibc's (EAI_AGAIN).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rocketnet import dns
from tests.conftest import nsexec, wait_for

HERE = Path(__file__).resolve().parent
NAME = "stack.example"
GAI = ("import socket, sys\n"
       "try:\n"
       "    print(sorted({a[4][0] for a in socket.getaddrinfo(sys.argv[1], 80)}))\n"
       "    print(socket.gethostbyname(sys.argv[1]))\n"
       "    print(socket.gethostbyaddr(sys.argv[2])[0])\n"
       "except OSError as e:\n"
       "    print(type(e).__name__, e.errno)\n")


def test_dns_codec_roundtrip():
    q = dns.query(0x1234, "www.example.com", dns.TYPE_AAAA)
    # a reply: the question echoed, a CNAME then an AAAA, names compressed
    reply = bytearray(q)
    reply[2:4] = b"\x81\x80"
    reply[6:8] = b"\x00\x02"
    target = b"\x03cdn\xc0\x10"             # cdn.example.com
    reply += b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c" + len(target).to_bytes(2, "big") + target
    at = len(q) + 12
    reply += at.to_bytes(2, "big")
    reply[-2] |= 0xC0
    reply += b"\x00\x1c\x00\x01\x00\x00\x00\x3c\x00\x10" + bytes(range(16))
    rep = dns.parse_reply(bytes(reply))
    assert (rep.qid, rep.rcode, rep.qname, rep.qtype) == (0x1234, 0, "www.example.com", 28)
    chain, found = dns.follow(rep, dns.TYPE_AAAA)
    assert chain == ["www.example.com", "cdn.example.com"] and found == [bytes(range(16))]
    # a pointer loop is malformed, never a hang
    loop = bytearray(q[:12]) + b"\xc0\x0c\x00\x01\x00\x01"
    loop[2:4] = b"\x81\x80"
    with pytest.raises(dns.Malformed):
        dns.parse_reply(bytes(loop))
    assert dns.reverse_name(bytes([10, 77, 0, 1])) == "1.0.77.10.in-addr.arpa"


def _responder(ns: str, addr: str, log: Path, *entries: str) -> subprocess.Popen:
    p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable,
                          str(HERE / "dns_responder.py"), addr, str(log), *entries],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout is not None
    line = p.stdout.readline()
    assert line.strip() == "ready", p.stderr.read() if p.stderr else ""
    return p


@pytest.fixture
def ns_resolv_conf(netns):
    """/etc/netns/NS/resolv.conf, which `ip netns exec` mounts over /etc/resolv.conf."""
    d = Path("/etc/netns") / netns
    d.mkdir(parents=True, exist_ok=True)
    yield d / "resolv.conf"
    shutil.rmtree(d, ignore_errors=True)


def _stop(*procs: subprocess.Popen) -> None:
    for p in procs:
        p.terminate()
        p.wait(timeout=10)


@pytest.mark.parametrize("tap_host", [["--dns", "10.77.0.1"]], indirect=True)
def test_two_nameservers_stack_answer(rn, tap_host, ns_resolv_conf, tmp_path):
    ns, _pcap = tap_host
    ns_resolv_conf.write_text("nameserver 127.0.0.1\n")
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    a = _responder(ns, "10.77.0.1", log_a, f"{NAME}=10.77.0.1", "tapside.example=10.77.0.1")
    b = _responder(ns, "127.0.0.1", log_b, f"{NAME}=10.66.0.6", "native.example=10.77.0.1")
    web_root = tmp_path / "www"
    web_root.mkdir()
    (web_root / "hello.txt").write_text("hello through the stack\n")
    web = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-m", "http.server",
                            "--bind", "10.77.0.1", "8080", "--directory", str(web_root)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        native = nsexec(ns, "getent", "hosts", NAME)
        assert native.stdout.split()[:2] == ["10.66.0.6", NAME], native
        shim = nsexec(ns, *rn.cmd("run", "--host", "st", "--", "getent", "hosts", NAME),
                      env=rn.env)
        assert shim.returncode == 0 and shim.stdout.split()[:2] == ["10.77.0.1", NAME], shim
        # the stack's queries reached A from the stack's address, none reached B
        queried = log_a.read_text().split("\n")
        assert any(q.startswith(f"10.77.0.2 {NAME}") for q in queried), queried
        assert all(not line.startswith("10.77.0.2") for line in log_b.read_text().split("\n"))

        py = nsexec(ns, *rn.cmd("run", "--host", "st", "--", sys.executable, "-c", GAI,
                                NAME, "10.77.0.1"), env=rn.env)
        assert py.stdout.split("\n")[:3] == ["['10.77.0.1']", "10.77.0.1", "tapside.example"], py
        pynative = nsexec(ns, sys.executable, "-c", GAI, NAME, "10.77.0.1")
        assert pynative.stdout.split("\n")[:3] == ["['10.66.0.6']", "10.66.0.6",
                                                   "native.example"], pynative
        # unknown names: NXDOMAIN from A, as natively from B
        nx = [nsexec(ns, *pre, sys.executable, "-c", GAI, "nowhere.example", "10.9.9.9",
                     env=rn.env) for pre in ([], rn.cmd("run", "--host", "st", "--"))]
        assert nx[0].stdout == nx[1].stdout == "gaierror -2\n", nx

        wait_for(lambda: nsexec(ns, "curl", "-s", "http://10.77.0.1:8080/hello.txt")
                 .returncode == 0, what="http server")
        curl = nsexec(ns, *rn.cmd("run", "--host", "st", "--", "curl", "-sS", "-m", "20",
                                  f"http://{NAME}:8080/hello.txt"), env=rn.env)
        assert curl.returncode == 0 and curl.stdout == "hello through the stack\n", curl
    finally:
        _stop(a, b, web)


def test_no_nameserver_no_query_leaves(rn, netns, ns_resolv_conf, tmp_path):
    """A host without a route has no nameserver: the answer is glibc's on a machine whose
    nameserver cannot be reached (EAI_AGAIN), and no query leaves through the kernel."""
    ns = netns
    ns_resolv_conf.write_text("# no nameserver: glibc then asks 127.0.0.1\n")
    cap = tmp_path / "dns.pcapng"
    dump = subprocess.Popen(["ip", "netns", "exec", ns, "dumpcap", "-q", "-i", "any",
                             "-f", "udp port 53 or tcp port 53", "-w", str(cap)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: cap.exists() and cap.stat().st_size > 0, timeout=30, what="dumpcap")
        cmds = (["getent", "hosts", NAME], ["getent", "ahosts", "localhost"],
                [sys.executable, str(HERE / "names_probe.py")])
        shim = [nsexec(ns, *rn.cmd("run", "--", *cmd), env=rn.env) for cmd in cmds]
        time.sleep(1)
        before = _count(cap)
        native = [nsexec(ns, *cmd) for cmd in cmds]
        time.sleep(1)
    finally:
        dump.terminate()
        dump.wait(timeout=10)
    assert before == 0, "a shimmed lookup sent a DNS query through the kernel"
    assert _count(cap) > 0, "the capture saw nothing: it would not have seen a leak either"
    assert [(r.returncode, r.stdout) for r in shim] == [(r.returncode, r.stdout) for r in native]
    assert shim[0].returncode == 2 and "('gaierror', -3)" in shim[2].stdout


def _count(cap: Path) -> int:
    r = subprocess.run(["tshark", "-n", "-r", str(cap)], capture_output=True, text=True,
                       timeout=60)
    return len(r.stdout.splitlines())

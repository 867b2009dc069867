"""Shared fixtures: a private runtime directory, so every test session has its own
stack hosts and never touches a user's."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROCKETNET = [sys.executable, "-m", "shim.cli"]
# Timeouts of runs that take real time scale with the CPU: tools/vm sets 10 in an
# emulated guest (QEMU without KVM), where the same run takes about ten times longer.
TIMEOUT_FACTOR = float(os.environ.get("ROCKETNET_TIMEOUT_FACTOR") or 1)
# Hosts run under the interpreter running the tests unless the caller names one
# (ROCKETNET_HOST_PYTHON=pypy3 pytest ...): never by `rocketnet host pick`'s record.
os.environ.setdefault("ROCKETNET_HOST_PYTHON", sys.executable)


def scaled(seconds: float) -> float:
    return seconds * TIMEOUT_FACTOR


def _interrupted(signum: int, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


# A run is in a session of its own (so its group can be killed without pytest's):
# SIGTERM/SIGHUP to pytest (timeout(1), a closed terminal) must end the session by an
# exception, so that Rocketnet.run kills the group it waits for and fixtures stop hosts.
for _sig in (signal.SIGTERM, signal.SIGHUP):
    if signal.getsignal(_sig) == signal.SIG_DFL:
        signal.signal(_sig, _interrupted)


class Rocketnet:
    """Runs the `rocketnet` command against a private runtime directory."""

    def __init__(self, runtime_dir: Path) -> None:
        self.runtime_dir = runtime_dir
        self.env = dict(os.environ, ROCKETNET_RUNTIME_DIR=str(runtime_dir))
        self.env.pop("LD_PRELOAD", None)

    def cmd(self, *args: str) -> list[str]:
        return [*ROCKETNET, *args]

    def run(self, *args: str, timeout: float = 60, check: bool = False,
            **kw) -> subprocess.CompletedProcess:
        """As subprocess.run, but a timeout (or anything else that ends the wait: an
        interrupt, pytest's SIGTERM) kills the run's whole process group (a seccomp
        supervisor and its program too), never leaving them behind."""
        with subprocess.Popen(self.cmd(*args), env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True,
                              **kw) as p:
            try:
                out, err = p.communicate(timeout=timeout)
            except BaseException:
                os.killpg(p.pid, signal.SIGKILL)
                p.communicate()
                raise
        r = subprocess.CompletedProcess(p.args, p.returncode, out, err)
        if check:
            r.check_returncode()
        return r

    def popen(self, *args: str, **kw) -> subprocess.Popen:
        return subprocess.Popen(self.cmd(*args), env=self.env, **kw)

    def stats(self, host: str = "default") -> dict:
        r = self.run("host", "stats", host, check=True)
        return json.loads(r.stdout)

    def stop_all(self) -> None:
        r = self.run("host", "list")
        for line in r.stdout.splitlines()[1:]:
            self.run("host", "stop", line.split()[0])


@pytest.fixture
def rn(tmp_path_factory) -> Rocketnet:
    d = tmp_path_factory.mktemp("rt")
    os.chmod(d, 0o700)
    r = Rocketnet(d)
    yield r
    r.stop_all()


def wait_for(pred, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# ---- real peers: Linux in a network namespace the test creates and removes ----

def tshark_check(pcap: Path) -> int:
    """Number of frames in pcap; fails on malformed packets or bad checksums."""
    assert shutil.which("tshark"), "tshark is required (tools/setup installs it)"
    base = ["tshark", "-n", "-r", str(pcap), "-o", "ip.check_checksum:TRUE",
            "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
            # the check is about link, IP and transport headers and checksums: show every
            # TCP and UDP payload as data, so no application dissector or heuristic
            # (TLS, RTCP, Q.931...) mistakes the tests' random bytes for its protocol
            "-d", "tcp.port==1-65535,data", "-d", "udp.port==1-65535,data"]
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


def start_tap_host(rn, netns: str, *options: str) -> None:
    """Stack host 'st' with eth0 = TAP 'rntap0' in ``netns``; Linux side 10.77.0.1/24,
    fd77::1/64; the stack 10.77.0.2/24, fd77::2/64; more `host start` ``options``."""
    r = subprocess.run(["ip", "netns", "exec", netns, *rn.cmd(
        "host", "start", "st", "--eth", "tap:rntap0", "--addr", "10.77.0.2/24",
        "--addr", "fd77::2/64", "--gateway", "10.77.0.1", *options)],
        env=rn.env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    for cmd in (["ip", "addr", "add", "10.77.0.1/24", "dev", "rntap0"],
                ["ip", "addr", "add", "fd77::1/64", "dev", "rntap0", "nodad"],
                ["ip", "link", "set", "rntap0", "up"]):
        r = nsexec(netns, *cmd)
        assert r.returncode == 0, r.stderr


@pytest.fixture
def tap_host(rn, netns, tmp_path, request):
    """:func:`start_tap_host` with a pcap of every frame, which tshark checks at the end.
    More `host start` options: indirect parametrization (request.param, a list)."""
    pcap = tmp_path / "pcap"
    start_tap_host(rn, netns, "--pcap", str(pcap), *getattr(request, "param", []))
    yield netns, pcap
    rn.run("host", "stop", "st")
    for f in sorted(pcap.glob("*.pcap")):
        tshark_check(f)


# ---- netperf: netserver through the shim, as the contest starts it ----

NETSERVER_PORT = 12865


def control_port_open(rn) -> bool:
    """netserver listens on the STACK's 127.0.0.1:12865 (asked through the shim)."""
    code = ("import socket; s = socket.socket(); s.settimeout(2); "
            f"print(s.connect_ex(('127.0.0.1', {NETSERVER_PORT})))")
    r = rn.run("run", "--", "python3", "-c", code, timeout=20)
    return r.stdout.strip() == "0"


@pytest.fixture
def netserver(rn):
    """`netserver -D -L 127.0.0.1 -p 12865` through the shim, as the contest starts it."""
    p = rn.popen("run", "--", "netserver", "-D", "-L", "127.0.0.1", "-p", str(NETSERVER_PORT),
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: control_port_open(rn), timeout=20, what="netserver")
        yield p
    finally:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# ---- iperf3: the server as the contest starts it ----

@pytest.fixture
def iperf3_server(rn, tmp_path):
    """`iperf3 -s -p 5001 -D` through the shim, as the contest starts it."""
    pidfile = tmp_path / "iperf3.pid"
    r = rn.run("run", "--", "iperf3", "-s", "-p", "5001", "-D", "-I", str(pidfile))
    assert r.returncode == 0, r.stderr
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), what="iperf3 -D")
    yield
    os.kill(int(pidfile.read_text()), signal.SIGTERM)

"""Per-run recording: `rocketnet run --pcap DIR` captures exactly the run's lifetime into
one pcapng file with named interfaces (snaplen, filter, 0600, never over an existing
file or through a symlink); `--tcp-probe FILE` (per run or per host) writes the TCP
probe's JSON lines; `rocketnet plot` draws them. Two stack hosts on a wire segment
(AF_UNIX only, no kernel traffic). The recorded client runs on either path (--via)."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from shim import seccomp_bpf
from tests.conftest import tshark_check

HERE = Path(__file__).parent
PEER = HERE / "realnet_peer.py"


def tshark(pcap: Path, *args: str) -> list[str]:
    r = subprocess.run(["tshark", "-n", "-r", str(pcap), *args], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def one_file(d: Path) -> Path:
    files = list(d.iterdir())
    assert len(files) == 1 and files[0].suffix == ".pcapng", files
    return files[0]


@pytest.fixture(params=["preload", "seccomp"])
def via(request) -> tuple[str, str]:
    if request.param == "seccomp" and seccomp_bpf.unavailable():
        pytest.skip(seccomp_bpf.unavailable() or "")
    return ("--via", request.param)


@pytest.fixture
def two_hosts(rn):
    seg = "pc" + uuid.uuid4().hex[:6]
    for name, addr in (("pa", "10.67.0.1/24"), ("pb", "10.67.0.2/24")):
        r = rn.run("host", "start", name, "--eth", f"wire:{seg}", "--addr", addr)
        assert r.returncode == 0, r.stderr
    yield
    rn.run("host", "stop", "pa")
    rn.run("host", "stop", "pb")


def transfer(rn, srv_host: str, listen: str, addr: str, port: str, *run_opts: str,
             size: str = "200000") -> subprocess.CompletedProcess:
    srv = rn.popen("run", "--host", srv_host, "--", sys.executable, str(PEER), "server",
                   listen, port, size, stdout=subprocess.PIPE, text=True)
    try:
        assert srv.stdout.readline().strip() == "listening"
        r = rn.run("run", "--host", "pa", *run_opts, "--", sys.executable, str(PEER),
                   "client", addr, port, size, timeout=120)
        assert r.returncode == 0 and "client ok" in r.stdout, r.stdout + r.stderr
        assert srv.wait(60) == 0
    finally:
        srv.kill()
    return r


def test_run_pcap_is_one_pcapng_of_that_run(rn, tmp_path, two_hosts, via) -> None:
    cap = tmp_path / "cap"
    r = transfer(rn, "pb", "0.0.0.0", "10.67.0.2", "47251", *via, "--pcap", str(cap))
    f = one_file(cap)
    assert f"recording this run's pcap in {f}" in r.stderr
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert tshark_check(f) > 10
    names = set(tshark(f, "-T", "fields", "-e", "frame.interface_name"))
    assert names == {"lo", "eth0"} or names == {"eth0"}
    assert len(tshark(f, "-Y", "tcp.port == 47251 && frame.interface_name == eth0")) > 10
    assert tshark(f, "-Y", "arp")                       # the link resolved the peer
    before = f.stat().st_size
    # the run is over: another run's traffic on the same host is not in its file
    transfer(rn, "pa", "127.0.0.1", "127.0.0.1", "47252")
    assert f.stat().st_size == before
    assert not tshark(f, "-Y", "tcp.port == 47252")


def test_run_pcap_snaplen_and_filter(rn, tmp_path, two_hosts) -> None:
    cap = tmp_path / "cap"
    transfer(rn, "pb", "0.0.0.0", "10.67.0.2", "47253", "--pcap", str(cap), "--snaplen", "96",
             "--pcap-filter", "tcp dst port 47253")
    f = one_file(cap)
    rows = tshark(f, "-T", "fields", "-e", "frame.cap_len", "-e", "frame.len",
                  "-e", "tcp.dstport")
    assert len(rows) > 10
    lens = [tuple(int(x) for x in row.split("\t")[:2]) for row in rows]
    assert all(cap_len <= 96 for cap_len, _ in lens)
    assert any(n > 1000 for _, n in lens)               # data frames, cut to the snaplen
    assert all(row.split("\t")[2] == "47253" for row in rows)


def test_run_pcap_and_probe_errors_are_named(rn, tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    r = rn.run("run", "--pcap", str(blocker / "sub"), "--", "true")
    assert r.returncode != 0 and "--pcap" in r.stderr and "Traceback" not in r.stderr
    r = rn.run("run", "--pcap", str(tmp_path), "--pcap-filter", "tcp prot 80", "--", "true")
    assert r.returncode == 2 and "prot" in r.stderr and "Traceback" not in r.stderr
    target = tmp_path / "target"
    target.write_text("keep me")
    link = tmp_path / "probe.jsonl"
    link.symlink_to(target)
    r = rn.run("run", "--tcp-probe", str(link), "--", "true")
    assert r.returncode != 0 and "--tcp-probe" in r.stderr
    assert target.read_text() == "keep me"              # never written through a symlink
    r = rn.run("run", "--tcp-probe", str(target), "--", "true")
    assert r.returncode != 0 and "exists" in r.stderr


def test_tcp_probe_per_host_and_per_run_then_plot(rn, tmp_path, two_hosts, via) -> None:
    probe = tmp_path / "run.jsonl"
    transfer(rn, "pb", "0.0.0.0", "10.67.0.2", "47254", *via, "--tcp-probe", str(probe))
    recs = [json.loads(line) for line in probe.read_text().splitlines()]
    assert stat.S_IMODE(probe.stat().st_mode) == 0o600
    kinds = {r["ev"] for r in recs}
    assert {"state", "ack"} <= kinds
    est = [r for r in recs if r["ev"] == "state" and r["state"] == "ESTABLISHED"]
    assert any(r["remote"] == "10.67.0.2:47254" for r in est)
    assert all(r["cwnd"] > 0 for r in recs if r["ev"] == "ack")
    hp = tmp_path / "host.jsonl"
    r = rn.run("host", "start", "pc", "--tcp-probe", str(hp))
    assert r.returncode == 0, r.stderr
    try:
        r = rn.run("run", "--host", "pc", "--", sys.executable, "-c",
                   "import socket; l = socket.create_server(('127.0.0.1', 0)); "
                   "c = socket.create_connection(l.getsockname()); s, _ = l.accept(); "
                   "c.sendall(b'x' * 100000); c.close(); "
                   "print(sum(iter(lambda: len(s.recv(65536)), 0)))")
        assert r.stdout.strip() == "100000", r.stderr
    finally:
        rn.run("host", "stop", "pc")
    assert any(json.loads(line)["ev"] == "ack" for line in hp.read_text().splitlines())
    pytest.importorskip("matplotlib", reason="rocketnet plot needs the [plot] extra")
    for out in ("cwnd.png", "cwnd.svg"):
        r = rn.run("plot", str(probe), "-o", str(tmp_path / out))
        assert r.returncode == 0, r.stderr
    assert (tmp_path / "cwnd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (tmp_path / "cwnd.svg").read_bytes()[:1000]


def test_plot_without_matplotlib_says_how_to_get_it(tmp_path) -> None:
    probe = tmp_path / "p.jsonl"
    probe.write_text('{"t": 0, "sock": 1, "ev": "ack"}\n')
    blocker = tmp_path / "nomatplotlib"
    blocker.mkdir()
    (blocker / "matplotlib.py").write_text("raise ImportError('not installed')\n")
    env = dict(os.environ, PYTHONPATH=f"{blocker}:{HERE.parent}")
    r = subprocess.run([sys.executable, "-m", "shim.cli", "plot", str(probe)], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "rocketnet[plot]" in r.stderr and "Traceback" not in r.stderr


def test_run_session_is_for_the_hosts_owner_only(tmp_path) -> None:
    """A client of another uid (a dropped-privilege process holding an inherited
    dialer) may not make the host write files."""
    import errno as errno_mod
    import types

    from shim import protocol as P
    from shim.session import SessionService

    svc = SessionService(types.SimpleNamespace(), types.SimpleNamespace())
    req = P.Request(P.OP_RUN_SESSION, 0, (0, 0, 0, 0),
                    json.dumps({"tcp_probe": str(tmp_path / "p.jsonl")}).encode())
    reply, fd = svc.op_run_session(types.SimpleNamespace(uid=os.getuid() + 1, pid=1), req)
    assert fd is None and P.RESP.unpack_from(reply)[:2] == (-1, errno_mod.EPERM)
    assert not (tmp_path / "p.jsonl").exists()

"""ss and ip route under the shim show the stack (shim/sockdiag.py, shim/rtroute.py)."""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time

import pytest

from tests.conftest import nsexec, wait_for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _iperf3_pair(pre: list[str], port: int, env) -> tuple[subprocess.Popen, subprocess.Popen]:
    server = subprocess.Popen([*pre, "iperf3", "-s", "-1", "-p", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    client = subprocess.Popen([*pre, "iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", "6"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return server, client


def _ss(pre: list[str], port: int, env) -> str:
    flt = ["sport", "=", f":{port}", "or", "dport", "=", f":{port}"]
    return subprocess.run([*pre, "ss", "-tanpi", *flt], env=env, capture_output=True,
                          text=True, timeout=30).stdout


def _wait(*procs: subprocess.Popen) -> None:
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@pytest.mark.skipif(shutil.which("iperf3") is None, reason="iperf3 is missing")
def test_ss_tanpi_beside_native_for_iperf3(rn):
    shim_pre = rn.cmd("run", "--")
    outputs = {}
    for name, pre in (("native", []), ("shim", shim_pre)):
        port = _free_port()
        server, client = _iperf3_pair(pre, port, rn.env)
        try:
            wait_for(lambda p=pre, n=port: "ESTAB" in _ss(p, n, rn.env), timeout=20,
                     what="iperf3")
            time.sleep(1.0)
            outputs[name] = (port, _ss(pre, port, rn.env))
        finally:
            _wait(client, server)
    for name, (port, text) in outputs.items():
        lines = text.splitlines()
        assert lines[0].split() == ["State", "Recv-Q", "Send-Q", "Local", "Address:Port",
                                    "Peer", "Address:Port", "Process"], (name, text)
        socks = [(a, b) for a, b in zip(lines[1::2], lines[2::2])]
        listen = [a for a, _ in socks if a.startswith("LISTEN")]
        assert len(listen) == 1 and f":{port}" in listen[0] and '"iperf3"' in listen[0], text
        estab = [(a, b) for a, b in socks if a.startswith("ESTAB")]
        assert len(estab) == 4, (name, text)           # control + data, both ends
        for a, info in estab:
            assert re.search(r'users:\(\("iperf3",pid=\d+,fd=\d+\)\)', a), (name, a)
            assert re.search(r"\bcwnd:\d+", info) and re.search(r"\b(cubic|reno|bbr)\b", info)
        # the data connection's ends have an RTT (on the stack, the control connection's
        # few segments are acked within one poll of the host: 0 us, which ss omits)
        data = [info for _, info in estab
                if int((re.findall(r"bytes_(?:acked|received):(\d+)", info) or ["0"])[0]) > 1e6]
        assert len(data) == 2 and all(re.search(r"\brtt:[\d.]+/", i) for i in data), text
    # the shim's ss shows the stack's sockets only: not the native run's port
    nport, _ = outputs["native"]
    assert f":{nport}" not in outputs["shim"][1]


def test_rocketnet_ss_from_outside(rn):
    r = rn.run("ss", "--host", "nothere", "-tln")
    assert r.returncode == 1 and "no host 'nothere'" in r.stderr
    port = _free_port()
    server = rn.popen("run", "--", "iperf3", "-s", "-1", "-p", str(port),
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: f":{port}" in rn.run("ss", "-tlnp").stdout, timeout=20,
                 what="listener in rocketnet ss")
        out = rn.run("ss", "-tlnp").stdout
        assert '"iperf3"' in out and out.splitlines()[0].startswith("State")
        # filters work; a filter matching nothing shows the header alone
        assert len(rn.run("ss", "-tln", "sport", "=", ":1").stdout.splitlines()) == 1
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_ip_route_dump_and_changes(rn, tap_host):
    ns, _ = tap_host

    def ip(*args: str, user: bool = False) -> subprocess.CompletedProcess:
        pre = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if user else []
        return nsexec(ns, *rn.cmd("run", "--host", "st", "--", *pre, "ip", *args), env=rn.env)

    assert ip("route").stdout.splitlines() == [
        "default via 10.77.0.1 dev eth0 ",
        "10.77.0.0/24 dev eth0 proto kernel scope link src 10.77.0.2 "]
    assert ip("-6", "route").stdout.splitlines() == [
        "::1 dev lo proto kernel metric 256 pref medium",
        "fd77::/64 dev eth0 proto kernel metric 256 pref medium",
        "fe80::/64 dev eth0 proto kernel metric 256 pref medium"]
    # non-root: EPERM, as Linux; nothing changes
    r = ip("route", "del", "default", user=True)
    assert r.returncode == 2 and "Operation not permitted" in r.stderr, r
    r = ip("addr", "add", "10.77.0.9/24", "dev", "eth0", user=True)
    assert r.returncode == 2 and "Operation not permitted" in r.stderr, r
    # root changes the host: a new address answers pings from Linux, routes come and go
    assert ip("addr", "add", "10.77.0.9/24", "dev", "eth0").returncode == 0
    assert nsexec(ns, "ping", "-c1", "-W5", "10.77.0.9").returncode == 0
    r = ip("addr", "add", "10.77.0.9/24", "dev", "eth0")
    assert r.returncode == 2 and "File exists" in r.stderr, r
    assert ip("addr", "del", "10.77.0.9/24", "dev", "eth0").returncode == 0
    r = ip("addr", "del", "10.77.0.9/24", "dev", "eth0")
    assert r.returncode == 2 and "Cannot assign requested address" in r.stderr, r
    assert ip("route", "del", "default").returncode == 0
    assert ip("route").stdout.splitlines() == [
        "10.77.0.0/24 dev eth0 proto kernel scope link src 10.77.0.2 "]
    assert ip("-6", "route", "add", "default", "via", "fd77::1").returncode == 0
    assert "default via fd77::1 dev eth0 metric 1024 pref medium" in ip("-6", "route").stdout
    # routes the stack cannot hold are refused, never accepted and ignored
    r = ip("route", "add", "10.80.0.0/16", "via", "10.77.0.1")
    assert r.returncode == 2 and "Operation not supported" in r.stderr, r


UNIX_SCRIPT = r"""
import os, socket, subprocess, sys
path = sys.argv[1]
l = socket.socket(socket.AF_UNIX); l.bind(path); l.listen(3)
a = socket.socket(socket.AF_UNIX); a.bind(b"\0rn-diag-%d" % os.getpid()); a.listen(1)
c = socket.socket(socket.AF_UNIX); c.connect(path)
s, _ = l.accept()
c.send(b"hello")
d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
x, y = socket.socketpair()
out = subprocess.run(["ss", "-xap"], capture_output=True, text=True).stdout
mine = []
for line in out.splitlines():
    if "pid=%d," % os.getpid() in line:
        mine.append(" ".join(line.split()[:5]).replace(str(os.getpid()), "PID"))
print("\n".join(sorted(mine)))
"""


def test_ss_unix_beside_native(rn, tmp_path):
    script = tmp_path / "unix_ss.py"
    script.write_text(UNIX_SCRIPT)
    runs = []
    for pre in ([], rn.cmd("run", "--")):
        path = tmp_path / f"l{len(runs)}.sock"
        r = subprocess.run([*pre, "python3", str(script), str(path)], env=rn.env,
                           capture_output=True, text=True, timeout=60)
        runs.append(r.stdout.replace(str(path), "PATH"))
    assert runs[0] == runs[1], runs
    lines = runs[1].splitlines()
    assert any(x.startswith("u_str LISTEN 0 3 PATH") for x in lines), lines
    assert any(x.startswith("u_str ESTAB 5") for x in lines), lines   # "hello" unread
    assert len(lines) == 7, lines

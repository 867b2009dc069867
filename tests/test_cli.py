"""The rocketnet command as a newcomer meets it: hosts started on demand go away when
idle (named ones too), `host list` does not count itself, errors are one line (no
traceback), --json for host list / ip / ss, `ss` shows the stack's sockets, shell
completion, and the tools start without an activated venv."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parent.parent
SERVER = ("import socket, sys\n"
          "l = socket.create_server(('127.0.0.1', 0)); print(l.getsockname()[1], flush=True)\n"
          "c = socket.create_connection(l.getsockname()); s, _ = l.accept()\n"
          "sys.stdin.read()\n")


def hosts(rn) -> dict:
    r = rn.run("host", "list", "--json")
    assert r.returncode == 0, r.stderr
    return {h["name"]: h for h in json.loads(r.stdout)}


def test_named_on_demand_host_exits_when_idle_started_one_stays(rn) -> None:
    assert rn.run("run", "--host", "typo", "--", "true").returncode == 0   # started it
    assert rn.run("host", "start", "kept").returncode == 0
    wait_for(lambda: "typo" not in hosts(rn), timeout=60, what="the on-demand host to exit")
    assert "kept" in hosts(rn)
    assert hosts(rn)["kept"]["clients"] == 0          # the asking connection is not counted


def test_bad_host_python_is_one_line(rn, tmp_path) -> None:
    env = dict(rn.env, ROCKETNET_HOST_PYTHON=str(tmp_path / "no-such-python"))
    r = subprocess.run(rn.cmd("run", "--host", "bad", "--", "true"), env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and "no-such-python" in r.stderr
    assert "ROCKETNET_HOST_PYTHON" in r.stderr and len(r.stderr.splitlines()) == 1


def test_version_names_the_host_interpreter_and_why(rn, tmp_path) -> None:
    r = rn.run("--version")
    assert r.returncode == 0, r.stderr
    line = r.stdout.splitlines()[1]
    assert line.startswith("host interpreter: ") and line.endswith(")")
    env = dict(rn.env, ROCKETNET_HOST_PYTHON=sys.executable)
    r = subprocess.run(rn.cmd("--version"), env=env, capture_output=True, text=True, timeout=60)
    assert r.stdout.splitlines()[1] == \
        f"host interpreter: {sys.executable} (from ROCKETNET_HOST_PYTHON)"


def test_ss_and_ip_json(rn) -> None:
    assert rn.run("host", "start", "s1").returncode == 0
    p = rn.popen("run", "--host", "s1", "--", sys.executable, "-c", SERVER,
                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(p.stdout.readline())
        rows = json.loads(rn.run("sockets", "--host", "s1", "-a", "--json").stdout)
        lst = [r for r in rows if r["state"] == "LISTEN"]
        assert [r["local"] for r in lst] == [f"127.0.0.1:{port}"]
        est = [r for r in rows if r["state"] == "ESTABLISHED"]
        assert len(est) == 2 and all(r["sock"] > 0 and r["tcp"]["cwnd"] > 0 for r in est)
        assert {r["remote"] for r in est} >= {f"127.0.0.1:{port}"}
        text = rn.run("sockets", "--host", "s1", "-i").stdout
        assert "ESTABLISHED" in text and "LISTEN" not in text and "cubic" in text
        assert "LISTEN" in rn.run("sockets", "--host", "s1", "-l").stdout
    finally:
        p.communicate("", timeout=30)
    ifs = json.loads(rn.run("ip", "--host", "s1", "--json").stdout)
    assert [i["ifname"] for i in ifs] == ["lo"]


def test_bash_completion(rn) -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    script = rn.run("completion", "bash").stdout
    prog = script + ('COMP_WORDS=(rocketnet h); COMP_CWORD=1; _rocketnet; echo "${COMPREPLY[@]}"\n'
                     'COMP_WORDS=(rocketnet run --tr); COMP_CWORD=2; _rocketnet; '
                     'echo "${COMPREPLY[@]}"\n')
    r = subprocess.run([bash, "-c", prog], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["host", "--trace"]


def test_tools_start_without_the_venv(tmp_path) -> None:
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("no .venv here (tools/setup makes it)")
    system = shutil.which("python3", path="/usr/bin:/bin")
    if system is None:
        pytest.skip("no system python3")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    for tool in ("ltp", "bench", "soak"):
        r = subprocess.run([system, str(ROOT / "tools" / tool), "--help"], env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "usage:" in r.stdout, (tool, r.stderr)
    assert os.access(ROOT / "tools" / "ltp", os.X_OK)

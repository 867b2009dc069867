"""The stack stays runnable on PyPy (Debian's pypy3, Python 3.9): the sans-I/O engine
moves bytes in-process, and a stack host running under pypy3 serves shimmed programs."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psutil

from tests.conftest import Rocketnet

ROOT = Path(__file__).resolve().parent.parent


def test_engine_runs_on_pypy():
    r = subprocess.run(["pypy3", str(ROOT / "tools" / "inproc_throughput.py"), "16"],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("16 MiB in ") and "(retransmits 0)" in r.stdout


def test_pypy_hosts_the_stack_for_shimmed_programs(rn: Rocketnet):
    rn.env["ROCKETNET_HOST_PYTHON"] = "pypy3"
    r = rn.run("host", "start", "pp", timeout=60)
    assert r.returncode == 0, r.stderr
    pid = int(r.stdout.split("pid ")[1].rstrip(")\n"))
    assert Path(psutil.Process(pid).exe()).name.startswith("pypy")
    srv = rn.run("run", "--host", "pp", "--", "iperf3", "-s", "-p", "5401", "-1", "-D")
    assert srv.returncode == 0, srv.stderr
    r = rn.run("run", "--host", "pp", "--", "iperf3", "-c", "127.0.0.1", "-p", "5401",
               "-t", "1", "-i", "0", timeout=60)
    assert r.returncode == 0, r.stderr
    assert [ln for ln in r.stdout.splitlines() if ln.endswith("receiver")]
    assert rn.stats("pp")["stack"]["tcp_payload_bytes_received"] > 0

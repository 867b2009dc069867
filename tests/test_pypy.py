"""The stack stays runnable on PyPy (Debian's pypy3, Python 3.9): the sans-I/O engine
moves bytes in-process, a stack host running under pypy3 serves shimmed programs, and
tools/pypy-setup's PyPy serves AF_ALG too (the picker may pick it: shim/hostpick.py)."""
from __future__ import annotations

import errno
import hashlib
import mmap
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from shim import hostpick
from tests.conftest import Rocketnet

ROOT = Path(__file__).resolve().parent.parent
needs_pypy = pytest.mark.skipif(shutil.which("pypy3") is None,
                                reason="no pypy3 (tools/setup installs it)")
ALG_SHA256 = ("import socket, sys\n"
              "t = socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET, 0)\n"
              "t.bind(('hash', 'sha256'))\n"
              "op, _ = t.accept()\n"
              "op.sendall(b'abc')\n"
              "sys.stdout.write(op.recv(32).hex())\n")


@needs_pypy
def test_engine_runs_on_pypy():
    r = subprocess.run(["pypy3", str(ROOT / "tools" / "inproc_throughput.py"), "16"],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("16 MiB in ") and "(retransmits 0)" in r.stdout


@needs_pypy
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


@pytest.mark.skipif(not os.access(hostpick.PYPY_VENV, os.X_OK),
                    reason="no .venv-pypy (tools/pypy-setup makes it)")
def test_setup_pypy_serves_what_cpython_serves(rn: Rocketnet):
    """The PyPy that tools/pypy-setup prepares lacks nothing a CPython host serves, so the
    picker may pick it: AF_ALG hashes on a host under it."""
    assert hostpick.missing_under(str(hostpick.PYPY_VENV)) == {}
    rn.env["ROCKETNET_HOST_PYTHON"] = str(hostpick.PYPY_VENV)
    r = rn.run("run", "--host", "alg", "--", sys.executable, "-c", ALG_SHA256, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == hashlib.sha256(b"abc").hexdigest()


@needs_pypy
def test_a_host_without_cryptography_names_it_at_the_call(rn: Rocketnet):
    """Debian's bare pypy3 has no working `cryptography`: its host refuses socket(AF_ALG)
    as a kernel without AF_ALG does (EAFNOSUPPORT), and host.log says why."""
    if "AF_ALG" not in hostpick.missing_under("pypy3"):
        pytest.skip("this pypy3 has `cryptography`: its host serves AF_ALG")
    rn.env["ROCKETNET_HOST_PYTHON"] = "pypy3"
    prog = ("import socket\n"
            "try:\n    socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET, 0)\n"
            "except OSError as e:\n    print(e.errno)\n")
    r = rn.run("run", "--host", "bare", "--", sys.executable, "-c", prog, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(errno.EAFNOSUPPORT)
    log = (rn.runtime_dir / "bare" / "host.log").read_text()
    assert "socket(AF_ALG): EAFNOSUPPORT" in log and "no `cryptography`" in log


def test_ring_storage_is_raw_memory_given_back_when_released():
    """TCP rings keep their bytes in mmap'd memory (PyPy copies it with memcpy, a
    bytearray byte by byte); old storage is unmapped when the ring grows or is
    released, and a view still alive keeps CPython's mapping valid."""
    from rocketnet.transport.tcp.ring import MIN_CAPACITY, ByteRing

    ring = ByteRing()
    ring.append(b"a" * 100)
    small = ring.buf
    assert isinstance(small, mmap.mmap) and len(small) == MIN_CAPACITY
    ring.append(b"b" * MIN_CAPACITY)        # grows: contents kept, old storage unmapped
    assert small.closed and not ring.buf.closed
    assert ring.read(101) == b"a" * 100 + b"b"
    view = ring.mv[ring.head:ring.head + 10]
    big = ring.buf
    ring.release()
    assert ring.capacity == 0 and not isinstance(ring.buf, mmap.mmap)
    if big.closed:                          # PyPy: the view now reads as empty
        assert len(view) == 0 or bytes(view) == b""
    else:                                   # CPython: unmapped with the last view
        assert bytes(view) == b"b" * 10
    del view


def test_packet_buffers_are_raw_memory():
    from rocketnet.phy.netbuf import NetBufPool

    pool = NetBufPool(2048, 4)
    assert isinstance(pool.memory, mmap.mmap)
    buf = pool.alloc(100)
    assert buf is not None
    buf.view[:5] = b"hello"
    assert bytes(pool.memory[buf.index * 2048:buf.index * 2048 + 5]) == b"hello"


def test_hostwarm_reads_pypys_own_accounting(tmp_path):
    """tools/hostwarm's seconds per PYPYLOG section: outermost occurrences only, log
    timestamps (hex ticks) scaled to jit-summary's TOTAL seconds; its own lines as given."""
    log = tmp_path / "host.log"
    log.write_text("[100] {jit-tracing\n[120] {jit-tracing\n[150] jit-tracing}\n"
                   "[200] jit-tracing}\n[300] {gc-minor\n[310] {gc-minor-walkroots\n"
                   "[320] gc-minor-walkroots}\n[380] gc-minor}\n[400] {jit-summary\n"
                   "Tracing:      \t3\t0.5\nBackend:      \t2\t0.125\nTOTAL:      \t\t2.0\n"
                   "abort: trace too long:\t4\n[500] jit-summary}\n")
    got = runpy.run_path(str(ROOT / "tools" / "hostwarm"), run_name="hostwarm")[
        "pypylog_seconds"](log)
    assert got == pytest.approx({"jit-tracing": 0.5, "jit-optimize": 0.0, "jit-backend": 0.0,
                                 "gc-minor": 0.25, "gc-collect-step": 0.0, "Tracing": 0.5,
                                 "Backend": 0.125, "TOTAL": 2.0, "trace too long": 4.0})


@needs_pypy
def test_hostwarm_measures_both_hosts_per_connection(tmp_path):
    """tools/hostwarm end to end: a host under each interpreter serves its shimmed
    connections; per batch each gets its host's CPU per connection, PyPy's log read."""
    env = dict(os.environ)
    env.pop("ROCKETNET_HOST_PYTHON", None)
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "hostwarm"), "--python",
                        f"{sys.executable},pypy3", "--batch", "5", "--batches", "2",
                        "--pypylog", str(tmp_path)], capture_output=True, text=True,
                       timeout=180, env=env)
    assert r.returncode == 0, r.stderr
    rows = {ln.split(": ")[0]: ln for ln in r.stdout.splitlines() if "connections; " in ln}
    assert set(rows) == {sys.executable, "pypy3"}
    for row in rows.values():
        pairs = row.split("; ")[1].split()
        assert len(pairs) == 2 and all(float(x) >= 0 for p in pairs for x in p.split("+"))
    assert "pypy3 round 1: jit-tracing " in r.stdout and list(tmp_path.glob("host-0-*.log"))

"""tools/cores (where the host's CPU goes; the second core's options): its readings of
py-spy's stacks and of /proc, which the documented verdicts rest on."""
from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _cores():
    loader = importlib.machinery.SourceFileLoader("cores", str(ROOT / "tools" / "cores"))
    spec = importlib.util.spec_from_loader("cores", loader)
    assert spec is not None
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def test_categorise_splits_user_time_without_system_calls(tmp_path) -> None:
    raw = tmp_path / "x.raw"
    base = "main (shim/host.py:284);StackHost.serve (shim/host.py:175)"
    raw.write_text("\n".join([
        f"{base};send (libc.so.6) 50",          # a system call: stime's, not counted
        f"{base};epoll_wait (libc.so.6) 30",
        f"{base};ByteRing.write (rocketnet/transport/tcp/ring.py:90);"
        "0x7f47e798bb75 (libc.so.6) 10",        # libc's unnamed memmove variant
        f"{base};checksum (rocketnet/wire/checksum.py:31);_sum16 "
        "(rocketnet/wire/checksum.py:16) 5",
        f"{base};OutputMixin._xmit (rocketnet/transport/tcp/output.py:84) 25",
    ]) + "\n")
    got = _cores().categorise(raw)
    assert got == pytest.approx({"copies": 0.25, "checksum": 0.125,
                                 "protocol Python": 0.625})


def test_tree_cpu_counts_descendants(tmp_path) -> None:
    cores = _cores()
    # a shell whose child spins: the child's CPU counts for the shell's tree
    stop = tmp_path / "stop"
    p = subprocess.Popen(["sh", "-c", f"sh -c 'while [ ! -e {stop} ]; do :; done' & wait"])
    try:
        before = cores.tree_cpu([p.pid])
        for _ in range(200):
            if cores.tree_cpu([p.pid]) > before:
                break
            os.sched_yield()
            subprocess.run(["sleep", "0.05"])
        assert cores.tree_cpu([p.pid]) > before
        assert cores.tree_cpu([2 ** 22 + 1]) == 0      # no such process: nothing
    finally:
        stop.touch()
        p.wait(30)


def test_cores_starts_without_the_venv(tmp_path) -> None:
    system = shutil.which("python3", path="/usr/bin:/bin")
    if system is None:
        pytest.skip("no system python3")
    r = subprocess.run([system, str(ROOT / "tools" / "cores"), "--help"],
                       env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "profile" in r.stdout and "split" in r.stdout, r.stderr

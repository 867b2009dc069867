"""Differential conformance: each tests/ltp/*.c program runs natively and under the
shim; the two outputs must be identical (Linux is the oracle).  A program that changes
the network configuration says so with NATIVE_NETNS in its source: natively it runs in
a private network namespace (unshare -n, made and removed with it), never on the
machine's interfaces."""
from __future__ import annotations

import difflib
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import scaled

LTP_DIR = Path(__file__).parent / "ltp"
PROGRAMS = sorted(LTP_DIR.glob("*.c"))
CC = shutil.which("cc") or shutil.which("gcc")
NATIVE_NETNS = "rocketnet: native in a private network namespace"


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("ltp-bin")


@pytest.mark.skipif(CC is None, reason="no C compiler (tools/setup installs gcc)")
@pytest.mark.parametrize("source", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_same_output_natively_and_under_the_shim(rn, build_dir, source, tmp_path):
    exe = build_dir / source.stem
    subprocess.run([CC, "-std=gnu11", "-O1", "-Wall", "-Wextra", "-Werror", "-o", str(exe),
                    str(source)], check=True)
    argv = [str(exe)]
    if NATIVE_NETNS in source.read_text():
        if shutil.which("unshare") is None or subprocess.run(
                ["unshare", "-n", "true"], capture_output=True).returncode:
            pytest.skip("unshare -n (a private network namespace) is not available")
        argv = ["unshare", "-n", *argv]
    # in a directory of their own: the unix programs bind relative paths
    native = subprocess.run(argv, capture_output=True, text=True, timeout=scaled(60),
                            cwd=tmp_path)
    assert native.returncode == 0, native.stderr
    shimmed = rn.run("run", "--", str(exe), timeout=scaled(60), cwd=tmp_path)
    diff = "\n".join(difflib.unified_diff(native.stdout.splitlines(),
                                          shimmed.stdout.splitlines(),
                                          "native", "rocketnet", lineterm=""))
    assert shimmed.stdout == native.stdout, diff + "\n" + shimmed.stderr
    assert shimmed.returncode == native.returncode

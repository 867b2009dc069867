"""The code rules every commit keeps: ruff-clean Python (3.9 syntax, so PyPy3 can host
the stack), and a C stub that compiles without a warning under -Wall -Wextra."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_python_is_ruff_clean():
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


def test_stub_compiles_without_warnings(tmp_path):
    sys.path.insert(0, str(ROOT / "c_stub"))
    try:
        import build_ffi
    finally:
        sys.path.pop(0)
    src = tmp_path / "stub_check.c"
    src.write_text(build_ffi.STUB_SOURCE)
    # -D_GNU_SOURCE: in the real build Python.h, which cffi includes first, defines it
    r = subprocess.run(["cc", "-std=gnu11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-O2",
                        "-fsyntax-only", "-I", str(ROOT / "c_stub"), str(src)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr

"""The code rules every commit keeps: ruff-clean Python (3.9 syntax, so PyPy3 can host
the stack), and a C stub whose every unit compiles without a warning under -Wall -Wextra."""
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
    """Every preload build whose toolchain is here (c_stub/build_preload.py)."""
    sys.path.insert(0, str(ROOT / "c_stub"))
    try:
        import build_preload
    finally:
        sys.path.pop(0)
    checked = []
    for name, cc, why in build_preload.toolchains(tmp_path):
        if cc is None:
            print(f"preload build {name} not checked: {why}")
            continue
        r = subprocess.run(cc + build_preload.CFLAGS + [
            "-Werror", "-fsyntax-only", build_preload.proto_flag(), "-I", str(ROOT / "c_stub"),
            *map(str, build_preload.units())], capture_output=True, text=True)
        assert r.returncode == 0, f"{name}:\n{r.stderr}"
        checked.append(name)
    assert checked

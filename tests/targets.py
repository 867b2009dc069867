"""The builds a test program can be made for (C library x machine), how to compile for
each and how to run the result natively (under qemu-user for another machine).

Used by tests/test_builds.py and tools/callcost.  A target whose toolchain or emulator
is missing says why (`missing`), for the tests to skip with that reason.
"""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "c_stub"))
try:
    import build_preload
finally:
    sys.path.pop(0)

_UAPI = tempfile.TemporaryDirectory(prefix="rn-uapi-")
UAPI = build_preload.uapi_dir(Path(_UAPI.name)) if shutil.which("musl-gcc") else None
ZIG = [sys.executable, "-m", "ziglang", "cc"] if importlib.util.find_spec("ziglang") else None
CFLAGS = ["-std=gnu11", "-O1", "-Wall", "-Wextra", "-Werror"]


class Target(NamedTuple):
    name: str
    cc: list[str] | None       # compiler command
    run: list[str]             # what runs a binary natively (empty: the kernel itself)
    static: bool               # its programs are static: no preload can serve them
    missing: str               # why it cannot be built or run here ('' when it can)
    cflags: tuple[str, ...] = ()  # after the common flags


def _qemu(arch: str) -> str | None:
    return shutil.which(f"qemu-{arch}") or shutil.which(f"qemu-{arch}-static")


def _zig_target(name: str, triple: str, arch: str, extra: list[str]) -> Target:
    qemu = _qemu(arch)
    missing = ("no ziglang (pip install ziglang, the test extra)" if ZIG is None else
               f"no qemu-{arch} (Debian: qemu-user)" if qemu is None else "")
    # musl's CMSG_NXTHDR compares a size_t with a ptrdiff_t, which clang warns about
    # in the caller's code (gcc does not, for a system header's macro)
    return Target(name, ZIG + ["-target", triple] + extra if ZIG else None,
                  [qemu] if qemu else [], True, missing, ("-Wno-sign-compare",))


def targets() -> list[Target]:
    out = [Target("x86_64-glibc", [shutil.which("cc") or "cc"], [], False, "")]
    musl = ["musl-gcc", "-idirafter", str(UAPI)] if UAPI else None
    out.append(Target("x86_64-musl", musl, [], False,
                      "" if musl else "no musl-gcc (Debian: musl-tools)"))
    rv_gcc, rv_qemu = shutil.which("riscv64-linux-gnu-gcc"), _qemu("riscv64")
    rv_root = Path("/usr/riscv64-linux-gnu")
    out.append(Target(
        "riscv64-glibc", [rv_gcc] if rv_gcc else None,
        [rv_qemu, "-L", str(rv_root)] if rv_qemu else [], False,
        "no riscv64-linux-gnu-gcc (Debian: gcc-riscv64-linux-gnu libc6-dev-riscv64-cross)"
        if not rv_gcc or not rv_root.is_dir() else
        "no qemu-riscv64 (Debian: qemu-user)" if not rv_qemu else ""))
    out.append(_zig_target("riscv64-musl", "riscv64-linux-musl", "riscv64", []))
    # QEMU 7.2 knows no newer LoongArch instructions than generic_la64's
    out.append(_zig_target("loongarch64-musl", "loongarch64-linux-musl", "loongarch64",
                           ["-mcpu=generic_la64"]))
    return out


def compile_for(t: Target, source: Path, exe: Path) -> None:
    r = subprocess.run((t.cc or []) + CFLAGS + list(t.cflags) + ["-o", str(exe), str(source)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{t.name}: cannot compile {source.name}:\n{r.stderr}")

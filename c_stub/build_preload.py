"""Builds of the preload stub: one plain C shared object per C library and machine.

``rocketnet-<arch>-<libc>.so`` (``rocketnet-x86_64-glibc.so``, ``rocketnet-x86_64-musl.so``,
``rocketnet-riscv64-glibc.so``) from the stub's units (every .c file here, sharing internal.h)
linked together; a program gets
the build that its dynamic loader (PT_INTERP) can load (program.c maps them).  A build
whose toolchain is missing is skipped with the reason printed; the machine's own
glibc build is required.

Toolchains: ``cc`` (or $CC) for the machine's glibc; musl: Debian's ``musl-gcc`` (it
lacks the kernel's uapi headers, so those of the machine's glibc are added after its
own), else ``zig cc`` from the PyPI package ziglang; riscv64 glibc: Debian's
``riscv64-linux-gnu-gcc`` (gcc-riscv64-linux-gnu, libc6-dev-riscv64-cross).
"""
from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CFLAGS = ["-std=gnu11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-O2", "-fPIC", "-shared",
          "-fvisibility=hidden"]


def units() -> list[Path]:
    """The stub's compilation units: every .c file of c_stub/."""
    return sorted(HERE.glob("*.c"))


def proto_flag() -> str:
    sys.path.insert(0, str(HERE))
    try:
        from build_ffi import HEADER_TEXT, protocol_version
    finally:
        sys.path.pop(0)
    return f"-DRN_PROTO_VERSION={protocol_version(HEADER_TEXT)}"


def uapi_dir(tmp: Path) -> Path | None:
    """The machine's kernel uapi headers (linux/, asm/, asm-generic/) alone, for musl-gcc."""
    multiarch = subprocess.run(["gcc", "-print-multiarch"], capture_output=True,
                               text=True).stdout.strip() if shutil.which("gcc") else ""
    asm = Path("/usr/include") / multiarch / "asm"
    if not asm.is_dir():
        asm = Path("/usr/include/asm")
    if not (Path("/usr/include/linux").is_dir() and asm.is_dir()):
        return None
    d = tmp / "uapi"
    d.mkdir(exist_ok=True)
    for name, target in (("linux", Path("/usr/include/linux")), ("asm", asm),
                         ("asm-generic", Path("/usr/include/asm-generic"))):
        (d / name).symlink_to(target)
    return d


def zig() -> list[str] | None:
    if importlib.util.find_spec("ziglang") is None:
        return None
    return [sys.executable, "-m", "ziglang", "cc"]


def toolchains(tmp: Path) -> list[tuple[str, list[str] | None, str]]:
    """(build name, compiler command or None, why not) for every build we know."""
    arch = platform.machine()
    out: list[tuple[str, list[str] | None, str]] = []
    out.append((f"{arch}-glibc", [os.environ.get("CC", "cc")], ""))
    if arch == "x86_64":
        uapi = uapi_dir(tmp) if shutil.which("musl-gcc") else None
        z = zig()
        if uapi is not None:
            out.append(("x86_64-musl", ["musl-gcc", "-idirafter", str(uapi)], ""))
        elif z is not None:
            out.append(("x86_64-musl", z + ["-target", "x86_64-linux-musl"], ""))
        else:
            out.append(("x86_64-musl", None, "neither musl-gcc (musl-tools) nor ziglang"))
        if shutil.which("riscv64-linux-gnu-gcc"):
            out.append(("riscv64-glibc", ["riscv64-linux-gnu-gcc"], ""))
        else:
            out.append(("riscv64-glibc", None, "no riscv64-linux-gnu-gcc "
                        "(gcc-riscv64-linux-gnu, libc6-dev-riscv64-cross)"))
    return out


def build_all(out_dir: Path, extra_flags: list[str] | None = None) -> dict[str, Path]:
    """Build every build a toolchain is present for into OUT_DIR; {name: path}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    built: dict[str, Path] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, cc, why in toolchains(Path(tmp)):
            if cc is None:
                print(f"rocketnet: preload build {name} skipped: {why}", file=sys.stderr)
                continue
            target = out_dir / f"rocketnet-{name}.so"
            cmd = cc + CFLAGS + (extra_flags or []) + [
                proto_flag(), "-I", str(HERE), *map(str, units()),
                "-o", str(target), "-ldl", "-lpthread"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                if name.endswith("glibc") and name.startswith(platform.machine()):
                    raise RuntimeError(f"preload build {name} failed:\n{r.stderr}")
                print(f"rocketnet: preload build {name} failed:\n{r.stderr}", file=sys.stderr)
                continue
            built[name] = target
    return built


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="Build every preload library this machine "
                                 "can build (a missing toolchain is skipped with a line).")
    ap.add_argument("dest", nargs="?", type=Path, default=HERE.parent / "shim" / "preload",
                    help="where the rocketnet-<arch>-<libc>.so files go (default: %(default)s)")
    for n, p in build_all(ap.parse_args().dest).items():
        print(n, p)

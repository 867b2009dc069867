"""Which preload build serves a program, and how `rocketnet run` starts it.

The preload library is built once per C library and machine (shim/preload/
rocketnet-<arch>-<libc>.so, c_stub/build_preload.py).  The choice reads the program's
ELF header and PT_INTERP with the stub's own C code (c_stub/program.c through the cffi
module), so the CLI and the stub's exec interposers (c_stub/exec.c) decide alike.  A
program of another machine runs under qemu-user, with the guest's build preloaded into
the guest (not into qemu) when there is one, else (static: zig's musl programs) with
the seccomp supervisor on qemu.  A program of this machine that the preload library
cannot reach (static, Go: shim/program.py) runs under the seccomp supervisor by default
(`--via auto`); `--via preload` forces the library.  A program no path serves is named
in one stderr line, never silently run outside the stack.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NamedTuple

from shim import program as progmod
from shim import seccomp_bpf
from shim._stub import ffi, lib

PRELOAD_DIR = Path(__file__).resolve().parent / "preload"
OWN_ARCH: str = ffi.string(lib.rn_own_arch()).decode()
# Debian's cross runtimes (libc6-<arch>-cross) live in /usr/<triple>: qemu's -L prefix
GNU_TRIPLES = {"riscv64": "riscv64-linux-gnu", "loongarch64": "loongarch64-linux-gnu",
               "aarch64": "aarch64-linux-gnu"}
MACHINES = "; its sockets will be the machine's"


class Program(NamedTuple):
    elf: bool
    arch: str | None        # machine name when known
    dynamic: bool           # has a dynamic loader (PT_INTERP)
    interp: str             # that loader, or a script's interpreter
    build: str | None       # the preload build its loader takes
    problem: str | None     # why our own machine's builds cannot serve it


class Launch(NamedTuple):
    path: str                # what to exec: the program, or qemu-user
    argv: list[str]
    preload: str | None      # our build to put in the exec'd process's LD_PRELOAD
    note: str | None         # the one line to say, when its sockets are not the stack's
    via: str = "preload"     # "seccomp": the supervisor runs it (preload: the supervisor's)


def inspect(path: str) -> Program:
    p = ffi.new("struct rn_program *")
    if lib.rn_program_read(-100, os.fsencode(path), p) < 0:   # -100: AT_FDCWD
        return Program(False, None, False, "", None, None)
    interp = ffi.string(p.interp).decode(errors="replace")
    if p.script:
        return inspect(interp) if interp else Program(False, None, False, "", None, None)
    arch = lib.rn_machine_arch(p.machine)
    build = lib.rn_preload_build(p.interp) if p.dynamic else ffi.NULL
    problem = lib.rn_program_problem(p, lib.rn_own_arch())
    return Program(bool(p.elf), ffi.string(arch).decode() if arch else None, bool(p.dynamic),
                   interp, ffi.string(build).decode() if build else None,
                   ffi.string(problem).decode() if problem else None)


def build_path(build: str) -> Path | None:
    p = PRELOAD_DIR / f"rocketnet-{build}.so"
    return p if p.is_file() else None


def own_default() -> Path | None:
    """The build for programs we cannot inspect (not ELF: the kernel decides)."""
    return build_path(f"{OWN_ARCH}-glibc")


def launch(path: str, argv: list[str], via: str = "auto") -> Launch:
    """How to start PATH (found for ARGV[0]) so its sockets are the stack's.  VIA
    "seccomp" asks for the seccomp supervisor (shim/seccomp_super.py) for any program;
    "auto" takes it for the programs the preload library cannot reach (static, Go) when
    this kernel has seccomp user notification; "preload" never."""
    prog = inspect(path)
    if prog.arch and prog.arch != OWN_ARCH:
        return foreign(path, argv, prog, via)
    if via == "auto" and prog.elf and needs_seccomp(path, prog) and \
            seccomp_bpf.unavailable() is None:
        via = "seccomp"
    if via == "seccomp":
        own = own_default()
        return Launch(path, argv, str(own) if own else None, None, "seccomp")
    if not prog.elf:
        own = own_default()
        return Launch(path, argv, str(own) if own else None, None)
    if prog.problem:
        own = own_default() if not prog.dynamic else None   # a static program's children
        return Launch(path, argv, str(own) if own else None,
                      f"{path}: {prog.problem}{MACHINES}")
    found = build_path(prog.build or "")
    if found is None:
        return Launch(path, argv, None,
                      f"{path}: its C library ({prog.build}) has no rocketnet build "
                      f"installed here{MACHINES}")
    return Launch(path, argv, str(found), None)


def needs_seccomp(path: str, prog: Program) -> bool:
    """A program of this machine whose socket calls the preload library never sees:
    no dynamic loader, or Go's runtime making its system calls itself."""
    if not prog.dynamic:
        return True
    found = progmod.inspect(path)
    return found is not None and found.go


def foreign(path: str, argv: list[str], prog: Program, via: str) -> Launch:
    """A program of another machine, under qemu-user: with the guest's build preloaded
    into the guest when there is one (and VIA is preload), else with the seccomp
    supervisor on qemu itself, which makes the guest's socket calls as host calls,
    partly through its libc and partly raw: the filter sees both."""
    qemu = shutil.which(f"qemu-{prog.arch}") or shutil.which(f"qemu-{prog.arch}-static")
    if qemu is None:
        raise FileNotFoundError(f"{path}: a {prog.arch} program, and no qemu-{prog.arch} "
                                "(Debian: qemu-user) to run it")
    cmd = [qemu, "-0", argv[0]]
    triple = GNU_TRIPLES.get(prog.arch or "")
    if (prog.dynamic and "QEMU_LD_PREFIX" not in os.environ and triple
            and (prog.build or "").endswith("glibc") and Path("/usr", triple).is_dir()):
        cmd += ["-L", str(Path("/usr", triple))]
    guest = build_path(prog.build) if prog.build else None
    if guest is not None and via != "seccomp":
        return Launch(qemu, cmd + ["-E", f"LD_PRELOAD={guest}", path] + argv[1:], None, None)
    own = own_default()
    return Launch(qemu, cmd + [path] + argv[1:], str(own) if own else None, None, "seccomp")

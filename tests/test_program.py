"""Programs whose sockets the stub cannot serve are named (shim/program.py), and io_uring
is refused with ENOSYS under the shim (c_stub/uring.c)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from shim import program, seccomp_bpf

CC = shutil.which("cc") or shutil.which("gcc")
GO = shutil.which("go")
HELLO = '#include <stdio.h>\nint main(void) { puts("ran"); return 0; }\n'
URING_SYSCALL = r"""
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
    unsigned char params[120];
    memset(params, 0, sizeof params);
    long fd = syscall(SYS_io_uring_setup, 4, params);
    printf("%s\n", fd >= 0 ? "ok" : strerror(errno));
    return 0;
}
"""
URING_LIB = r"""
#include <stdio.h>
#include <string.h>
int io_uring_queue_init(unsigned entries, void *ring, unsigned flags);
int main(void) {
    static unsigned char ring[4096];
    int r = io_uring_queue_init(4, ring, 0);
    printf("%s\n", r == 0 ? "ok" : strerror(-r));
    return 0;
}
"""
LIBURING = Path("/usr/lib/x86_64-linux-gnu/liburing.so.2")


def _cc(tmp: Path, name: str, src: str, *flags: str) -> Path:
    if CC is None:
        pytest.skip("no C compiler (tools/setup installs gcc)")
    c = tmp / f"{name}.c"
    c.write_text(src)
    out = tmp / name
    r = subprocess.run([CC, "-o", str(out), str(c), *flags], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot build {name}: {r.stderr.strip()[:200]}")
    return out


def _check_warned_and_refused(rn, prog: Path, why: str) -> None:
    """Forced onto the preload path, PROG is named (by default `rocketnet run` takes
    the seccomp path for static and Go programs: tests/test_seccomp.py)."""
    r = rn.run("run", "--via", "preload", "--", str(prog))
    warning = [line for line in r.stderr.splitlines() if line.startswith("rocketnet:")]
    assert len(warning) == 1 and str(prog) in warning[0] and why in warning[0], r.stderr
    assert "machine's" in warning[0]
    strict = rn.run("run", "--via", "preload", "--strict", "--", str(prog))
    assert strict.returncode == 126 and strict.stdout == "", strict
    assert str(prog) in strict.stderr and why in strict.stderr


def test_static_program_named(rn, tmp_path):
    prog = _cc(tmp_path, "static_hello", HELLO, "-static")
    assert program.inspect(str(prog)).interp is None
    _check_warned_and_refused(rn, prog, "statically linked")
    assert rn.run("run", "--via", "preload", "--", str(prog)).stdout == "ran\n"  # warned, run
    if seccomp_bpf.unavailable() is None:               # auto: the seccomp path, no warning
        r = rn.run("run", "--", str(prog))
        assert r.returncode == 0 and r.stdout == "ran\n" and r.stderr == "", r
    dyn = _cc(tmp_path, "dyn_hello", HELLO)
    assert program.inspect(str(dyn)).interp is not None
    r = rn.run("run", "--strict", "--", str(dyn))
    assert r.returncode == 0 and r.stdout == "ran\n" and r.stderr == "", r


@pytest.mark.skipif(GO is None, reason="no Go toolchain")
@pytest.mark.parametrize("cgo", ["0", "1"])
def test_go_program_named(rn, tmp_path, cgo):
    (tmp_path / "main.go").write_text(
        'package main\nimport ("fmt"; "net")\n'
        'func main() { _, err := net.Dial("tcp", "127.0.0.1:1"); fmt.Println(err != nil) }\n')
    env = dict(os.environ, GOTOOLCHAIN="local", CGO_ENABLED=cgo, GOCACHE=str(tmp_path / "gc"),
               GOPATH=str(tmp_path / "gp"), GO111MODULE="off")
    out = tmp_path / "gonet"
    r = subprocess.run([GO, "build", "-o", str(out), str(tmp_path / "main.go")], env=env,
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        pytest.skip(f"go build failed: {r.stderr[:200]}")
    p = program.inspect(str(out))
    assert p.go and (p.interp is None) == (cgo == "0")   # cgo links net against libc
    _check_warned_and_refused(rn, out, "Go program")


def test_capabilities_and_setid_when_not_root(tmp_path):
    if CC is None:
        pytest.skip("no C compiler")
    prog = _cc(tmp_path, "cap_hello", HELLO)
    setcap = shutil.which("setcap")
    if setcap is None or os.geteuid() != 0:
        pytest.skip("setting file capabilities needs setcap and root")
    r = subprocess.run([setcap, "cap_net_raw+ep", str(prog)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"setcap failed here: {r.stderr.strip()}")
    assert program.inspect(str(prog)).caps
    assert "file capabilities" in program.escape_reason(str(prog), euid=65534)
    assert program.escape_reason(str(prog), euid=0) is None      # root: no secure mode
    suid = _cc(tmp_path, "suid_hello", HELLO)
    os.chmod(suid, 0o4755)
    assert "set-user-ID" in program.escape_reason(str(suid), euid=65534)
    assert program.escape_reason(str(suid), euid=0) is None
    # a script is judged by its interpreter
    script = tmp_path / "script"
    script.write_text(f"#!{prog}\n")
    assert "interpreter" in program.escape_reason(str(script), euid=65534)


def test_io_uring_refused_with_enosys(rn, tmp_path):
    progs = [_cc(tmp_path, "uring_sys", URING_SYSCALL)]
    if LIBURING.exists():
        progs.append(_cc(tmp_path, "uring_lib", URING_LIB, str(LIBURING)))
    for prog in progs:
        native = subprocess.run([str(prog)], capture_output=True, text=True, timeout=30)
        shim = rn.run("run", "--", str(prog))
        assert native.returncode == 0 and shim.returncode == 0, (native, shim)
        assert shim.stdout == "Function not implemented\n", (prog.name, native.stdout)

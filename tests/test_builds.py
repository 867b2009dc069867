"""Every build (C library x machine: tests/targets.py) under real programs: the
differential programs (tests/ltp/*.c; x86-64 glibc is test_ltp_differential.py's)
natively and under the shim; bulk TCP and request/response (tests/builds/netload.c)
with the bytes counted by the stack host; a program of one C library exec'ing one of
the other; static programs named in one stderr line.  Dynamic programs get their
preload build (riscv64 glibc: in the guest, under qemu-user); zig's static riscv64 and
loongarch64 musl programs run under qemu-user with the seccomp supervisor on qemu."""
from __future__ import annotations

import difflib
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.targets import ROOT, Target, compile_for, targets
from tests.test_seccomp import REASON as SECCOMP_MISSING
from tests.test_seccomp import XFAIL as SECCOMP_XFAIL

PROGRAMS = sorted((ROOT / "tests" / "ltp").glob("*.c"))
NETLOAD = ROOT / "tests" / "builds" / "netload.c"
TARGETS = {t.name: t for t in targets()}
FULL = "ROCKETNET_BUILDS_FULL"
ALL = ["x86_64-glibc", "x86_64-musl", "riscv64-glibc", "riscv64-musl", "loongarch64-musl"]
MACHINES = "its sockets will be the machine's"
# qemu-user 7.2 asserting in its own code (its CPU loop, its RCU): not the program's doing
QEMU_ABORT = re.compile(r"ERROR:\.\./\.\./accel/tcg/|^qemu-\w+: .*Assertion .* failed",
                        re.MULTILINE)
# Programs not yet as Linux with the stub preloaded in a qemu-user guest, with the reason.
BAD_SECOND_IOVEC = ("a bad buffer sends or receives an empty datagram: qemu 7.2's lock_iovec "
                    "makes a bad iovec after the first one 0 bytes long (Linux: EFAULT), and "
                    "the stub's datagram calls put its header first and the user's buffer second")
GUEST_XFAIL = {"udp_basic": BAD_SECOND_IOVEC, "udp_fastpath": BAD_SECOND_IOVEC}
BULK_MIB = 8
RR = 300


@pytest.fixture(scope="session")
def bins(tmp_path_factory):
    d = tmp_path_factory.mktemp("builds")
    made: dict[tuple[str, str], Path] = {}

    def get(t: Target, source: Path) -> Path:
        if t.missing:
            pytest.skip(f"{t.name}: {t.missing}")
        if t.static and SECCOMP_MISSING:
            pytest.skip(f"{t.name} programs are static, for the seccomp path: "
                        f"{SECCOMP_MISSING}")
        key = (t.name, source.stem)
        if key not in made:
            exe = d / f"{source.stem}.{t.name}"
            compile_for(t, source, exe)
            made[key] = exe
        return made[key]
    return get


def native(t: Target, exe: Path, *args: str, timeout: float = 15):
    return subprocess.run(t.run + [str(exe), *args], capture_output=True, text=True,
                          timeout=timeout)


def either_oracle(shimmed: str, qemu: str, linux: str) -> bool:
    """With the stub preloaded into a qemu-user guest, the calls the stack serves answer
    as Linux, and the calls the stub hands to the kernel (the program's AF_UNIX
    sockets, the timeouts on A, ...) pass through qemu's translation as they do in the
    program's native run under qemu: each line must be one of the two, in qemu's
    run's order (Linux's may have more lines: what qemu cannot run at all)."""
    s, q, lx = shimmed.splitlines(), qemu.splitlines(), linux.splitlines()
    return len(s) == len(q) and all(
        a == b or (i < len(lx) and a == lx[i]) for i, (a, b) in enumerate(zip(s, q)))


@pytest.mark.parametrize("target", ALL[1:])
@pytest.mark.parametrize("source", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_differential(rn, bins, target, source):
    t = TARGETS[target]
    if t.static and not os.environ.get(FULL):
        pytest.skip(f"{target}: qemu-user + seccomp takes ~15 s a program on a loaded "
                    f"machine; {FULL}=1 runs them (netload runs on this path always)")
    if t.static and source.stem in SECCOMP_XFAIL:
        pytest.xfail("the seccomp path: " + SECCOMP_XFAIL[source.stem])
    if t.run and not t.static and source.stem in GUEST_XFAIL:
        pytest.xfail("preloaded in a qemu-user guest: " + GUEST_XFAIL[source.stem])
    exe = bins(t, source)
    try:
        nat = native(t, exe)
    except subprocess.TimeoutExpired:
        pytest.skip(f"{source.stem} does not end natively on {target} in 15 s: it tests "
                    "what this C library does with its arguments, not the stack")
    if nat.returncode < 0:
        last = (nat.stdout.splitlines() or ["(nothing)"])[-1]
        pytest.skip(f"{source.stem} dies natively on {target} "
                    f"({signal.Signals(-nat.returncode).name} after {last.strip()!r}): "
                    "the C library dereferences what glibc hands to the kernel")
    assert nat.returncode == 0 or (t.run and QEMU_ABORT.search(nat.stderr) is not None), nat.stderr
    shimmed = rn.run("run", "--", str(exe), timeout=90)
    if t.run and (shimmed.stdout != nat.stdout or nat.returncode != 0):
        # qemu-user translates some calls unlike Linux (options it does not know, ...) or
        # aborts in its own code: then the oracle is the kernel's own answer, the program
        # built for this machine
        linux = native(TARGETS["x86_64-glibc"], bins(TARGETS["x86_64-glibc"], source))
        assert linux.returncode == 0, linux.stderr
        if shimmed.stdout == linux.stdout and shimmed.returncode == 0:
            print(f"{source.stem} on {target}: qemu-user's native run differs from "
                  "Linux's; under rocketnet it is Linux's (x86-64 native)")
            return
        if not t.static and nat.returncode == 0 and shimmed.returncode == 0 and \
                either_oracle(shimmed.stdout, nat.stdout, linux.stdout):
            print(f"{source.stem} on {target}: each line as qemu-user's native run or as "
                  "Linux's (x86-64 native)")
            return
    diff = "\n".join(difflib.unified_diff(nat.stdout.splitlines(), shimmed.stdout.splitlines(),
                                          "native", "rocketnet", lineterm=""))
    assert shimmed.stdout == nat.stdout, diff + "\n" + shimmed.stderr
    assert shimmed.returncode == nat.returncode
    assert MACHINES not in shimmed.stderr


@pytest.mark.parametrize("target", ALL)
def test_bulk_and_rr_cross_the_stack(rn, bins, target):
    t = TARGETS[target]
    exe = bins(t, NETLOAD)
    host = f"b-{target}"
    r = rn.run("run", "--host", host, "--", str(exe), "bulk", str(BULK_MIB), timeout=120)
    assert r.returncode == 0 and r.stdout == f"bulk {BULK_MIB << 20} bytes, 0 wrong, recv " \
        "end 0\n", r.stdout + r.stderr
    r = rn.run("run", "--host", host, "--", str(exe), "rr", str(RR), timeout=120)
    assert r.returncode == 0 and r.stdout == f"rr {RR} of {RR} round trips echoed\n", \
        r.stdout + r.stderr
    stack = rn.stats(host)["stack"]
    assert stack["tcp_payload_bytes_received"] >= (BULK_MIB << 20) + 2 * 64 * RR, stack
    assert stack["tcp_payload_bytes_sent"] >= (BULK_MIB << 20) + 2 * 64 * RR, stack


@pytest.mark.parametrize("how", ["exec", "spawn"])
@pytest.mark.parametrize("first,then", [("x86_64-glibc", "x86_64-musl"),
                                        ("x86_64-musl", "x86_64-glibc")])
def test_exec_picks_the_build(rn, bins, first, then, how):
    a, b = bins(TARGETS[first], NETLOAD), bins(TARGETS[then], NETLOAD)
    host = "exec"
    r = rn.run("run", "--host", host, "--", str(a), how, str(b), "rr", "20", timeout=60)
    assert r.returncode == 0 and r.stdout == "rr 20 of 20 round trips echoed\n", r.stderr
    assert r.stderr == ""
    assert rn.stats(host)["stack"]["tcp_payload_bytes_received"] >= 2 * 64 * 20


def test_static_program_is_named_by_cli_and_at_exec(rn, tmp_path):
    """Forced onto the preload path (`--via preload`; by default `rocketnet run` gives
    a static program the seccomp path: test_seccomp.py), and exec'd by a preloaded
    shell, a static program is named."""
    exe = tmp_path / "netload.static"
    r = subprocess.run(["cc", "-static", "-O1", "-o", str(exe), str(NETLOAD)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"no static glibc to link with (Debian: libc6-dev): {r.stderr[-200:]}")
    line = f": statically linked (no dynamic loader, so no preload); {MACHINES}\n"
    r = rn.run("run", "--via", "preload", "--", str(exe), "rr", "5", timeout=60)
    assert r.returncode == 0 and r.stderr == f"rocketnet: {exe}{line}", r.stderr
    r = rn.run("run", "--", "sh", "-c", f"{exe} rr 5", timeout=60)
    assert r.returncode == 0 and r.stderr == f"rocketnet: {exe}{line}", r.stderr

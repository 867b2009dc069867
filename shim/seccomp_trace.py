"""`--trace` on the seccomp path: the lines no socket call makes, for every process under
the filter, as the preload path's stub writes them from inside each image
(c_stub/traceopt.c): `execve(...) = 0` once an exec succeeded (written at the exec's
ptrace stop: shim/seccomp_ptrace.py), `+++ exited with N +++` at exit (exit_group is
routed here only when tracing: seccomp_bpf.TRACE_NR).
"""
from __future__ import annotations

import ctypes
import os

from shim.seccomp_abi import stub
from shim.seccomp_call import Call, tgid_of


def h_exit_group(call: Call) -> None:
    """The caller's process ends: its exit line, then the kernel's exit_group."""
    stub.rn_sc_exited(tgid_of(call.tid), call.iarg(0))
    call.cont()


def image_line(pid: int) -> None:
    """The execve line of the image process pid has just become, stopped before it runs:
    the executable as /proc names it, the arguments it was given."""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")[:-1]
    except OSError:
        return
    argv = (ctypes.c_char_p * len(args))(*args)
    stub.rn_sc_execve(pid, os.fsencode(exe), len(args), argv)

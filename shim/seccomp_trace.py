"""`--trace` on the seccomp path: the lines no socket call makes, for every process under
the filter, as the preload path's stub writes them from inside each image
(c_stub/traceopt.c): `execve(...) = 0` once an exec succeeded, `+++ exited with N +++`
at exit.  execve, execveat and exit_group are routed here only when tracing
(seccomp_bpf.TRACE_NR).

Only the caller learns whether its exec succeeded, so the supervisor seizes it (ptrace,
PTRACE_O_TRACEEXEC), lets the kernel run the call, and interrupts it: if the exec
succeeds, a PTRACE_EVENT_EXEC stop comes first, before the new image runs (its line
precedes its calls' lines); if it fails, the interrupt's stop comes on the way back to
the old image.  Either way the caller is released at once.  Ptrace access is what the
supervisor needs anyway (pidfd_getfd); a program already traced (a debugger) is named and
its execs get no line.
"""
from __future__ import annotations

import ctypes
import errno
import os
import sys
import threading

from shim.procfs import proc_status
from shim.seccomp_abi import libc, stub
from shim.seccomp_call import Call, tgid_of
from shim.seccomp_signals import KILLABLE

PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 17, 0x4206, 0x4207
PTRACE_O_TRACEEXEC, PTRACE_EVENT_EXEC = 0x10, 4
WALL = 0x40000000
libc.ptrace.argtypes = (ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p)
libc.ptrace.restype = ctypes.c_long
_named: set[int] = set()
_lock = threading.Lock()


def h_exit_group(call: Call) -> None:
    """The caller's process ends: its exit line, then the kernel's exit_group."""
    stub.rn_sc_exited(tgid_of(call.tid), call.iarg(0))
    call.cont()


def h_execve(call: Call) -> None:
    """execve/execveat: the kernel runs it; a line if it succeeded (module doc)."""
    tid = call.tid
    tgid = tgid_of(tid)
    if libc.ptrace(PTRACE_SEIZE, tid, None, PTRACE_O_TRACEEXEC) != 0:
        e = ctypes.get_errno()
        call.cont()
        with _lock:
            if tgid in _named:
                return
            _named.add(tgid)
        if e != errno.ESRCH:
            print(f"rocketnet: process {tgid}: its execs are not traced (ptrace: "
                  f"{os.strerror(e)})", file=sys.stderr)
        return
    if KILLABLE:
        libc.ptrace(PTRACE_INTERRUPT, tid, None, None)
        call.cont()
    else:
        call.cont()
        libc.ptrace(PTRACE_INTERRUPT, tid, None, None)
    watch = tid
    while True:
        try:
            w = os.waitid(os.P_PID, watch, os.WEXITED | os.WSTOPPED | WALL | os.WNOWAIT)
        except InterruptedError:
            continue
        except ChildProcessError:
            if watch != tgid:            # a thread's exec: it took the process's id
                watch = tgid
                continue
            return
        if w.si_code not in (os.CLD_TRAPPED, os.CLD_STOPPED):
            released(watch)              # died meanwhile
            return
        os.waitid(os.P_PID, watch, os.WSTOPPED | WALL)
        event, sig = w.si_status >> 8, w.si_status & 0x7F
        if event == PTRACE_EVENT_EXEC:
            image_line(w.si_pid)
        # a signal-delivery stop (event 0): the exec failed and the signal is the caller's
        libc.ptrace(PTRACE_DETACH, w.si_pid, None, sig if event == 0 else None)
        return


def released(pid: int) -> None:
    """A tracee that died: a wait here hands it to its parent (the program), unless that
    is us (the supervisor's own reaper waits for its child)."""
    try:
        ppid = int(proc_status(pid)[b"PPid"][0])
    except (OSError, ValueError, IndexError, KeyError):
        return
    if ppid != os.getpid():
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | WALL)
        except ChildProcessError:
            pass


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

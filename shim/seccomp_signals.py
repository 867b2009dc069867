"""Signals on the seccomp path (shim/seccomp_super.py): a call the caller stopped
waiting for, or that a signal it catches ends, ends here as on Linux; SIGPIPE raised by
a call made for the caller is the caller's."""
from __future__ import annotations

import ctypes
import errno
import signal
import threading
import time

from shim import seccomp_bpf as B
from shim.seccomp_abi import (
    ERESTARTSYS,
    NR,
    SLOW_WAIT,
    SO_RCVTIMEO,
    SO_SNDTIMEO,
    SOL_SOCKET,
    SYS_tgkill,
    c_long,
    libc,
    stub,
)
from shim.seccomp_call import Call, tgid_of

KILLABLE = B.killable_recv()


class Watch:
    """Calls that may block in the stub (accept, a blocking connect, a receive) are
    watched: once the caller no longer waits for one (a fatal signal ended its call),
    or (with the filter's WAIT_KILLABLE_RECV) a signal it catches is pending, the worker
    gets SIGUSR2, so its own blocking call ends with EINTR instead of taking a
    connection or a datagram for nobody; run() then answers as Linux's sock_intr_errno:
    ERESTARTSYS (the signal's SA_RESTART decides, in the caller's kernel) or, with a
    timeout on the socket, EINTR."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls: dict[int, Call] = {}
        signal.signal(signal.SIGUSR2, lambda *_: None)
        signal.siginterrupt(signal.SIGUSR2, True)
        threading.Thread(target=self._loop, daemon=True).start()

    def add(self, call: Call) -> None:
        with self.lock:
            self.calls[threading.get_ident()] = call

    def remove(self) -> None:
        with self.lock:
            self.calls.pop(threading.get_ident(), None)

    def _loop(self) -> None:
        while True:
            time.sleep(SLOW_WAIT)
            with self.lock:
                calls = list(self.calls.items())
            for ident, call in calls:
                if call.answered or call.signalled:
                    continue
                gone = not call.valid()
                if not gone and not (KILLABLE and signal_pending(call.tid)):
                    continue
                # under the lock, and only while that thread still serves this call:
                # a late signal would interrupt the next call it serves
                with self.lock:
                    if self.calls.get(ident) is call and not call.answered:
                        call.answered = gone
                        call.signalled = True
                        signal.pthread_kill(ident, signal.SIGUSR2)


def signal_pending(tid: int) -> bool:
    """A signal tid catches is pending for it (or its process) and not blocked: what
    ends a socket call's wait on Linux (ignored and default-action signals do not)."""
    m: dict[bytes, int] = {}
    try:
        with open(f"/proc/{tid}/status", "rb") as f:
            for line in f:
                k = line[:6]
                if k in (b"SigPnd", b"ShdPnd", b"SigBlk", b"SigCgt"):
                    m[k] = int(line.split()[1], 16)
    except (OSError, ValueError):
        return False
    return bool((m.get(b"SigPnd", 0) | m.get(b"ShdPnd", 0)) & ~m.get(b"SigBlk", 0) &
                m.get(b"SigCgt", 0))


SNDTIMEO_NRS = {NR[k] for k in ("connect", "write", "writev", "sendto", "sendmsg", "sendmmsg")}


def interrupted(call: Call) -> tuple[int, int]:
    """A call a pending signal ended (Watch): Linux's sock_intr_errno, EINTR when the
    socket has a timeout for that direction, else ERESTARTSYS, which the caller's kernel
    turns into a restart (SA_RESTART) or EINTR when it delivers the signal."""
    tv = ctypes.create_string_buffer(16)
    n = ctypes.c_uint32(16)
    opt = SO_SNDTIMEO if call.nr in SNDTIMEO_NRS else SO_RCVTIMEO
    if stub.getsockopt(call.slot, SOL_SOCKET, opt, tv, ctypes.byref(n)) == 0 and \
            any(tv.raw[:n.value]):
        return -1, errno.EINTR
    return -1, ERESTARTSYS



def raise_pipe(call: Call) -> None:
    libc.syscall(c_long(SYS_tgkill), c_long(tgid_of(call.tid)), c_long(call.tid),
                 c_long(signal.SIGPIPE))


WATCH: Watch        # made by seccomp_super.main (its thread starts then)

"""The supervisor's loop (shim/seccomp_super.py): receive notifications, classify each
on the receiving thread, serve the stack's calls on worker threads (the quick ones on
the receiving thread itself), let the kernel run the rest (CONTINUE)."""
from __future__ import annotations

import ctypes
import errno
import os
import queue
import select
import signal
import stat
import sys
import threading
import traceback
from typing import Callable

from shim import seccomp_bpf as B
from shim import seccomp_fs
from shim import seccomp_landlock as LL
from shim import seccomp_signals as W
from shim import seccomp_slots as S
from shim.seccomp_abi import CONTINUE, KIND_UNIX, LINGER, NR, TRACE, Gone, libc, stub
from shim.seccomp_call import Call, errno_raise, tgid_of
from shim.seccomp_ctl import (
    h_accept,
    h_addr_in,
    h_close,
    h_getname,
    h_getsockopt,
    h_ioctl,
    h_listen,
    h_setsockopt,
    h_shutdown,
    h_socket,
    h_socketpair,
)
from shim.seccomp_data import h_buf_io, h_iov_io, h_mmsg, h_msg, kernel_serves, stub_traces
from shim.seccomp_trace import h_exit_group

# calls that may name an AF_UNIX path (seccomp_fs)
PATH_NRS = {NR[k] for k in ("bind", "connect", "sendto", "sendmsg", "sendmmsg")}
FD_HANDLERS: dict[int, Callable] = {
    NR["bind"]: h_addr_in, NR["connect"]: h_addr_in, NR["listen"]: h_listen,
    NR["accept"]: h_accept, NR["accept4"]: h_accept, NR["getsockname"]: h_getname,
    NR["getpeername"]: h_getname, NR["getsockopt"]: h_getsockopt,
    NR["setsockopt"]: h_setsockopt, NR["shutdown"]: h_shutdown, NR["ioctl"]: h_ioctl,
    NR["read"]: h_buf_io, NR["write"]: h_buf_io, NR["recvfrom"]: h_buf_io,
    NR["sendto"]: h_buf_io, NR["readv"]: h_iov_io, NR["writev"]: h_iov_io,
    NR["recvmsg"]: h_msg, NR["sendmsg"]: h_msg, NR["recvmmsg"]: h_mmsg,
    NR["sendmmsg"]: h_mmsg, NR["close"]: h_close,
}

# calls the stub answers with one RPC, never waiting on a peer, a signal or a file:
# served on the receiving thread (a worker's wake-up costs as much as the call)
QUICK_NRS = {NR[k] for k in ("getsockname", "getpeername", "getsockopt", "setsockopt",
                             "listen", "ioctl")}


class Pool:
    """Worker threads, one more whenever none is idle: a blocked call (accept, a UDP
    receive, a blocking connect) never holds up another thread's or process's call."""

    def __init__(self):
        self.q: queue.SimpleQueue = queue.SimpleQueue()
        self.idle = 0
        self.lock = threading.Lock()

    def submit(self, fn: Callable, *args) -> None:
        with self.lock:
            spawn = self.idle == 0
            if not spawn:
                self.idle -= 1
        if spawn:
            threading.Thread(target=self._run, args=(fn, args), daemon=True).start()
        else:
            self.q.put((fn, args))

    def _run(self, fn: Callable, args: tuple) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGPIPE])   # see run()
        while True:
            try:
                fn(*args)
            except Exception as e:  # noqa: BLE001 - a bug must not end the supervisor
                print(f"rocketnet seccomp: {e!r}", file=sys.stderr)
            with self.lock:
                self.idle += 1
            fn, args = self.q.get()


POOL = Pool()
NAMED: set[int] = set()


def refuse(call: Call) -> None:
    """A socket call of another ABI (i386, x32): named once per process, ENOSYS."""
    pid = tgid_of(call.tid)
    if pid not in NAMED:
        NAMED.add(pid)
        abi = "x32" if call.arch == B.AUDIT_ARCH_X86_64 else "i386"
        print(f"rocketnet: process {pid} made a {abi} socket call: only x86_64 programs "
              "are served under --via seccomp", file=sys.stderr)
    call.reply(-1, errno.ENOSYS)


def serve(call: Call) -> None:
    """Classify (fast, on the receiving thread); run the stack's calls on a worker."""
    try:
        if call.arch != B.AUDIT_ARCH_X86_64 or call.nr & B.X32_BIT:
            refuse(call)
        elif call.nr == B.TRACE_NR["exit_group"]:
            h_exit_group(call)
        elif call.nr in B.LANDLOCK_NR.values():
            POOL.submit(LL.h_restrict, call)
        elif call.nr in (NR["socket"], NR["socketpair"]):
            POOL.submit(run, call, h_socket if call.nr == NR["socket"] else h_socketpair)
        else:
            route_fd(call)
    except Gone:
        call.close()


def route_fd(call: Call) -> None:
    fd = call.iarg(0)
    mine = call.take_fd(fd) if fd >= 0 else -1
    if mine < 0:                             # EBADF & co.: the kernel's answer
        call.close()
        call.cont()
        return
    st = os.fstat(mine)
    if not stat.S_ISSOCK(st.st_mode):
        os.close(mine)
        call.close()
        call.cont()
        return
    call.ino = st.st_ino
    call.fd = fd
    call.slot = S.SLOTS.acquire(call.ino)
    # libc's dup3/close: the stub's entry for the slot (this socket's, if it had this
    # slot before) stays; rn_sc_move would bring the stale one of `mine`'s number
    libc.dup3(mine, call.slot, os.O_CLOEXEC)
    libc.close(mine)
    call.kind = stub.rn_sc_classify(call.slot)
    # close goes through the stub for SO_LINGER's wait, and to be traced; traced, the
    # data calls the stub makes as exactly go through it (their lines, -s, -c)
    if call.kind <= 0 or (kernel_serves(call) and not (TRACE and stub_traces(call))) or \
            (call.nr == NR["close"] and not (call.kind & LINGER or TRACE)):
        finish(call)
        call.cont()
        return
    if call.nr in QUICK_NRS:
        run(call, FD_HANDLERS[call.nr])
    else:
        POOL.submit(run, call, FD_HANDLERS[call.nr])


def finish(call: Call) -> None:
    if call.slot >= 0:
        call.slot = -1
        S.SLOTS.release(call.ino)
    call.close()


def run(call: Call, handler: Callable) -> None:
    """Serve one call on a worker thread, the host seeing the caller as its sender."""
    pid, uid, gid = call.cred()
    if pid <= 0:
        finish(call)
        return                              # gone: nobody to answer
    stub.rn_sc_cred(pid, uid, gid)
    domain = LL.enter(call.tid)
    if TRACE:
        stub.rn_sc_acting(pid, call.slot, call.fd)
    res = None
    pipe = False
    W.WATCH.add(call)
    names = call.kind & 0xFF == KIND_UNIX and call.nr in PATH_NRS and seccomp_fs.enter(call)
    try:
        before = call.ino
        res = handler(call)
        if call.signalled and not call.answered and res == (-1, errno.EINTR) and \
                call.slot >= 0:
            res = W.interrupted(call)
        if call.slot >= 0 and not call.answered:
            now = os.fstat(call.slot).st_ino
            if now != before:        # the stub put a fresh A on the fd (RN_OP_REOPEN)
                sets = epoll_interests(call, before)
                call.add_fd(call.slot, bool(call.cloexec(call.fd)), False, at=call.fd)
                S.SLOTS.moved(before, now)
                call.ino = now
                readd_interests(call, sets)
        # the call raised SIGPIPE here (a send on a socket shut for writing): it is the
        # caller's, pending before the answer as on Linux when the caller's wait ignores
        # it (WAIT_KILLABLE_RECV; a fatal one ends the caller, as Linux's on return),
        # else sent once it is answered (a signal now would interrupt its call)
        pipe = signal.sigtimedwait([signal.SIGPIPE], 0) is not None
    except Gone:
        res = None
        call.answered = True
    except Exception:  # noqa: BLE001 - a bug here answers EIO, never hangs the caller
        traceback.print_exc()
        res = (-1, errno.EIO)
    finally:
        if names:
            seccomp_fs.leave()
        W.WATCH.remove()
        stub.rn_sc_cred(0, 0, 0)
        if domain is not None:
            LL.leave()
        if TRACE:
            stub.rn_sc_flush(-1, -1)
            stub.rn_sc_acting(0, -1, -1)
        finish(call)
    if pipe and W.KILLABLE:
        W.raise_pipe(call)
    if res is CONTINUE:
        call.cont()
    elif res is not None:
        call.reply(*res)
    if pipe and not W.KILLABLE:
        W.raise_pipe(call)


def epoll_interests(call: Call, ino: int) -> list[tuple[int, int, int]]:
    """The caller's process's epoll interests in its fd call.fd while that is the
    socket of inode ino: (epoll fd, events, data), from the kernel's fdinfo.  An
    interest belongs to the open file: replacing A (RN_OP_REOPEN) drops them, where
    Linux keeps the socket's (c_stub/epint.c does this on the preload path)."""
    found = []
    base = f"/proc/{tgid_of(call.tid)}/fd"
    try:
        fds = os.listdir(base)
    except OSError:
        return found
    for name in fds:
        try:
            if os.readlink(f"{base}/{name}") != "anon_inode:[eventpoll]":
                continue
            with open(f"{base}/../fdinfo/{name}", "rb") as f:
                for line in f:
                    w = line.split()
                    # tfd: N events: X data: Y  pos:P ino:I sdev:D
                    if w[:1] == [b"tfd:"] and int(w[1]) == call.fd and \
                            int(w[-2].split(b":")[1], 16) == ino:
                        found.append((int(name), int(w[3], 16), int(w[5], 16)))
        except (OSError, ValueError, IndexError):
            continue
    return found


def readd_interests(call: Call, sets: list[tuple[int, int, int]]) -> None:
    """The interests epoll_interests found, on the fresh A under the same number."""
    for epfd, events, data in sets:
        ep = call.take_fd(epfd)
        if ep < 0:
            continue
        try:
            stub.rn_sc_epoll_add(ep, call.slot, call.fd, events, data)
        finally:
            os.close(ep)


def listen_loop(lfd: int) -> None:
    """Receive notifications until every process under the filter is gone."""
    buf = ctypes.create_string_buffer(B.NOTIF.size)
    p = select.poll()
    p.register(lfd, select.POLLIN)
    while True:
        ev = p.poll(1000)
        if not ev:
            continue
        if not ev[0][1] & select.POLLIN:
            return                              # POLLHUP: no process uses the filter
        ctypes.memset(buf, 0, B.NOTIF.size)
        if libc.ioctl(lfd, B.IOCTL_NOTIF_RECV, buf) < 0:
            if ctypes.get_errno() in (errno.EINTR, errno.ENOENT):
                continue
            errno_raise("SECCOMP_IOCTL_NOTIF_RECV")
        serve(Call(lfd, buf.raw))

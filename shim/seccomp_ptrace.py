"""`--trace` on the seccomp path for the calls the kernel serves on shim fds: poll, ppoll,
select/pselect6, epoll_ctl, epoll_wait, epoll_pwait, fcntl, dup/dup2/dup3, sendfile and
splice, which the preload path's stub traces inside the program (c_stub/trace.c).

The kernel runs them in the program's thread, and a seccomp supervisor never sees what
a call it continued returned.  So a traced run's filter stops them for a tracer
(SECCOMP_RET_TRACE, seccomp_bpf.KERNEL_NR), and the supervisor's main thread is that
tracer, as strace is: it seizes the program before the filter is installed (RET_TRACE
without a tracer fails the call with ENOSYS), follows every clone, fork, vfork and exec
(PTRACE_O_TRACE*), and at a seccomp stop that names a shim fd copies what the call reads,
steps to its syscall-exit stop (PTRACE_SYSCALL) and writes the line from the result and
what came back, with the stub's line makers (rn_tr_*).  Other stops are passed on as
strace passes them: a signal-delivery stop gets its signal back, a group-stop listens
(PTRACE_LISTEN).  Calls on other fds run on at once, untraced, as on the preload path.

A signal that interrupts a call ends it with a restart code at its exit stop; the signal's
delivery decides what the program sees.  Without a handler to run the kernel restarts
the call (the same call, or restart_syscall for poll), whose exit ends the line; with a
handler the tracer steps into it (PTRACE_SINGLESTEP) and reads the result the kernel left
in the signal frame: EINTR ends the line, a restart (SA_RESTART) leaves it to the call
run again after the handler.  The execve line comes from the PTRACE_EVENT_EXEC stop: only
a successful exec has one, before the new image runs.
"""
from __future__ import annotations

import ctypes
import errno
import os
import signal
import stat
import struct
import sys
from typing import Callable

from shim import seccomp_slots as S
from shim.procfs import proc_status
from shim.seccomp_abi import BAD, PIDFD_THREAD, c_long, libc, stub
from shim.seccomp_bpf import KERNEL_NR, SYS_pidfd_getfd, SYS_pidfd_open
from shim.seccomp_call import peek, tgid_of
from shim.seccomp_trace import image_line

PTRACE_CONT, PTRACE_SINGLESTEP, PTRACE_SYSCALL = 7, 9, 24
PTRACE_GETEVENTMSG, PTRACE_SEIZE, PTRACE_LISTEN = 0x4201, 0x4206, 0x4208
PTRACE_GET_SYSCALL_INFO = 0x420E
OPTIONS = 0x01 | 0x02 | 0x04 | 0x08 | 0x10 | 0x80   # SYSGOOD FORK VFORK CLONE EXEC SECCOMP
EV_FORK, EV_VFORK, EV_CLONE, EV_EXEC, EV_SECCOMP, EV_STOP = 1, 2, 3, 4, 7, 128
OP_EXIT = 2
WALL, WNOTHREAD = 0x40000000, 0x20000000
STOP_SIGNALS = {signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU}
RESTARTS = {512, 513, 514, 516}   # ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, _RESTARTBLOCK
# struct ptrace_syscall_info: op, arch, ip, sp, then nr + args (entry, seccomp) or
# rval + is_error (exit)
INFO = struct.Struct("=B3xIQQ7QI4x")
EXIT_RVAL = struct.Struct("=24xq")
# the x86_64 signal frame at the handler's first instruction: pretcode, then ucontext
# (flags, link, stack_t: 40 bytes) whose sigcontext has rax 14th (r8..r15, di, si, bp,
# bx, dx, ax)
FRAME_RAX = 8 + 40 + 13 * 8
POLLFD_SIZE, EPOLL_EVENT_SIZE, FDSET_SIZE = 8, 12, 128
NAMES = {v: k for k, v in KERNEL_NR.items()}
I64 = struct.Struct("=q")
libc.ptrace.argtypes = (ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p)
libc.ptrace.restype = ctypes.c_long
NO_SLOT = -2        # tb_start's fd for a number that is no shim fd: printed, never -y'd


def i32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def ptrace(req: int, tid: int, addr: int = 0, data: int = 0) -> int:
    return int(libc.ptrace(req, tid, addr or None, data or None))


def seize(pid: int) -> str | None:
    """Trace pid (and all it starts) from now on; why not, if the kernel refuses (another
    tracer, a debugger, has it)."""
    if ptrace(PTRACE_SEIZE, pid, 0, OPTIONS) == 0:
        return None
    return os.strerror(ctypes.get_errno())


class Fds:
    """The program's fds a traced call names, classified through the stub on slots of
    ours (as seccomp_loop.route_fd does); a shim fd keeps its slot until the line is
    written (-y reads the stub's entry there)."""

    def __init__(self, t: Thread):
        self.t = t
        self.seen: dict[int, tuple[int, int] | None] = {}    # fd -> (slot, ino)

    def slot(self, fd: int) -> int:
        """Our slot for the caller's fd if it is a shim fd, else -1."""
        if fd in self.seen:
            got = self.seen[fd]
            return got[0] if got else -1
        self.seen[fd] = None
        if fd < 0:
            return -1
        pidfd = self.t.pidfd()
        if pidfd < 0:
            return -1
        mine = int(libc.syscall(c_long(SYS_pidfd_getfd), c_long(pidfd), c_long(fd), c_long(0)))
        if mine < 0:
            return -1
        st = os.fstat(mine)
        if not stat.S_ISSOCK(st.st_mode):
            os.close(mine)
            return -1
        slot = S.SLOTS.acquire(st.st_ino)
        libc.dup3(mine, slot, os.O_CLOEXEC)
        libc.close(mine)
        if stub.rn_sc_classify(slot) <= 0:
            S.SLOTS.release(st.st_ino)
            return -1
        self.seen[fd] = (slot, st.st_ino)
        return slot

    def acting(self, pid: int, fd: int) -> int:
        """Trace lines from now on name pid and, for the number returned, fd."""
        slot = self.slot(fd)
        stub.rn_sc_acting(pid, slot if slot >= 0 else NO_SLOT, fd)
        return slot if slot >= 0 else NO_SLOT

    def close(self) -> None:
        for got in self.seen.values():
            if got:
                S.SLOTS.release(got[1])
        self.seen.clear()


class Pending:
    """A traced call between its seccomp stop and its end: line(r, err) writes it."""

    __slots__ = ("nr", "args", "fds", "line")

    def __init__(self, nr: int, args: tuple[int, ...], fds: Fds,
                 line: Callable[[int, int], None]):
        self.nr, self.args, self.fds, self.line = nr, args, fds, line


class Thread:
    __slots__ = ("tid", "tgid", "cur", "waiting", "stepping", "_pidfd")

    def __init__(self, tid: int, tgid: int):
        self.tid, self.tgid = tid, tgid
        self._pidfd = -2                       # not opened yet
        self.cur: Pending | None = None        # between its seccomp and exit stops
        self.waiting: Pending | None = None    # ended with a restart code: see the doc
        self.stepping = False                  # stepping into a handler for `waiting`

    def pidfd(self) -> int:
        """The thread's pidfd (for pidfd_getfd), kept while it lives; -1 if none."""
        if self._pidfd == -2:
            self._pidfd = int(libc.syscall(c_long(SYS_pidfd_open), c_long(self.tid),
                                           c_long(PIDFD_THREAD)))
        return self._pidfd

    def close(self) -> None:
        for p in (self.cur, self.waiting):
            if p is not None:
                p.fds.close()
        self.cur = self.waiting = None
        if self._pidfd >= 0:
            os.close(self._pidfd)
        self._pidfd = -2


class Tracer:
    """The tracer of every thread of the program (module doc): run() on the thread that
    seized it, until none is left; main_exit(status) when the supervisor's child ends."""

    def __init__(self, main_pid: int, main_exit: Callable[[int], None]):
        self.main_pid, self.main_exit = main_pid, main_exit
        self.threads: dict[int, Thread] = {}
        # per process: epoll fds that watch a shim fd (c_stub/trace.c's g_ep_shim: set by
        # a traced epoll_ctl, kept across fork, dropped at exec)
        self.epolls: dict[int, set[int]] = {}
        self.info = ctypes.create_string_buffer(INFO.size)

    def thread(self, tid: int) -> Thread:
        t = self.threads.get(tid)
        if t is None:
            t = self.threads[tid] = Thread(tid, tgid_of(tid))
        return t

    def run(self) -> None:
        while True:
            try:
                tid, st = os.waitpid(-1, WALL | WNOTHREAD)
            except InterruptedError:
                continue
            except ChildProcessError:
                return
            try:
                if os.WIFSTOPPED(st):
                    self.stopped(tid, st)
                else:
                    self.gone(tid, st)
            except Exception as e:  # noqa: BLE001 - the tracer must outlive a bug
                print(f"rocketnet seccomp tracer: {e!r}", file=sys.stderr)
                ptrace(PTRACE_CONT, tid)

    def gone(self, tid: int, st: int) -> None:
        t = self.threads.pop(tid, None)
        if t is not None:
            t.close()
            if t.tgid == tid:
                self.epolls.pop(tid, None)
        if tid == self.main_pid:
            self.main_exit(st)

    def stopped(self, tid: int, st: int) -> None:
        sig, event = os.WSTOPSIG(st), st >> 16
        t = self.thread(tid)
        if sig == signal.SIGTRAP | 0x80:
            self.syscall_exit(tid, t)
        elif event == EV_SECCOMP:
            self.seccomp(tid, t)
        elif event in (EV_FORK, EV_VFORK, EV_CLONE):
            self.started(tid, t)
            ptrace(PTRACE_CONT, tid)
        elif event == EV_EXEC:
            self.execd(tid)
            ptrace(PTRACE_CONT, tid)
        elif event == EV_STOP:
            ptrace(PTRACE_LISTEN if sig in STOP_SIGNALS else PTRACE_CONT, tid)
        elif t.stepping and sig == signal.SIGTRAP:
            t.stepping = False
            self.in_handler(tid, t)
            ptrace(PTRACE_CONT, tid)
        elif t.waiting is not None and caught(tid, sig):
            t.stepping = True
            ptrace(PTRACE_SINGLESTEP, tid, 0, sig)
        else:
            t.stepping = False
            ptrace(PTRACE_CONT, tid, 0, sig)

    def started(self, tid: int, t: Thread) -> None:
        """A fork, vfork or clone: a new process gets a copy of the epoll marks."""
        msg = ctypes.c_ulong(0)
        libc.ptrace(PTRACE_GETEVENTMSG, tid, None, ctypes.byref(msg))
        new = self.thread(msg.value)
        if new.tgid != t.tgid:
            self.epolls[new.tgid] = set(self.epolls.get(t.tgid, ()))

    def execd(self, pid: int) -> None:
        """A new image in process pid: its other threads are gone; its line."""
        for tid in [k for k, v in self.threads.items() if v.tgid == pid]:
            self.threads.pop(tid).close()
        self.threads[pid] = Thread(pid, pid)
        self.epolls.pop(pid, None)
        image_line(pid)

    def syscall_info(self, tid: int) -> tuple:
        ctypes.memset(self.info, 0, INFO.size)
        libc.ptrace(PTRACE_GET_SYSCALL_INFO, tid, ctypes.c_void_p(INFO.size), self.info)
        return INFO.unpack(self.info.raw)

    def seccomp(self, tid: int, t: Thread) -> None:
        info = self.syscall_info(tid)
        nr, args = info[4], info[5:11]
        t.stepping = False                     # (a handler's frame that was never set up)
        w = t.waiting
        if w is not None and (nr == KERNEL_NR["restart_syscall"] or
                              (nr == w.nr and args == w.args)):
            t.cur, t.waiting = w, None         # the interrupted call, run again
        else:
            t.cur = self.begin(t, nr, args)
        ptrace(PTRACE_SYSCALL if t.cur is not None else PTRACE_CONT, tid)

    def syscall_exit(self, tid: int, t: Thread) -> None:
        info = self.syscall_info(tid)
        p, t.cur = t.cur, None
        if info[0] != OP_EXIT:                 # an entry stop: on to the exit
            t.cur = p
            ptrace(PTRACE_SYSCALL, tid)
            return
        ptrace_rval = EXIT_RVAL.unpack_from(self.info.raw)[0]
        if p is not None:
            if -ptrace_rval in RESTARTS:
                if t.waiting is not None and t.waiting is not p:
                    t.waiting.fds.close()
                t.waiting = p
            else:
                self.end(t, p, ptrace_rval)
        ptrace(PTRACE_CONT, tid)

    def in_handler(self, tid: int, t: Thread) -> None:
        """Stepped into the handler of the signal that interrupted `waiting`: the result
        the kernel saved in the frame is EINTR, or a restart (module doc)."""
        sp = self.syscall_info(tid)[3]
        rax = peek(tid, sp + FRAME_RAX, 8)
        if t.waiting is not None and rax is not None and \
                I64.unpack(rax.raw)[0] == -errno.EINTR:
            p, t.waiting = t.waiting, None
            self.end(t, p, -errno.EINTR)

    def end(self, t: Thread, p: Pending, rval: int) -> None:
        r, err = (-1, -rval) if -4096 < rval < 0 else (rval, 0)
        try:
            p.line(r, err)
            stub.rn_sc_flush(-1, -1)
        finally:
            stub.rn_sc_acting(0, -1, -1)
            p.fds.close()

    def begin(self, t: Thread, nr: int, args: tuple) -> Pending | None:
        """The call's line maker if it names a shim fd (what it reads copied now), else
        None: it runs untraced."""
        name = NAMES.get(nr)
        fds = Fds(t)
        make = getattr(self, f"_{name}", None) if name else None
        line = make(t.tid, t.tgid, fds, name, args) if make else None
        if line is None:
            fds.close()
            return None
        return Pending(nr, args, fds, line)

    # the calls: each returns line(r, err), or None when no shim fd is involved

    def _poll(self, tid, tgid, fds, name, args):
        addr, n = args[0], args[1] & 0xFFFFFFFF
        arr = peek(tid, addr, n * POLLFD_SIZE) if n <= 1 << 20 else None
        if arr is None or not any(fds.slot(i32(fd)) >= 0 for (fd,) in
                                  struct.iter_unpack("=i4x", arr.raw[:n * POLLFD_SIZE])):
            return None
        if name == "poll":
            tmo = str(i32(args[2])).encode()
        else:
            tmo = timespec(tid, args[2])

        def line(r, err):
            after = peek(tid, addr, n * POLLFD_SIZE) if r > 0 else None
            stub.rn_sc_acting(tgid, NO_SLOT, -1)
            stub.rn_tr_poll(name.encode(), after or arr, n, tmo, r, err)
        return line

    _ppoll = _poll

    def _select(self, tid, tgid, fds, name, args):
        nfds = i32(args[0])
        sets = args[1:4]
        before = ctypes.create_string_buffer(3 * FDSET_SIZE)
        for k, addr in enumerate(sets):
            if addr:
                got = peek(tid, addr, FDSET_SIZE)
                if got is None:
                    return None
                ctypes.memmove(ctypes.addressof(before) + k * FDSET_SIZE, got, FDSET_SIZE)
        bits = [int.from_bytes(before.raw[k * FDSET_SIZE:(k + 1) * FDSET_SIZE], "little")
                for k in range(3)]
        if not any(any(b >> fd & 1 for b in bits) and fds.slot(fd) >= 0
                   for fd in range(max(0, min(nfds, FDSET_SIZE * 8)))):
            return None
        tmo = timespec(tid, args[4])         # select's timeval, pselect6's timespec

        def line(r, err):
            after = ctypes.create_string_buffer(3 * FDSET_SIZE)
            ptrs = (ctypes.c_void_p * 3)()
            for k, addr in enumerate(sets):
                got = peek(tid, addr, FDSET_SIZE) if addr and r > 0 else None
                if addr:
                    at = ctypes.addressof(after) + k * FDSET_SIZE
                    ctypes.memmove(at, got if got is not None else before.raw[
                        k * FDSET_SIZE:(k + 1) * FDSET_SIZE], FDSET_SIZE)
                    ptrs[k] = at if got is not None else BAD.value
            stub.rn_sc_acting(tgid, NO_SLOT, -1)
            stub.rn_tr_select(name.encode(), nfds, ptrs, before, tmo, r, err)
        return line

    _pselect6 = _select

    def _epoll_ctl(self, tid, tgid, fds, name, args):
        epfd, op, fd, ev = i32(args[0]), i32(args[1]), i32(args[2]), args[3]
        if fds.slot(fd) < 0:
            return None

        def line(r, err):
            if r == 0:
                self.epolls.setdefault(tgid, set()).add(epfd)
            got = peek(tid, ev, EPOLL_EVENT_SIZE) if ev else None
            stub.rn_sc_acting(tgid, NO_SLOT, epfd)
            if ev and got is None:
                stub.rn_sc_span(BAD, 1, ev)
            stub.rn_tr_epoll_ctl(NO_SLOT, op, fd, got if got is not None else (
                BAD if ev else None), r, err)
        return line

    def _epoll_wait(self, tid, tgid, fds, name, args):
        epfd, evs, most, tmo = i32(args[0]), args[1], i32(args[2]), i32(args[3])
        if epfd not in self.epolls.get(tgid, ()):
            return None

        def line(r, err):
            got = peek(tid, evs, min(r, 8) * EPOLL_EVENT_SIZE) if r > 0 else None
            stub.rn_sc_acting(tgid, NO_SLOT, epfd)
            stub.rn_tr_epoll_wait(name.encode(), NO_SLOT, got if got is not None else BAD,
                                  most, tmo, r, err)
        return line

    _epoll_pwait = _epoll_wait

    def _fcntl(self, tid, tgid, fds, name, args):
        fd, cmd = i32(args[0]), i32(args[1])
        if fds.slot(fd) < 0:
            return None

        def line(r, err):
            slot = fds.acting(tgid, fd)
            stub.rn_tr_fcntl(b"fcntl", slot, cmd, args[2], r, err)
        return line

    def _dup(self, tid, tgid, fds, name, args):
        fd = i32(args[0])
        if fds.slot(fd) < 0:
            return None
        nfd = i32(args[1]) if name != "dup" else -1
        flags = i32(args[2]) if name == "dup3" else -1

        def line(r, err):
            slot = fds.acting(tgid, fd)
            stub.rn_tr_dup(name.encode(), slot, nfd, flags, r, err)
        return line

    _dup2 = _dup3 = _dup

    def _sendfile(self, tid, tgid, fds, name, args):
        out, fin, off, n = i32(args[0]), i32(args[1]), args[2], args[3]
        if fds.slot(out) < 0 and fds.slot(fin) < 0:
            return None
        k = peek(tid, off, 8) if off else None

        def line(r, err):
            slot = fds.acting(tgid, out)
            stub.rn_tr_sendfile(b"sendfile", slot, fin, int(off != 0), k, n, r, err)
        return line

    def _splice(self, tid, tgid, fds, name, args):
        fin, oin, out, oout, n, flags = (i32(args[0]), args[1], i32(args[2]), args[3],
                                         args[4], args[5] & 0xFFFFFFFF)
        if fds.slot(fin) < 0 and fds.slot(out) < 0:
            return None

        def line(r, err):
            slot = fds.acting(tgid, fin)
            stub.rn_tr_splice(slot, int(oin != 0), out, int(oout != 0), n, flags, r, err)
        return line


def timespec(tid: int, addr: int) -> bytes:
    """A timeout the call reads, as the stub prints it: read at the call's entry (the
    kernel writes the time left there)."""
    if not addr:
        return b"NULL"
    got = peek(tid, addr, 16)
    return b"NULL" if got is None else b"{%d, %d}" % struct.unpack("=qq", got.raw[:16])


def caught(tid: int, sig: int) -> bool:
    """Whether tid's process runs a handler for sig."""
    try:
        return bool(int(proc_status(tid)[b"SigCgt"][0], 16) >> (sig - 1) & 1)
    except (OSError, ValueError, IndexError, KeyError):
        return False

"""The supervisor of `rocketnet run --via seccomp`: serves a program's socket system
calls from the seccomp listener (seccomp_unotify(2)).

Where it runs, and why: a process of its own, started by `rocketnet run` with the
preload stub loaded (LD_PRELOAD), and the parent of the program.
- With the stub loaded, every intercepted call is made through the stub's own code, on
  a copy of the program's fd (pidfd_getfd) put on a slot number here: one
  implementation of each call's semantics (RPCs, filler bytes of a non-blocking
  connect, accept records, the datagram channel header) for both paths.
- Not in the stack host: its one event loop must never wait on a program's memory or
  on a call that blocks (accept, a blocking connect, a UDP receive).
- The program's parent: reading its memory and taking its fds needs ptrace access,
  which Yama's default scope grants to ancestors.
Fds the stack hands out (socket, accept, socketpair) are installed in the program with
SECCOMP_IOCTL_NOTIF_ADDFD at the lowest free number, as the kernel would number them.
Calls on fds that are not the stack's (files, pipes, the kernel's own sockets) answer
CONTINUE: the kernel runs them as if never stopped; that is not a security boundary
(seccomp_unotify(2): the program may change its memory or fd table meanwhile) and none
is claimed: the filter routes a program's socket calls, it does not confine it.
If this process dies, the listener closes and the routed calls fail with ENOSYS: the
program gets errors, never the machine's network.

This file starts the program and the loop.  The parts: seccomp_loop.py (notifications,
workers, routing), seccomp_call.py (one notification: the caller's memory and fds),
seccomp_slots.py (our copies of the caller's fds), seccomp_ctl.py and seccomp_data.py
(the handlers), seccomp_signals.py (signals and interrupted waits), seccomp_trace.py and
seccomp_ptrace.py (--trace: the process lines, and the calls the kernel serves, which a
traced run's main thread follows with ptrace), seccomp_abi.py (the stub's entry points
and the kernel's structures).

    python -m shim.seccomp_super --status-fd N PATH ARGV...
"""
from __future__ import annotations

import argparse
import errno
import os
import resource
import select
import signal
import sys
import threading
import time

from shim import seccomp_bpf as B
from shim import seccomp_ptrace as P
from shim import seccomp_signals as W
from shim import seccomp_slots as S
from shim.protocol import ENV_TRACE_OPTS
from shim.seccomp_abi import NR, TRACE, c_long, libc
from shim.seccomp_call import errno_raise
from shim.seccomp_loop import listen_loop


def child(path: str, argv: list[str], env: dict[str, str], at: int, go: int) -> None:
    """In the forked child: once the parent says whether it traces us (a byte on go:
    `k`, ptraced for the calls the kernel serves), the filter, its listener on fd `at`
    for the parent to take (pidfd_getfd), one routed call that returns once the parent
    serves, then exec."""
    try:
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGQUIT):
            signal.signal(sig, signal.SIG_DFL)
        kernel = B.stopped_calls(os.environ.get(ENV_TRACE_OPTS, "")) if os.read(go, 1) == b"k" \
            else ()
        os.close(go)
        lfd = B.install_filter(TRACE, kernel)
        os.dup2(lfd, at, inheritable=False)
        os.close(lfd)
        libc.syscall(c_long(NR["getpeername"]), c_long(-1), c_long(0), c_long(0))
        os.execve(path, argv, env)
    except OSError as e:
        os.write(2, f"rocketnet: {argv[0]}: {e.strerror}\n".encode())
        os._exit(126 if e.errno != errno.ENOENT else 127)
    os._exit(127)


def take_listener(pid: int, at: int) -> int:
    pidfd = int(libc.syscall(c_long(B.SYS_pidfd_open), c_long(pid), c_long(0)))
    if pidfd < 0:
        errno_raise("pidfd_open")
    try:
        while True:
            fd = int(libc.syscall(c_long(B.SYS_pidfd_getfd), c_long(pidfd), c_long(at),
                                  c_long(0)))
            if fd >= 0:
                try:
                    if os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:seccomp notify":
                        return fd
                except OSError:
                    pass
                os.close(fd)
            if select.select([pidfd], [], [], 0)[0]:
                raise ChildProcessError("the program ended before its filter was in place")
            time.sleep(0.001)
    finally:
        os.close(pidfd)


def serve(pid: int, at: int) -> None:
    """Take the program's listener and serve it until no process uses the filter
    (nothing to serve if the program ended before its filter was in place)."""
    try:
        lfd = take_listener(pid, at)
    except ChildProcessError:
        return
    listen_loop(lfd)


def free_fd(n: int) -> int:
    """The first fd number from n up that is not open (free in a child forked now too)."""
    while True:
        try:
            os.fstat(n)
        except OSError:
            return n
        n += 1


def target_env() -> dict[str, str]:
    """Ours without the stub: the program is served by the filter, not by preloading."""
    env = dict(os.environ)
    pre = env.pop("LD_PRELOAD", "").split()
    if pre[1:]:
        env["LD_PRELOAD"] = " ".join(pre[1:])
    for k in ("ROCKETNET_SOCK", "ROCKETNET_CTL_FD", "ROCKETNET_TRACE", "ROCKETNET_DIALER_FD"):
        env.pop(k, None)
    return env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="rocketnet-seccomp")
    ap.add_argument("--status-fd", type=int, required=True)
    ap.add_argument("path")
    ap.add_argument("argv", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)
    os.set_inheritable(a.status_fd, False)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)
    env = target_env()
    at = free_fd(200)
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(go_w)
        child(a.path, a.argv, env, at, go_r)
    os.close(go_r)
    kernel = False
    if TRACE:
        why = P.seize(pid)
        kernel = why is None
        if why:
            print(f"rocketnet: process {pid}: its execs and the calls the kernel serves on "
                  f"its shim fds are not traced (ptrace: {why})", file=sys.stderr)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard if hard != resource.RLIM_INFINITY else 65536, 65536)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    S.SLOTS = S.Slots(soft // 4, soft // 4)
    W.WATCH = W.Watch()
    for fd in (0, 1):
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, fd)
        os.close(null)
    os.write(go_w, b"k" if kernel else b"-")
    os.close(go_w)
    status = os.fdopen(a.status_fd, "w", buffering=1)
    status.write(f"{pid}\n")

    def ended(st: int) -> None:
        status.write(f"{st}\n")
        status.close()

    if kernel:
        # the main thread traces (it seized the child: ptrace requests are its alone)
        # and reaps; another serves the listener
        listener = threading.Thread(target=serve, args=(pid, at), daemon=True)
        listener.start()
        P.Tracer(pid, ended).run()
        listener.join()
        return 0

    pidfd = os.pidfd_open(pid)

    def reap() -> None:
        with select.epoll() as ep:
            ep.register(pidfd, select.EPOLLIN)
            while not ep.poll():
                pass
        os.close(pidfd)
        ended(os.waitpid(pid, 0)[1])
    reaper = threading.Thread(target=reap, daemon=True)
    reaper.start()
    serve(pid, at)
    reaper.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`rocketnet run --trace`: what the stub's trace lines carry (ROCKETNET_TRACE_OPTS, see
c_stub/traceopt.c), where they go (a file, or `-`: the run's stderr), and, when the
run is traced or summarised, a parent that waits for the program: it writes the
"killed by SIGNAL" line a dying process cannot write itself, and prints the summary
(-c) from the trace lines once the run is over."""
from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import tempfile
import time
from collections import defaultdict
from typing import Any

from shim import protocol as P

CLASSES = {
    "io": "read,write,readv,writev,send,recv,sendto,recvfrom,sendmsg,recvmsg,sendmmsg,"
          "recvmmsg,sendfile,splice",
    "poll": "poll,ppoll,select,pselect,pselect6,epoll_ctl,epoll_wait,epoll_pwait",
    "net": "socket,socketpair,bind,listen,accept,accept4,connect,shutdown,getsockname,"
           "getpeername,getsockopt,setsockopt,close",
}
LINE = re.compile(r"^(\d+) (?:[\d:.]+ )*([a-z_0-9]+|\+\+\+)\(?(.*)$")
RESULT = re.compile(r" = (-1 (\w+)|\d+)")
DATA_CALLS = frozenset(CLASSES["io"].split(","))


def add_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument("--trace", metavar="FILE",
                     help="one line per call on the run's sockets, strace-like, appended to "
                          "FILE ('-': stderr), with execve and exit lines per process")
    run.add_argument("-t", dest="trace_abs", action="store_true",
                     help="with --trace: wall-clock time (UTC, microseconds) on each line")
    run.add_argument("-r", dest="trace_rel", action="store_true",
                     help="with --trace: seconds since the run started on each line")
    run.add_argument("-y", dest="trace_ids", action="store_true",
                     help="with --trace: the host's socket id after each fd, fd<sock N>, as "
                          "host.log names sockets")
    run.add_argument("-s", dest="strsize", type=int, default=0, metavar="N",
                     help="with --trace: show the first N bytes (at most 512) each data call "
                          "moved, as strace -s")
    run.add_argument("-e", dest="calls", metavar="CALL,...",
                     help="with --trace: only these calls (names, or the classes io, poll, net)")
    run.add_argument("-c", dest="summary", action="store_true",
                     help="print a summary of calls, errors and bytes per call when the run "
                          "ends (to stderr; the lines too only if --trace FILE is given)")


def calls_filter(spec: str) -> str:
    names: list[str] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if not re.fullmatch(r"[a-z_0-9]+", part):
            raise ValueError(f"-e {spec!r}: {part!r} is not a call name")
        names.extend(CLASSES.get(part, part).split(","))
    return ":".join(names)


class TraceRun:
    """The trace settings of one run, applied to the program's environment."""

    def __init__(self, args: argparse.Namespace, env: dict[str, str], high_fd) -> None:
        self.args = args
        self.path: str | None = None          # the file the lines go to (None: stderr)
        self.offset = 0
        self.temp = False
        self.supervise = bool(args.trace or args.summary)
        self.fds: list[int] = []              # fds the program must inherit
        env.pop(P.ENV_TRACE, None)
        env.pop(P.ENV_TRACE_OPTS, None)
        if not self.supervise:
            return
        if args.summary and args.trace in (None, "-"):
            fd, self.path = tempfile.mkstemp(prefix="rocketnet-trace-")
            os.close(fd)
            self.temp = True
        elif args.trace == "-":
            self.fds.append(high_fd(os.dup(2)))
            env[P.ENV_TRACE] = f"&{self.fds[0]}"
        else:
            self.path = os.path.abspath(args.trace)
        if self.path is not None:
            env[P.ENV_TRACE] = self.path
            try:
                self.offset = os.stat(self.path).st_size
            except OSError:
                self.offset = 0
        opts = [f"T0={time.time_ns()}"]
        if args.trace_abs:
            opts.append("t")
        if args.trace_rel:
            opts.append("r")
        if args.trace_ids:
            opts.append("y")
        if args.strsize:
            opts.append(f"s={args.strsize}")
        if args.calls:
            opts.append(f"e={calls_filter(args.calls)}")
        env[P.ENV_TRACE_OPTS] = ",".join(opts)

    def line(self, text: str) -> None:
        """A line from rocketnet itself (the stub's format)."""
        data = text.encode()
        if self.path is None:
            os.write(2, data)
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def wait(self, pid: int) -> int:
        """Wait for the program, forwarding SIGTERM/SIGHUP (the terminal's SIGINT and
        SIGQUIT reach it directly); returns its status as a shell reports it."""
        def forward(signum: int, _frame: Any) -> None:
            os.kill(pid, signum)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, forward)
        for sig in (signal.SIGINT, signal.SIGQUIT):
            signal.signal(sig, signal.SIG_IGN)
        while True:
            try:
                _pid, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        return self.ended(pid, status)

    def ended(self, pid: int, status: int) -> int:
        """The program's wait status as the run's exit code: its "killed by" line, the
        summary (-c)."""
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            self.line(f"{pid} +++ killed by {signal.Signals(sig).name} +++\n")
            code = 128 + sig
        else:
            code = os.WEXITSTATUS(status)
        if self.args.summary:
            self.print_summary()
        if self.temp and self.path is not None:
            os.unlink(self.path)
        return code

    def print_summary(self) -> None:
        assert self.path is not None
        with open(self.path, errors="replace") as f:
            f.seek(self.offset)
            text = f.read()
        calls: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        errors: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for ln in text.splitlines():
            m = LINE.match(ln)
            if m is None or m.group(2) in ("+++", "execve"):
                continue
            c = calls[m.group(2)]
            c[0] += 1
            r = RESULT.search(m.group(3))
            if r is None:
                continue
            if r.group(2):
                c[1] += 1
                errors[m.group(2)][r.group(2)] += 1
            elif m.group(2) in DATA_CALLS:
                c[2] += int(r.group(1))
        out = [f"{'calls':>8} {'errors':>7} {'bytes':>12}  call (errors)"]
        for name, (n, e, b) in sorted(calls.items(), key=lambda kv: (-kv[1][0], kv[0])):
            errs = ", ".join(f"{k} {v}" for k, v in sorted(errors[name].items()))
            out.append(f"{n:>8} {e:>7} {b:>12}  {name}" + (f" ({errs})" if errs else ""))
        total = [sum(v[i] for v in calls.values()) for i in range(3)]
        out.append(f"{total[0]:>8} {total[1]:>7} {total[2]:>12}  total")
        print("\n".join(out), file=sys.stderr)

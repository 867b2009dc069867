"""The stack host: the process that plays the kernel for shimmed programs.

One event loop (epoll) drives everything: the control socket where processes connect,
one control connection per process (short RPCs from the stub, shim/control.py), one
channel per shim socket (the S end of the socket pair whose A end is the program's fd,
shim/channels.py), devices, and the stack's timers.  The stack itself
(rocketnet.NetStack) is sans-I/O: the services move bytes between channels and stack
sockets and turn RPCs into stack calls: stream (TCP, shim/stream.py), datagram
(shim/dgram.py), AF_UNIX (shim/unix.py), AF_ALG (shim/alg.py), netlink
(shim/netlink.py); administration is shim/admin.py.
"""
from __future__ import annotations

import argparse
import os
import secrets
import select
import signal
import socket
import sys
import time
import traceback

from rocketnet.stack import NetStack
from shim import hostlog, netconfig, profilecache, runtime, ssview
from shim import protocol as P
from shim.admin import Admin
from shim.alg import AF_ALG, AlgService
from shim.channels import ChannelTable
from shim.control import Control
from shim.dgram import DgramService
from shim.memtrim import Trimmer
from shim.netlink import NetlinkService
from shim.resolver import ResolverService
from shim.session import ProbeLog, SessionService
from shim.sockdiag import SockDiag
from shim.stream import StreamService
from shim.unix import UnixService

EP_IN = select.EPOLLIN


class StackHost:
    def __init__(self, name: str, idle_timeout: float | None,
                 net: argparse.Namespace | None = None) -> None:
        self.name = name
        self.idle_timeout = idle_timeout
        nonce = secrets.token_hex(P.NONCE_LEN // 2).encode()
        seed = net.seed if net is not None and net.seed is not None else secrets.randbits(32)
        # the running kernel's answers where Linux versions differ (shim/kprofile.py),
        # probed once per kernel, namespace and code (shim/profilecache.py)
        self.stack = NetStack(seed=seed, profile=profilecache.probe())
        self.ep = select.epoll()
        self.table = table = ChannelTable(self.ep, nonce)
        if net is not None:
            for dev in netconfig.configure(self.stack, net.eth, net.addr, net.gateway,
                                           net.pcap, net.impair, net.seed,
                                           impair_rx=net.impair_rx):
                table.watch(dev.fileno(), EP_IN, lambda fd, ev, dev=dev: dev.on_readable())
        self.running = True
        self.idle_since = time.monotonic()
        self.trimmer = Trimmer()
        self.ctl_path = runtime.ctl_path(name)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            os.unlink(self.ctl_path)
        except FileNotFoundError:
            pass
        old_umask = os.umask(0o077)
        try:
            listener.bind(str(self.ctl_path))
        finally:
            os.umask(old_umask)
        listener.listen(128)
        listener.setblocking(False)
        # Signals wake the loop through this pair (PEP 475 would otherwise resume epoll).
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        table.watch(self.wake_r.fileno(), EP_IN, lambda fd, ev: self.wake_r.recv(64))
        self.stream = StreamService(table, self.stack, self.run_stack)
        self.dgram = DgramService(table, self.stack, self.run_stack, self.stream)
        self.unix = UnixService(table, self.stack)
        netlink = NetlinkService(table, self.stack, SockDiag(table, self.stack, self.unix))
        self.resolver = ResolverService(self.stack, net)    # names (shim/resolver.py)
        alg = AlgService(table, self.stack)
        table.held_ids = [self.unix, self.stream]
        inet = (socket.AF_INET, socket.AF_INET6)
        services = {(f, socket.SOCK_STREAM): self.stream for f in inet}
        services.update({(f, socket.SOCK_DGRAM): self.dgram for f in inet})
        services.update({(socket.AF_UNIX, -1): self.unix, (socket.AF_NETLINK, -1): netlink,
                         (AF_ALG, -1): alg})
        self.admin = Admin(name, self.stack, self.counters, self.stop,
                           lambda: ssview.describe(self.stack, table))
        self.sessions = SessionService(self.stack, table)   # probe files, run captures
        if net is not None and net.tcp_probe:
            self.sessions.add_probe(ProbeLog(net.tcp_probe))
        host_ops = dict(self.admin.ops)
        host_ops[P.OP_UNIX_PAIR] = self.unix.new_pair
        host_ops[P.OP_RESOLVE] = self.resolver.op_resolve
        host_ops[P.OP_RUN_SESSION] = self.sessions.op_run_session
        prof = self.stack.profile
        self.control = Control(table, nonce, listener, host_ops, services, self.stream,
                               (P.HELLO_OOB_STALL if prof.unix_oob_stall else 0)
                               | (P.HELLO_OOB_NOMARK if prof.unix_oob_nomark else 0)
                               | (P.HELLO_TCLASS_SOCK if prof.tclass_cmsg_sock else 0))
        self.control.hello_args = self.stream.kept_option_limits()

    def counters(self) -> dict:
        return {"clients": len(self.control.greeted), "sockets": len(self.table.by_fd),
                "internal_errors": self.control.internal_errors,
                "requests": self.control.requests}

    def stop(self) -> None:
        self.running = self.control.running = False

    # ---- event loop -------------------------------------------------------------

    def serve(self) -> None:
        stack = self.stack
        table = self.table
        channels = table.by_fd
        watchers = table.watchers
        control = self.control
        conn_log = table.conn_log
        lines = conn_log.line
        resolver = self.resolver
        trimmer = self.trimmer
        stream = self.stream
        mono = time.monotonic
        drops_at = 0.0
        epoch = -1
        now = mono()
        while self.running:
            due = stack.poll_at(now)    # now: read at the end of the last round
            if trimmer.live < trimmer.peak:     # else no trim is waiting (Trimmer.due)
                trim = trimmer.due()
                if trim is not None and (due is None or trim < due):
                    due = trim
            if resolver.socks:
                rdue = resolver.next_deadline()
                if rdue is not None and (due is None or rdue < due):
                    due = rdue
            if lines.waiting:
                ldue = lines.due(now)   # written once the oldest has waited a little
                if ldue is not None and (due is None or ldue < due):
                    due = ldue
            if due is None:
                timeout = -1.0
            else:
                timeout = due - now
                if timeout < 0.0:
                    timeout = 0.0
            if self.idle_timeout is not None and not channels and not control.busy():
                left = self.idle_since + self.idle_timeout - now
                if left <= 0:
                    break
                timeout = left if timeout < 0 else min(timeout, left)
            try:
                events = self.ep.poll(timeout, 512)
            except InterruptedError:
                now = mono()
                continue
            now = mono()        # the one clock read of this wake-up
            closed = table.closed_fds
            if closed:
                closed.clear()
            for fd, ev in events:
                if closed and fd in closed:
                    continue        # closed in this batch: the fd may be a new channel's
                if fd in channels:  # (a test and an index: no method call per event)
                    ch = channels[fd]
                    try:
                        ch.svc.event(ch, ev)
                    except Exception:   # a bug ends that socket, not every program's
                        control.internal_errors += 1
                        traceback.print_exc()           # into host.log
                        if table.alive(ch):
                            table.close(ch)
                    continue
                watcher = watchers.get(fd)
                if watcher is not None:
                    try:
                        watcher(fd, ev)
                    except Exception:   # a bug here must not end the host either
                        control.internal_errors += 1
                        traceback.print_exc()           # into host.log
            self.run_stack(now)
            if stream.lingering:
                stream.check_lingering()
            if resolver.socks:
                resolver.tick(now)
            if self.sessions.ending:
                self.sessions.finish()
            if conn_log.info and now - drops_at >= hostlog.DROP_EVERY:
                drops_at = now
                conn_log.drop_summary(stack.stats)
            if channels or control.busy():
                self.idle_since = now
            # the trimmer counts channels only when one came or went, or a trim waits
            if table.epoch != epoch or trimmer.live < trimmer.peak:
                epoch = table.epoch
                trimmer.tick(now, len(channels))

    def run_stack(self, now: float | None = None) -> None:
        """Poll the stack and serve every socket whose state it changed; poll again
        only while serving them left the stack work (output, frames, events). ``now``:
        the wake-up's clock reading (None: read it)."""
        stack = self.stack
        by_sock = self.table.by_sock
        conn_log = self.table.conn_log
        log = conn_log.info
        if now is None:
            now = time.monotonic()
        for _ in range(64):
            stack.poll(now)
            changed = stack.take_events()
            if not changed:
                return
            for sk in changed:
                if sk in by_sock:
                    ch = by_sock[sk]
                    if log and sk.inner.state != ch.seen_state:     # else nothing to log
                        ch.seen_state = sk.inner.state
                        conn_log.changed(ch.sock_id, sk)
                    ch.svc.service(ch)
                    continue
                if log:
                    conn_log.changed(None, sk)
                if sk in self.resolver.socks:
                    self.resolver.on_socket(sk)
                else:
                    self.stream.orphaned(sk)
            if not stack.pending():
                return

    def close(self) -> None:
        if self.table.conn_log.line.waiting:
            self.table.conn_log.line.flush()
        now = time.monotonic()
        for ch in list(self.table.by_fd.values()):
            self.table.close(ch)
            ch.sk.abort(now)
        self.control.close()
        self.unix.close()
        self.resolver.close()
        self.sessions.close()
        netconfig.close_devices(self.stack)
        self.wake_r.close()
        self.wake_w.close()
        for p in (self.ctl_path, self.ctl_path.with_name("host.pid")):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass


def tune_pypy_jit() -> None:
    """Under PyPy, make the JIT compile the host's code after a few hundred connections,
    not a few thousand. Hotness counters never decay (decay=0): by default they decay a
    little all the time, so code that runs a few times per connection never becomes hot
    and stays interpreted, several times slower than CPython. The thresholds are lower
    because a per-connection path runs once per iteration of the host's loop: the
    default counts (1039 loop iterations, 1619 calls) are that many connections
    interpreted (measured with tools/inproc_crr.py)."""
    try:
        import pypyjit  # type: ignore[import-not-found]
    except ImportError:
        return          # CPython: nothing to set
    pypyjit.set_param("decay=0,threshold=150,function_threshold=200")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m shim.host", description="Run a stack host.")
    ap.add_argument("--name", default=runtime.DEFAULT_HOST)
    ap.add_argument("--idle-timeout", type=float, default=None,
                    help="exit this many seconds after the last client and socket are gone")
    ap.add_argument("--ready-fd", type=int, default=None,
                    help="write one byte to this fd once the host accepts connections")
    netconfig.add_arguments(ap)
    args = ap.parse_args(argv)
    os.umask(0o077)         # whatever the host creates is its user's alone
    tune_pypy_jit()
    hostlog.setup()
    try:
        host = StackHost(args.name, args.idle_timeout, args)
    except (OSError, ValueError) as e:
        print(f"rocketnet host {args.name}: {e}", file=sys.stderr)
        return 1
    (host.ctl_path.with_name("host.pid")).write_text(f"{os.getpid()}\n")

    def stop(signum, frame):
        host.running = False
        try:
            host.wake_w.send(b"x")
        except OSError:
            pass
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    if args.ready_fd is not None:
        os.write(args.ready_fd, b"1")
        os.close(args.ready_fd)
    hostlog.log.info("host %s (pid %d) ready: %s", args.name, os.getpid(),
                     ", ".join(i.name for i in host.stack.interfaces))
    try:
        host.serve()
    finally:
        host.close()
        hostlog.log.info("host %s stopped", args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

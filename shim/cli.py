"""The `rocketnet` command: run programs on a stack host, manage hosts."""
from __future__ import annotations

import argparse
import array
import errno
import fcntl
import json
import os
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

from shim import builds, hostpick, netconfig, program, runtime, tracecli
from shim import protocol as P

ON_DEMAND_IDLE = 5.0          # seconds an on-demand host lingers with no client or socket
# tools/vm sets ROCKETNET_TIMEOUT_FACTOR in an emulated guest, where a start takes longer
START_TIMEOUT = 20.0 * float(os.environ.get("ROCKETNET_TIMEOUT_FACTOR") or 1)


def die(msg: str, status: int = 1) -> int:
    print(f"rocketnet: {msg}", file=sys.stderr)
    return status


def rpc(sock, op: int, sock_id: int = 0, args=(0, 0, 0, 0), payload: bytes = b""):
    """One control request; returns (ret, err, payload)."""
    sock.send(P.REQ.pack(op, sock_id, *args, len(payload), 0) + payload)
    msg = sock.recv(P.RESP.size + P.MAX_PAYLOAD)
    if len(msg) < P.RESP.size:
        raise ConnectionError("the stack host closed the control connection")
    ret, err, plen, _a0, _a1 = P.RESP.unpack_from(msg)
    return ret, err, msg[P.RESP.size:P.RESP.size + plen]


def host_env() -> dict[str, str]:
    """The environment for a stack host: never preloaded, never a client itself."""
    env = dict(os.environ)
    for k in ("LD_PRELOAD", P.ENV_SOCK, P.ENV_CTL_FD, P.ENV_TRACE, P.ENV_TRACE_OPTS,
              P.ENV_DIALER_FD):
        env.pop(k, None)
    return env


def start_host(name: str, idle_timeout: float | None, extra: list[str] | None = None) -> None:
    """Start host NAME in the background and return once it accepts connections."""
    d = runtime.host_dir(name)
    env = host_env()
    python, why = hostpick.choose()
    if python != sys.executable:
        # another interpreter (pypy3) imports this tree, with its own build of shim._stub
        env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    r, w = os.pipe()
    cmd = [python, "-m", "shim.host", "--name", name, "--ready-fd", str(w)]
    cmd += extra or []
    if idle_timeout is not None:
        cmd += ["--idle-timeout", str(idle_timeout)]
    try:
        with runtime.open_private(d / "host.log", append=True) as log:
            subprocess.Popen(cmd, pass_fds=(w,), start_new_session=True,
                             stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd="/")
    except OSError as e:
        os.close(r)
        os.close(w)
        raise SystemExit(die(f"cannot start stack host {name!r} with {python} ({why}): "
                             f"{e.strerror}")) from None
    os.close(w)
    try:
        ready, _, _ = select.select([r], [], [], START_TIMEOUT)
        ok = bool(ready) and os.read(r, 1) == b"1"
    finally:
        os.close(r)
    if not ok:
        tail = (d / "host.log").read_text(errors="replace").splitlines()[-15:]
        raise SystemExit(die(f"stack host {name!r} did not start; end of {d / 'host.log'}:\n"
                             + "\n".join(tail)))


def ensure_host(name: str, idle_timeout: float | None, extra: list[str] | None = None):
    """A control connection to host NAME, starting the host if none answers."""
    sock = runtime.connect_ctl(name)
    if sock is None:
        with open(runtime.host_dir(name) / "lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            sock = runtime.connect_ctl(name)
            if sock is None:
                start_host(name, idle_timeout, extra)
                sock = runtime.connect_ctl(name)
        if sock is None:
            raise SystemExit(die(f"stack host {name!r} started but does not answer"))
    ret, err, _ = rpc(sock, P.OP_HELLO, args=(os.getpid(), P.PROTO_VERSION, 0, 0))
    if ret < 0:
        sock.close()
        why = ("was started by another rocketnet build (its protocol differs);"
               f" stop it with: rocketnet host stop {name}") if err == errno.EPROTO \
            else f"refuses this client: {os.strerror(err)}"
        raise SystemExit(die(f"stack host {name!r} {why}"))
    return sock


def rpc_fd(sock, op: int, payload: bytes = b"") -> tuple[int, int, bytes, int | None]:
    """One control request whose reply may carry an fd: (ret, err, payload, fd)."""
    sock.send(P.REQ.pack(op, 0, 0, 0, 0, 0, len(payload), 0) + payload)
    msg, anc, _flags, _addr = sock.recvmsg(P.RESP.size + P.MAX_PAYLOAD, socket.CMSG_SPACE(4))
    fds = [fd for level, kind, data in anc
           if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS
           for fd in array.array("i", data[: len(data) - len(data) % 4])]
    for fd in fds[1:]:
        os.close(fd)
    if len(msg) < P.RESP.size:
        raise ConnectionError("the stack host closed the control connection")
    ret, err, plen, _a0, _a1 = P.RESP.unpack_from(msg)
    return ret, err, msg[P.RESP.size:P.RESP.size + plen], fds[0] if fds else None


def inherited(fd: int) -> int:
    """fd moved up to the stub's high fd range, left open across exec for the run."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, high_fd())
    os.close(fd)
    os.set_inheritable(high, True)
    return high


def get_dialer(sock) -> int:
    """A dialer fd from the host (RN_OP_DIALER): the capability to make control
    connections that the programs started here, and their children, inherit."""
    ret, _err, _payload, fd = rpc_fd(sock, P.OP_DIALER)
    if ret < 0 or fd is None:
        if fd is not None:
            os.close(fd)
        raise SystemExit(die("the stack host did not give a dialer"))
    return fd


def start_session(sock, args: argparse.Namespace) -> int | None:
    """`run --pcap/--tcp-probe`: the host records this run until every process of it
    has closed the returned token (RN_OP_RUN_SESSION)."""
    if not args.pcap and not args.tcp_probe:
        return None
    if args.pcap_filter:
        from rocketnet.wire.filter import compile_filter
        compile_filter(args.pcap_filter)              # ValueError: a usage error
    opts = {"pcap": os.path.abspath(args.pcap) if args.pcap else None,
            "snaplen": args.snaplen, "filter": args.pcap_filter,
            "tcp_probe": os.path.abspath(args.tcp_probe) if args.tcp_probe else None}
    ret, err, payload, fd = rpc_fd(sock, P.OP_RUN_SESSION, json.dumps(opts).encode())
    if ret < 0 or fd is None:
        if fd is not None:
            os.close(fd)
        what = f"--pcap {args.pcap}" if args.pcap else f"--tcp-probe {args.tcp_probe}"
        detail = payload.decode(errors="replace") if payload else os.strerror(err)
        raise SystemExit(die(f"{what}: {detail}"))
    for kind, path in json.loads(payload).items():
        print(f"rocketnet: recording this run's {kind.replace('_', ' ')} in {path}",
              file=sys.stderr)
    return inherited(fd)


def high_fd() -> int:
    """The fd number the stub also uses for its own descriptors (kept out of the way)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft > 65536:
        soft = 65536
    return max(256, soft - 32)


def resolve(cmd: str) -> tuple[str | None, int, str]:
    """Find CMD as a shell would: (path, 0, '') or (None, status, message)."""
    if "/" in cmd:
        p = Path(cmd)
        if not p.exists():
            return None, 127, f"{cmd}: No such file or directory"
        if p.is_dir() or not os.access(p, os.X_OK):
            return None, 126, f"{cmd}: Permission denied"
        return cmd, 0, ""
    found = shutil.which(cmd)
    if found is None:
        return None, 127, f"{cmd}: command not found"
    return found, 0, ""


def cmd_run(args: argparse.Namespace) -> int:
    argv = args.command
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        return die("run: no command given (rocketnet run [--host NAME] -- CMD [ARGS...])", 2)
    path, status, msg = resolve(argv[0])
    if path is None:
        return die(msg, status)
    if builds.own_default() is None:
        return die(f"the preload stub is not built (no {builds.PRELOAD_DIR}/"
                   f"rocketnet-{builds.OWN_ARCH}-glibc.so): pip install .")
    try:
        how = builds.launch(path, argv, args.via)
    except FileNotFoundError as e:
        return die(str(e), 126)
    # builds.launch names what no build serves (static, foreign, a C library without a
    # build); program.escape_reason what keeps the loader or the program from the stub
    why = program.escape_reason(path) if how.via == "preload" and how.path == path else None
    note = f"{path}: {why}{builds.MACHINES}" if why else how.note
    if args.strict and note:
        return die(f"{note}: refused (--strict; --via seccomp serves it)", 126)
    ctl = ensure_host(args.host, ON_DEMAND_IDLE)    # `host start` makes one that stays
    dfd = inherited(get_dialer(ctl))
    token = start_session(ctl, args)  # stays open in the run's processes
    fd = inherited(ctl.detach())
    env = dict(os.environ)
    others = [p for p in env.get("LD_PRELOAD", "").split() if p]
    env["LD_PRELOAD"] = " ".join(([how.preload] if how.preload else []) + others)
    if not env["LD_PRELOAD"]:
        del env["LD_PRELOAD"]
    if note:
        print(f"rocketnet: {note}", file=sys.stderr)
    env[P.ENV_SOCK] = str(runtime.ctl_path(args.host))
    env[P.ENV_CTL_FD] = str(fd)
    env[P.ENV_DIALER_FD] = str(dfd)
    if args.strict:
        env[program.STRICT_ENV] = "1"     # for the stub's execve hook (shim/program.py)
    trace = tracecli.TraceRun(args, env, inherited)
    if how.via == "seccomp":
        # the supervisor makes its own control connection (over the dialer): the host
        # knows it as the connection's maker, which names the programs it acts for
        # as senders and may hold their sockets mid-call (control.py holds_socket)
        os.close(fd)
        del env[P.ENV_CTL_FD]
        kept = (dfd,) + ((token,) if token is not None else ()) + tuple(trace.fds)
        return run_seccomp(how.path, how.argv, env, kept, trace)
    if trace.supervise:
        pid = os.fork()
        if pid:
            # only the program's processes may hold the host's fds: they end the run
            for k in (P.ENV_CTL_FD, P.ENV_DIALER_FD):
                os.close(int(env[k]))
            if token is not None:
                os.close(token)
            return trace.wait(pid)
    try:
        os.execve(how.path, how.argv, env)
    except OSError as e:
        if trace.supervise:
            die(f"{argv[0]}: {e.strerror}")
            os._exit(126)
        return die(f"{argv[0]}: {e.strerror}", 126)
    return 0  # not reached


def cmd_ss(args: argparse.Namespace) -> int:
    """iproute2's ss, run under the shim on host NAME: the stack's sockets (sock_diag)."""
    argv = args.args[1:] if args.args[:1] == ["--"] else args.args
    sock = runtime.connect_ctl(args.host)
    if sock is None:
        return die(f"no host {args.host!r} is running")
    sock.close()
    return cmd_run(build_parser().parse_args(["run", "--host", args.host, "--", "ss", *argv]))


def run_seccomp(path: str, argv: list[str], env: dict[str, str], fds: tuple[int, ...],
                trace: tracecli.TraceRun) -> int:
    """CMD under the seccomp filter: the supervisor (shim/seccomp_super.py, with the stub
    preloaded) runs CMD as its child and serves its socket calls; we wait for CMD's
    status and end as it did (traced: as the preload path's traced run ends).  The
    supervisor stays while processes CMD left behind (daemons) still use the filter."""
    if env.get(P.ENV_TRACE):        # the supervisor writes the program's image lines, not its own
        env = dict(env, **{P.ENV_TRACE_OPTS: env.get(P.ENV_TRACE_OPTS, "") + ",x"})
    r, w = os.pipe()
    cmd = [sys.executable, "-m", "shim.seccomp_super", "--status-fd", str(w), path] + argv
    subprocess.Popen(cmd, pass_fds=(w,) + fds, env=env, close_fds=True)
    os.close(w)
    for fd in fds:
        os.close(fd)
    with os.fdopen(r) as status:
        line = status.readline()
        child = int(line) if line.strip() else 0

        def forward(sig: int, _frame) -> None:
            if child > 0:
                os.kill(child, sig)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT):
            signal.signal(sig, forward)
        line = status.readline()
    if not line.strip():
        return die("the seccomp supervisor ended before the program", 1)
    if trace.supervise:
        return trace.ended(child, int(line))
    code = os.waitstatus_to_exitcode(int(line))
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        return 128 - code
    return code


def host_stats(name: str, view: int = 0) -> dict | None:
    """The host's JSON view (0: counters, 1: interfaces), fetched in pages."""
    sock = runtime.connect_ctl(name)
    if sock is None:
        return None
    text = b""
    with sock:
        while True:
            ret, err, payload = rpc(sock, P.OP_HOST_STATS, args=(view, len(text), 0, 0))
            if ret < 0:
                return None
            text += payload
            if len(text) >= ret or not payload:
                break
    return json.loads(text)


def cmd_host(args: argparse.Namespace) -> int:
    if args.action == "list":
        rows = []
        infos = []
        for name in runtime.host_names():
            info = host_stats(name)
            if info is not None:
                infos.append({k: info[k] for k in ("name", "pid", "sockets", "clients")})
                rows.append((name, str(info["pid"]), str(info["sockets"]), str(info["clients"])))
        if args.json:
            print(json.dumps(infos, indent=2))
            return 0
        print(f"{'NAME':<16} {'PID':>8} {'SOCKETS':>8} {'CLIENTS':>8}")
        for r in rows:
            print(f"{r[0]:<16} {r[1]:>8} {r[2]:>8} {r[3]:>8}")
        return 0
    name = args.name or runtime.DEFAULT_HOST
    if args.action == "start":
        if runtime.connect_ctl(name) is not None:
            return die(f"host {name!r} is already running")
        ensure_host(name, args.idle_timeout, net_options(args)).close()
        print(f"host {name!r} ready (pid {runtime.read_pid(name)})")
        return 0
    if args.action == "pick":
        choice = hostpick.pick(host_env(), lambda msg: print(f"rocketnet: {msg}",
                                                             file=sys.stderr, flush=True))
        print(f"host interpreter: {choice.python}\n({choice.why})")
        return 0
    if args.action == "profile":
        from shim import kprofile, profilecache
        print(kprofile.describe(profilecache.probe()), end="")
        return 0
    if args.action == "stats":
        info = host_stats(name)
        if info is None:
            return die(f"no host {name!r} is running")
        print(json.dumps(info, indent=2, sort_keys=True))
        return 0
    # stop
    pid = runtime.read_pid(name)
    sock = runtime.connect_ctl(name)
    if sock is None:
        return die(f"no host {name!r} is running")
    with sock:
        rpc(sock, P.OP_HOST_STOP)
    deadline = time.monotonic() + 5
    while pid and time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)
    if pid and pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    print(f"host {name!r} stopped")
    return 0


def net_options(args: argparse.Namespace) -> list[str]:
    out: list[str] = []
    if args.eth:
        out += ["--eth", args.eth]
    for a in args.addr:
        out += ["--addr", a]
    for g in args.gateway:
        out += ["--gateway", g]
    if args.pcap:
        out += ["--pcap", os.path.abspath(args.pcap)]
    if args.impair:
        out += ["--impair", args.impair]
    if args.impair_rx is not None:
        out += ["--impair-rx", args.impair_rx]
    if args.seed is not None:
        out += ["--seed", str(args.seed)]
    for d in args.dns:
        out += ["--dns", d]
    if args.hosts != "/etc/hosts":
        out += ["--hosts", os.path.abspath(args.hosts)]
    if args.resolve_order:
        out += ["--resolve-order", args.resolve_order]
    if args.tcp_probe:
        out += ["--tcp-probe", os.path.abspath(args.tcp_probe)]
    return out


def cmd_plot(args: argparse.Namespace) -> int:
    from shim import plot
    try:
        out = plot.plot(args.file, args.output, args.sock)
    except plot.PlotError as e:
        return die(str(e))
    print(out)
    return 0


def cmd_ip(args: argparse.Namespace) -> int:
    from shim import ipshow
    info = host_stats(args.host, 1)
    if info is None:
        return die(f"no host {args.host!r} is running")
    if args.json:
        print(json.dumps(info["interfaces"], indent=2))
        return 0
    print(ipshow.render(info["interfaces"], args.object, args.stats), end="")
    return 0


def cmd_sockets(args: argparse.Namespace) -> int:
    from shim import ssview
    info = host_stats(args.host, 2)
    if info is None:
        return die(f"no host {args.host!r} is running")
    rows = info["sockets"]
    if args.listening:
        rows = [r for r in rows if r["state"] == "LISTEN"]
    elif not args.all:
        rows = [r for r in rows if r["state"] not in ("LISTEN", "CLOSED")]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(ssview.render(rows, args.info), end="")
    return 0


def cmd_completion(args: argparse.Namespace) -> int:
    from shim import completion
    print(completion.bash(build_parser()), end="")
    return 0


def pid_alive(pid: int) -> bool:
    """Whether pid runs (a zombie child of ours is gone for our purposes)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class VersionAction(argparse.Action):
    """--version: rocketnet's version and which interpreter runs its stack hosts, and why
    (worked out only when asked: it reads the interpreter record)."""

    def __init__(self, option_strings: list[str], dest: str, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(option_strings, dest, nargs=0, **kw)

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # type: ignore[no-untyped-def]
        print(f"rocketnet {hostpick.rocketnet_version()}\n{hostpick.describe()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="rocketnet",
        description="Run unmodified programs on rocketnet, the RocketOS network stack in Python.",
        epilog=f"Environment: {hostpick.ENV}=INTERPRETER runs the stack hosts this command "
               "starts under that Python, e.g. pypy3 (prepare it with tools/pypy-setup); "
               "otherwise the one `rocketnet host pick` measured faster, if any.")
    ap.add_argument("--version", action=VersionAction,
                    help="show the version and which interpreter runs the stack hosts, and why")
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser(
        "run", help="run a command with its sockets on a stack host",
        description="Run CMD with the rocketnet stub preloaded: its TCP, UDP and ICMP ping "
                    "sockets (IPv4 and IPv6), its AF_UNIX sockets and AF_ALG sockets live on "
                    "the stack host NAME, started on demand (it exits by itself "
                    f"{ON_DEMAND_IDLE:g}s after its last client and socket are gone; "
                    "`rocketnet host start NAME` makes one that stays). Exits with CMD's "
                    "status (127/126 if CMD cannot be run; 128+N if a traced CMD was killed "
                    "by signal N).")
    run.add_argument("--host", default=runtime.DEFAULT_HOST,
                     help="stack host name (default: %(default)s)")
    tracecli.add_arguments(run)
    run.add_argument("--pcap", metavar="DIR",
                     help="capture the host's interfaces while this run lasts, from before "
                          "CMD starts until its last process ends, into "
                          "DIR/run-TIME-PID.pcapng (pcapng, interfaces named, mode 0600)")
    run.add_argument("--strict", action="store_true",
                     help="refuse (exit 126) a program whose sockets would be the machine's "
                          "(static, Go, file capabilities or set-ID when not root)")
    run.add_argument("--snaplen", type=int, default=None, metavar="N",
                     help="with --pcap: keep at most N bytes of each frame")
    run.add_argument("--pcap-filter", metavar="EXPR",
                     help="with --pcap: only frames matching EXPR (tcp, udp, icmp, arp, ip, ip6, "
                          "[src|dst] host A, [src|dst] port N, and/or/not, parentheses)")
    run.add_argument("--tcp-probe", metavar="FILE",
                     help="record TCP congestion-control events of the host's sockets while "
                          "this run lasts as JSON lines in FILE (see `rocketnet plot`)")
    run.add_argument("--via", choices=["auto", "preload", "seccomp"], default="auto",
                     help="how CMD's socket calls reach the stack: the preload stub "
                          "(dynamically linked programs) or seccomp user notification (any "
                          "program, also static and Go binaries); auto (default): seccomp "
                          "for static and Go programs, the preload stub for the others")
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    run.set_defaults(func=cmd_run)
    host = sub.add_parser("host", help="manage stack hosts",
                          description="list: running hosts; start NAME: start a host that stays "
                                      "until stopped; stop NAME: stop it; stats NAME: counters; "
                                      "profile: what this machine's kernel answers that differs "
                                      "from the stack's own model (every host answers as the "
                                      "kernel; probed once per kernel boot, network namespace "
                                      "and rocketnet version, kept in ~/.cache/rocketnet); "
                                      "pick: measure which interpreter (CPython, PyPy) serves "
                                      "programs faster here and record it for host starts "
                                      "(~10-20 s; `rocketnet --version` shows the choice).")
    host.add_argument("action", choices=["list", "start", "stop", "stats", "profile", "pick"])
    host.add_argument("name", nargs="?", help="host name (default: default)")
    host.add_argument("--idle-timeout", type=float, default=None,
                      help="with start: exit after this many idle seconds (default: never)")
    host.add_argument("--json", action="store_true", help="with list: JSON output")
    netconfig.add_arguments(host)
    host.set_defaults(func=cmd_host)
    ip = sub.add_parser("ip", help="show a stack host's interfaces, routes, neighbors",
                        description="Like iproute2's ip, for the stack: addr, link, route, "
                                    "neigh. -s adds per-interface counters (drops by reason).")
    ip.add_argument("--host", default=runtime.DEFAULT_HOST)
    ip.add_argument("-s", "--stats", action="store_true")
    ip.add_argument("--json", action="store_true", help="the interfaces as JSON")
    ip.add_argument("object", nargs="?", default="addr",
                    choices=["addr", "a", "address", "link", "l", "route", "r", "neigh", "n"])
    ip.set_defaults(func=cmd_ip)
    ss = sub.add_parser("ss", help="show a stack host's sockets (iproute2's ss, its options)",
                        description="Runs ss under the shim on the host: the stack's TCP, UDP "
                                    "sockets with ss's options, e.g. rocketnet ss -tanpi.")
    ss.add_argument("--host", default=runtime.DEFAULT_HOST)
    ss.add_argument("args", nargs=argparse.REMAINDER, help="ss options and filter")
    ss.set_defaults(func=cmd_ss)
    plot = sub.add_parser("plot", help="draw a TCP probe file (cwnd, ssthresh, RTT) as PNG/SVG",
                          description="Draw the JSON lines of --tcp-probe FILE: cwnd, ssthresh "
                                      "and bytes in flight, srtt/rttvar/RTO, with fast "
                                      "recoveries and timeouts marked. Needs matplotlib "
                                      "(pip install 'rocketnet[plot]').")
    plot.add_argument("file", help="a probe file (host start/run --tcp-probe FILE)")
    plot.add_argument("-o", "--output", metavar="OUT",
                      help="OUT.png, OUT.svg or OUT.pdf (default: FILE with .png)")
    plot.add_argument("--sock", metavar="N[,N...]|all",
                      help="socket(s) to draw (default: the one that sent most)")
    plot.set_defaults(func=cmd_plot)
    socks = sub.add_parser("sockets", help="the host's own table of sockets (ids, handles)",
                        description="The stack's TCP, UDP and ping sockets: state, queues, "
                                    "addresses, the socket id (as host.log and run --trace -y "
                                    "name it) and the stack handle (#, the TCP probe's sock).")
    socks.add_argument("--host", default=runtime.DEFAULT_HOST)
    socks.add_argument("-a", "--all", action="store_true", help="listening and closed ones too")
    socks.add_argument("-l", "--listening", action="store_true", help="listening sockets only")
    socks.add_argument("-i", "--info", action="store_true",
                       help="TCP internals: congestion control, rto, rtt, mss, cwnd, retrans")
    socks.add_argument("--json", action="store_true")
    socks.set_defaults(func=cmd_sockets)
    comp = sub.add_parser("completion", help="print a shell completion script",
                          description="eval \"$(rocketnet completion bash)\" in ~/.bashrc")
    comp.add_argument("shell", choices=["bash"])
    comp.set_defaults(func=cmd_completion)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args, extra = ap.parse_known_args(argv)
    if args.cmd == "ss":
        args.args = extra + args.args       # ss's own options are not ours
    elif extra:
        ap.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.func(args)
    except runtime.RuntimeDirError as e:
        return die(str(e))
    except ValueError as e:
        return die(str(e), 2)
    except (ConnectionError, OSError) as e:   # a host that went away mid-request
        return die(f"{args.cmd}: {e}")


if __name__ == "__main__":
    sys.exit(main())

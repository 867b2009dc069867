"""Probe the running Linux kernel for the answers that differ between versions
(rocketnet.profile.KernelProfile), with throwaway native sockets that never send a
byte off the loopback. The stack host probes once at start and hands the profile to
its NetStack; `rocketnet host profile` shows it.

Options: every option number of every level the stack models, on a fresh native socket
of each kind, is asked (getsockopt) and set to 1 and 0 (setsockopt), and an int option
is set to each of rocketnet.profile.PROBE_VALUES and read back; the same questions go to
a fresh socket of the stack's own model (an in-process NetStack with this kernel's
sysctls); the profile keeps the answers where the two differ.
"""
from __future__ import annotations

import dataclasses
import errno
import fcntl
import functools
import os
import socket
import struct
from collections.abc import Mapping

from rocketnet import sockopt
from rocketnet.profile import PROBE_VALUES, REFUSALS, KernelProfile, OptionAnswer, ValueAnswer
from rocketnet.socket import Socket
from rocketnet.stack import NetStack

# the kinds of socket whose options the stack models: (family, type, protocol)
KINDS = ((socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP),
         (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP),
         (socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP),
         (socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_UDP))
LEVELS = {socket.SOL_SOCKET: "SOL_SOCKET", socket.IPPROTO_IP: "IP",
          socket.IPPROTO_IPV6: "IPV6", socket.IPPROTO_TCP: "TCP", socket.IPPROTO_UDP: "UDP"}
MAX_OPTNAME = 128       # every level's option numbers of Linux 6.x are below this
GET_BUF = 256
_INT = struct.Struct("=i")


def _err(call, *args) -> tuple[int, object]:  # type: ignore[no-untyped-def]
    try:
        return 0, call(*args)
    except OSError as e:            # SocketError (the model's) is an OSError too
        return e.errno or errno.EIO, None


def _kernel(family: int, type: int, level: int, opt: int, getter: socket.socket):  # type: ignore[no-untyped-def]
    """(get errno, set-1 errno, set errno shared by 1 and 0 (else 0), int default)
    natively."""
    get_err, raw = _err(getter.getsockopt, level, opt, GET_BUF)
    default = int.from_bytes(raw, "little", signed=True) \
        if isinstance(raw, bytes) and len(raw) == 4 else None
    with socket.socket(family, type) as s:
        set_err = _err(s.setsockopt, level, opt, 1)[0]
        both = set_err if set_err and _err(s.setsockopt, level, opt, 0)[0] == set_err else 0
    return get_err, set_err, both, default


def _model(stack: NetStack, family: int, type: int, proto: int, level: int, opt: int):  # type: ignore[no-untyped-def]
    """(get errno, set-1 errno) of the stack's own model on fresh sockets."""
    get_err = _err(functools.partial(sockopt.get_opt, stack.socket(family, type, proto)),
                   level, opt, GET_BUF)[0]
    set_err = _err(functools.partial(sockopt.set_opt, stack.socket(family, type, proto)),
                   level, opt, 1)[0]
    return get_err, set_err


def _set_and_read(setter, getter, level: int, opt: int, v: int) -> tuple[int, int | None]:  # type: ignore[no-untyped-def]
    """(errno of a set of v, the int read back after it: None if not one)"""
    err = _err(setter, level, opt, v)[0]
    if err:
        return err, None
    raw = _err(getter, level, opt, 4)[1]
    return 0, int.from_bytes(raw, "little", signed=True) \
        if isinstance(raw, bytes) and len(raw) == 4 else None


def _model_set(sk: Socket, level: int, opt: int, v: int) -> None:
    sockopt.set_opt(sk, level, opt, _INT.pack(v))   # as a program passes an int


# answers that follow the caller's rights or this machine's interfaces, not the
# kernel's version: the stack models those itself (per caller, its own interfaces)
NOT_VERSION = (errno.EPERM, errno.EACCES, errno.ENODEV, errno.EADDRNOTAVAIL)


def _values(stack: NetStack, family: int, type: int, proto: int, level: int,
            opt: int) -> dict[int, ValueAnswer]:
    """The kernel's answer to a set of each of PROBE_VALUES where the model's
    differs, each on a fresh socket of both."""
    out = {}
    for v in PROBE_VALUES:
        with socket.socket(family, type) as s:
            k = _set_and_read(s.setsockopt, s.getsockopt, level, opt, v)
        sk = stack.socket(family, type, proto)
        m = _set_and_read(functools.partial(_model_set, sk),
                          functools.partial(sockopt.get_opt, sk), level, opt, v)
        if k != m and k[0] not in NOT_VERSION and m[0] not in NOT_VERSION and \
                (k[0] or k[1] is not None):
            out[v] = ValueAnswer(k[0], None if k[1] == v else k[1])
        sk.close()
    return out


def probe_options(base: KernelProfile) -> dict[tuple[int, int, int, int], OptionAnswer]:
    """What differs, option by option, between this kernel and the model built with
    base (this kernel's sysctls)."""
    out: dict[tuple[int, int, int, int], OptionAnswer] = {}
    model = NetStack(seed=0, profile=base)
    for family, type, proto in KINDS:
        try:
            getter = socket.socket(family, type)
        except OSError:
            continue                    # e.g. IPv6 disabled: the stack's model answers
        with getter:
            for level in LEVELS:
                for opt in range(MAX_OPTNAME):
                    k_get, k_set, both, default = _kernel(family, type, level, opt, getter)
                    m_get, m_set = _model(model, family, type, proto, level, opt)
                    # a set refused alike for 0 and 1: the kernel's errno, where it is a
                    # refusal or the model refuses the option anyway (6.1 and 6.12 answer
                    # IP_XFRM_POLICY's int with EINVAL: xfrm_user_policy parses it)
                    refused = both if both and (both in REFUSALS or m_set in REFUSALS) else 0
                    diff = OptionAnswer(
                        get_err=k_get if k_get in REFUSALS and m_get != k_get else 0,
                        set_err=refused if refused != m_set else 0,
                        # an int option the model does not know (6.1's UDP_ENCAP)
                        default=default if k_get == 0 and m_get in REFUSALS else None,
                        values=_values(model, family, type, proto, level, opt)
                        if k_get == 0 and default is not None and not refused else {})
                    if diff.get_err or diff.set_err or diff.default is not None or \
                            diff.values:
                        out[(family, proto, level, opt)] = diff
    return out


def probe_listen_after_connect() -> int:
    """listen() on a socket whose connect was refused (a port bound, not listening, on
    the loopback: the attempt never leaves the machine).  The connect blocks: after a
    non-blocking one that fails, the socket stays SS_CONNECTING and every kernel
    refuses listen with EINVAL (6.1 and 6.12 too, which allow it after a blocking one:
    tools/vm measured it)."""
    for family, host in ((socket.AF_INET6, "::1"), (socket.AF_INET, "127.0.0.1")):
        try:
            holder = socket.socket(family, socket.SOCK_STREAM)
        except OSError:
            continue
        with holder, socket.socket(family, socket.SOCK_STREAM) as s:
            try:
                holder.bind((host, 0))
            except OSError:
                continue
            if s.connect_ex(holder.getsockname()) != errno.ECONNREFUSED:
                continue
            return _err(s.listen, 1)[0]
    return 0


# the smallest valid IPV6_RTHDR of each type: Mobile IPv6 (one address), an SRH (one
# segment)
RTHDRS = {2: bytes([0, 2, 2, 1, 0, 0, 0, 0]) + bytes(16),
          4: bytes([0, 2, 4, 0, 0, 0, 0, 0]) + bytes(16)}


def probe_rthdr_types() -> frozenset:
    """The IPV6_RTHDR types this kernel takes (its build options decide)."""
    ok = set()
    for kind, hdr in RTHDRS.items():
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            if _err(s.setsockopt, socket.IPPROTO_IPV6, socket.IPV6_RTHDR, hdr)[0] == 0:
                ok.add(kind)
    return frozenset(ok)


def probe_alg_misfit() -> int:
    """bind(AF_ALG) of hmac(hmac(sha256)): an hmac of a hash that takes a key.  Where
    this kernel has no AF_ALG to ask (Linux 6.18 here), the newer kernels' EINVAL."""
    try:
        s = socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET, 0)
    except (OSError, AttributeError):
        return errno.EINVAL
    with s:
        err = _err(s.bind, ("hash", "hmac(hmac(sha256))"))[0]
    return err if err in (errno.ENOENT, errno.EINVAL) else errno.EINVAL


SIOCATMARK = 0x8905


def probe_unix_oob() -> tuple[bool, bool, bool]:
    """(MSG_OOB works on AF_UNIX stream, a byte read out of band stalls the next
    non-blocking read, SIOCATMARK says 0 at it) on a throwaway socketpair."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        if _err(a.send, b"u", socket.MSG_OOB)[0]:
            return False, False, False      # EOPNOTSUPP: built without CONFIG_AF_UNIX_OOB
        b.recv(1, socket.MSG_OOB)
        a.send(b"d")
        mark = fcntl.ioctl(b.fileno(), SIOCATMARK, bytes(4))
        stall = _err(b.recv, 1, socket.MSG_DONTWAIT)[0] == errno.EAGAIN
    return True, stall, mark == bytes(4)


def probe_tclass_cmsg() -> bool:
    """Whether an IPV6_TCLASS control message of -1 sends the socket's class (0 on a
    fresh socket) rather than 0xff: one datagram to itself on ::1."""
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    except OSError:
        return False                    # no IPv6: the stack's model answers
    with s:
        s.settimeout(1.0)
        try:
            s.bind(("::1", 0))
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVTCLASS, 1)
            s.sendmsg([b"t"], [(socket.IPPROTO_IPV6, socket.IPV6_TCLASS,
                                (-1).to_bytes(4, "little", signed=True))], 0, s.getsockname())
            _, anc, _, _ = s.recvmsg(1, 64)
        except OSError:
            return False
    return any(t == socket.IPV6_TCLASS and d[:4] == bytes(4) for _, t, d in anc)


def _sysctl(name: str, default):  # type: ignore[no-untyped-def]
    """/proc/sys/net/NAME as an int, or a tuple for a vector (default if unreadable)."""
    try:
        with open(f"/proc/sys/net/{name}") as f:
            values = tuple(int(x) for x in f.read().split())
    except (OSError, ValueError):
        return default
    if isinstance(default, tuple):
        return values if len(values) == len(default) else default
    return values[0] if len(values) == 1 else default


def probe_tcp_info_len() -> int:
    """How many bytes of struct tcp_info this kernel fills (its struct grows by version)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return len(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1024))


# profile field -> the /proc/sys/net file it is read from
SYSCTLS = {"wmem_max": "core/wmem_max", "rmem_max": "core/rmem_max",
           "wmem_default": "core/wmem_default", "rmem_default": "core/rmem_default",
           "tcp_wmem": "ipv4/tcp_wmem", "tcp_rmem": "ipv4/tcp_rmem",
           "somaxconn": "core/somaxconn", "optmem_max": "core/optmem_max"}


def probe() -> KernelProfile:
    d = KernelProfile()
    oob = probe_unix_oob()
    base = KernelProfile(
        release=os.uname().release,
        listen_after_connect=probe_listen_after_connect(),
        **{f: _sysctl(name, getattr(d, f)) for f, name in SYSCTLS.items()},
        tcp_info_len=probe_tcp_info_len(),
        rthdr_types=probe_rthdr_types(),
        alg_misfit=probe_alg_misfit(),
        unix_oob=oob[0], unix_oob_stall=oob[1], unix_oob_nomark=oob[2],
        tclass_cmsg_sock=probe_tclass_cmsg())
    return dataclasses.replace(base, options=probe_options(base))


def _name(err: int) -> str:
    return "EOPNOTSUPP" if err == errno.EOPNOTSUPP else errno.errorcode.get(err, str(err))


def _value_runs(values: Mapping[int, ValueAnswer]) -> list[str]:
    """Per-value answers, probed values in a row with one answer as one range."""
    runs: list[list] = []           # [first value, last value, answer]
    for i, v in enumerate(PROBE_VALUES):
        got = values.get(v)
        if got is None:
            continue
        if runs and runs[-1][2] == got and PROBE_VALUES[i - 1] == runs[-1][1]:
            runs[-1][1] = v
        else:
            runs.append([v, v, got])
    return [f"set {lo if lo == hi else f'{lo}..{hi}'}: "
            + (_name(err) if err else "reads it back" if back is None else f"reads {back}")
            for lo, hi, (err, back) in runs]


def describe(profile: KernelProfile) -> str:
    """What the probed kernel changes in the stack's own model, for `rocketnet host
    profile`: one line per option whose answer comes from the kernel."""
    kinds = {(socket.AF_INET, socket.IPPROTO_TCP): "tcp4",
             (socket.AF_INET6, socket.IPPROTO_TCP): "tcp6",
             (socket.AF_INET, socket.IPPROTO_UDP): "udp4",
             (socket.AF_INET6, socket.IPPROTO_UDP): "udp6"}
    lac = profile.listen_after_connect
    lines = [f"kernel: {profile.release or '(not probed: the stack model answers)'}",
             f"listen() after a connection or a connect attempt: "
             f"{_name(lac) if lac else 'allowed'}",
             f"struct tcp_info: {profile.tcp_info_len} bytes",
             "IPV6_TCLASS control message of -1: "
             + ("the socket's class" if profile.tclass_cmsg_sock else "class 0xff"),
             "AF_UNIX MSG_OOB: " + ("none" if not profile.unix_oob else
                                    "a byte read out of band "
                                    + ("stalls the next non-blocking read once, "
                                       if profile.unix_oob_stall else "")
                                    + ("is no mark (SIOCATMARK 0)"
                                       if profile.unix_oob_nomark else "stays the mark")),
             f"sysctls: wmem_max {profile.wmem_max} rmem_max {profile.rmem_max} "
             f"wmem_default {profile.wmem_default} rmem_default {profile.rmem_default} "
             f"tcp_wmem {' '.join(map(str, profile.tcp_wmem))} "
             f"tcp_rmem {' '.join(map(str, profile.tcp_rmem))} somaxconn {profile.somaxconn}",
             f"options answered as this kernel, not as the stack's model: {len(profile.options)}"]
    for (family, proto, level, opt), a in sorted(profile.options.items()):
        what = []
        if a.get_err:
            what.append(f"get {_name(a.get_err)}")
        if a.set_err:
            what.append(f"set {_name(a.set_err)}")
        if a.default is not None:
            what.append(f"an int the model lacks (default {a.default})")
        what += _value_runs(a.values)
        lines.append(f"  {kinds[(family, proto)]} {LEVELS[level]} {opt}: {'; '.join(what)}")
    return "\n".join(lines) + "\n"

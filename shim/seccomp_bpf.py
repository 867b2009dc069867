"""The seccomp side of `rocketnet run --via seccomp`: the kernel's user-notification ABI
(seccomp_unotify(2)) and the filter that routes a program's socket system calls to the
supervisor (shim/seccomp_super.py).

The filter is classic BPF over struct seccomp_data.  x86_64 only: the socket calls of
the other ABIs a x86_64 kernel runs (i386 socketcall and friends, x32) are routed too,
so the supervisor can refuse them by name instead of letting them reach the machine's
network.
"""
from __future__ import annotations

import ctypes
import os
import struct

libc = ctypes.CDLL("libc.so.6", use_errno=True)   # libc's own symbols, never the stub's
libc.syscall.restype = ctypes.c_long
libc.ioctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)

# x86_64 system call numbers
NR = dict(read=0, write=1, close=3, ioctl=16, readv=19, writev=20, socket=41, connect=42, accept=43,
          sendto=44, recvfrom=45, sendmsg=46, recvmsg=47, shutdown=48, bind=49, listen=50,
          getsockname=51, getpeername=52, socketpair=53, setsockopt=54, getsockopt=55,
          accept4=288, recvmmsg=299, sendmmsg=307)
# routed with the socket calls: the process call the supervisor traces (only under
# --trace: shim/seccomp_trace.py) and Landlock's (shim/seccomp_landlock.py)
TRACE_NR = dict(exit_group=231)
# under --trace, for a supervisor that ptraces every thread of the program
# (shim/seccomp_ptrace.py): the calls the kernel serves on shim fds that the preload
# path traces (c_stub/trace.c), stopped for the tracer (SECCOMP_RET_TRACE); restart_syscall
# continues an interrupted poll
KERNEL_NR = dict(poll=7, select=23, dup=32, dup2=33, sendfile=40, fcntl=72,
                 restart_syscall=219, epoll_wait=232, epoll_ctl=233, pselect6=270, ppoll=271,
                 splice=275, epoll_pwait=281, dup3=292)
LANDLOCK_NR = dict(landlock_restrict_self=446)
SYS_seccomp = 317
SYS_pidfd_open = 434
SYS_pidfd_getfd = 438
SYS_process_vm_readv = 310
SYS_process_vm_writev = 311
# i386: socketcall, the direct socket calls (socket..shutdown), recvmmsg, sendmmsg
I386_SOCKET_NRS = (102, 337, 345) + tuple(range(359, 374))
X32_BIT = 0x40000000

AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_I386 = 0x40000003
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3
SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 1 << 5
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_USER_NOTIF = 0x7FC00000
SECCOMP_RET_TRACE = 0x7FF00000
SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1
SECCOMP_ADDFD_FLAG_SETFD = 1
SECCOMP_ADDFD_FLAG_SEND = 2
# _IOWR('!', 0, struct seccomp_notif), _IOWR('!', 1, struct seccomp_notif_resp),
# _IOW('!', 2, __u64), _IOW('!', 3, struct seccomp_notif_addfd)
IOCTL_NOTIF_RECV = 0xC0502100
IOCTL_NOTIF_SEND = 0xC0182101
IOCTL_NOTIF_ID_VALID = 0x40082102
IOCTL_NOTIF_ADDFD = 0x40182103

NOTIF = struct.Struct("=QIIiIQ6Q")      # id, pid, flags, nr, arch, ip, args[6]
NOTIF_RESP = struct.Struct("=QqiI")     # id, val, error, flags
NOTIF_ADDFD = struct.Struct("=QIIII")   # id, flags, srcfd, newfd, newfd_flags

_INSN = struct.Struct("=HBBI")
_LD_W_ABS, _JEQ_K, _JSET_K, _RET_K = 0x20, 0x15, 0x45, 0x06
_OFF_NR, _OFF_ARCH, _OFF_ARG1_LO = 0, 4, 24


def _ret(k: int) -> bytes:
    return _INSN.pack(_RET_K, 0, 0, k)


def _ld(off: int) -> bytes:
    return _INSN.pack(_LD_W_ABS, 0, 0, off)


def _routes(groups: list[tuple[tuple[int, ...], int]]) -> list[bytes]:
    """A jeq chain over the loaded number: a hit returns the action of its group (numbers,
    action), else ALLOW."""
    nrs = [(nr, g) for g, (group, _) in enumerate(groups) for nr in group]
    out = [_INSN.pack(_JEQ_K, len(nrs) - i + g, 0, nr) for i, (nr, g) in enumerate(nrs)]
    return out + [_ret(SECCOMP_RET_ALLOW)] + [_ret(action) for _, action in groups]


def filter_program(trace: bool = False, kernel: tuple[int, ...] = ()) -> bytes:
    """The BPF program: which calls go to the supervisor (with trace: TRACE_NR too), and
    which stop for the supervisor's ptrace (kernel: of KERNEL_NR)."""
    plain = tuple(v for k, v in NR.items() if k != "ioctl") + tuple(LANDLOCK_NR.values()) + (
        tuple(TRACE_NR.values()) if trace else ())
    groups = [(plain, SECCOMP_RET_USER_NOTIF)]
    if kernel:
        groups.append((kernel, SECCOMP_RET_TRACE))
    native = _routes(groups)
    # ioctl only for the socket requests (0x89xx: SIOCATMARK, SIOC[GS]IF*): terminal
    # and file ioctls stay untouched; FIONREAD & co. on A are what the preload path gives
    ioctl = [_ld(_OFF_ARG1_LO), _INSN.pack(0x54, 0, 0, 0xFF00),     # A = request & 0xff00
             _INSN.pack(_JEQ_K, 0, 1, 0x8900),
             _ret(SECCOMP_RET_USER_NOTIF), _ret(SECCOMP_RET_ALLOW)]
    other = _routes([(I386_SOCKET_NRS, SECCOMP_RET_USER_NOTIF)])
    x86_64 = [_ld(_OFF_NR),
              _INSN.pack(_JSET_K, 1 + len(ioctl) + len(native), 0, X32_BIT),
              _INSN.pack(_JEQ_K, 0, len(ioctl), NR["ioctl"])]
    x86_64 += ioctl + native + [_ret(SECCOMP_RET_USER_NOTIF)]   # the last: x32
    prog = [_ld(_OFF_ARCH), _INSN.pack(_JEQ_K, 0, len(x86_64), AUDIT_ARCH_X86_64)] + x86_64
    prog += [_ld(_OFF_ARCH), _INSN.pack(_JEQ_K, 0, len(other) + 1, AUDIT_ARCH_I386),
             _ld(_OFF_NR)] + other + [_ret(SECCOMP_RET_ALLOW)]
    return b"".join(prog)


def stopped_calls(opts: str) -> tuple[int, ...]:
    """The KERNEL_NR calls a traced run's filter stops: those whose lines the trace
    options (ROCKETNET_TRACE_OPTS, `e=call:...`: -e) keep, and what they need
    (restart_syscall ends an interrupted poll; a traced epoll_ctl marks the epoll fds
    whose waits are traced, as the stub marks them whatever -e says)."""
    want = next((o[2:].split(":") for o in opts.split(",") if o.startswith("e=")), None)
    if want is None:
        return tuple(KERNEL_NR.values())
    if "poll" in want:
        want.append("restart_syscall")
    if "epoll_wait" in want or "epoll_pwait" in want:
        want.append("epoll_ctl")
    return tuple(sorted({KERNEL_NR[n] for n in want if n in KERNEL_NR}))


def unavailable() -> str | None:
    """Why this machine cannot run the seccomp path (None: it can): the filter is
    x86_64's, and the kernel must offer user notification (Linux 5.0; ADDFD, 5.9)."""
    if os.uname().machine != "x86_64":
        return "the seccomp path serves x86_64 only"
    try:
        with open("/proc/sys/kernel/seccomp/actions_avail", "rb") as f:
            actions = f.read().split()
    except OSError as e:
        return f"no seccomp filters here ({e.strerror})"
    return None if b"user_notif" in actions else "this kernel has no seccomp user notification"


def killable_recv() -> bool:
    """Whether the kernel has SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 6.0): once
    the supervisor has received a call, only a fatal signal ends the caller's wait, so
    the supervisor decides how a signal ends the call (shim/seccomp_super.py: Watch)."""
    try:
        major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (6, 0)


def install_filter(trace: bool = False, kernel: tuple[int, ...] = ()) -> int:
    """In the program's process, before exec: no_new_privs, then the filter; returns the
    listener fd (close-on-exec).  OSError if the kernel refuses."""
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(e)}")
    code = filter_program(trace, kernel)
    insns = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("=H6xQ", len(code) // _INSN.size, ctypes.addressof(insns))
    buf = ctypes.create_string_buffer(fprog, len(fprog))
    flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | (
        SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV if killable_recv() else 0)
    fd = libc.syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, buf)
    if fd < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"seccomp(SECCOMP_SET_MODE_FILTER): {os.strerror(e)}")
    return int(fd)

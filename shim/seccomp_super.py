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

    python -m shim.seccomp_super --status-fd N PATH ARGV...
"""
from __future__ import annotations

import argparse
import ctypes
import errno
import fcntl
import os
import queue
import resource
import select
import signal
import stat
import struct
import sys
import threading
import time
import traceback
from typing import Callable

from shim import seccomp_bpf as B

libc = B.libc
c_int, c_uint, c_long, c_size_t, c_ssize_t, c_void_p = (
    ctypes.c_int, ctypes.c_uint, ctypes.c_long, ctypes.c_size_t, ctypes.c_ssize_t,
    ctypes.c_void_p)
stub = ctypes.CDLL(None, use_errno=True)     # the global scope: the preloaded stub first


def _proto(name: str, res, *args) -> None:
    f = getattr(stub, name)
    f.restype, f.argtypes = res, args


for _n in ("bind", "connect"):
    _proto(_n, c_int, c_int, c_void_p, c_uint)
for _n in ("getsockname", "getpeername", "accept"):
    _proto(_n, c_int, c_int, c_void_p, c_void_p)
_proto("socket", c_int, c_int, c_int, c_int)
_proto("socketpair", c_int, c_int, c_int, c_int, c_void_p)
_proto("listen", c_int, c_int, c_int)
_proto("shutdown", c_int, c_int, c_int)
_proto("rn_sc_close", c_int, c_int)
_proto("rn_sc_epoll_add", c_int, c_int, c_int, c_int, ctypes.c_uint32, ctypes.c_uint64)
_proto("accept4", c_int, c_int, c_void_p, c_void_p, c_int)
_proto("getsockopt", c_int, c_int, c_int, c_int, c_void_p, c_void_p)
_proto("setsockopt", c_int, c_int, c_int, c_int, c_void_p, c_uint)
_proto("sendto", c_ssize_t, c_int, c_void_p, c_size_t, c_int, c_void_p, c_uint)
_proto("recvfrom", c_ssize_t, c_int, c_void_p, c_size_t, c_int, c_void_p, c_void_p)
_proto("sendmsg", c_ssize_t, c_int, c_void_p, c_int)
_proto("recvmsg", c_ssize_t, c_int, c_void_p, c_int)
_proto("sendmmsg", c_int, c_int, c_void_p, c_uint, c_int)
_proto("recvmmsg", c_int, c_int, c_void_p, c_uint, c_int, c_void_p)
for _n in ("read", "write"):
    _proto(_n, c_ssize_t, c_int, c_void_p, c_size_t)
for _n in ("readv", "writev"):
    _proto(_n, c_ssize_t, c_int, c_void_p, c_int)
_proto("ioctl", c_int, c_int, ctypes.c_ulong, c_void_p)
_proto("rn_sc_classify", c_int, c_int)
_proto("rn_sc_move", c_int, c_int, c_int)
_proto("rn_sc_release", c_int, c_int)
_proto("rn_sc_acting", None, c_int, c_int, c_int)
_proto("rn_sc_flush", None, c_int, c_int)
libc.syscall.argtypes = None


class IOVEC(ctypes.Structure):
    _fields_ = [("base", c_void_p), ("len", c_size_t)]


class MSGHDR(ctypes.Structure):
    _fields_ = [("name", c_void_p), ("namelen", ctypes.c_uint32), ("iov", c_void_p),
                ("iovlen", c_size_t), ("control", c_void_p), ("controllen", c_size_t),
                ("flags", c_int)]


class MMSGHDR(ctypes.Structure):
    _fields_ = [("hdr", MSGHDR), ("len", c_uint)]


MSGHDR_RAW = struct.Struct("=QI4xQQQQi4x")
IOV_RAW = struct.Struct("=QQ")
INT = struct.Struct("=i")
KIND_STREAM, KIND_DGRAM, KIND_ALG, KIND_UNIX = 1, 2, 3, 4
PROXY_READ, PROXY_SEND, LINGER = 0x100, 0x200, 0x400
MSG_OOB, MSG_DONTWAIT, MSG_ERRQUEUE, MSG_MORE = 0x1, 0x40, 0x2000, 0x8000
SOCK_CLOEXEC, SOCK_NONBLOCK = 0o2000000, 0o4000
PIDFD_THREAD = os.O_EXCL
BAD = c_void_p(8)          # an address never mapped: the stub answers EFAULT for it
SMALL = 4096               # addresses, option values, ifreq
DATA_CAP = 4 << 20         # largest copy per call (datagrams are far smaller; a stream
                           # send through here may be short, as the kernel's may)
IOV_MAX = 1024
USER_END = 0x00FFFFFFFFFFF000   # above it no x86_64 process has memory (5-level paging)
SIOCGIFCONF, SIOCATMARK, FIONREAD = 0x8912, 0x8905, 0x541B
IFREQ_SIZE = 40
SYS_tgkill = 234
SOL_SOCKET, SO_RCVTIMEO, SO_SNDTIMEO = 1, 20, 21
ERESTARTSYS = 512          # kernel-internal: only ever answered with a signal pending
FD_OPTIONS = (50, 52)      # SO_ATTACH_BPF, SO_ATTACH_REUSEPORT_EBPF
SLOW_WAIT = 0.2            # seconds between checks that a waiting call is still wanted

NR = B.NR
CONTINUE = object()        # handler result: let the kernel run the call


class Gone(Exception):
    """The notification is no longer valid (the caller was interrupted or died)."""


# ---- the program's memory and fds ------------------------------------------------

def _errno_raise(what: str) -> None:
    e = ctypes.get_errno()
    raise OSError(e, f"{what}: {os.strerror(e)}")


def _vm(nr: int, tid: int, local: int, remote: int, n: int) -> bool:
    liov = IOVEC(local, n)
    riov = IOVEC(remote, n)
    r = libc.syscall(c_long(nr), c_long(tid), ctypes.byref(liov), c_long(1),
                     ctypes.byref(riov), c_long(1), c_long(0))
    return r == n


class Call:
    """One notification: the caller's memory, fds and the answer."""

    __slots__ = ("lfd", "id", "tid", "nr", "arch", "args", "pidfd", "slot", "fd", "ino",
                 "kind", "answered", "signalled")

    def __init__(self, lfd: int, raw: bytes):
        self.lfd = lfd
        nid, tid, _flags, nr, arch, _ip, *args = B.NOTIF.unpack(raw)
        self.id, self.tid, self.nr, self.arch, self.args = nid, tid, nr, arch, args
        self.pidfd = -1
        self.slot = -1
        self.fd = -1
        self.ino = 0
        self.kind = 0
        self.answered = False
        self.signalled = False

    def iarg(self, i: int) -> int:
        """Argument i as the C int the call takes."""
        v = self.args[i] & 0xFFFFFFFF
        return v - (1 << 32) if v & 0x80000000 else v

    def valid(self) -> bool:
        v = ctypes.c_uint64(self.id)
        return libc.ioctl(self.lfd, B.IOCTL_NOTIF_ID_VALID, ctypes.byref(v)) == 0

    def read(self, addr: int, n: int) -> ctypes.Array | None:
        """n bytes of the caller's memory at addr in a buffer of ours, None on a fault."""
        buf = ctypes.create_string_buffer(max(n, 1))
        if n and not _vm(B.SYS_process_vm_readv, self.tid, ctypes.addressof(buf), addr, n):
            return None
        return buf

    def write(self, addr: int, data) -> bool:
        n = len(data) if isinstance(data, (bytes, bytearray)) else ctypes.sizeof(data)
        if n == 0:
            return True
        src = ctypes.create_string_buffer(bytes(data), n) if isinstance(
            data, (bytes, bytearray)) else data
        return _vm(B.SYS_process_vm_writev, self.tid, ctypes.addressof(src), addr, n)

    def inbuf(self, addr: int, n: int, cap: int = SMALL):
        """The caller's input buffer as ours: None for NULL, BAD if unreadable."""
        if addr == 0:
            return None
        buf = self.read(addr, max(0, min(n, cap)))
        return BAD if buf is None else buf

    def take_fd(self, fd: int) -> int:
        """A copy of the caller's fd here (-1 if it has none there)."""
        if self.pidfd < 0:
            self.pidfd = int(libc.syscall(c_long(B.SYS_pidfd_open), c_long(self.tid),
                                          c_long(PIDFD_THREAD)))
            if self.pidfd < 0 or not self.valid():
                raise Gone()
        return int(libc.syscall(c_long(B.SYS_pidfd_getfd), c_long(self.pidfd), c_long(fd),
                                c_long(0)))

    def cloexec(self, fd: int) -> int:
        """O_CLOEXEC if the caller's fd is close-on-exec, else 0."""
        try:
            with open(f"/proc/{self.tid}/fdinfo/{fd}", "rb") as f:
                for line in f:
                    if line.startswith(b"flags:"):
                        return os.O_CLOEXEC if int(line.split()[1], 8) & os.O_CLOEXEC else 0
        except OSError:
            pass
        return 0

    # answers
    def _send(self, val: int, err: int, flags: int) -> None:
        if self.answered:
            return
        self.answered = True
        buf = ctypes.create_string_buffer(B.NOTIF_RESP.pack(self.id, val, err, flags))
        libc.ioctl(self.lfd, B.IOCTL_NOTIF_SEND, buf)     # ENOENT: the caller is gone

    def reply(self, val: int, err: int = 0) -> None:
        self._send(0 if err else val, -err if err else 0, 0)

    def cont(self) -> None:
        self._send(0, 0, B.SECCOMP_USER_NOTIF_FLAG_CONTINUE)

    def add_fd(self, src: int, cloexec: bool, send: bool, at: int = -1) -> int:
        """Install our fd src in the caller: the new number (with send: as the call's
        result, answering it), or -errno."""
        flags = (B.SECCOMP_ADDFD_FLAG_SEND if send else 0) | (
            B.SECCOMP_ADDFD_FLAG_SETFD if at >= 0 else 0)
        buf = ctypes.create_string_buffer(B.NOTIF_ADDFD.pack(
            self.id, flags, src, max(at, 0), os.O_CLOEXEC if cloexec else 0))
        was, self.answered = self.answered, self.answered or send   # see Watch
        r = libc.ioctl(self.lfd, B.IOCTL_NOTIF_ADDFD, buf)
        if r < 0:
            self.answered = was
            return -ctypes.get_errno()
        return r

    def close(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1


# ---- slots: where a copy of the program's fd sits while the stub serves it --------

class Slots:
    """Fd numbers of ours, one per socket (by inode) while calls on it run: the stub
    keeps per-socket flags in a cache by fd number checked against the inode, so the
    same socket on the same slot finds them again."""

    def __init__(self, base: int, count: int):
        self.lock = threading.Lock()
        # free slots, least recently used first: a socket seen again finds its slot
        # (and the stub's entry there) unless many others came since
        self.free: dict[int, None] = dict.fromkeys(range(base, base + count))
        self.by_ino: dict[int, list[int]] = {}     # ino -> [slot, users]
        self.recent: dict[int, int] = {}           # ino -> the slot it had last

    def acquire(self, ino: int) -> int:
        with self.lock:
            ent = self.by_ino.get(ino)
            if ent is not None:
                ent[1] += 1
                return ent[0]
            slot = self.recent.pop(ino, -1)
            if slot not in self.free:
                if not self.free:
                    raise OSError(errno.EMFILE, "no free supervisor slot")
                slot = next(iter(self.free))
            del self.free[slot]
            self.by_ino[ino] = [slot, 1]
            return slot

    def detach(self, ino: int) -> int:
        """The slot of the only call on ino, taken out of the table for the caller to
        close (then give_back), or -1 when other calls use it too."""
        with self.lock:
            ent = self.by_ino[ino]
            if ent[1] != 1:
                return -1
            del self.by_ino[ino]
            return ent[0]

    def give_back(self, slot: int, ino: int) -> None:
        with self.lock:
            self.free[slot] = None
            self.recent[ino] = slot

    def moved(self, old: int, new: int) -> None:
        """The socket on old's slot is now inode new (the stub put a fresh A there)."""
        with self.lock:
            if old in self.by_ino and new not in self.by_ino:
                self.by_ino[new] = self.by_ino.pop(old)

    def release(self, ino: int) -> None:
        """One user less; the last one closes the slot (under the lock: a call on the
        same socket may be taking it again)."""
        with self.lock:
            ent = self.by_ino[ino]
            ent[1] -= 1
            if ent[1]:
                return
            stub.rn_sc_release(ent[0])
            del self.by_ino[ino]
            self.free[ent[0]] = None
            if len(self.recent) > 4 * len(self.free):
                self.recent.clear()
            self.recent[ino] = ent[0]


# ---- handlers ----------------------------------------------------------------------

def _result(r: int) -> tuple[int, int]:
    return (r, 0) if r >= 0 else (-1, ctypes.get_errno())


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


def h_socket(call: Call):
    domain, typ, proto = call.iarg(0), call.iarg(1), call.iarg(2)
    r = stub.socket(domain, typ, proto)
    if r < 0:
        return _result(r)
    kind = stub.rn_sc_classify(r)
    if kind <= 0:              # 0: the kernel's own socket: let the kernel make it there
        e = ctypes.get_errno()
        stub.rn_sc_release(r)
        return CONTINUE if kind == 0 else (-1, e)     # -1: never the machine's socket
    return give_fd(call, r, bool(typ & SOCK_CLOEXEC))


def give_fd(call: Call, ours: int, cloexec: bool):
    """Install our fd in the caller as the call's result (keeping the stub's cache
    entry on the socket's slot)."""
    ino = os.fstat(ours).st_ino
    slot = SLOTS.acquire(ino)
    try:
        stub.rn_sc_move(ours, slot)
        r = call.add_fd(slot, cloexec, True)
    finally:
        SLOTS.release(ino)
    stub.rn_sc_flush(ours, r)
    return None if r >= 0 else (-1, -r)


def h_socketpair(call: Call):
    domain, typ, proto, sv = call.iarg(0), call.iarg(1), call.iarg(2), call.args[3]
    pair = (c_int * 2)()
    r = stub.socketpair(domain, typ, proto, pair)
    if r < 0:
        return _result(r)
    kind = stub.rn_sc_classify(pair[0])
    if kind <= 0:
        e = ctypes.get_errno()
        for fd in pair:
            stub.rn_sc_release(fd)
        return CONTINUE if kind == 0 else (-1, e)
    cloexec = bool(typ & SOCK_CLOEXEC)
    theirs = []
    for fd in pair:
        n = call.add_fd(fd, cloexec, False)
        stub.rn_sc_release(fd)
        if n < 0:
            return -1, -n
        theirs.append(n)
    if not call.write(sv, struct.pack("=ii", *theirs)):
        return -1, errno.EFAULT
    return 0, 0


def h_addr_in(call: Call):                          # bind, connect
    n = call.args[2] & 0xFFFFFFFF
    buf = call.inbuf(call.args[1], n)
    fn = stub.bind if call.nr == NR["bind"] else stub.connect
    return _result(fn(call.slot, buf, n))


def out_len(call: Call, addr: int, lenp: int, cap: int = SMALL):
    """(buffer, length cell, caller's length) for an address or value the call returns."""
    if lenp == 0:
        return (call.inbuf(addr, 0) if addr else None), None, 0
    lb = call.read(lenp, 4)
    if lb is None:
        return ctypes.create_string_buffer(cap), BAD, 0
    ulen = INT.unpack(lb.raw[:4])[0]
    cell = ctypes.c_uint32(min(ulen, cap) if ulen >= 0 else ulen & 0xFFFFFFFF)
    buf = ctypes.create_string_buffer(max(min(ulen, cap), 1)) if addr else None
    return buf, cell, ulen


def put_len(call: Call, addr: int, lenp: int, buf, cell, ulen: int) -> bool:
    """Copy an address/value and its length back to the caller."""
    if cell is None or cell is BAD:
        return True
    if addr and buf is not None and buf is not BAD:
        if not call.write(addr, buf.raw[:max(0, min(ulen, cell.value))]):
            return False
    return call.write(lenp, INT.pack(cell.value))


def h_getname(call: Call):
    addr, lenp = call.args[1], call.args[2]
    buf, cell, ulen = out_len(call, addr, lenp)
    fn = stub.getsockname if call.nr == NR["getsockname"] else stub.getpeername
    r = fn(call.slot, buf, ctypes.byref(cell) if isinstance(cell, ctypes.c_uint32) else cell)
    if r >= 0 and not put_len(call, addr, lenp, buf, cell, ulen):
        return -1, errno.EFAULT
    return _result(r)


def h_accept(call: Call):
    addr, lenp = call.args[1], call.args[2]
    flags = call.iarg(3) if call.nr == NR["accept4"] else 0
    buf, cell, ulen = out_len(call, addr, lenp)
    cref = ctypes.byref(cell) if isinstance(cell, ctypes.c_uint32) else cell
    if call.nr == NR["accept4"]:
        r = stub.accept4(call.slot, buf, cref, flags)
    else:
        r = stub.accept(call.slot, buf, cref)
    if r < 0:
        return _result(r)
    if not put_len(call, addr, lenp, buf, cell, ulen):
        stub.rn_sc_release(r)
        return -1, errno.EFAULT
    return give_fd(call, r, bool(flags & SOCK_CLOEXEC))


def h_getsockopt(call: Call):
    val, lenp = call.args[3], call.args[4]
    buf, cell, ulen = out_len(call, val, lenp)
    if val and buf is None:
        buf = None
    r = stub.getsockopt(call.slot, call.iarg(1), call.iarg(2),
                        buf if val else None,
                        ctypes.byref(cell) if isinstance(cell, ctypes.c_uint32) else cell)
    if r >= 0 and not put_len(call, val, lenp, buf, cell, ulen):
        return -1, errno.EFAULT
    return _result(r)


def h_setsockopt(call: Call):
    level, opt, n = call.iarg(1), call.iarg(2), call.args[4] & 0xFFFFFFFF
    buf = call.inbuf(call.args[3], n)
    if level == SOL_SOCKET and opt in FD_OPTIONS and n >= 4 and isinstance(buf, ctypes.Array):
        # the value names a fd of the caller's (a BPF program): ours for the call
        theirs = INT.unpack(buf.raw[:4])[0]
        mine = call.take_fd(theirs) if theirs >= 0 else -1
        buf[:4] = INT.pack(mine)
        try:
            return _result(stub.setsockopt(call.slot, level, opt, buf, n))
        finally:
            if mine >= 0:
                libc.close(mine)
    return _result(stub.setsockopt(call.slot, level, opt, buf, n))


def h_listen(call: Call):
    return _result(stub.listen(call.slot, call.iarg(1)))


def h_shutdown(call: Call):
    return _result(stub.shutdown(call.slot, call.iarg(1)))


def h_close(call: Call):
    """close() of a socket with SO_LINGER {1, secs}: Linux returns once the stack has
    sent everything or secs passed.  The program's fd is replaced by a placeholder (the
    A it named loses that reference now), the stub closes our copy and waits as on the
    preload path, then the program's close runs on the placeholder."""
    r = call.add_fd(PLACEHOLDER, False, False, at=call.fd)
    if r < 0:
        return -1, -r
    slot = SLOTS.detach(call.ino)
    if slot >= 0:
        call.slot = -1                  # closed here, not released by finish()
        try:
            stub.rn_sc_close(slot)
        finally:
            SLOTS.give_back(slot, call.ino)
    return CONTINUE


def h_ioctl(call: Call):
    req, arg = call.args[1] & 0xFFFFFFFF, call.args[2]
    if req == SIOCATMARK:
        cell = call.inbuf(arg, 4)
    elif req == SIOCGIFCONF:
        return ioctl_ifconf(call, arg)
    else:
        cell = call.inbuf(arg, IFREQ_SIZE)
    r = stub.ioctl(call.slot, req, cell)
    if r >= 0 and cell is not None and cell is not BAD and not call.write(arg, cell):
        return -1, errno.EFAULT
    return _result(r)


def ioctl_ifconf(call: Call, arg: int):
    head = call.read(arg, 16)
    if head is None:
        return _result(stub.ioctl(call.slot, SIOCGIFCONF, BAD))
    ulen, ubuf = struct.unpack("=i4xQ", head.raw)
    local = ctypes.create_string_buffer(max(0, min(ulen, 1 << 16)) or 1)
    ifc = ctypes.create_string_buffer(struct.pack(
        "=i4xQ", min(ulen, 1 << 16), ctypes.addressof(local) if ubuf else 0), 16)
    r = stub.ioctl(call.slot, SIOCGIFCONF, ifc)
    if r >= 0:
        nlen = struct.unpack("=i", ifc.raw[:4])[0]
        if (ubuf and not call.write(ubuf, local.raw[:max(nlen, 0)])) or \
                not call.write(arg, struct.pack("=i", nlen)):
            return -1, errno.EFAULT
    return _result(r)


# -- data calls (datagram sockets, and stream sockets in the cases the stub must see) --

class Msg:
    """A caller's msghdr rebuilt here: buffers of ours, and how to copy results back."""

    def __init__(self, call: Call, addr: int, recv: bool, cap: int):
        self.call, self.addr, self.recv = call, addr, recv
        self.hdr = MSGHDR()
        self.keep: list = []
        self.iovs: list[tuple[int, int, ctypes.Array]] = []
        raw = call.read(addr, MSGHDR_RAW.size) if addr else None
        self.ok = raw is not None
        if not self.ok:
            return
        name, namelen, iov, iovlen, ctl, ctllen, flags = MSGHDR_RAW.unpack(raw.raw)
        self.uname, self.unamelen, self.uctl, self.uctllen = name, namelen, ctl, ctllen
        h = self.hdr
        h.namelen, h.iovlen, h.controllen, h.flags = namelen, iovlen, ctllen, flags
        h.name = self._buf(name, namelen, SMALL)
        h.control = self._buf(ctl, ctllen, 1 << 16)
        self.fill_iovs(iov, iovlen, cap)

    @classmethod
    def iovec(cls, call: Call, iov: int, cnt: int, recv: bool) -> Msg:
        """Only an iovec array (readv, writev)."""
        m = cls(call, 0, recv, 0)
        m.fill_iovs(iov, max(cnt, 0), DATA_CAP)
        return m

    def fill_iovs(self, iov: int, iovlen: int, cap: int) -> None:
        """The caller's iovec array as ours: at most cap bytes in all (a receive fills
        ours, then copy_back; a send reads the caller's data now)."""
        h, call = self.hdr, self.call
        if iovlen > IOV_MAX or iov == 0:
            h.iov = BAD.value if iov else None
            return
        arr = call.read(iov, iovlen * IOV_RAW.size)
        if arr is None:
            h.iov = BAD.value
            return
        local = (IOVEC * max(iovlen, 1))()
        left = cap
        for i in range(iovlen):
            base, n = IOV_RAW.unpack_from(arr.raw, i * IOV_RAW.size)
            take = max(0, min(n, left))
            left -= take
            b = ctypes.create_string_buffer(max(take, 1)) if self.recv else (
                call.read(base, take) if base else None)
            if b is None:
                local[i] = IOVEC(BAD.value if base else None, n)
                continue
            self.keep.append(b)
            local[i] = IOVEC(ctypes.addressof(b), take)
            self.iovs.append((base, take, b))
        self.keep.append(local)
        h.iov = ctypes.addressof(local)

    def scatter(self, got: int) -> bool:
        """After a receive of got bytes: the data into the caller's buffers."""
        for base, take, b in self.iovs:
            n = min(take, got)
            if n and not self.call.write(base, b.raw[:n]):
                return False
            got -= n
        return True

    def _buf(self, addr: int, n: int, cap: int):
        if not addr:
            return None
        b = ctypes.create_string_buffer(max(1, min(n, cap))) if self.recv else \
            self.call.read(addr, min(n, cap))
        if b is None:
            return BAD.value
        self.keep.append(b)
        return ctypes.addressof(b)

    def copy_back(self, got: int) -> bool:
        """After a receive of got bytes: data, name, control, lengths, flags."""
        c, h = self.call, self.hdr
        if not self.scatter(got):
            return False
        ok = True
        if self.uname and h.name and h.name != BAD.value:
            ok = c.write(self.uname, ctypes.string_at(h.name, min(h.namelen, self.unamelen)))
        if self.uctl and h.control and h.control != BAD.value:
            ok = ok and c.write(self.uctl, ctypes.string_at(h.control,
                                                            min(h.controllen, self.uctllen)))
        return ok and c.write(self.addr + 8, struct.pack("=I", h.namelen)) and \
            c.write(self.addr + 40, struct.pack("=Q", h.controllen)) and \
            c.write(self.addr + 48, struct.pack("=i", h.flags))


def is_recv(nr: int) -> bool:
    return nr in (NR["read"], NR["readv"], NR["recvfrom"], NR["recvmsg"], NR["recvmmsg"])


def recv_flags(call: Call) -> int:
    nr = call.nr
    if nr in (NR["recvfrom"], NR["sendto"]):
        return call.iarg(3)
    if nr in (NR["recvmsg"], NR["sendmsg"], NR["recvmmsg"], NR["sendmmsg"]):
        return call.iarg(2) if nr in (NR["recvmsg"], NR["sendmsg"]) else call.iarg(3)
    return 0


def h_buf_io(call: Call):                    # read, write, sendto, recvfrom
    nr = call.nr
    addr, n = call.args[1], call.args[2]
    take = min(n, DATA_CAP)
    if nr == NR["read"] or nr == NR["recvfrom"]:
        buf = ctypes.create_string_buffer(max(take, 1)) if addr else None
        if nr == NR["read"]:
            r = stub.read(call.slot, buf if addr else BAD, take)
            aout = None
        else:
            aout = out_len(call, call.args[4], call.args[5])
            cell = aout[1]
            r = stub.recvfrom(call.slot, buf if addr else BAD, take, call.iarg(3), aout[0],
                              ctypes.byref(cell) if isinstance(cell, ctypes.c_uint32) else cell)
        if r > 0 and not call.write(addr, buf.raw[:r]):
            return -1, errno.EFAULT
        if r >= 0 and aout is not None and not put_len(call, call.args[4], call.args[5],
                                                       *aout):
            return -1, errno.EFAULT
        return _result(r)
    buf = call.inbuf(addr, take, DATA_CAP) if addr else BAD
    if nr == NR["write"]:
        return _result(stub.write(call.slot, buf, take))
    alen = call.args[5] & 0xFFFFFFFF
    return _result(stub.sendto(call.slot, buf, take, call.iarg(3),
                               call.inbuf(call.args[4], alen), alen))


def h_iov_io(call: Call):                     # readv, writev
    recv = call.nr == NR["readv"]
    cnt = call.iarg(2)
    m = Msg.iovec(call, call.args[1], cnt, recv)
    r = (stub.readv if recv else stub.writev)(call.slot, m.hdr.iov, cnt)
    if recv and r > 0 and not m.scatter(r):
        return -1, errno.EFAULT
    return _result(r)


def h_msg(call: Call):                         # sendmsg, recvmsg
    recv = call.nr == NR["recvmsg"]
    flags = call.iarg(2)
    m = Msg(call, call.args[1], recv, DATA_CAP)
    ptr = ctypes.byref(m.hdr) if m.ok else BAD
    if recv:
        r = stub.recvmsg(call.slot, ptr, flags)
        if r >= 0 and m.ok and not m.copy_back(r):
            return -1, errno.EFAULT
        return _result(r)
    return _result(stub.sendmsg(call.slot, ptr, flags))


def h_mmsg(call: Call):                        # sendmmsg, recvmmsg
    recv = call.nr == NR["recvmmsg"]
    vec, vlen, flags = call.args[1], min(call.args[2] & 0xFFFFFFFF, IOV_MAX), call.iarg(3)
    msgs = []
    arr = (MMSGHDR * max(vlen, 1))()
    for i in range(vlen):
        m = Msg(call, vec + i * ctypes.sizeof(MMSGHDR), recv, 1 << 16)
        if not m.ok:
            break
        arr[i].hdr = m.hdr
        msgs.append(m)
    n = len(msgs)
    if vlen and n == 0:
        return -1, errno.EFAULT
    if recv:
        tmo = call.args[4]
        ts = call.inbuf(tmo, 16) if tmo else None
        r = stub.recvmmsg(call.slot, arr, n, flags, ts)
        if r >= 0 and isinstance(ts, ctypes.Array) and not call.write(tmo, ts.raw[:16]):
            return -1, errno.EFAULT                 # the time left, as Linux writes it
    else:
        r = stub.sendmmsg(call.slot, arr, n, flags)
    for i in range(max(r, 0)):
        m = msgs[i]
        m.hdr = arr[i].hdr
        if recv and not m.copy_back(arr[i].len):
            return -1, errno.EFAULT
        call.write(m.addr + 56, struct.pack("=I", arr[i].len))
    return _result(r)


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
DATA_NRS = {NR[k] for k in ("read", "write", "recvfrom", "sendto", "readv", "writev",
                            "recvmsg", "sendmsg", "recvmmsg", "sendmmsg")}
SEND_ADDR_ARG = {NR["sendto"]: 4}


def kernel_serves(call: Call) -> bool:
    """A data call on a stream shim socket (TCP, AF_UNIX) the kernel runs on A itself,
    as the preload path lets it."""
    kind, nr = call.kind, call.nr
    base = kind & 0xFF
    if base in (KIND_DGRAM, KIND_ALG) or nr not in DATA_NRS:
        return False
    if is_recv(nr):
        if recv_flags(call) & MSG_ERRQUEUE:
            return False
        if base == KIND_UNIX:       # names and passed fds: the kernel's own pair
            return not (nr == NR["recvfrom"] and call.args[4])
        return not kind & PROXY_READ and not read_may_end(call)
    flags = recv_flags(call)
    if base == KIND_STREAM and (kind & PROXY_SEND or flags & (MSG_OOB | MSG_MORE)):
        return False
    if nr == NR["sendto"]:
        return call.args[4] == 0
    if nr == NR["sendmsg"]:
        head = call.read(call.args[1], 8)
        return head is not None and struct.unpack("=Q", head.raw)[0] == 0
    return True


def read_may_end(call: Call) -> bool:
    """A stream read that finds no data on A ends in the stub: EOF there asks the host
    how the connection ended (RN_OP_RDEND: a reset is ECONNRESET, not the kernel's 0),
    and a read that waits may end so (the stub waits on our copy of A).  A read with
    data, or one that would answer EAGAIN at once, stays the kernel's."""
    if call.nr in (NR["read"], NR["recvfrom"]) and \
            call.args[1] + call.args[2] > USER_END:
        return False            # the kernel's access_ok: EFAULT before anything else
    p = select.poll()
    p.register(call.slot, select.POLLIN)
    ev = p.poll(0)
    if ev:
        avail = ctypes.c_int(0)
        return libc.ioctl(call.slot, FIONREAD, ctypes.byref(avail)) == 0 and avail.value == 0
    return not (recv_flags(call) & MSG_DONTWAIT or
                fcntl.fcntl(call.slot, fcntl.F_GETFL) & os.O_NONBLOCK)


# ---- the loop ----------------------------------------------------------------------

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
KILLABLE = B.killable_recv()
PLACEHOLDER = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)   # see h_close
WATCH: Watch
SLOTS: Slots
TRACE = bool(os.environ.get("ROCKETNET_TRACE"))
NAMED: set[int] = set()


def tgid_of(tid: int) -> int:
    try:
        with open(f"/proc/{tid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"Tgid:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return tid


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
    call.slot = SLOTS.acquire(call.ino)
    # libc's dup3/close: the stub's entry for the slot (this socket's, if it had this
    # slot before) stays; rn_sc_move would bring the stale one of `mine`'s number
    libc.dup3(mine, call.slot, os.O_CLOEXEC)
    libc.close(mine)
    call.kind = stub.rn_sc_classify(call.slot)
    if call.kind <= 0 or kernel_serves(call) or (call.nr == NR["close"] and
                                                 not call.kind & LINGER):
        finish(call)
        call.cont()
        return
    POOL.submit(run, call, FD_HANDLERS[call.nr])


def finish(call: Call) -> None:
    if call.slot >= 0:
        call.slot = -1
        SLOTS.release(call.ino)
    call.close()


def run(call: Call, handler: Callable) -> None:
    """Serve one call on a worker thread."""
    if TRACE:
        stub.rn_sc_acting(tgid_of(call.tid), call.slot, call.fd)
    res = None
    pipe = False
    WATCH.add(call)
    try:
        before = call.ino
        res = handler(call)
        if call.signalled and not call.answered and res == (-1, errno.EINTR) and \
                call.slot >= 0:
            res = interrupted(call)
        if call.slot >= 0 and not call.answered:
            now = os.fstat(call.slot).st_ino
            if now != before:        # the stub put a fresh A on the fd (RN_OP_REOPEN)
                sets = epoll_interests(call, before)
                call.add_fd(call.slot, bool(call.cloexec(call.fd)), False, at=call.fd)
                SLOTS.moved(before, now)
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
        WATCH.remove()
        if TRACE:
            stub.rn_sc_flush(-1, -1)
            stub.rn_sc_acting(0, -1, -1)
        finish(call)
    if pipe and KILLABLE:
        raise_pipe(call)
    if res is CONTINUE:
        call.cont()
    elif res is not None:
        call.reply(*res)
    if pipe and not KILLABLE:
        raise_pipe(call)


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


def raise_pipe(call: Call) -> None:
    libc.syscall(c_long(SYS_tgkill), c_long(tgid_of(call.tid)), c_long(call.tid),
                 c_long(signal.SIGPIPE))


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
            _errno_raise("SECCOMP_IOCTL_NOTIF_RECV")
        serve(Call(lfd, buf.raw))


# ---- start: the program as our child, under the filter -------------------------------

def child(path: str, argv: list[str], env: dict[str, str], at: int) -> None:
    """In the forked child: the filter, its listener on fd `at` for the parent to take
    (pidfd_getfd), one routed call that returns once the parent serves, then exec."""
    try:
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGQUIT):
            signal.signal(sig, signal.SIG_DFL)
        lfd = B.install_filter()
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
        _errno_raise("pidfd_open")
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
            if os.waitpid(pid, os.WNOHANG)[0]:
                raise ChildProcessError("the program ended before its filter was in place")
            time.sleep(0.001)
    finally:
        os.close(pidfd)


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
    global SLOTS, WATCH
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
    pid = os.fork()
    if pid == 0:
        child(a.path, a.argv, env, at)
    status = os.fdopen(a.status_fd, "w", buffering=1)
    status.write(f"{pid}\n")
    try:
        lfd = take_listener(pid, at)
    except ChildProcessError:
        _, st = os.waitpid(pid, 0)
        status.write(f"{st}\n")
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard if hard != resource.RLIM_INFINITY else 65536, 65536)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    SLOTS = Slots(soft // 4, soft // 4)
    WATCH = Watch()
    for fd in (0, 1):
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, fd)
        os.close(null)

    def reap() -> None:
        _, st = os.waitpid(pid, 0)
        status.write(f"{st}\n")
        status.close()
    reaper = threading.Thread(target=reap, daemon=True)
    reaper.start()
    listen_loop(lfd)
    reaper.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())

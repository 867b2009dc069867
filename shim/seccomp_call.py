"""One seccomp notification (shim/seccomp_super.py): the caller's memory and fds, read
and written with the documented guard (SECCOMP_IOCTL_NOTIF_ID_VALID), and its answer."""
from __future__ import annotations

import ctypes
import os

from shim import seccomp_bpf as B
from shim.procfs import proc_status
from shim.seccomp_abi import BAD, IOVEC, PIDFD_THREAD, SMALL, TRACE, Gone, c_long, libc, stub


def errno_raise(what: str) -> None:
    e = ctypes.get_errno()
    raise OSError(e, f"{what}: {os.strerror(e)}")


def _vm(nr: int, tid: int, local: int, remote: int, n: int) -> bool:
    liov = IOVEC(local, n)
    riov = IOVEC(remote, n)
    r = libc.syscall(c_long(nr), c_long(tid), ctypes.byref(liov), c_long(1),
                     ctypes.byref(riov), c_long(1), c_long(0))
    return r == n


def peek(tid: int, addr: int, n: int) -> ctypes.Array | None:
    """n bytes of thread tid's memory at addr in a buffer of ours, None on a fault."""
    buf = ctypes.create_string_buffer(max(n, 1))
    if n and not _vm(B.SYS_process_vm_readv, tid, ctypes.addressof(buf), addr, n):
        return None
    return buf


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
        return peek(self.tid, addr, n)

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
        return self.ours(BAD if buf is None else buf, addr)

    @staticmethod
    def ours(buf, theirs: int):
        """buf, which stands for the caller's memory at theirs: when tracing, the trace
        lines show theirs for it (a pointer argument the stub prints)."""
        if TRACE and buf is not None:
            if buf is BAD:
                stub.rn_sc_span(BAD, 1, theirs)
            else:
                stub.rn_sc_span(ctypes.addressof(buf), ctypes.sizeof(buf), theirs)
        return buf

    def take_fd(self, fd: int) -> int:
        """A copy of the caller's fd here (-1 if it has none there)."""
        if self.pidfd < 0:
            self.pidfd = int(libc.syscall(c_long(B.SYS_pidfd_open), c_long(self.tid),
                                          c_long(PIDFD_THREAD)))
            if self.pidfd < 0 or not self.valid():
                raise Gone()
        return int(libc.syscall(c_long(B.SYS_pidfd_getfd), c_long(self.pidfd), c_long(fd),
                                c_long(0)))

    def cred(self) -> tuple[int, int, int]:
        """(process id, real uid, real gid) of the caller, from the kernel's
        /proc/<tid>/status, read while the notification is valid (so they are the
        caller's, not a reused id's); pid 0 if it is gone."""
        try:
            st = proc_status(self.tid)
            tgid, uid, gid = int(st[b"Tgid"][0]), int(st[b"Uid"][0]), int(st[b"Gid"][0])
        except (OSError, ValueError, IndexError, KeyError):
            return 0, -1, -1
        return (tgid, uid, gid) if self.valid() else (0, -1, -1)

    def free_fds(self, n: int) -> list[int]:
        """The n lowest fd numbers the caller has free: what the kernel would give it."""
        try:
            used = {int(x) for x in os.listdir(f"/proc/{self.tid}/fd")}
        except OSError:
            used = set()
        out: list[int] = []
        fd = 0
        while len(out) < n:
            if fd not in used:
                out.append(fd)
            fd += 1
        return out

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



def tgid_of(tid: int) -> int:
    try:
        return int(proc_status(tid)[b"Tgid"][0])
    except (OSError, ValueError, IndexError, KeyError):
        return tid

"""The supervisor's handlers of data calls (shim/seccomp_super.py): datagram sockets,
and stream sockets in the cases the stub must see; which ones the kernel runs itself."""
from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import select
import struct

from shim.seccomp_abi import (
    BAD,
    DATA_CAP,
    FIONREAD,
    INT,
    IOV_MAX,
    IOV_RAW,
    IOVEC,
    KIND_ALG,
    KIND_DGRAM,
    KIND_STREAM,
    KIND_UNIX,
    LISTENER,
    MMSGHDR,
    MSG_DONTWAIT,
    MSG_ERRQUEUE,
    MSG_MORE,
    MSG_OOB,
    MSGHDR,
    MSGHDR_RAW,
    NR,
    PROXY_READ,
    PROXY_SEND,
    SMALL,
    USER_END,
    libc,
    stub,
    stub_result,
)
from shim.seccomp_call import Call
from shim.seccomp_ctl import out_len, put_len

POLLFD = struct.Struct("=ihh")
CMSGHDR = struct.Struct("=Qii")
SOL_SOCKET, SCM_RIGHTS = 1, 1
MSG_CMSG_CLOEXEC = 0x40000000


class Msg:
    """A caller's msghdr rebuilt here: buffers of ours, and how to copy results back."""

    def __init__(self, call: Call, addr: int, recv: bool, cap: int):
        self.call, self.addr, self.recv = call, addr, recv
        self.hdr = call.ours(MSGHDR(), addr)
        self.keep: list = []
        self.iovs: list[tuple[int, int, ctypes.Array]] = []
        self.fds: list[int] = []           # ours, for the caller's passed fds
        self.rflags = call.iarg(2) if call.nr == NR["recvmsg"] else 0
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
        if not recv and h.control and h.control != BAD.value:
            self.map_rights(h.control, min(ctllen, 1 << 16), self.take)
        self.fill_iovs(iov, iovlen, cap)

    @staticmethod
    def map_rights(ctl: int, n: int, fn) -> None:
        """Each fd number of the SCM_RIGHTS messages in ctl[:n] replaced by fn(number)."""
        at = 0
        while at + CMSGHDR.size <= n:
            clen, level, typ = CMSGHDR.unpack(ctypes.string_at(ctl + at, CMSGHDR.size))
            if clen < CMSGHDR.size or at + clen > n:
                return                     # malformed: the kernel judges it
            if level == SOL_SOCKET and typ == SCM_RIGHTS:
                for off in range(at + CMSGHDR.size, at + clen - 3, 4):
                    fd = INT.unpack(ctypes.string_at(ctl + off, 4))[0]
                    ctypes.memmove(ctl + off, INT.pack(fn(fd)), 4)
            at += (clen + 7) & ~7

    def take(self, theirs: int) -> int:
        """A send's passed fd of the caller's: a copy here (-1, the kernel's EBADF, if
        the caller has no such fd)."""
        mine = self.call.take_fd(theirs) if theirs >= 0 else -1
        if mine >= 0:
            self.fds.append(mine)
        return mine

    def give(self, mine: int) -> int:
        """A received fd: installed in the caller (its number there), ours closed."""
        n = self.call.add_fd(mine, bool(self.rflags & MSG_CMSG_CLOEXEC), False)
        os.close(mine)
        return n if n >= 0 else -1

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds.clear()

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
        if h.control and h.control != BAD.value and h.controllen:
            self.map_rights(h.control, min(h.controllen, 1 << 16), self.give)
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
        if addr + n > USER_END:
            return -1, errno.EFAULT     # the kernel's access_ok: before anything is taken
        buf = call.ours(ctypes.create_string_buffer(max(take, 1)) if addr else BAD, addr)
        aout = None
        if nr == NR["read"]:
            r = stub.read(call.slot, buf, take)
        else:
            aout = out_len(call, call.args[4], call.args[5])
            cell = aout[1]
            r = stub.recvfrom(call.slot, buf, take, call.iarg(3), aout[0],
                              ctypes.byref(cell) if isinstance(cell, ctypes.c_uint32) else cell)
        if r > 0 and not call.write(addr, buf.raw[:r]):
            return -1, errno.EFAULT
        if r >= 0 and aout is not None and not put_len(call, call.args[4], call.args[5],
                                                       *aout):
            return -1, errno.EFAULT
        return stub_result(r)
    buf = call.inbuf(addr, take, DATA_CAP) if addr else call.ours(BAD, 0)
    if nr == NR["write"]:
        return stub_result(stub.write(call.slot, buf, take))
    alen = call.args[5] & 0xFFFFFFFF
    return stub_result(stub.sendto(call.slot, buf, take, call.iarg(3),
                               call.inbuf(call.args[4], alen), alen))


def h_iov_io(call: Call):                     # readv, writev
    recv = call.nr == NR["readv"]
    cnt = call.iarg(2)
    m = Msg.iovec(call, call.args[1], cnt, recv)
    r = (stub.readv if recv else stub.writev)(call.slot, m.hdr.iov, cnt)
    if recv and r > 0 and not m.scatter(r):
        return -1, errno.EFAULT
    return stub_result(r)


def h_msg(call: Call):                         # sendmsg, recvmsg
    recv = call.nr == NR["recvmsg"]
    flags = call.iarg(2)
    m = Msg(call, call.args[1], recv, DATA_CAP)
    ptr = ctypes.byref(m.hdr) if m.ok else BAD
    if recv:
        r = stub.recvmsg(call.slot, ptr, flags)
        if r >= 0 and m.ok and not m.copy_back(r):
            return -1, errno.EFAULT
        return stub_result(r)
    try:
        return stub_result(stub.sendmsg(call.slot, ptr, flags))
    finally:
        m.close()


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
        for m in msgs:
            m.close()
    for i in range(max(r, 0)):
        m = msgs[i]
        m.hdr = arr[i].hdr
        if recv and not m.copy_back(arr[i].len):
            return -1, errno.EFAULT
        call.write(m.addr + 56, struct.pack("=I", arr[i].len))
    return stub_result(r)


DATA_NRS = {NR[k] for k in ("read", "write", "recvfrom", "sendto", "readv", "writev",
                            "recvmsg", "sendmsg", "recvmmsg", "sendmmsg")}
SEND_ADDR_ARG = {NR["sendto"]: 4}
BUF_NRS = {NR[k] for k in ("read", "write", "recvfrom", "sendto")}


def stub_traces(call: Call) -> bool:
    """Under --trace: a data call kernel_serves leaves to the kernel that the stub makes
    as exactly, so that it gets its line: a TCP read, write, send, receive, readv,
    writev, sendmsg or recvmsg of at most DATA_CAP bytes in all (a larger blocking send
    would be short here), on buffers the caller can read (an unreadable one: the
    kernel's EFAULT, in the kernel's order), with no control data sent and room for what
    comes back.  Others stay the kernel's, untraced: on an AF_UNIX pair the kernel stamps
    the sender's credentials, which here would be the supervisor's."""
    if call.kind & 0xFF != KIND_STREAM:
        return False
    nr = call.nr
    extra: list[tuple[int, int]] = []          # msghdr's name and control buffers
    if nr in BUF_NRS:
        spans: list[tuple[int, int]] | None = [(call.args[1], call.args[2])]
    elif nr in (NR["readv"], NR["writev"]):
        spans = iov_spans(call, call.args[1], call.iarg(2))
    else:
        head = call.read(call.args[1], MSGHDR_RAW.size)
        if head is None:
            return False
        name, namelen, iov, iovlen, ctl, ctllen, _ = MSGHDR_RAW.unpack(head.raw)
        if nr == NR["sendmsg"] and (name or ctllen) or namelen > SMALL or ctllen > 1 << 16:
            return False
        spans = iov_spans(call, iov, iovlen)
        extra = [(a, n) for a, n in ((name, namelen), (ctl, ctllen)) if a]
    return spans is not None and 0 < sum(n for _, n in spans) <= DATA_CAP and all(
        n == 0 or (call.read(a, 1) is not None and call.read(a + n - 1, 1) is not None)
        for a, n in spans + extra)


def iov_spans(call: Call, iov: int, cnt: int) -> list[tuple[int, int]] | None:
    """The caller's iovec array as (base, length) pairs; None if it is not one the
    kernel takes (count, readable array, lengths)."""
    if not 0 < cnt <= IOV_MAX:
        return None
    arr = call.read(iov, cnt * IOV_RAW.size)
    if arr is None:
        return None
    spans = [IOV_RAW.unpack_from(arr.raw, i * IOV_RAW.size) for i in range(cnt)]
    return spans if all(n <= DATA_CAP for _, n in spans) else None


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
        if base == KIND_UNIX:       # the kernel's own pair, but a sender's name the stub
            return not wants_name(call)     # shows by its stack name
        return not kind & PROXY_READ and not read_may_end(call)
    if kind & LISTENER:
        return False                # A would take the bytes: the stub answers as Linux
    flags = recv_flags(call)
    if base == KIND_STREAM and (kind & PROXY_SEND or flags & (MSG_OOB | MSG_MORE)):
        return False
    if nr == NR["sendto"]:
        return call.args[4] == 0
    if nr == NR["sendmsg"]:
        head = call.read(call.args[1], 8)
        return head is not None and struct.unpack("=Q", head.raw)[0] == 0
    return True


def wants_name(call: Call) -> bool:
    """A receive that asks for the sender's address."""
    if call.nr == NR["recvfrom"]:
        return bool(call.args[4])
    if call.nr == NR["recvmsg"]:
        head = call.read(call.args[1], 8)
        return head is None or struct.unpack("=Q", head.raw)[0] != 0
    return False


def read_may_end(call: Call) -> bool:
    """A stream read that finds no data on A ends in the stub: EOF there asks the host
    how the connection ended (RN_OP_RDEND: a reset is ECONNRESET, not the kernel's 0),
    and a read that waits may end so (the stub waits on our copy of A).  A read with
    data, or one that would answer EAGAIN at once, stays the kernel's."""
    if call.nr in (NR["read"], NR["recvfrom"]) and \
            call.args[1] + call.args[2] > USER_END:
        return False            # the kernel's access_ok: EFAULT before anything else
    # libc's own poll and fcntl: the stub's would trace them as the program's calls
    pfd = POLLFD.pack(call.slot, select.POLLIN, 0)
    if libc.poll(pfd, 1, 0) > 0:
        avail = ctypes.c_int(0)
        return libc.ioctl(call.slot, FIONREAD, ctypes.byref(avail)) == 0 and avail.value == 0
    return not (recv_flags(call) & MSG_DONTWAIT or
                libc.fcntl(call.slot, fcntl.F_GETFL, 0) & os.O_NONBLOCK)

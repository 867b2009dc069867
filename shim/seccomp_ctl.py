"""The supervisor's handlers of the calls that make, name, set up and end sockets
(shim/seccomp_super.py): each makes the same call through the stub on our copy of the
caller's fd and copies what it returns back to the caller."""
from __future__ import annotations

import ctypes
import errno
import os
import struct

from shim import seccomp_slots as S
from shim.seccomp_abi import (
    BAD,
    CONTINUE,
    FD_OPTIONS,
    IFREQ_SIZE,
    INT,
    NR,
    SIOCATMARK,
    SIOCGIFCONF,
    SMALL,
    SOCK_CLOEXEC,
    SOL_SOCKET,
    TRACE,
    c_int,
    libc,
    stub,
    stub_result,
)
from shim.seccomp_call import Call

PLACEHOLDER = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)   # see h_close


def h_socket(call: Call):
    domain, typ, proto = call.iarg(0), call.iarg(1), call.iarg(2)
    r = stub.socket(domain, typ, proto)
    if r < 0:
        return stub_result(r)
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
    slot = S.SLOTS.acquire(ino)
    try:
        stub.rn_sc_move(ours, slot)
        r = call.add_fd(slot, cloexec, True)
    finally:
        S.SLOTS.release(ino)
    stub.rn_sc_flush(ours, r)
    return None if r >= 0 else (-1, -r)


def h_socketpair(call: Call):
    domain, typ, proto, sv = call.iarg(0), call.iarg(1), call.iarg(2), call.args[3]
    pair = call.ours((c_int * 2)(-1, -1), sv)
    r = stub.socketpair(domain, typ, proto, pair)
    if r < 0:
        e = ctypes.get_errno()
        # Linux stores the two fd numbers it reserved before it makes the sockets: a
        # failure after that (EAFNOSUPPORT, EPROTONOSUPPORT) leaves the caller's
        if pair[0] >= 0 and not call.write(sv, struct.pack("=ii", *call.free_fds(2))):
            e = errno.EFAULT
        return -1, e
    kind = stub.rn_sc_classify(pair[0])
    if kind <= 0:
        e = ctypes.get_errno()
        for fd in pair:
            stub.rn_sc_release(fd)
        return CONTINUE if kind == 0 else (-1, e)
    cloexec = bool(typ & SOCK_CLOEXEC)
    # as Linux: the numbers stored (EFAULT) before any fd is installed
    if not call.write(sv, struct.pack("=ii", *call.free_fds(2))):
        for fd in pair:
            stub.rn_sc_release(fd)
        traced_as(f"[{pair[0]}, {pair[1]}]) = 0", f"{sv:#x}) = -1 EFAULT" if sv else
                  "(nil)) = -1 EFAULT")
        return -1, errno.EFAULT
    theirs = []
    for fd in pair:
        n = call.add_fd(fd, cloexec, False)
        stub.rn_sc_release(fd)
        if n < 0:
            return -1, -n
        theirs.append(n)
    if not call.write(sv, struct.pack("=ii", *theirs)):
        return -1, errno.EFAULT
    traced_as(f"[{pair[0]}, {pair[1]}]", f"[{theirs[0]}, {theirs[1]}]")
    return 0, 0


def traced_as(ours: str, theirs: str) -> None:
    """The stub's trace line of this call says theirs where it says ours: what the
    program got, not what the stub did here."""
    if TRACE:
        stub.rn_sc_rename(ours.encode(), theirs.encode())


def h_addr_in(call: Call):                          # bind, connect
    n = call.args[2] & 0xFFFFFFFF
    buf = call.inbuf(call.args[1], n)
    fn = stub.bind if call.nr == NR["bind"] else stub.connect
    return stub_result(fn(call.slot, buf, n))


def out_len(call: Call, addr: int, lenp: int, cap: int = SMALL):
    """(buffer, length cell, caller's length) for an address or value the call returns."""
    if lenp == 0:
        return (call.inbuf(addr, 0) if addr else None), None, 0
    lb = call.read(lenp, 4)
    if lb is None:
        return call.ours(ctypes.create_string_buffer(cap), addr), call.ours(BAD, lenp), 0
    ulen = INT.unpack(lb.raw[:4])[0]
    cell = ctypes.c_uint32(min(ulen, cap) if ulen >= 0 else ulen & 0xFFFFFFFF)
    buf = ctypes.create_string_buffer(max(min(ulen, cap), 1)) if addr else None
    return call.ours(buf, addr), call.ours(cell, lenp), ulen


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
    return stub_result(r)


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
        return stub_result(r)
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
    return stub_result(r)


def h_setsockopt(call: Call):
    level, opt, n = call.iarg(1), call.iarg(2), call.args[4] & 0xFFFFFFFF
    buf = call.inbuf(call.args[3], n)
    if level == SOL_SOCKET and opt in FD_OPTIONS and n >= 4 and isinstance(buf, ctypes.Array):
        # the value names a fd of the caller's (a BPF program): ours for the call
        theirs = INT.unpack(buf.raw[:4])[0]
        mine = call.take_fd(theirs) if theirs >= 0 else -1
        buf[:4] = INT.pack(mine)
        try:
            return stub_result(stub.setsockopt(call.slot, level, opt, buf, n))
        finally:
            if mine >= 0:
                libc.close(mine)
    return stub_result(stub.setsockopt(call.slot, level, opt, buf, n))


def h_listen(call: Call):
    return stub_result(stub.listen(call.slot, call.iarg(1)))


def h_shutdown(call: Call):
    return stub_result(stub.shutdown(call.slot, call.iarg(1)))


def h_close(call: Call):
    """close() of a socket with SO_LINGER {1, secs}: Linux returns once the stack has
    sent everything or secs passed.  The program's fd is replaced by a placeholder (the
    A it named loses that reference now), the stub closes our copy and waits as on the
    preload path, then the program's close runs on the placeholder."""
    r = call.add_fd(PLACEHOLDER, False, False, at=call.fd)
    if r < 0:
        return -1, -r
    slot = S.SLOTS.detach(call.ino)
    if slot >= 0:
        call.slot = -1                  # closed here, not released by finish()
        try:
            stub.rn_sc_close(slot)
        finally:
            S.SLOTS.give_back(slot, call.ino)
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
    return stub_result(r)


def ioctl_ifconf(call: Call, arg: int):
    head = call.read(arg, 16)
    if head is None:
        return stub_result(stub.ioctl(call.slot, SIOCGIFCONF, BAD))
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
    return stub_result(r)


# -- data calls (datagram sockets, and stream sockets in the cases the stub must see) --

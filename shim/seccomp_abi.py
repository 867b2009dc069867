"""What the seccomp supervisor calls and reads (shim/seccomp_super.py): the entry
points of the preloaded stub (the supervisor makes every socket call through it), the
kernel's structures it rebuilds, and the numbers it needs."""
from __future__ import annotations

import ctypes
import os
import struct

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
_proto("send", c_ssize_t, c_int, c_void_p, c_size_t, c_int)
_proto("recv", c_ssize_t, c_int, c_void_p, c_size_t, c_int)
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
_proto("rn_sc_rename", None, ctypes.c_char_p, ctypes.c_char_p)
_proto("rn_sc_span", None, c_void_p, c_size_t, ctypes.c_uint64)
_proto("rn_sc_cred", None, c_int, c_int, c_int)
_proto("rn_sc_execve", None, c_int, ctypes.c_char_p, c_int, ctypes.POINTER(ctypes.c_char_p))
_proto("rn_sc_exited", None, c_int, c_int)
# the line makers of the calls the kernel serves (c_stub/trace.c: seccomp_ptrace.py)
_proto("rn_tr_poll", None, ctypes.c_char_p, c_void_p, ctypes.c_ulong, ctypes.c_char_p, c_int,
       c_int)
_proto("rn_tr_select", None, ctypes.c_char_p, c_int, c_void_p, c_void_p, ctypes.c_char_p, c_int,
       c_int)
_proto("rn_tr_epoll_ctl", None, c_int, c_int, c_int, c_void_p, c_int, c_int)
_proto("rn_tr_epoll_wait", None, ctypes.c_char_p, c_int, c_void_p, c_int, c_int, c_int, c_int)
_proto("rn_tr_sendfile", None, ctypes.c_char_p, c_int, c_int, c_int, c_void_p, c_size_t, c_long,
       c_int)
_proto("rn_tr_splice", None, c_int, c_int, c_int, c_int, c_size_t, c_uint, c_long, c_int)
_proto("rn_tr_fcntl", None, ctypes.c_char_p, c_int, c_int, c_size_t, c_int, c_int)
_proto("rn_tr_dup", None, ctypes.c_char_p, c_int, c_int, c_int, c_int, c_int)
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
PROXY_READ, PROXY_SEND, LINGER, LISTENER = 0x100, 0x200, 0x400, 0x800
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
TRACE = bool(os.environ.get("ROCKETNET_TRACE"))   # the run is traced (--trace, -c)
CONTINUE = object()        # handler result: let the kernel run the call


class Gone(Exception):
    """The notification is no longer valid (the caller was interrupted or died)."""



def stub_result(r: int) -> tuple[int, int]:
    return (r, 0) if r >= 0 else (-1, ctypes.get_errno())

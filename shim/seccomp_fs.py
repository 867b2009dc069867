"""The caller's view of the file system for AF_UNIX path names on the seccomp path
(shim/seccomp_super.py).  The stub resolves a path in the calling thread: it binds a
placeholder socket there (making the node with the caller's umask and owner), opens the
node O_PATH and connects a probe, so the kernel walks it with that thread's working
directory and rights.  A worker acting for a caller therefore takes, for that call, the
caller's working directory and umask (its own fs_struct: unshare(CLONE_FS), per thread)
and its file system ids and groups (setfsuid/setfsgid/setgroups as raw system calls,
which change the calling thread only), all read from /proc/<tid> while the
notification is valid, and puts its own back after."""
from __future__ import annotations

import ctypes
import os
import threading

from shim.procfs import proc_status
from shim.seccomp_abi import c_long, libc
from shim.seccomp_call import Call

SYS_setgroups, SYS_setfsuid, SYS_setfsgid, SYS_unshare = 116, 122, 123, 272
CLONE_FS = 0x200
HOME = os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)   # the supervisor's cwd
_local = threading.local()


def _setgroups(groups: list[int]) -> None:
    arr = (ctypes.c_uint32 * max(len(groups), 1))(*groups)
    libc.syscall(c_long(SYS_setgroups), c_long(len(groups)), arr)


def enter(call: Call) -> bool:
    """Take the caller's cwd, umask and file system ids on this thread; False (nothing
    changed) if the caller is gone."""
    if not getattr(_local, "own_fs", False):
        if libc.syscall(c_long(SYS_unshare), c_long(CLONE_FS)) != 0:
            return False
        _local.own_fs = True
    try:
        st = proc_status(call.tid)
        cwd = os.open(f"/proc/{call.tid}/cwd", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except (OSError, KeyError):
        return False
    try:
        if not call.valid():
            return False
        os.fchdir(cwd)
    finally:
        os.close(cwd)
    _local.umask = os.umask(int(st[b"Umask"][0], 8))
    _local.groups = os.getgroups()
    _setgroups([int(g) for g in st[b"Groups"]])
    libc.syscall(c_long(SYS_setfsgid), c_long(int(st[b"Gid"][3])))
    libc.syscall(c_long(SYS_setfsuid), c_long(int(st[b"Uid"][3])))
    return True


def leave() -> None:
    """This thread's own view again."""
    libc.syscall(c_long(SYS_setfsuid), c_long(os.geteuid()))
    libc.syscall(c_long(SYS_setfsgid), c_long(os.getegid()))
    _setgroups(_local.groups)
    os.umask(_local.umask)
    os.fchdir(HOME)

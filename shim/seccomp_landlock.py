"""Landlock on the seccomp path: named, not applied.

The preload path checks a program's Landlock TCP rules (bind/connect ports) in the
calling thread, whose Landlock domain the kernel applies to a probe (c_stub/landlock.c).
The supervisor serves calls from outside that domain: a domain belongs to a thread, is
inherited at clone (which the filter does not see) and cannot be inspected or entered
from another process, so no exact check can be made here.  What it can do is say so:
landlock_create_ruleset and landlock_restrict_self are routed here and continue in the
kernel; once a process of the run restricts itself after it or an ancestor of it made a
ruleset that handles TCP access, the supervisor names the program on stderr (once per
run): its stack sockets are not held to those rules, `--via preload` holds them.
"""
from __future__ import annotations

import os
import struct
import sys
import threading

from shim import seccomp_bpf as B
from shim.procfs import proc_status
from shim.seccomp_call import Call, tgid_of

# struct landlock_ruleset_attr: handled_access_fs, handled_access_net (ABI 4), ...
ATTR = struct.Struct("=QQ")
PAGE = 4096                   # larger attrs: E2BIG from the kernel
_makers: set[int] = set()     # processes that made a ruleset handling TCP access
_lock = threading.Lock()
_told = False


def h_landlock(call: Call) -> None:
    global _told
    tgid = tgid_of(call.tid)
    if call.nr == B.LANDLOCK_NR["landlock_create_ruleset"]:
        attr, size, flags = call.args[:3]
        if attr and flags == 0 and ATTR.size <= size <= PAGE:
            buf = call.read(attr, ATTR.size)
            if buf is not None and ATTR.unpack(buf.raw[:ATTR.size])[1] and call.valid():
                with _lock:
                    _makers.add(tgid)
    elif _makers and lineage(tgid) & _makers:
        with _lock:
            told, _told = _told, True
        if not told:
            try:
                name = os.readlink(f"/proc/{tgid}/exe")
            except OSError:
                name = "?"
            print(f"rocketnet: process {tgid} ({name}) restricts itself with Landlock TCP "
                  "rules: under --via seccomp they do not hold for its stack sockets "
                  "(--via preload applies them)", file=sys.stderr)
    call.cont()


def lineage(pid: int) -> set[int]:
    """pid and its ancestors up to this supervisor (a ruleset fd is inherited at fork)."""
    out = set()
    me = os.getpid()
    while pid > 1 and pid != me and pid not in out:
        out.add(pid)
        try:
            pid = int(proc_status(pid)[b"PPid"][0])
        except (OSError, ValueError, IndexError, KeyError):
            break
    return out

"""Landlock on the seccomp path: a program's TCP rules and abstract-unix scoping hold
for its stack sockets, judged by the kernel in the program's own domain.

The preload path checks them in the calling thread (c_stub/landlock.c: probes that the
kernel answers with Landlock's decision).  The supervisor serves calls from threads of
its own, and a domain cannot be inspected or entered from another process; so it keeps
a thread of its own in each domain the run's threads restrict themselves into.  A
thread's landlock_restrict_self is routed here: a new thread, started by the
supervisor's thread of the caller's current domain (so it inherits that domain, as the
caller's layers are), sets no_new_privs (the filter set it for the program) and
restricts itself with the same ruleset (a copy of the program's fd), then the program's
call continues in the kernel.  Same ruleset, same layers below: the kernel's answer to
the new thread is its answer to the caller, so on success the caller's domain is the
new thread's.  While a call of the caller is served, the stub's Landlock checks (TCP
probe, abstract-unix scoping, the witness of an abstract name bound) run on that thread
(rn_sc_ll, rn_ll_op); these make no file system access, which the domain's file rules
could refuse.  A rule added to the ruleset by another thread while the caller
restricts itself may be in its kernel domain and not in the copy: natively those two
calls race as well.

Whose domain a thread is in (a domain is inherited at clone, which the filter does not
see): a process that restricts itself while it has one thread is in the new domain
with every thread it makes later; its children made before keep the one they were made
in (pinned when it restricts); a process first seen takes its parent's.  A thread that
restricts itself beside others is in its own domain, its process is "mixed", and a
thread of that process made later cannot be placed (its maker is not known): such a
process is named on stderr, once, and the thread given its process's domain.  Nothing
here runs, and no lookup is made, until a thread of the run restricts itself.
"""
from __future__ import annotations

import ctypes
import errno
import os
import queue
import sys
import threading
from typing import Callable

from shim import seccomp_bpf as B
from shim.procfs import proc_status
from shim.seccomp_abi import Gone, libc, stub
from shim.seccomp_call import Call, tgid_of

AF_UNIX, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_CLOEXEC, MSG_DONTWAIT = 1, 2, 0o4000, 0o2000000, 0x40
# the stub's checks (c_stub/internal.h RN_LL_OP_*) and what each answers if it cannot run
OP_TCP, OP_ABSTRACT, OP_WITNESS = 1, 2, 3
REFUSED = {OP_TCP: errno.EACCES, OP_ABSTRACT: errno.EPERM, OP_WITNESS: -1}

HOOK_T = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_uint,
                          ctypes.c_int)
stub.rn_sc_ll.restype, stub.rn_sc_ll.argtypes = None, (HOOK_T, ctypes.c_int)
stub.rn_ll_op.restype = ctypes.c_int
stub.rn_ll_op.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int)


class Domain:
    """A Landlock domain of the run, held by one supervisor thread that restricted
    itself into it and runs the checks made for its callers (module doc)."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.scoped = False

    def call(self, fn: Callable, *args):
        """fn(*args) on this domain's thread: its result (or its exception, raised)."""
        done: queue.SimpleQueue = queue.SimpleQueue()
        self.jobs.put((fn, args, done))
        r = done.get()
        if isinstance(r, Exception):
            raise r
        return r

    def serve(self) -> None:
        while True:
            fn, args, done = self.jobs.get()
            if fn is None:
                return                     # no thread of the run is in it any more
            try:
                done.put(fn(*args))
            except Exception as e:  # noqa: BLE001 - the caller waits for an answer
                done.put(e)


def restricted(ruleset: int, flags: int) -> tuple[int, Domain | None]:
    """On a new thread started from a thread of the parent domain: restrict it as the
    caller restricts itself; (0, its domain) or (errno, None)."""
    done: queue.SimpleQueue = queue.SimpleQueue()

    def main() -> None:
        if libc.prctl(B.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or libc.syscall(
                ctypes.c_long(B.LANDLOCK_NR["landlock_restrict_self"]), ctypes.c_long(ruleset),
                ctypes.c_long(flags)) != 0:
            done.put((ctypes.get_errno(), None))
            return
        dom = Domain()
        dom.scoped = scoped_here()
        stub.rn_sc_ll(HOOK_T(), 1 if dom.scoped else 0)   # its own checks: no hook
        _domains.add(dom)
        done.put((0, dom))
        dom.serve()
    threading.Thread(target=main, daemon=True).start()
    return done.get()


def scoped_here() -> bool:
    """Is this thread's domain abstract-unix scoped below the supervisor's?  The kernel
    says: EPERM to a datagram for a name bound outside it (ROOT_NAME)."""
    k = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)
    if k < 0:
        return False
    r = libc.sendto(k, b"", 0, MSG_DONTWAIT, ROOT_NAME, len(ROOT_NAME))
    e = ctypes.get_errno()
    libc.close(k)
    return r < 0 and e == errno.EPERM


def _abstract(name: bytes) -> bytes:
    return AF_UNIX.to_bytes(2, sys.byteorder) + b"\0" + name


ROOT_NAME = _abstract(f"rocketnet-ll-{os.getpid()}-{os.urandom(6).hex()}".encode())
_root_fd = -1
libc.sendto.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int,
                        ctypes.c_char_p, ctypes.c_uint)
libc.bind.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)


def _root_witness() -> None:
    """The name scoped_here aims at, bound by this (unrestricted) thread, once."""
    global _root_fd
    if _root_fd < 0:
        k = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)
        if k >= 0 and libc.bind(k, ROOT_NAME, len(ROOT_NAME)) == 0:
            _root_fd = k
        elif k >= 0:
            libc.close(k)


# who is in which domain (module doc); starttimes guard against reused ids
_proc: dict[int, tuple[int, Domain | None]] = {}
_thread: dict[int, tuple[int, Domain | None]] = {}
_mixed: dict[int, set[int]] = {}     # process -> its threads when it became mixed
_named: set[int] = set()
_domains: set[Domain] = set()
_lock = threading.RLock()
_any = False


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent process, start time) of a process or thread, None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            s = f.read()
    except OSError:
        return None
    w = s[s.rindex(b")") + 2:].split()
    return int(w[1]), int(w[19])


def _name(pid: int, why: str) -> None:
    if pid in _named:
        return
    _named.add(pid)
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        exe = "?"
    print(f"rocketnet: process {pid} ({exe}): {why}; its stack sockets are held to the "
          "Landlock domain of its process (--via preload checks each thread's own)",
          file=sys.stderr)


def _proc_domain(pid: int) -> Domain | None:
    chain = []
    dom = None
    while True:
        st = _stat(pid)
        if st is None:
            break
        got = _proc.get(pid)
        if got is not None and got[0] == st[1]:
            dom = got[1]
            break
        if chain and pid in _mixed:
            _name(chain[0][0], "its parent process restricted one of its threads beside "
                  "others, so the Landlock domain it was made in is not known")
        chain.append((pid, st[1]))
        if st[0] == os.getpid():
            break                              # the program: the run's first domain
        if st[0] <= 1:
            _name(chain[0][0], "its parent is gone, so the Landlock domain it was made "
                  "in is not known")
            break
        pid = st[0]
    for p, start in chain:
        _proc[p] = (start, dom)
    return dom


def domain_of(tid: int) -> Domain | None:
    """The domain of the thread tid (None: the supervisor's own)."""
    if not _any:
        return None
    with _lock:
        st = _stat(tid)
        got = _thread.get(tid)
        if got is not None and st is not None and got[0] == st[1]:
            return got[1]
        tgid = tgid_of(tid)
        if tgid in _mixed and tid not in _mixed[tgid]:
            _name(tgid, "a thread made after another of its threads restricted itself "
                  "is of an unknown Landlock domain")
        return _proc_domain(tgid)


def h_restrict(call: Call) -> None:
    """landlock_restrict_self, on a worker: the copy first, then the kernel's call."""
    try:
        with _lock:
            _restrict(call)
    except (Gone, OSError, KeyError, ValueError, IndexError):
        pass                     # gone: the kernel's call answers (or nobody waits)
    finally:
        call.close()
        call.cont()


def _restrict(call: Call) -> None:
    global _any
    fd, flags = call.iarg(0), call.args[1]
    mine = call.take_fd(fd) if fd >= 0 else -1
    if mine < 0:                 # no ruleset, no new layer (or the kernel's EBADF)
        return
    try:
        _prune()
        _root_witness()
        parent = domain_of(call.tid)
        st = proc_status(call.tid)
        tgid, threads = int(st[b"Tgid"][0]), int(st[b"Threads"][0])
        err, dom = restricted(mine, flags) if parent is None else \
            parent.call(restricted, mine, flags)
    finally:
        os.close(mine)
    me, proc = _stat(call.tid), _stat(tgid)
    if err or me is None or proc is None or not call.valid():
        return
    _pin_children(tgid, _proc_domain(tgid))
    if threads == 1:
        _proc[tgid] = (proc[1], dom)
    else:
        _thread[call.tid] = (me[1], dom)
        _mixed.setdefault(tgid, set(_tasks(tgid)))
    _any = True


def _prune() -> None:
    """Forget processes and threads that are gone; end the threads of domains no one
    of the run is in (a server that forks a restricted child per client makes many)."""
    for table in (_proc, _thread):
        for pid, (start, _dom) in list(table.items()):
            st = _stat(pid)
            if st is None or st[1] != start:
                del table[pid]
    for pid in [p for p in _mixed if p not in _proc]:
        del _mixed[pid]
    live = {d for _s, d in _proc.values()} | {d for _s, d in _thread.values()}
    for dom in _domains - live:
        _domains.discard(dom)
        dom.jobs.put((None, (), None))


def _tasks(tgid: int) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{tgid}/task")]
    except OSError:
        return []


def _pin_children(tgid: int, dom: Domain | None) -> None:
    """The processes tgid made so far keep the domain they were made in."""
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st is not None and st[0] == tgid and int(name) not in _proc:
                _proc[int(name)] = (st[1], dom)


_current = threading.local()


def _hook(op: int, sa: int, n: int, arg: int) -> int:
    try:
        return _current.domain.call(stub.rn_ll_op, op, sa, n, arg)
    except Exception as e:  # noqa: BLE001 - never let a call through unchecked
        print(f"rocketnet seccomp: Landlock check: {e!r}", file=sys.stderr)
        return REFUSED[op]


HOOK = HOOK_T(_hook)


def enter(tid: int) -> Domain | None:
    """Before serving a call of thread tid on this thread: the stub's Landlock checks
    go to the caller's domain (None: it has none of the run's, nothing to do)."""
    dom = domain_of(tid)
    if dom is not None:
        _current.domain = dom
        stub.rn_sc_ll(HOOK, 0)
    return dom


def leave() -> None:
    stub.rn_sc_ll(HOOK_T(), 0)

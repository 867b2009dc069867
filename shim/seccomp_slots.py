"""Slots of the seccomp supervisor (shim/seccomp_super.py): where a copy of the
program's fd sits while the stub serves a call on it."""
from __future__ import annotations

import errno
import threading

from shim.seccomp_abi import stub


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



SLOTS: Slots        # the supervisor's, made once it knows its fd limit (seccomp_super.main)

"""/proc/<pid>/status: the kernel's word on a process's ids, capabilities and groups,
which every authorisation in the host and the supervisor goes by."""

from __future__ import annotations


def proc_status(pid: int) -> dict[bytes, list[bytes]]:
    """Each field of /proc/<pid>/status (a thread id works too) -> its values
    (OSError if the process is gone)."""
    with open(f"/proc/{pid}/status", "rb") as f:
        return {ln.split(b":", 1)[0]: ln.split()[1:] for ln in f.read().splitlines()}

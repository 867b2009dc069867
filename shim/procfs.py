"""/proc/<pid>/status: the kernel's word on a process's ids, capabilities and groups,
which every authorisation in the host and the supervisor goes by."""

from __future__ import annotations

import os


class Status:
    """One reading of the file; a field's values are split out when asked for (the
    supervisor reads a caller's ids on every call it serves: parsing every line cost
    half of it)."""

    __slots__ = ("text",)

    def __init__(self, text: bytes) -> None:
        self.text = b"\n" + text

    def __getitem__(self, field: bytes) -> list[bytes]:
        key = b"\n" + field + b":"
        i = self.text.find(key)
        if i < 0:
            raise KeyError(field)
        end = self.text.find(b"\n", i + 1)
        return self.text[i + len(key):end if end >= 0 else None].split()


def proc_status(pid: int) -> Status:
    """Each field of /proc/<pid>/status (a thread id works too) -> its values
    (OSError if the process is gone, KeyError for a field it lacks)."""
    fd = os.open(f"/proc/{pid}/status", os.O_RDONLY | os.O_CLOEXEC)
    try:
        parts = []
        while True:
            part = os.read(fd, 8192)
            if not part:
                break
            parts.append(part)
    finally:
        os.close(fd)
    return Status(b"".join(parts))

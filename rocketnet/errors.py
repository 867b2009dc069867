"""Errors shared by every layer of the stack (lowest module, imports nothing)."""

from __future__ import annotations

import errno as _errno


class SocketError(OSError):
    """A socket call failed; ``.errno`` carries the Linux errno value."""

    def __init__(self, err: int, msg: str | None = None) -> None:
        super().__init__(err, msg or _errno.errorcode.get(err, str(err)))

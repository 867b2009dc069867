"""The single exception type wire parsers raise."""

from __future__ import annotations


class Malformed(ValueError):
    """Input that is not a valid packet. ``reason`` is a short stable string such as
    ``'ipv4_truncated'`` used as a drop-counter key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

"""Address text as glibc's inet_pton/inet_ntop read and write it, without the socket
module (the stack does no I/O): IPv4 dotted quads, IPv6 with the longest zero run as
``::`` and IPv4-mapped/compatible addresses written with a dotted quad."""

from __future__ import annotations

import ipaddress

_ZERO10 = b"\x00" * 10
# dotted quads already read (a host's programs name the same few addresses per
# connection); bounded, so a program naming many costs only the parse
_PTON4: dict[str, bytes] = {}
_PTON4_MAX = 256


def pton4(text: str) -> bytes:
    """ValueError unless ``text`` is a dotted quad."""
    packed = _PTON4.get(text)
    if packed is None:
        packed = ipaddress.IPv4Address(text).packed
        if len(_PTON4) >= _PTON4_MAX:
            _PTON4.clear()
        _PTON4[text] = packed
    return packed


def pton6(text: str) -> bytes:
    """ValueError unless ``text`` is an IPv6 address (no scope suffix)."""
    if "%" in text:
        raise ValueError(text)
    return ipaddress.IPv6Address(text).packed


def ntop(a: bytes) -> str:
    if len(a) == 4:
        return f"{a[0]}.{a[1]}.{a[2]}.{a[3]}"
    if a[:10] == _ZERO10:
        # glibc writes ::ffff:a.b.c.d and ::a.b.c.d (all but the last two words zero)
        if a[10:12] == b"\xff\xff":
            return "::ffff:" + ntop(a[12:])
        if a[10:12] == b"\x00\x00" and a[12:14] != b"\x00\x00":
            return "::" + ntop(a[12:])
    return str(ipaddress.IPv6Address(a))

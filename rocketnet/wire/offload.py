"""Checksum completion for captures of checksum-offloaded devices (loopback): the frame
as it would be on a wire, every checksum filled, so a dissector checks them.  Never
raises: frames it does not understand (or fragments) are returned unchanged."""

from __future__ import annotations

import struct

from .checksum import checksum, pseudo_header_sum

_U16 = struct.Struct("!H")
_L4_OFFSET = {6: 16, 17: 6, 1: 2, 58: 2}       # TCP, UDP, ICMP, ICMPv6 checksum field


def _fill(buf: bytearray, off: int, proto: int, src: bytes, dst: bytes, end: int) -> None:
    at = _L4_OFFSET.get(proto)
    if at is None or off + at + 2 > end:
        return
    seg = memoryview(buf)[off:end]
    seg[at:at + 2] = b"\0\0"
    initial = 0 if proto == 1 else pseudo_header_sum(src, dst, proto, end - off)
    c = checksum(seg, initial)
    if proto == 17 and c == 0:
        c = 0xFFFF
    _U16.pack_into(buf, off + at, c)


def complete_checksums(frame: bytes | bytearray | memoryview) -> bytes:
    """An Ethernet II frame with its IPv4 header and TCP/UDP/ICMP/ICMPv6 checksums set."""
    buf = bytearray(frame)
    try:
        if len(buf) < 14:
            return bytes(buf)
        ethertype = _U16.unpack_from(buf, 12)[0]
        if ethertype == 0x0800 and len(buf) >= 34 and buf[14] >> 4 == 4:
            ihl = (buf[14] & 0x0F) * 4
            total = _U16.unpack_from(buf, 16)[0]
            end = 14 + total
            if ihl < 20 or end > len(buf) or total < ihl:
                return bytes(buf)
            buf[24:26] = b"\0\0"
            _U16.pack_into(buf, 24, checksum(memoryview(buf)[14:14 + ihl]))
            if _U16.unpack_from(buf, 20)[0] & 0x3FFF:
                return bytes(buf)          # a fragment: the checksum spans the datagram
            _fill(buf, 14 + ihl, buf[23], bytes(buf[26:30]), bytes(buf[30:34]), end)
        elif ethertype == 0x86DD and len(buf) >= 54 and buf[14] >> 4 == 6:
            end = 54 + _U16.unpack_from(buf, 18)[0]
            if end <= len(buf):
                _fill(buf, 54, buf[20], bytes(buf[22:38]), bytes(buf[38:54]), end)
    except (struct.error, ValueError, IndexError):
        pass
    return bytes(buf)

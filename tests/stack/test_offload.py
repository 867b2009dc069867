"""Checksum completion for captures of offloading devices (rocketnet.wire.offload)."""
from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from rocketnet.wire.checksum import pseudo_header_sum, verify
from rocketnet.wire.offload import complete_checksums

ETH4 = bytes(12) + b"\x08\x00"
ETH6 = bytes(12) + b"\x86\xdd"


def ipv4(proto: int, payload: bytes, frag: int = 0) -> bytes:
    return ETH4 + struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, frag, 64, proto,
                              0, b"\x7f\0\0\1", b"\x7f\0\0\1") + payload


@given(st.binary(min_size=20, max_size=300), st.sampled_from([6, 17, 1]))
def test_ipv4_checksums_verify(payload: bytes, proto: int) -> None:
    if proto == 17:
        payload = payload[:4] + struct.pack("!H", len(payload)) + payload[6:]
    out = complete_checksums(ipv4(proto, payload))
    assert verify(out[14:34])
    initial = 0 if proto == 1 else pseudo_header_sum(out[26:30], out[30:34], proto,
                                                     len(payload))
    assert verify(out[34:], initial)
    assert out[34:36] == payload[:2]            # only checksum fields change


@given(st.binary(min_size=20, max_size=300), st.sampled_from([6, 17, 58]))
def test_ipv6_checksums_verify(payload: bytes, nh: int) -> None:
    src, dst = b"\xfd" + bytes(14) + b"\1", b"\xfd" + bytes(14) + b"\2"
    frame = ETH6 + struct.pack("!IHBB16s16s", 0x60000000, len(payload), nh, 64, src,
                               dst) + payload
    out = complete_checksums(frame)
    assert verify(out[54:], pseudo_header_sum(src, dst, nh, len(payload)))


def test_fragments_keep_their_l4_bytes() -> None:
    frame = ipv4(6, bytes(40), frag=0x2000)
    out = complete_checksums(frame)
    assert out[34:] == frame[34:] and verify(out[14:34])


@given(st.binary(max_size=200))
def test_never_raises(data: bytes) -> None:
    for head in (b"", ETH4, ETH6):
        assert isinstance(complete_checksums(head + data), bytes)

"""rocketnet/dns.py: hostile replies are Malformed, never another exception or a hang;
queries encode as RFC 1035 lays them out."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rocketnet import dns
from rocketnet.wire.error import Malformed


@given(st.binary(max_size=600))
def test_parse_reply_any_bytes(data):
    try:
        rep = dns.parse_reply(data)
    except Malformed:
        return
    dns.follow(rep, dns.TYPE_A)


@given(st.binary(min_size=12, max_size=300), st.integers(0, 0xFFFF))
def test_parse_reply_mutated_header(tail, counts):
    data = struct.pack("!HHHHHH", 1, 0x8180, 1, counts, 0, 0) + tail
    try:
        dns.parse_reply(data)
    except Malformed:
        pass


def test_query_layout():
    q = dns.query(0xBEEF, "a.example.", dns.TYPE_A)
    assert q == (b"\xbe\xef\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                 b"\x01a\x07example\x00\x00\x01\x00\x01")
    with pytest.raises(ValueError):
        dns.encode_name("x" * 64 + ".example")
    assert dns.reverse_name(bytes(15) + b"\x01").startswith("1.0.0.0.")

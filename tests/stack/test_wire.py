from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from rocketnet.wire import (
    EthernetRepr,
    Ipv4Repr,
    Ipv6Repr,
    Malformed,
    TcpOptions,
    TcpRepr,
    checksum,
    parse_tcp_options,
)
from rocketnet.wire.checksum import pseudo_header_sum, verify

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
addr4 = st.binary(min_size=4, max_size=4)
addr6 = st.binary(min_size=16, max_size=16)


def _try(f, *a):
    try:
        f(*a)
    except Malformed as e:
        assert e.reason and isinstance(e.reason, str)


@settings(max_examples=400)
@given(st.binary(max_size=120))
def test_random_bytes_only_raise_malformed(data: bytes) -> None:
    _try(EthernetRepr.parse, data)
    _try(Ipv4Repr.parse, data)
    _try(Ipv4Repr.parse, data, False)
    _try(Ipv6Repr.parse, data)
    _try(TcpRepr.parse, data)
    _try(TcpRepr.parse, data, b"\x7f\0\0\1", b"\x7f\0\0\1")
    parse_tcp_options(data)  # never raises at all


@settings(max_examples=300)
@given(st.binary(max_size=40))
def test_hostile_option_bytes_in_a_tcp_header(opts: bytes) -> None:
    opts = opts + b"\x00" * (-len(opts) % 4)
    hdr = struct.pack("!HHIIBBHHH", 1, 2, 3, 4, ((20 + len(opts)) // 4) << 4, 0x02, 100, 0, 0)
    r = TcpRepr.parse(hdr + opts + b"payload")
    assert r.payload == b"payload"


def test_option_edge_cases() -> None:
    assert parse_tcp_options(b"\x02\x00\x05\xb4") == TcpOptions()  # len 0: stop, no loop
    assert parse_tcp_options(b"\x02\x01\x05\xb4") == TcpOptions()  # len 1: stop
    assert parse_tcp_options(b"\x02\x08\x05\xb4") == TcpOptions()  # runs past the end
    assert parse_tcp_options(b"\x02\x04\x05\xb4").mss == 1460
    assert parse_tcp_options(b"\x00\x02\x04\x05\xb4").mss is None  # after EOL
    assert parse_tcp_options(b"\x01\x01\x03\x03\x07").wscale == 7
    assert parse_tcp_options(b"\x03\x04\x07\x00").wscale is None  # wrong length ignored
    assert parse_tcp_options(b"\x02").mss is None


def test_malformed_reasons() -> None:
    cases = [
        (lambda: Ipv4Repr.parse(b"\x45" + b"\0" * 10), "ipv4_truncated"),
        (lambda: Ipv4Repr.parse(b"\x65" + b"\0" * 19), "ipv4_version"),
        (lambda: Ipv4Repr.parse(b"\x44" + b"\0" * 19), "ipv4_header_len"),
        (lambda: Ipv4Repr.parse(b"\x45\x00\x00\x30" + b"\0" * 16), "ipv4_total_len"),
        (lambda: Ipv6Repr.parse(b"\x60" + b"\0" * 10), "ipv6_truncated"),
        (lambda: TcpRepr.parse(b"\0" * 19), "tcp_truncated"),
        (lambda: TcpRepr.parse(b"\0" * 12 + b"\x40" + b"\0" * 7), "tcp_data_offset"),
    ]
    for f, reason in cases:
        try:
            f()
        except Malformed as e:
            assert e.reason == reason
        else:
            raise AssertionError(reason)


@given(st.binary(min_size=6, max_size=6), st.binary(min_size=6, max_size=6), u16, st.binary())
def test_ethernet_roundtrip(dst: bytes, src: bytes, et: int, payload: bytes) -> None:
    r = EthernetRepr(dst, src, et)
    back, pl = EthernetRepr.parse(r.to_bytes() + payload)
    assert back == r and bytes(pl) == payload


@given(
    addr4, addr4, u8, st.integers(0, 1000), st.integers(1, 255), u8, u16, st.booleans(),
    st.booleans(), st.integers(0, 0x1FFF).map(lambda x: x * 8),
)
def test_ipv4_roundtrip(src, dst, proto, plen, ttl, tos, ident, df, mf, frag) -> None:
    r = Ipv4Repr(src, dst, proto, plen, ttl, tos, ident, df, mf, frag)
    pkt = r.to_bytes() + b"\xaa" * plen + b"pad"
    back, payload = Ipv4Repr.parse(pkt)
    assert back == r
    assert len(payload) == plen
    # a flipped bit is caught by the header checksum
    bad = bytearray(pkt)
    bad[8] ^= 0x01
    try:
        Ipv4Repr.parse(bytes(bad))
    except Malformed as e:
        assert e.reason == "ipv4_checksum"
    else:
        raise AssertionError("checksum not verified")


@given(addr6, addr6, u8, st.integers(0, 1000), u8, u8, st.integers(0, 0xFFFFF))
def test_ipv6_roundtrip(src, dst, nh, plen, hops, tc, flow) -> None:
    r = Ipv6Repr(src, dst, nh, plen, hops, tc, flow)
    back, payload = Ipv6Repr.parse(r.to_bytes() + b"\x55" * plen)
    assert back == r and len(payload) == plen


options = st.builds(
    TcpOptions,
    mss=st.none() | u16,
    wscale=st.none() | st.integers(0, 14),
    sack_perm=st.booleans(),
    timestamps=st.none() | st.tuples(u32, u32),
    sack_blocks=st.lists(st.tuples(u32, u32), max_size=1).map(tuple),
)


@given(u16, u16, u32, u32, st.integers(0, 0x1FF), u16, u16, options, st.binary(max_size=200),
       st.sampled_from([(b"\x7f\0\0\1", b"\x7f\0\0\2"), (b"\0" * 15 + b"\1", b"\0" * 15 + b"\1")]))
def test_tcp_roundtrip(sport, dport, seq, ack, flags, win, urg, opts, payload, addrs) -> None:
    r = TcpRepr(sport, dport, seq, ack, flags, win, urg, opts, payload)
    src, dst = addrs
    raw = r.to_bytes(src, dst)
    assert len(raw) == r.header_len() + len(payload)
    back = TcpRepr.parse(raw, src, dst)
    assert back == r
    assert verify(raw, pseudo_header_sum(src, dst, 6, len(raw)))


@given(st.binary(max_size=300))
def test_checksum_properties(data: bytes) -> None:
    c = checksum(data)
    padded = data + (b"\0" if len(data) % 2 else b"")
    assert verify(padded + struct.pack("!H", c))


def test_checksum_known_value() -> None:
    # RFC 1071 example words
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D

"""Property tests for the network-layer parsers: hostile bytes only ever raise
Malformed (or are dropped and counted), and parse(emit(x)) == x."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rocketnet.iface.reassembly import Reassembler
from rocketnet.lab import Hub, host
from rocketnet.wire import Malformed
from rocketnet.wire.arp import ArpRepr
from rocketnet.wire.icmp import IcmpRepr, NdpRepr
from rocketnet.wire.ipv6ext import FragmentRepr, walk

mac = st.binary(min_size=6, max_size=6)
a4 = st.binary(min_size=4, max_size=4)
a6 = st.binary(min_size=16, max_size=16)


@settings(max_examples=300)
@given(st.binary(max_size=200), st.integers(0, 255))
def test_hostile_bytes_only_malformed(data: bytes, nh: int) -> None:
    for f in (lambda: ArpRepr.parse(data), lambda: IcmpRepr.parse(data),
              lambda: IcmpRepr.parse(data, 6, b"\0" * 16, b"\0" * 16),
              lambda: NdpRepr.from_icmp(IcmpRepr(6, 135, 0, 0, data)),
              lambda: FragmentRepr.parse(data), lambda: walk(nh, data)):
        try:
            f()
        except Malformed as e:
            assert e.reason


@given(st.sampled_from([1, 2]), mac, a4, mac, a4)
def test_arp_roundtrip(op, sha, spa, tha, tpa) -> None:
    r = ArpRepr(op, sha, spa, tha, tpa)
    assert ArpRepr.parse(r.to_bytes()) == r


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 2**32 - 1),
       st.binary(max_size=100), a6, a6)
def test_icmp_roundtrip(t, code, rest, body, src, dst) -> None:
    r4 = IcmpRepr(4, t, code, rest, body)
    assert IcmpRepr.parse(r4.to_bytes()) == r4
    r6 = IcmpRepr(6, t, code, rest, body)
    assert IcmpRepr.parse(r6.to_bytes(src, dst), 6, src, dst) == r6


@given(st.sampled_from([135, 136]), a6, st.sampled_from([0, 0x40000000, 0xE0000000]),
       st.one_of(st.none(), mac))
def test_ndp_roundtrip(t, target, flags, ll) -> None:
    r = NdpRepr(t, target, flags if t == 136 else 0, ll)
    assert NdpRepr.from_icmp(r.to_icmp()) == r


@given(st.integers(0, 255), st.integers(0, 8191).map(lambda x: x * 8), st.booleans(),
       st.integers(0, 2**32 - 1))
def test_fragment_roundtrip(nh, off, more, ident) -> None:
    r = FragmentRepr(nh, off, more, ident)
    assert FragmentRepr.parse(r.to_bytes()) == r


@settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 40), st.booleans()),
                max_size=20))
def test_reassembly_never_raises_and_bounds_memory(frags) -> None:
    stats: dict[str, int] = {}
    r = Reassembler(stats, "t_", max_bytes=2000, timeout=1.0)
    payload = bytes(range(256)) * 8
    for i, (o, n, more) in enumerate(frags):
        off = o * 8
        r.add((1,), off, more, payload[off % 256 : off % 256 + n * 8], i * 0.1)
        assert r.mem <= 2000
    r.poll(100.0)
    assert r.mem == 0 and not r.pending


def test_reassembly_in_any_order_and_overlap_drop() -> None:
    stats: dict[str, int] = {}
    r = Reassembler(stats, "t_")
    data = bytes(range(256)) * 10
    parts = [(o, data[o : o + 512]) for o in range(0, len(data), 512)]
    out = None
    for o, b in reversed(parts):
        out = r.add((7,), o, o + 512 < len(data), b, 0.0) or out
    assert out is not None and out[0] == data
    assert r.add((8,), 0, True, data[:16], 0.0) is None
    assert r.add((8,), 8, True, data[8:24], 0.0) is None
    assert stats["t_frag_overlap"] == 1 and not r.pending


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=14, max_size=300))
def test_hostile_frames_into_the_stack_never_raise(frame: bytes) -> None:
    hub = Hub()
    a = host(hub, 1)
    dev = a.interfaces[1].raw_device
    for f in (frame, b"\x02\x00\x00\x00\x00\x01" + frame[6:12] + b"\x08\x06" + frame[14:],
              b"\x02\x00\x00\x00\x00\x01" + frame[6:12] + b"\x86\xdd" + frame[14:],
              b"\xff" * 6 + frame[6:12] + b"\x08\x00" + frame[14:]):
        dev.inject(f)
    a.poll(0.0)
    a.poll(40.0)

"""Network layer between stacks on an in-memory Ethernet hub (virtual clock): ARP,
NDP, ICMP echo, fragmentation both ways, ICMP errors to the socket layer, neighbor
failure, and TCP over Ethernet with loss."""
from __future__ import annotations

import random
import struct

from rocketnet import constants as C
from rocketnet.lab import Hub, VirtualClock, host, run
from rocketnet.wire.checksum import checksum, pseudo_header_sum
from rocketnet.wire.icmp import IcmpRepr

A4, B4 = bytes((10, 0, 0, 1)), bytes((10, 0, 0, 2))
A6 = b"\xfd" + b"\x00" * 14 + b"\x01"
B6 = b"\xfd" + b"\x00" * 14 + b"\x02"


def _echo(version: int, src: bytes, dst: bytes, size: int, ident: int = 7) -> bytes:
    m = bytearray(struct.pack("!BBHHH", 8 if version == 4 else 128, 0, 0, ident, 1))
    m += bytes(random.Random(size).randrange(256) for _ in range(size))
    init = 0 if version == 4 else pseudo_header_sum(src, dst, 58, len(m))
    struct.pack_into("!H", m, 2, checksum(m, init))
    return bytes(m)


def _ping(version: int, size: int, max_time: float = 5.0):
    hub = Hub()
    a, b = host(hub, 1), host(hub, 2, seed=3)
    clk = VirtualClock()
    replies = []
    b.ip.icmp_hooks.append(lambda iface, v, s, d, t, c, rest, body: replies.append(
        (v, s, t, bytes(body))))
    src, dst = (B4, A4) if version == 4 else (B6, A6)
    req = _echo(version, src, dst, size)
    b.ip.send_ip(b.interfaces[1], version, src, dst, 1 if version == 4 else 58, req)
    run([a, b], clk, until=lambda: replies, max_time=max_time)
    return hub, a, b, replies, req


def test_arp_resolves_and_echo_reply_v4() -> None:
    hub, a, b, replies, req = _ping(4, 56)
    assert len(replies) == 1
    v, s, t, body = replies[0]
    assert (v, s, t) == (4, A4, 0) and body[4:] == req[4:]
    assert b.interfaces[1].neigh.entries[A4].mac == bytes((2, 0, 0, 0, 0, 1))
    assert a.interfaces[1].neigh.entries[B4].mac == bytes((2, 0, 0, 0, 0, 2))
    assert hub.frames[0][12:14] == b"\x08\x06" and hub.frames[0][:6] == b"\xff" * 6
    assert a.stats["icmp_echo_replies_sent"] == 1


def test_ndp_resolves_and_echo_reply_v6() -> None:
    hub, a, b, replies, req = _ping(6, 56)
    assert [(v, s, t) for v, s, t, _ in replies] == [(6, A6, 129)]
    assert replies[0][3][4:] == req[4:]
    ns = hub.frames[0]
    assert ns[:6] == b"\x33\x33\xff\x00\x00\x01"          # solicited-node of fd00::1
    assert ns[14 + 24 : 14 + 40] == b"\xff\x02" + b"\x00" * 9 + b"\x01\xff\x00\x00\x01"
    assert b.interfaces[1].neigh.entries[A6].state == "REACHABLE"


def test_fragmented_echo_both_ways() -> None:
    for version in (4, 6):
        hub, a, b, replies, req = _ping(version, 5000)
        assert len(replies) == 1 and replies[0][3][4:] == req[4:]
        key = "ipv4_" if version == 4 else "ipv6_"
        assert a.stats[key + "reassembled"] == 1 and b.stats[key + "reassembled"] == 1
        assert a.stats[key + "fragments_sent"] == 1
        assert max(len(f) for f in hub.frames) <= 1514


def test_link_local_echo() -> None:
    hub = Hub()
    a, b = host(hub, 1), host(hub, 2)
    clk = VirtualClock()
    la = a.interfaces[1].source_for(b"\xfe\x80" + b"\x00" * 14)
    lb = b.interfaces[1].source_for(b"\xfe\x80" + b"\x00" * 14)
    assert la[:8] == b"\xfe\x80" + b"\x00" * 6 and la[8:] == b"\x00\x00\x00\xff\xfe\x00\x00\x01"
    got = []
    b.ip.icmp_hooks.append(lambda *x: got.append(x))
    b.ip.send_ip(b.interfaces[1], 6, lb, la, 58, _echo(6, lb, la, 10))
    run([a, b], clk, until=lambda: got, max_time=5)
    assert got and got[0][2] == la and got[0][4] == 129


def _tcp_transfer(a, b, clk, family, addr, size, max_time=60.0, port=4000):
    lst = a.socket(family, C.SOCK_STREAM)
    lst.bind(("", port) if family == C.AF_INET else ("::", port))
    lst.listen(4)
    c = b.socket(family, C.SOCK_STREAM)
    c.connect((addr, port), clk.now)
    up = bytes(random.Random(size).getrandbits(8) for _ in range(size))
    down = up[::-1]
    st = {"srv": None, "sent_up": 0, "sent_down": 0}
    rx_srv, rx_cli = bytearray(), bytearray()

    def step() -> bool:
        if st["srv"] is None:
            st["srv"] = lst.accept()
        if c.state == "ESTABLISHED" and st["sent_up"] < size:
            st["sent_up"] += c.send(up[st["sent_up"] : st["sent_up"] + 65536])
        rx_cli.extend(c.recv(1 << 20))
        s = st["srv"]
        if s is not None:
            rx_srv.extend(s.recv(1 << 20))
            if st["sent_down"] < size:
                st["sent_down"] += s.send(down[st["sent_down"] : st["sent_down"] + 65536])
        return len(rx_srv) == size and len(rx_cli) == size

    run([a, b], clk, until=step, max_time=max_time)
    assert bytes(rx_srv) == up and bytes(rx_cli) == down


def test_tcp_over_ethernet_v4_v6() -> None:
    hub = Hub()
    a, b = host(hub, 1), host(hub, 2, seed=9)
    clk = VirtualClock()
    _tcp_transfer(a, b, clk, C.AF_INET, "10.0.0.1", 300_000)
    _tcp_transfer(a, b, clk, C.AF_INET6, "fd00::1", 300_000, port=4001)
    assert max(len(f) for f in hub.frames) <= 1514


def test_tcp_over_ethernet_with_loss() -> None:
    hub = Hub()
    rng = random.Random(42)
    hub.drop = lambda f: f[12:14] == b"\x08\x00" and rng.random() < 0.03
    a, b = host(hub, 1), host(hub, 2, seed=9)
    clk = VirtualClock()
    _tcp_transfer(a, b, clk, C.AF_INET, "10.0.0.1", 200_000, max_time=300)
    assert b.stats["tcp_retransmits"] + a.stats["tcp_retransmits"] > 0


def test_connect_refused_by_icmp_port_unreachable() -> None:
    """The peer answers the SYN with ICMP port unreachable: connect fails fast."""
    for version, family, addr, src, dst in ((4, C.AF_INET, "10.0.0.1", B4, A4),
                                            (6, C.AF_INET6, "fd00::1", B6, A6)):
        hub = Hub()
        a, b = host(hub, 1), host(hub, 2)
        clk = VirtualClock()
        syns = []
        et = b"\x08\x00" if version == 4 else b"\x86\xdd"
        proto_at = 14 + 9 if version == 4 else 14 + 6

        def drop(f: bytes, et=et, proto_at=proto_at, syns=syns) -> bool:
            if f[12:14] == et and f[proto_at] == 6 and f[:6] != b"\xff" * 6:
                syns.append(f)
                return True
            return False
        hub.drop = drop
        c = b.socket(family, C.SOCK_STREAM)
        c.connect((addr, 9), clk.now)
        run([a, b], clk, until=lambda syns=syns: syns, max_time=5)
        pkt = memoryview(syns[0])[14:]
        if version == 4:
            a.ip.send_error(a.interfaces[1], 4, src, dst, pkt, 3, 3, 0)
        else:
            a.ip.send_error(a.interfaces[1], 6, src, dst, pkt, 1, 4, 0)
        run([a, b], clk, until=lambda c=c: c.state == "CLOSED", max_time=0.5)
        assert c.state == "CLOSED" and c.error == C.ECONNREFUSED
        assert b.stats["tcp_icmp_errors"] == 1


def test_connect_refused_by_rst_over_ethernet() -> None:
    hub = Hub()
    a, b = host(hub, 1), host(hub, 2)
    clk = VirtualClock()
    c = b.socket(C.AF_INET, C.SOCK_STREAM)
    c.connect(("10.0.0.1", 9), clk.now)
    run([a, b], clk, until=lambda: c.state == "CLOSED", max_time=1)
    assert c.error == C.ECONNREFUSED and clk.now < 0.1


def test_unresolved_neighbor_gives_ehostunreach() -> None:
    hub = Hub()
    b = host(hub, 2)
    clk = VirtualClock()
    c = b.socket(C.AF_INET, C.SOCK_STREAM)
    c.connect(("10.0.0.77", 80), clk.now)
    run([b], clk, until=lambda: c.state == "CLOSED", max_time=10)
    assert c.error == 113 and 2.5 < clk.now < 4.0
    arps = [f for f in hub.frames if f[12:14] == b"\x08\x06"]
    assert len(arps) == 3
    assert b.interfaces[1].stats["neigh_failed"] == 1


def test_default_gateway_route() -> None:
    hub = Hub()
    a, b = host(hub, 1), host(hub, 2)
    b.interfaces[1].gateway4 = A4
    clk = VirtualClock()
    frames_before = len(hub.frames)
    c = b.socket(C.AF_INET, C.SOCK_STREAM)
    c.connect(("192.0.2.9", 80), clk.now)       # off-link: via the gateway's MAC
    run([a, b], clk, until=lambda: any(
        f[12:14] == b"\x08\x00" and f[30:34] == bytes((192, 0, 2, 9))
        for f in hub.frames[frames_before:]), max_time=3)
    syn = [f for f in hub.frames
           if f[12:14] == b"\x08\x00" and f[30:34] == bytes((192, 0, 2, 9))]
    assert syn and syn[0][:6] == bytes((2, 0, 0, 0, 0, 1))


def test_udp_to_closed_port_gets_port_unreachable() -> None:
    hub = Hub()
    a, b = host(hub, 1), host(hub, 2)
    clk = VirtualClock()
    got = []
    b.ip.icmp_hooks.append(lambda iface, v, s, d, t, c, rest, body: got.append((t, c)))
    udp = struct.pack("!HHHH", 5555, 9, 12, 0) + b"abcd"
    b.ip.send_ip(b.interfaces[1], 4, B4, A4, 17, udp)
    run([a, b], clk, until=lambda: got, max_time=3)
    assert got == [(3, 3)] and a.stats["udp_no_port"] == 1


def test_echo_to_broadcast_ignored_and_bad_checksum_dropped() -> None:
    hub = Hub()
    a, b = host(hub, 1), host(hub, 2)
    clk = VirtualClock()
    b.ip.send_ip(b.interfaces[1], 4, B4, bytes((10, 0, 0, 255)), 1, _echo(4, B4, A4, 8))
    bad = bytearray(_echo(4, B4, A4, 8))
    bad[-1] ^= 0xFF
    b.ip.send_ip(b.interfaces[1], 4, B4, A4, 1, bytes(bad))
    run([a, b], clk, max_time=2)
    assert a.stats["icmp_echo_broadcast_ignored"] == 1
    assert a.stats["drop_icmp_checksum"] == 1
    assert "icmp_echo_replies_sent" not in a.stats


def test_icmp_repr_roundtrip_example() -> None:
    r = IcmpRepr(6, 128, 0, 0x10001, b"hello")
    assert IcmpRepr.parse(r.to_bytes(A6, B6), 6, A6, B6) == r


def test_neighbor_timers_scan_only_when_due() -> None:
    """The cache keeps a lower bound of its next deadline (NeighborCache.due): ticks
    before it leave the entries alone (no scan per wake-up), poll_at answers from it,
    and the tick at it runs the timers (a REACHABLE entry goes STALE)."""
    _hub, _a, b, _replies, _req = _ping(4, 56)
    iface = b.interfaces[1]
    e = iface.neigh.entries[A4]
    assert iface.neigh.due is not None and iface.neigh.due <= e.expires   # a lower bound
    iface.tick(iface.neigh.due)     # (the probe's retransmission time): made exact
    assert e.state == "REACHABLE" and iface.neigh.due == e.expires == iface.poll_at()
    due = e.expires
    e.expires = due - 5            # what a scan would expire now, were one made
    iface.tick(due - 1)
    assert e.state == "REACHABLE"
    iface.tick(due)
    assert e.state == "STALE" and iface.neigh.due is None and iface.poll_at() is None


def test_plain_device_queues() -> None:
    """Frames go straight to and from a device's deque only while send/recv are the
    plain ones; a subclass that changes them, or a wrapper, gets the calls."""
    from rocketnet.lab import DropLoopback
    from rocketnet.phy import LoopbackDevice, MonitorDevice

    lo = LoopbackDevice()
    assert lo.rx_queue() is lo.rxq and lo.tx_queue() is lo.rxq
    drop = DropLoopback()           # its send may drop: no tx queue; recv is plain
    assert drop.rx_queue() is drop.rxq and drop.tx_queue() is None
    mon = MonitorDevice(lo)         # shows frames to taps: both through its calls
    assert mon.rx_queue() is None and mon.tx_queue() is None

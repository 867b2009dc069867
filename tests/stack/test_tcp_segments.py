"""Segment-exact TCP behaviour tests (smoltcp style): a scripted peer feeds segments
at chosen virtual times and the test asserts the exact segments the stack emits."""

from __future__ import annotations

import struct

import pytest

from rocketnet import constants as C
from rocketnet.constants import TCP_USER_TIMEOUT
from rocketnet.lab.harness import ACK, FIN, PSH, RST, SYN, Harness, TcpOptions
from rocketnet.socket import SocketError
from rocketnet.transport import TcpConfig

FULL = TcpOptions(mss=1460, sack_perm=True, timestamps=(5000, 0), wscale=7)


def test_synack_options_answer_what_was_offered() -> None:
    h = Harness()
    _lst, s, synack = h.handshake(FULL)
    o = synack.options
    assert o.mss == 65495 and o.sack_perm and o.wscale == 7
    assert o.timestamps is not None and o.timestamps[1] == 5000  # TSecr echoes our SYN
    # Linux's order: MSS, SACK-permitted, timestamps, NOP, window scale
    assert synack.header_len() == 40
    assert s.inner.mss == 1460 - 12
    # a bare SYN gets a bare SYN-ACK (only MSS)
    h2 = Harness()
    _lst2, s2, synack2 = h2.handshake(TcpOptions(mss=1460))
    assert synack2.options == TcpOptions(mss=65495)
    assert not s2.inner.sack_ok and not s2.inner.ts_ok and not s2.inner.ws_ok
    assert s2.inner.mss == 1460


def test_our_syn_offers_everything() -> None:
    h = Harness()
    c = h.stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    c.connect(("127.0.0.2", 80), h.now)
    h.advance(0.001)
    (syn,) = h.recv()
    assert syn.flags == SYN and syn.ack == 0 and syn.window == 65535
    o = syn.options
    assert o.mss == 65495 and o.sack_perm and o.wscale == 7
    assert o.timestamps is not None and o.timestamps[1] == 0
    assert syn.header_len() == 40


@pytest.mark.parametrize("rcvbuf, wscale", [(4096, 0), (16384, 0), (65536, 1), (1 << 20, 5)])
def test_set_rcvbuf_bounds_the_window_scale(rcvbuf: int, wscale: int) -> None:
    """Linux tcp_select_initial_window: with SO_RCVBUF set, the scale fits that buffer's
    largest window (ilog2(rcvbuf) - 15 of the doubled size's half), in our SYN and in
    the SYN-ACK of a listener that set it; unset, tcp_rmem[2]'s (7)."""
    h = Harness()
    c = h.stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    c.setsockopt(C.SOL_SOCKET, C.SO_RCVBUF, rcvbuf)
    c.connect(("127.0.0.2", 80), h.now)
    h.advance(0.001)
    (syn,) = h.recv()
    assert syn.flags == SYN and syn.options.wscale == wscale
    h2 = Harness()
    _lst, _s, synack = h2.handshake(FULL, rcvbuf=rcvbuf)
    assert synack.options.wscale == wscale


def test_timestamps_echoed_and_paws_drops_old_segment() -> None:
    h = Harness()
    _lst, s, synack = h.handshake(FULL)
    my_ts = synack.options.timestamps[0]
    seq = 1001
    h.send(ACK | PSH, seq, synack.seq + 1, b"hello",
           options=TcpOptions(timestamps=(6000, my_ts)))
    h.advance(0.001)
    assert s.recv(100) == b"hello"
    acks = h.recv()
    assert acks and acks[-1].ack == seq + 5
    assert acks[-1].options.timestamps[1] == 6000  # TSecr = the peer's TSval
    # an old duplicate with a stale TSval is dropped by PAWS, answered by an ACK
    old = TcpOptions(timestamps=(5500, my_ts))
    h.send(ACK | PSH, seq + 5, synack.seq + 1, b"stale", options=old)
    h.advance(0.001)
    assert s.recv(100) == b""
    (ack,) = h.recv()
    assert ack.flags == ACK and ack.ack == seq + 5
    assert h.stack.stats["drop_tcp_paws"] == 1


def test_out_of_order_reassembly_with_sack_blocks() -> None:
    h = Harness()
    _lst, s, synack = h.handshake(TcpOptions(mss=1460, sack_perm=True, wscale=7))
    una = synack.seq + 1
    base = 1001
    h.send(ACK, base + 100, una, b"b" * 100)  # second segment first
    h.send(ACK, base + 300, una, b"d" * 100)  # and the fourth
    h.advance(0.001)
    dup = h.recv()
    assert [a.ack for a in dup] == [base, base]  # immediate duplicate ACKs
    assert dup[0].options.sack_blocks == ((base + 100, base + 200),)
    # the block changed last comes first (RFC 2018)
    assert dup[1].options.sack_blocks == ((base + 300, base + 400), (base + 100, base + 200))
    assert s.rx_available() == 0
    h.send(ACK, base, una, b"a" * 100)  # fills the first hole
    h.advance(0.001)
    assert s.recv(1000) == b"a" * 100 + b"b" * 100
    ack = h.recv()[-1]
    assert ack.ack == base + 200
    assert ack.options.sack_blocks == ((base + 300, base + 400),)
    h.send(ACK, base + 150, una, b"b" * 50 + b"c" * 100 + b"d" * 50)  # overlaps both sides
    h.advance(0.001)
    assert s.recv(1000) == b"c" * 100 + b"d" * 100
    ack = h.recv()[-1]
    # no SACK blocks left, only the D-SACK of the part below rcv_nxt (RFC 2883)
    assert ack.ack == base + 400 and ack.options.sack_blocks == ((base + 150, base + 200),)


def test_out_of_order_fin_is_kept() -> None:
    h = Harness()
    _lst, s, synack = h.handshake(TcpOptions(mss=1460, sack_perm=True))
    una = synack.seq + 1
    h.send(ACK | FIN, 1011, una, b"tail")
    h.advance(0.001)
    assert s.state == "ESTABLISHED"
    h.send(ACK, 1001, una, b"0123456789")
    h.advance(0.001)
    assert s.recv(100) == b"0123456789tail" and s.rx_eof
    assert s.state == "CLOSE_WAIT"
    assert h.recv()[-1].ack == 1001 + 14 + 1


def test_out_of_order_queue_is_bounded() -> None:
    h = Harness()
    _lst, s, synack = h.handshake(TcpOptions(mss=1460, sack_perm=True), rcvbuf=4096)
    una = synack.seq + 1
    # the window is the buffer (4096 bytes, no scaling): out-of-order data fills at
    # most the window, the rest is refused
    for i in range(1, 6):
        h.send(ACK, 1001 + 1000 * i, una, b"x" * 1000)
    h.advance(0.001)
    t = s.inner
    assert t.rcvbuf_limit == 4096
    assert t.ooo_bytes == 4096 - 1000  # [1000, 4096) held, the hole [0, 1000) open
    assert h.stack.stats["drop_tcp_out_of_window"] == 1
    # and the number of separate blocks is bounded too
    cfg = TcpConfig()
    cfg.ooo_max_blocks = 2
    h2 = Harness(config=cfg)
    _lst2, s2, synack2 = h2.handshake(TcpOptions(mss=1460, sack_perm=True))
    for i in (1, 3, 5):
        h2.send(ACK, 1001 + 100 * i, synack2.seq + 1, b"y" * 50)
    h2.advance(0.001)
    assert len(s2.inner.ooo) == 2 and s2.inner.ooo_bytes == 100
    assert h2.stack.stats["drop_tcp_ooo_limit"] == 1
    h2.send(ACK, 1001, synack2.seq + 1, b"z" * 100)
    h2.advance(0.001)
    assert s2.recv(1000) == b"z" * 100 + b"y" * 50  # the hole at 150 stays open
    assert s2.inner.ooo_bytes == 50


def test_rst_rules_rfc5961() -> None:
    h = Harness()
    _lst, s, synack = h.handshake()
    una = synack.seq + 1
    h.send(RST, 1001 + 10, 0)  # in window, not exact: challenge ACK
    h.advance(0.001)
    (ch,) = h.recv()
    assert ch.flags == ACK and ch.seq == una and ch.ack == 1001
    assert s.state == "ESTABLISHED"
    h.send(RST, 1001 + 10_000_000, 0)  # out of window: silently dropped
    h.advance(0.001)
    assert h.recv() == [] and s.state == "ESTABLISHED"
    h.advance(0.5)  # past the per-socket rate limit
    h.send(SYN, 5, 0)  # SYN in a synchronized state: challenge ACK too
    h.advance(0.001)
    (ch,) = h.recv()
    assert ch.flags == ACK and ch.ack == 1001 and s.state == "ESTABLISHED"
    assert h.stack.stats["tcp_challenge_acks"] == 2
    h.send(RST, 1001, 0)  # exact: reset
    h.advance(0.001)
    assert s.state == "CLOSED" and s.error == C.ECONNRESET


def test_out_of_window_data_gets_an_ack() -> None:
    h = Harness()
    _lst, s, synack = h.handshake()
    h.send(ACK, 1001 - 5000, synack.seq + 1, b"old")
    h.advance(0.001)
    (a,) = h.recv()
    assert a.flags == ACK and a.ack == 1001 and a.payload == b""
    assert h.stack.stats["drop_tcp_out_of_window"] == 1


def test_ack_for_unsent_data_is_dropped_and_answered() -> None:
    h = Harness()
    _lst, s, synack = h.handshake()
    h.send(ACK | PSH, 1001, synack.seq + 1000, b"data")
    h.advance(0.001)
    assert s.recv(10) == b""  # dropped
    (a,) = h.recv()
    assert a.ack == 1001


def test_isn_rfc6528_keyed_and_clocked() -> None:
    h = Harness()
    tcp = h.stack.tcp
    a = tcp._isn(b"\x7f\0\0\1", 1, b"\x7f\0\0\2", 2)
    b = tcp._isn(b"\x7f\0\0\1", 1, b"\x7f\0\0\2", 3)
    assert a != b
    tcp.now = 1.0
    assert (tcp._isn(b"\x7f\0\0\1", 1, b"\x7f\0\0\2", 2) - a) & 0xFFFFFFFF == 250000
    other = Harness(seed=2).stack.tcp
    assert other._isn(b"\x7f\0\0\1", 1, b"\x7f\0\0\2", 2) != a  # keyed by the secret


def test_sack_recovery_retransmits_exactly_the_hole() -> None:
    h = Harness()
    _lst, s, synack = h.handshake(TcpOptions(mss=1000, sack_perm=True, wscale=7),
                                  window=2000)
    una = synack.seq + 1
    h.send(ACK, 1001, una, window=2000)  # window 2000 << 7: plenty
    h.advance(0.001)
    h.recv()
    s.setsockopt(C.IPPROTO_TCP, C.TCP_NODELAY, 1)
    s.send(bytes(6000))
    h.advance(0.001)
    segs = h.recv()
    assert [len(x.payload) for x in segs] == [1000] * 6
    # segment 2 (una+1000..una+2000) is lost; the peer SACKs 3..6
    for k in range(3, 6):
        h.send(ACK, 1001, una + 1000, window=2000,
               options=TcpOptions(sack_blocks=((una + 2000, una + 1000 * k),)))
    h.advance(0.001)
    out = h.recv()
    assert out[0].seq == una + 1000 and len(out[0].payload) == 1000
    assert all(x.seq != una + 2000 for x in out)  # SACKed data is not resent
    assert h.stack.stats["tcp_fast_retransmits"] == 1
    assert s.inner.ca_state == 3
    h.send(ACK, 1001, una + 6000, window=2000)
    h.advance(0.001)
    assert s.inner.ca_state == 0 and s.inner.recover is None
    info = s.getsockopt(C.IPPROTO_TCP, C.TCP_INFO, 280)
    assert struct.unpack_from("=I", info, 100)[0] == 1  # total_retrans


def test_zero_window_probes_back_off() -> None:
    h = Harness()
    _lst, s, synack = h.handshake(TcpOptions(mss=1000))
    una = synack.seq + 1
    h.send(ACK, 1001, una, window=0)
    h.advance(0.001)
    s.send(b"x" * 3000)
    h.advance(0.001)
    assert h.recv() == []  # window closed
    probes = []
    t0 = h.now
    for _ in range(3000):
        h.advance(0.01)
        for seg in h.recv():
            probes.append((round(h.now - t0, 2), seg))
        if len(probes) == 3:
            break
    assert [p[1].seq for p in probes] == [una - 1] * 3  # one byte below snd_una
    assert all(p[1].payload == b"" and p[1].flags == ACK for p in probes)
    gaps = [probes[1][0] - probes[0][0], probes[2][0] - probes[1][0]]
    assert gaps[1] == pytest.approx(2 * gaps[0], abs=0.02)  # exponential backoff
    h.send(ACK, 1001, una, window=65535)  # the window opens
    h.advance(0.001)
    assert sum(len(x.payload) for x in h.recv()) == 3000


def test_keepalive_probe_segment() -> None:
    h = Harness()
    _lst, s, synack = h.handshake(TcpOptions(mss=1000))
    s.setsockopt(C.SOL_SOCKET, C.SO_KEEPALIVE, 1)
    s.setsockopt(C.IPPROTO_TCP, C.TCP_KEEPIDLE, 5)
    s.setsockopt(C.IPPROTO_TCP, C.TCP_KEEPINTVL, 1)
    s.setsockopt(C.IPPROTO_TCP, C.TCP_KEEPCNT, 2)
    h.run_until(h.now + 5.01)
    (p,) = h.recv()
    assert p.flags == ACK and p.seq == synack.seq and p.payload == b""  # snd_una - 1
    h.run_until(h.now + 1.0)
    assert len(h.recv()) == 1
    h.run_until(h.now + 1.1)
    rst = h.recv()
    assert rst and rst[-1].flags & RST
    assert s.state == "CLOSED" and s.error == C.ETIMEDOUT


def test_user_timeout_gives_etimedout() -> None:
    h = Harness()
    _lst, s, synack = h.handshake(TcpOptions(mss=1000))
    s.setsockopt(C.IPPROTO_TCP, 18, 3000)  # TCP_USER_TIMEOUT, ms
    assert struct.unpack("i", s.getsockopt(C.IPPROTO_TCP, 18, 4))[0] == 3000
    s.send(b"x" * 100)
    h.advance(0.001)
    h.run_until(h.now + 2.5)
    assert s.state == "ESTABLISHED"
    h.run_until(h.now + 3.0)
    assert s.state == "CLOSED" and s.error == C.ETIMEDOUT
    # retries2 alone would have allowed minutes
    assert h.now < 10


def test_rto_backoff_and_karn() -> None:
    h = Harness()
    _lst, s, synack = h.handshake(TcpOptions(mss=1000))
    s.send(b"y" * 10)
    h.advance(0.001)
    assert len(h.recv()) == 1
    rto0 = s.inner.rto
    times = []
    t0 = h.now
    for _ in range(5000):
        h.advance(0.01)
        if h.recv():
            times.append(h.now - t0)
        if len(times) == 3:
            break
    assert times[1] - times[0] == pytest.approx(2 * (times[0]), rel=0.05, abs=0.02)
    assert times[2] - times[1] == pytest.approx(4 * (times[0]), rel=0.05, abs=0.02)
    assert s.inner.rto == pytest.approx(rto0 * 8)
    # the ACK of a retransmitted segment gives no RTT sample (Karn): RTO stays backed off
    h.send(ACK, 1001, synack.seq + 11)
    h.advance(0.001)
    assert s.inner.rto == pytest.approx(rto0 * 8)
    assert s.inner.retransmits == 0


def test_simultaneous_open() -> None:
    h = Harness()
    st = h.stack
    a = st.socket(C.AF_INET, C.SOCK_STREAM, 0)
    b = st.socket(C.AF_INET, C.SOCK_STREAM, 0)
    a.bind(("127.0.0.1", 7001))
    b.bind(("127.0.0.1", 7002))
    a.connect(("127.0.0.1", 7002), h.now)
    b.connect(("127.0.0.1", 7001), h.now)
    for _ in range(5):
        h.advance(0.001)
    assert a.state == "ESTABLISHED" and b.state == "ESTABLISHED"
    a.send(b"ping")
    b.send(b"pong")
    h.advance(0.001)
    assert b.recv(10) == b"ping" and a.recv(10) == b"pong"


def test_time_wait_lasts_two_msl() -> None:
    h = Harness(msl=2.5)
    _lst, s, synack = h.handshake()
    una = synack.seq + 1
    s.shutdown_write(h.now)
    h.advance(0.001)
    (fin,) = h.recv()
    assert fin.flags & FIN and fin.seq == una
    h.send(ACK | FIN, 1001, una + 1)
    h.advance(0.001)
    (ack,) = h.recv()
    assert ack.ack == 1002 and s.state == "TIME_WAIT"
    h.run_until(h.now + 4.9)
    assert s.state == "TIME_WAIT"
    # a retransmitted FIN is acknowledged again and restarts the 2*MSL timer
    h.send(ACK | FIN, 1001, una + 1)
    h.advance(0.001)
    assert h.recv()[0].ack == 1002
    h.run_until(h.now + 4.9)
    assert s.state == "TIME_WAIT"
    h.run_until(h.now + 0.2)
    assert s.state == "CLOSED"


def test_congestion_control_selection() -> None:
    h = Harness()
    s = h.stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    assert s.getsockopt(C.IPPROTO_TCP, C.TCP_CONGESTION, 16) == b"cubic".ljust(16, b"\0")
    s.setsockopt(C.IPPROTO_TCP, C.TCP_CONGESTION, b"reno")
    assert s.getsockopt(C.IPPROTO_TCP, C.TCP_CONGESTION, 16)[:5] == b"reno\0"
    assert s.inner.cc.name == b"reno"
    with pytest.raises(SocketError) as e:
        s.setsockopt(C.IPPROTO_TCP, C.TCP_CONGESTION, b"nosuchcc")
    assert e.value.errno == C.ENOENT
    cfg = TcpConfig()
    cfg.congestion = b"reno"
    assert Harness(config=cfg).stack.socket(C.AF_INET, C.SOCK_STREAM, 0).inner.cc.name == b"reno"


class _T:
    def __init__(self, cwnd: int, mss: int = 1000) -> None:
        self.cwnd = cwnd
        self.mss = mss
        self.ssthresh = 0x7FFFFFFF
        self.snd_max = cwnd
        self.snd_una = 0
        self.srtt = 0.1


def test_cubic_and_reno_window_arithmetic() -> None:
    from rocketnet.transport.tcp.congestion import Cubic, Reno

    t = _T(100_000)
    assert Reno().on_loss(t, 0.0) == 50_000  # FlightSize / 2
    c = Cubic()
    t.ssthresh = c.on_loss(t, 0.0)
    assert t.ssthresh == 70_000  # beta_cubic = 0.7
    t.cwnd = t.ssthresh
    k = ((100 - 70) / 0.4) ** (1 / 3)  # RFC 9438 eq. 2, in segments
    now = 0.0
    while now < k - 0.1:  # concave region: growth towards W_max
        c.on_ack(t, 1000, now)
        now += 0.001
    assert 95_000 < t.cwnd <= 100_500
    assert c.k == pytest.approx(k)
    # slow start below ssthresh: + min(acked, SMSS) per ACK (RFC 5681 3.1)
    t2 = _T(10_000)
    t2.ssthresh = 50_000
    Reno().on_ack(t2, 2000, 0.0)
    assert t2.cwnd == 11_000
    Reno().on_ack(t2, 500, 0.0)
    assert t2.cwnd == 11_500


def test_nagle_nodelay_cork_and_msg_more() -> None:
    h = Harness()
    _lst, s, synack = h.handshake(TcpOptions(mss=1000))
    una = synack.seq + 1
    s.send(b"a")
    h.advance(0.001)
    assert [x.payload for x in h.recv()] == [b"a"]  # nothing in flight: goes out
    s.send(b"b")
    h.advance(0.001)
    assert h.recv() == []  # Nagle: a small segment waits for the ACK
    h.send(ACK, 1001, una + 1)
    h.advance(0.001)
    assert [x.payload for x in h.recv()] == [b"b"]
    s.setsockopt(C.IPPROTO_TCP, C.TCP_NODELAY, 1)
    s.send(b"c")
    h.advance(0.001)
    assert [x.payload for x in h.recv()] == [b"c"]  # TCP_NODELAY: at once
    h.send(ACK, 1001, una + 3)
    s.setsockopt(C.IPPROTO_TCP, C.TCP_CORK, 1)
    s.send(b"d" * 1500)
    h.advance(0.001)
    assert [len(x.payload) for x in h.recv()] == [1000]  # cork: full segments only
    s.setsockopt(C.IPPROTO_TCP, C.TCP_CORK, 0)
    h.advance(0.001)
    assert [len(x.payload) for x in h.recv()] == [500]  # uncork pushes the rest
    h.send(ACK, 1001, una + 1503)
    s.send(b"e" * 10, more=True)
    h.advance(0.001)
    assert h.recv() == []  # MSG_MORE holds the partial segment
    s.send(b"f" * 10)
    h.advance(0.001)
    assert [x.payload for x in h.recv()] == [b"e" * 10 + b"f" * 10]


def test_tcp_info_during_sack_recovery() -> None:
    h = Harness()
    _lst, s, synack = h.handshake(TcpOptions(mss=1000, sack_perm=True, wscale=7))
    una = synack.seq + 1
    s.setsockopt(C.IPPROTO_TCP, C.TCP_NODELAY, 1)
    s.send(bytes(8000))
    h.advance(0.001)
    assert len(h.recv()) == 8
    # segments 1 and 2 lost, 3..8 SACKed
    for k in (4, 5, 6):
        h.send(ACK, 1001, una, options=TcpOptions(sack_blocks=((una + 2000, una + 1000 * k),)))
    h.advance(0.001)
    info = s.getsockopt(C.IPPROTO_TCP, C.TCP_INFO, 280)
    state, ca_state = struct.unpack_from("2B", info)
    unacked, sacked, lost, retrans = struct.unpack_from("=4I", info, 24)
    assert (state, ca_state) == (1, 3)  # ESTABLISHED, TCP_CA_Recovery
    assert unacked == 8 and sacked == 4 and lost == 2 and retrans >= 1
    ssthresh, cwnd = struct.unpack_from("=2I", info, 76)
    assert ssthresh == cwnd == 7  # CUBIC: 0.7 * 10 segments
    total_retrans = struct.unpack_from("=I", info, 100)[0]
    assert total_retrans == retrans


@pytest.mark.parametrize("how", ["cork", "msg_more"])
def test_corked_partial_segment_goes_out_after_one_probe_interval(how: str) -> None:
    """Linux sends corked (TCP_CORK or MSG_MORE) partial data when the probe timer,
    max(RTO, 200 ms) from the first held send, fires; a later held send does not
    restart it."""
    h = Harness()
    _lst, s, synack = h.handshake(TcpOptions(mss=1000))
    una = synack.seq + 1
    rto = s.inner.rto
    assert rto >= 0.2
    cork = how == "cork"
    if cork:
        s.setsockopt(C.IPPROTO_TCP, C.TCP_CORK, 1)
    t0 = h.now
    s.send(b"a" * 30, more=not cork)
    h.advance(0.001)
    assert h.recv() == []
    h.at(t0 + rto / 2)
    s.send(b"b" * 20, more=not cork)
    h.at(t0 + rto - 0.001)
    assert h.recv() == []
    h.at(t0 + rto + 0.001)
    (seg,) = h.recv()
    assert seg.seq == una and seg.payload == b"a" * 30 + b"b" * 20 and seg.flags == ACK | PSH
    # still corked: the next partial data waits for the next probe interval again
    h.send(ACK, 1001, una + 50)
    h.advance(0.001)
    rto = s.inner.rto  # the ACK gave an RTT sample
    s.send(b"c" * 10, more=not cork)
    h.advance(0.001)  # the timer starts when output runs
    t1 = h.now
    h.at(t1 + rto - 0.001)
    assert h.recv() == []
    h.at(t1 + rto + 0.001)
    assert [x.payload for x in h.recv()] == [b"c" * 10]


def test_challenge_acks_are_rate_limited_per_socket_and_host_wide() -> None:
    """Linux: one answer to invalid segments per socket per tcp_invalid_ratelimit
    (500 ms), and, when net.ipv4.tcp_challenge_ack_limit is set, that many challenge
    ACKs per second for the whole host."""
    cfg = TcpConfig()
    cfg.challenge_ack_limit = 1  # a budget of exactly one per second
    h = Harness(config=cfg)
    lst, s, synack = h.handshake()
    h.at(10.0)
    h.send(RST, 1001 + 10, 0)
    h.send(SYN, 5, 0)
    h.send(ACK, 1001 + 10_000_000, synack.seq + 1)  # bare and out of window
    h.advance(0.001)
    (ch,) = h.recv()  # only the first is answered
    assert ch.flags == ACK and ch.ack == 1001
    assert h.stack.stats["tcp_ack_skipped_challenge"] == 1
    assert h.stack.stats["tcp_ack_skipped_seq"] == 1
    h.send(ACK | PSH, 1001 + 10_000_000, synack.seq + 1, b"data")  # data: never limited
    h.advance(0.001)
    assert [a.ack for a in h.recv()] == [1001]
    # a second connection: its own per-socket limit, but the host's budget is spent
    h.peer_port += 1
    h.send(SYN, 7000, 0, options=TcpOptions(mss=1460))
    h.advance(0.001)
    (synack2,) = h.recv()
    h.send(ACK, 7001, synack2.seq + 1)
    h.advance(0.001)
    s2 = lst.accept()
    assert s2 is not None and s2.state == "ESTABLISHED"
    h.send(RST, 7001 + 10, 0)
    h.advance(0.001)
    assert h.recv() == []
    assert h.stack.stats["tcp_ack_skipped_challenge"] == 2
    h.at(11.0)  # a new second, a new budget
    h.send(RST, 7001 + 10, 0)
    h.advance(0.001)
    (ch2,) = h.recv()
    assert ch2.flags == ACK and ch2.ack == 7001 and ch2.dst_port == h.peer_port
    assert s.state == s2.state == "ESTABLISHED"
    assert h.stack.stats["tcp_challenge_acks"] == 2


def test_dsack_reports_duplicate_segments_once() -> None:
    """RFC 2883: the ACK for a duplicate carries it as the first SACK block (Linux
    net.ipv4.tcp_dsack=1): a full duplicate, a partial one, a duplicate of queued
    out-of-order data (then the block holding it); the next ACK no longer has it."""
    h = Harness()
    _lst, s, synack = h.handshake(TcpOptions(mss=1460, sack_perm=True))
    una = synack.seq + 1
    base = 1001
    h.send(ACK, base, una, b"a" * 100)
    h.advance(0.001)
    assert [(a.ack, a.options.sack_blocks) for a in h.recv()] == [(base + 100, ())]
    h.send(ACK, base, una, b"a" * 100)  # all of it again
    h.advance(0.001)
    assert [(a.ack, a.options.sack_blocks) for a in h.recv()] == [
        (base + 100, ((base, base + 100),))]
    h.send(ACK, base + 50, una, b"a" * 100)  # half old, half new
    h.advance(0.001)
    acks = h.recv()
    assert acks and acks[0].options.sack_blocks == ((base + 50, base + 100),)
    assert acks[-1].ack == base + 150
    h.send(ACK, base + 250, una, b"c" * 100)  # out of order: a hole at 150..250
    h.advance(0.001)
    assert [(a.ack, a.options.sack_blocks) for a in h.recv()] == [
        (base + 150, ((base + 250, base + 350),))]
    h.send(ACK, base + 300, una, b"c" * 50)  # queued already
    h.advance(0.001)
    assert [(a.ack, a.options.sack_blocks) for a in h.recv()] == [
        (base + 150, ((base + 300, base + 350), (base + 250, base + 350)))]
    h.send(ACK, base + 150, una, b"b" * 100)  # fills the hole: no duplicate
    h.advance(0.001)
    acks = h.recv()
    assert acks and all(a.options.sack_blocks == () for a in acks)
    assert acks[-1].ack == base + 350
    assert s.recv(1000) == b"a" * 150 + b"b" * 100 + b"c" * 100
    # without SACK negotiated there is no D-SACK
    h2 = Harness()
    _lst2, _s2, synack2 = h2.handshake(TcpOptions(mss=1460))
    h2.send(ACK, base, synack2.seq + 1, b"a" * 10)
    h2.send(ACK, base, synack2.seq + 1, b"a" * 10)
    h2.advance(0.001)
    assert all(a.options.sack_blocks == () for a in h2.recv())


def test_corked_data_is_not_a_user_timeout() -> None:
    """Held (corked) data is not unacknowledged data: TCP_USER_TIMEOUT shorter than
    the probe interval does not end the connection when the probe timer sends it."""
    h = Harness()
    _lst, s, synack = h.handshake(TcpOptions(mss=1000))
    s.setsockopt(C.IPPROTO_TCP, TCP_USER_TIMEOUT, 100)
    s.setsockopt(C.IPPROTO_TCP, C.TCP_CORK, 1)
    s.send(b"x" * 10)
    h.advance(0.001)
    h.run_until(h.now + s.inner.rto + 0.01)
    assert [x.payload for x in h.recv()] == [b"x" * 10]
    assert s.state == "ESTABLISHED"


def test_acks_after_a_timeout_carry_the_highest_sequence_sent() -> None:
    """After an RTO rewinds snd_nxt to snd_una, a pure ACK must still carry the highest
    sequence number sent (Linux tcp_acceptable_seq): the peer already has data up to
    there, so a lower one is outside its window (RFC 9293 3.10.7.4) and dropped, and
    two such senders would drop exactly the ACKs that free each other."""
    h = Harness()
    _lst, s, synack = h.handshake(TcpOptions(mss=1000))
    una = synack.seq + 1
    s.setsockopt(C.IPPROTO_TCP, C.TCP_NODELAY, 1)
    s.send(bytes(3000))
    h.advance(0.001)
    assert [(x.seq, len(x.payload)) for x in h.recv()] == [
        (una, 1000), (una + 1000, 1000), (una + 2000, 1000)]
    rto = s.inner.rto
    h.run_until(h.now + rto)  # the timeout resends the head, go-back-N
    (rtx,) = h.recv()
    assert (rtx.seq, len(rtx.payload)) == (una, 1000)
    assert s.inner.snd_nxt == una + 1000 and s.inner.snd_max == una + 3000
    # the peer got all three but its ACKs were lost; it sends data of its own, acking
    # nothing new: our ACK of that data must be acceptable to it
    h.send(ACK | PSH, 1001, una, b"z" * 10)
    h.advance(0.001)
    h.run_until(h.now + 0.05)  # past the delayed ACK
    acks = [x for x in h.recv() if not x.payload]
    assert acks and all(a.seq == una + 3000 and a.ack == 1011 for a in acks)
    # a reset carries it too
    s.setsockopt(C.SOL_SOCKET, C.SO_LINGER, struct.pack("ii", 1, 0))
    s.close(h.now)
    h.advance(0.001)
    (rst,) = h.recv()
    assert rst.flags & RST and rst.seq == una + 3000


def _timeouts(h: Harness, s, n: int) -> list:  # type: ignore[no-untyped-def]
    """Let the retransmission timer fire n times; the segments it sent."""
    out: list = []
    for _ in range(n):
        h.run_until(h.now + s.inner.rto + 0.001)
        out += h.recv()
    return out


def test_stale_timestamp_echo_gives_no_rtt_sample() -> None:
    """RFC 7323 4 / RFC 6298: an ACK that advances snd_una but echoes the TSval of an
    earlier copy than the latest retransmission (the receiver's TS.Recent is only
    updated at its left window edge) cannot time anything: it must leave SRTT alone
    and the timer backed off, where a sample of whole timeouts would inflate it."""
    h = Harness()
    opts = TcpOptions(mss=1000, sack_perm=True, timestamps=(5000, 0), wscale=7)
    _lst, s, synack = h.handshake(opts)
    una = synack.seq + 1
    srtt, rto0 = s.inner.srtt, s.inner.rto
    m = s.inner.mss  # 988: the timestamp option takes 12
    s.send(b"a" * m)
    h.advance(0.001)
    (first,) = h.recv()
    t0 = first.options.timestamps[0]
    rtx = _timeouts(h, s, 2)
    assert [x.seq for x in rtx] == [una, una] and rtx[-1].options.timestamps[0] > t0
    assert s.inner.rto == pytest.approx(4 * rto0)
    h.send(ACK, 1001, una + m, options=TcpOptions(timestamps=(5001, t0)))
    h.advance(0.001)
    assert s.inner.snd_una == una + m
    assert s.inner.srtt == srtt and s.inner.rto == pytest.approx(4 * rto0)
    # the echo of the latest copy times it (RFC 7323 4: retransmissions too)
    s.send(b"b" * m)
    h.advance(0.001)
    rtx = _timeouts(h, s, 1)
    h.advance(0.003)
    echo = TcpOptions(timestamps=(5002, rtx[-1].options.timestamps[0]))
    h.send(ACK, 1001, una + 2 * m, options=echo)
    h.advance(0.001)
    assert s.inner.srtt != srtt and s.inner.rto < 2 * rto0


def test_sack_of_a_never_resent_segment_ends_the_backoff() -> None:
    """Without timestamps, a SACK block that grows to a segment sent once gives an RTT
    sample (Linux tcp_sacktag): the backed-off timer returns to SRTT's, where waiting
    for a cumulative ACK free of retransmitted data leaves it backed off under loss."""
    h = Harness()
    _lst, s, synack = h.handshake(TcpOptions(mss=1000, sack_perm=True, wscale=7))
    una = synack.seq + 1
    rto0 = s.inner.rto
    s.setsockopt(C.IPPROTO_TCP, C.TCP_NODELAY, 1)
    s.send(b"a" * 1000)
    h.advance(0.001)
    h.recv()
    _timeouts(h, s, 2)
    h.send(ACK, 1001, una + 1000)  # acks the resent segment: no sample (Karn)
    h.advance(0.001)
    assert s.inner.rto == pytest.approx(4 * rto0)
    s.send(b"b" * 2000)  # cwnd: two segments after the timeout
    h.advance(0.001)
    assert len(h.recv()) == 2
    h.advance(0.004)
    h.send(ACK, 1001, una + 1000, options=TcpOptions(sack_blocks=((una + 2000, una + 3000),)))
    h.advance(0.001)
    assert s.inner.rto < 2 * rto0


def test_header_prediction_keeps_the_window_bookkeeping() -> None:
    """In-order data that acknowledges nothing new takes the short path (no ACK
    processing): it moves snd_wl1/snd_wl2 as the general path would; the same segment
    with another window, or an older TSval, is not predicted and takes the general path
    (the window is updated; PAWS drops it)."""
    h = Harness()
    _lst, s, synack = h.handshake(FULL)
    t = s.inner
    my_ts = synack.options.timestamps[0]
    una = synack.seq + 1
    ts = TcpOptions(timestamps=(6000, my_ts))
    h.send(ACK | PSH, 1001, una, b"one", options=ts)
    h.advance(0.001)
    assert s.recv(100) == b"one"
    assert (t.snd_wl1, t.snd_wl2, t.snd_una) == (1001, una, una)
    wnd = t.snd_wnd
    h.send(ACK | PSH, 1004, una, b"two", window=100, options=ts)
    h.advance(0.001)
    assert s.recv(100) == b"two"
    assert t.snd_wnd == 100 << t.snd_wscale != wnd and t.snd_wl1 == 1004
    h.send(ACK | PSH, 1007, una, b"old", window=100, options=TcpOptions(timestamps=(5999, my_ts)))
    h.advance(0.001)
    assert s.recv(100) == b""
    assert h.stack.stats["drop_tcp_paws"] == 1

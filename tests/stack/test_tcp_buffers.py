"""Buffer sizing as Linux: the receive buffer starts at tcp_rmem's default and grows
with what the application reads per round trip (tcp_rcv_space_adjust), the send buffer
follows the congestion window (tcp_sndbuf_expand), SO_RCVBUF / SO_SNDBUF fix them; the
congestion window grows only when used (tcp_is_cwnd_limited); a closed connection
gives its buffers back."""

from __future__ import annotations

from rocketnet import constants as C
from rocketnet.lab.harness import ACK, Harness, TcpOptions

WS = TcpOptions(mss=1000, sack_perm=True, wscale=7)


def _feed(h: Harness, seq: int, our: int, n: int) -> int:
    for _ in range(n):
        h.send(ACK, seq, our, b"d" * 1000)
        seq += 1000
    h.advance(0.0001)
    return seq


def test_receive_buffer_grows_with_a_fast_reader_only() -> None:
    h = Harness()
    _lst, s, synack = h.handshake(WS)
    our = synack.seq + 1
    t = s.inner
    assert t.rcvbuf_limit == 131072 and not t.rcvbuf_lock
    seq = _feed(h, 1001, our, 100)
    h.advance(0.002)
    assert len(s.recv(1 << 20)) == 100000  # under the initial window: no growth
    assert t.rcvbuf_limit == 131072
    seq = _feed(h, seq, our, 100)
    assert len(s.recv(1 << 20)) == 100000  # within the same round trip
    h.advance(0.002)
    seq = _feed(h, seq, our, 50)
    assert len(s.recv(1 << 20)) == 50000  # 150000 read in this round trip
    assert t.rcvbuf_limit == 2 * 150000 + 16 * t.advmss
    h.recv()
    seq = _feed(h, seq, our, 2)
    h.advance(0.05)
    acks = h.recv()
    assert acks and acks[-1].window << 7 > 131072  # the peer sees the larger window
    # a reader that stops keeps the buffer it had
    limit = t.rcvbuf_limit
    _feed(h, seq, our, 100)
    h.advance(0.01)
    assert t.rcvbuf_limit == limit


def test_so_rcvbuf_and_so_sndbuf_stop_autotuning() -> None:
    h = Harness()
    lst = h.listen()
    lst.setsockopt(C.SOL_SOCKET, C.SO_RCVBUF, 65536)
    lst.setsockopt(C.SOL_SOCKET, C.SO_SNDBUF, 65536)
    h.send(0x02, 1000, 0, options=WS)
    h.advance(0.001)
    (synack,) = h.recv()
    h.send(ACK, 1001, synack.seq + 1)
    h.advance(0.001)
    s = lst.accept()
    t = s.inner
    assert t.rcvbuf_lock and t.sndbuf_lock  # inherited from the listener
    assert (t.rcvbuf_limit, t.sndbuf_limit) == (65536, 65536)
    _feed(h, 1001, synack.seq + 1, 60)
    h.advance(0.002)
    s.recv(1 << 20)
    h.advance(0.002)
    _feed(h, 61001, synack.seq + 1, 60)
    s.recv(1 << 20)
    assert (t.rcvbuf_limit, t.sndbuf_limit) == (65536, 65536)


def per_mss(mss: int) -> int:
    """What Linux's tcp_sndbuf_expand counts per segment on x86-64 (skb headers and
    alignment): 4352 for 1448 bytes, so two initial windows are the familiar 87040."""
    return (1 << (mss + 640 - 1).bit_length()) + 256


def test_send_buffer_follows_the_congestion_window_when_it_is_used() -> None:
    h = Harness()
    _lst, s, synack = h.handshake(WS, window=65535)
    t = s.inner
    una = synack.seq + 1
    assert t.sndbuf_limit == 2 * 10 * per_mss(t.mss)  # two initial windows
    assert s.send(b"a" * 100000) == t.sndbuf_limit
    h.advance(0.001)
    segs = h.recv()
    assert len(segs) == 10  # cwnd
    cwnd = t.cwnd
    h.send(ACK, 1001, una + 10000)
    h.advance(0.001)
    assert t.cwnd > cwnd and t.sndbuf_limit == 2 * (t.cwnd // t.mss) * per_mss(t.mss)
    # an application that sends little does not grow the window (once all it wrote
    # is sent and acknowledged)
    while t.snd_una != t.snd_max or t.sndbuf:
        h.recv()
        h.send(ACK, 1001, t.snd_max)
        h.advance(0.001)
    h.recv()
    s.recv(0)
    assert s.send(b"b" * 10) == 10
    h.advance(0.001)
    cwnd = t.cwnd
    (seg,) = h.recv()
    h.send(ACK, 1001, seg.seq + 10)
    h.advance(0.001)
    assert t.cwnd == cwnd


def test_release_gives_the_buffers_back() -> None:
    h = Harness()
    _lst, s, synack = h.handshake(WS)
    _feed(h, 1001, synack.seq + 1, 5)
    t = s.inner
    assert len(t.rcvbuf) == 5000
    s.close(h.now)  # unread data: RST, and nobody will read it
    h.advance(0.001)
    assert t.state == 7 and len(t.rcvbuf) == 0 and len(t.sndbuf) == 0

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
    # an empty queue takes one 64 KiB segment (Linux size_goal) even over the limit
    assert t.size_goal() == 65000 and s.send(b"a" * 100000) == 65000
    h.advance(0.001)
    segs = h.recv()
    assert len(segs) == 10  # cwnd
    cwnd = t.cwnd
    h.send(ACK, 1001, una + 10000)
    h.advance(0.001)
    assert t.cwnd > cwnd and t.sndbuf_limit == 2 * (t.cwnd // t.mss) * per_mss(t.mss)
    # an application that sends little does not grow the window
    while len(t.sndbuf):
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


def _sndbuf_4096(h: Harness, window: int):  # type: ignore[no-untyped-def]
    """An accepted connection with SO_SNDBUF 4096 (4096 bytes of send buffer) to a
    peer of MSS 1000 that offers ``window`` unscaled."""
    lst = h.listen()
    lst.setsockopt(C.SOL_SOCKET, C.SO_SNDBUF, 4096)
    h.send(0x02, 1000, 0, window=window, options=TcpOptions(mss=1000))
    h.advance(0.001)
    (synack,) = h.recv()
    h.send(ACK, 1001, synack.seq + 1, window=window)
    h.advance(0.001)
    s = lst.accept()
    assert s is not None
    return s


def test_writer_is_woken_for_half_the_queue_or_a_segment() -> None:
    """writable() (the host's cue to wait for the program's bytes): room for half what
    the send buffer holds (Linux's sk_stream_is_writeable) or one segment if less;
    the last bytes of room behind a window in flight wake nobody, while a write still
    takes them (send_space)."""
    h = Harness()
    s = _sndbuf_4096(h, 5000)
    t = s.inner
    assert t.sndbuf_limit == 4096 and t.writable()     # empty
    assert s.send(b"a" * 3900) == 3900
    assert not t.writable() and s.send_space() == 2000  # 196 free: a write still queues
    h.advance(0.001)
    assert [len(g.payload) for g in h.recv()] == [1000, 1000, 1000]    # 900: Nagle
    h.send(ACK, 1001, t.snd_una + 1000, window=5000)
    h.advance(0.001)
    assert len(t.sndbuf) == 2900 and t.writable()      # 1196 free >= a segment
    assert s.send(b"b" * 1196) == 1196
    assert not t.writable()
    t.mss = 100                                         # a segment's room is enough
    h.send(ACK, 1001, t.snd_una + 100, window=5000)
    h.advance(0.001)
    assert len(t.sndbuf) == 3996 and t.writable()


def test_small_so_sndbuf_still_takes_a_whole_segment() -> None:
    """Linux's tcp_sendmsg checks SO_SNDBUF only when it starts a new skb, which then
    takes up to size_goal bytes (64 KiB, at most half the peer's window): with a 4 KiB
    SO_SNDBUF a write still queues 64 KiB, not 4 KiB (16 times the round trips, the
    small-buffer collapse through the shim); a full queue takes nothing."""
    h = Harness()
    lst = h.listen()
    lst.setsockopt(C.SOL_SOCKET, C.SO_SNDBUF, 4096)
    h.send(0x02, 1000, 0, options=WS)
    h.advance(0.001)
    (synack,) = h.recv()
    h.send(ACK, 1001, synack.seq + 1, window=1000)  # 128000 bytes scaled
    h.advance(0.001)
    s = lst.accept()
    t = s.inner
    assert t.sndbuf_limit == 4096 and t.size_goal() == 64000
    assert s.send(b"x" * 100000) == 64000
    assert s.send(b"y") == 0 and s.send_space() == 0
    h.advance(0.001)
    segs = h.recv()
    assert [len(g.payload) for g in segs] == [1000] * 10  # the congestion window
    h.send(ACK, 1001, t.snd_max, window=1000)
    h.advance(0.001)
    assert len(t.sndbuf) == 54000 and s.send_space() == 0  # still over the limit
    while len(t.sndbuf):
        h.recv()
        h.send(ACK, 1001, t.snd_max, window=1000)
        h.advance(0.001)
    assert s.send_space() == 64000
    # a peer window of 8000 bounds the segment to half of it
    s2 = _sndbuf_4096(Harness(), 8000)
    assert s2.inner.size_goal() == 4000 and s2.send(b"z" * 10000) == 4096

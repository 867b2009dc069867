"""Delayed ACK segment by segment (virtual clock): quickack at the start of a transfer,
then a lone segment is acknowledged after TCP_DELACK_MIN (40 ms) unless a reply or a
second segment carries the ACK first; a second segment (unless the window would
shrink) or out-of-order data are acknowledged at once."""

from __future__ import annotations

from rocketnet.lab.harness import ACK, PSH, Harness

QUICK = 16  # Linux TCP_MAX_QUICKACKS


def _conn(rcvbuf: int | None = None):  # type: ignore[no-untyped-def]
    h = Harness()
    _lst, s, synack = h.handshake(rcvbuf=rcvbuf)
    return h, s, synack.seq + 1


def _past_quickack(h: Harness, our: int) -> int:
    """Send single segments until quickack mode is over; each is acked at once."""
    seq = 1001
    for _ in range(QUICK):
        h.send(ACK | PSH, seq, our, b"x" * 100)
        h.advance(0.001)
        seq += 100
        assert [a.ack for a in h.recv()] == [seq]
    return seq


def test_quickack_then_delayed_ack_after_40ms() -> None:
    h, _s, our = _conn()
    seq = _past_quickack(h, our)
    h.send(ACK | PSH, seq, our, b"y" * 100)
    h.advance(0.001)
    t0 = h.now
    assert h.recv() == []  # delayed
    h.run_until(t0 + 0.039)
    assert h.recv() == []
    h.run_until(t0 + 0.041)
    (ack,) = h.recv()
    assert ack.flags == ACK and ack.ack == seq + 100 and not ack.payload
    h.run_until(t0 + 0.5)
    assert h.recv() == []  # once


def test_second_segment_is_acked_at_once() -> None:
    h, _s, our = _conn()
    seq = _past_quickack(h, our)
    h.send(ACK | PSH, seq, our, b"y" * 100)
    h.advance(0.001)
    assert h.recv() == []
    h.send(ACK | PSH, seq + 100, our, b"z" * 100)
    h.advance(0.001)
    (ack,) = h.recv()
    assert ack.ack == seq + 200
    h.run_until(h.now + 0.1)
    assert h.recv() == []  # the timer was cancelled by that ACK


def test_reply_carries_the_delayed_ack() -> None:
    h, s, our = _conn()
    seq = _past_quickack(h, our)
    h.send(ACK | PSH, seq, our, b"request")
    h.advance(0.001)
    assert h.recv() == []
    assert s.send(b"reply") == 5
    h.advance(0.001)
    (seg,) = h.recv()
    assert seg.payload == b"reply" and seg.ack == seq + 7
    h.send(ACK, seq + 7, our + 5)
    h.run_until(h.now + 0.1)
    assert h.recv() == []  # no bare ACK later


def test_out_of_order_data_is_acked_at_once() -> None:
    h, _s, our = _conn()
    seq = _past_quickack(h, our)
    h.send(ACK | PSH, seq + 100, our, b"later")
    h.advance(0.001)
    (dup,) = h.recv()
    assert dup.ack == seq


def test_segment_that_shrinks_the_window_waits_for_the_read() -> None:
    """Linux __tcp_ack_snd_check: an ACK goes at once only if the window would not
    shrink; one that fills a small buffer waits for the read that opens the window
    (tcp_cleanup_rbuf), so the sender gets one ACK with room, not a "window 1496"
    ACK and then a window update (3 segments per buffer instead of 2)."""
    # SO_RCVBUF 4096 -> a 4096-byte window; quickack mode lasts one ACK
    h, s, our = _conn(rcvbuf=4096)
    h.send(ACK | PSH, 1001, our, b"a" * 1000)
    h.advance(0.001)
    (ack,) = h.recv()
    assert ack.ack == 2001 and ack.window == 3096
    h.send(ACK | PSH, 2001, our, b"b" * 1600)  # leaves 1496 of the 3096 offered
    h.advance(0.001)
    assert h.recv() == []
    assert len(s.recv(1 << 20)) == 2600
    h.advance(0.001)
    (ack,) = h.recv()
    assert ack.ack == 3601 and ack.window == 4096
    # two segments that leave over half the buffer free are acked at once
    h.send(ACK, 3601, our, b"c" * 1000)
    h.send(ACK, 4601, our, b"d" * 1000)
    h.advance(0.001)
    (ack,) = h.recv()
    assert ack.ack == 5601 and ack.window == 2096


def test_segment_using_less_than_half_the_window_waits() -> None:
    h, _s, our = _conn(rcvbuf=4096)
    h.send(ACK | PSH, 1001, our, b"a" * 1000)
    h.advance(0.001)
    assert len(h.recv()) == 1
    h.send(ACK | PSH, 2001, our, b"b" * 1000)  # leaves 2096 of the 3096 offered
    h.advance(0.001)
    assert h.recv() == []
    h.run_until(h.now + 0.041)
    (ack,) = h.recv()
    assert ack.ack == 3001


def test_read_that_empties_the_buffer_acks_a_pushed_segment_at_once() -> None:
    """Linux tcp_cleanup_rbuf: the sender of a pushed segment may be waiting for its
    ACK (a full send buffer or cwnd), so a read that drains the receive buffer sends
    the delayed ACK now; with a small SO_SNDBUF, 40 ms per buffer otherwise."""
    h, s, our = _conn()
    seq = _past_quickack(h, our)
    s.recv(1 << 20)  # all acknowledged: nothing to send
    h.send(ACK | PSH, seq, our, b"y" * 100)
    h.advance(0.001)
    assert h.recv() == []  # delayed
    assert s.recv(1000) == b"y" * 100
    h.advance(0.001)
    (ack,) = h.recv()
    assert ack.ack == seq + 100 and not ack.payload
    # a read that leaves data behind waits for the timer
    h.send(ACK | PSH, seq + 100, our, b"z" * 100)
    h.advance(0.001)
    assert s.recv(10) == b"z" * 10
    h.advance(0.001)
    assert h.recv() == []
    h.run_until(h.now + 0.041)
    assert [a.ack for a in h.recv()] == [seq + 200]


def test_interactive_reads_leave_the_ack_to_the_reply() -> None:
    """After a reply carried a delayed ACK (pingpong), one pushed segment read whole is
    not acknowledged alone: the reply will carry it."""
    h, s, our = _conn()
    seq = _past_quickack(h, our)
    s.recv(1 << 20)
    h.send(ACK | PSH, seq, our, b"request")
    h.advance(0.001)
    s.send(b"reply")
    h.advance(0.001)
    assert [x.payload for x in h.recv()] == [b"reply"]
    h.send(ACK | PSH, seq + 7, our + 5, b"again")
    h.advance(0.001)
    assert s.recv(100) == b"requestagain"
    h.advance(0.001)
    assert h.recv() == []


def test_data_after_a_gap_longer_than_the_rto_is_acked_at_once() -> None:
    """Linux tcp_event_data_recv: data after a silence longer than the RTO (a sender
    restarting after timeouts) re-enters quickack mode; a lost delayed ACK then costs
    the sender another whole backed-off timeout."""
    h, s, our = _conn()
    seq = _past_quickack(h, our)
    s.recv(1 << 20)
    h.run_until(h.now + 2 * s.inner.rto)
    h.recv()
    h.send(ACK | PSH, seq, our, b"late")
    h.advance(0.001)
    assert [a.ack for a in h.recv()] == [seq + 4]


def test_timeout_with_the_window_closed_behind_data_probes_it() -> None:
    """Data in flight, then the peer's window closes (an ACK of nothing, window 0) and
    the update that reopens it is lost: the retransmission timeout sends a window
    probe (Linux retransmits the head anyway) whose answer reopens the window; before,
    each timeout found no usable window and sent nothing, forever."""
    h, s, our = _conn()
    assert s.send(b"q" * 1000) == 1000
    h.advance(0.001)
    (data,) = h.recv()
    h.send(ACK, 1001, our, window=0)  # the window shrank to 0 behind the data
    h.advance(0.001)
    assert h.recv() == []
    h.run_until(h.now + 1.5)
    probes = h.recv()
    assert probes and probes[0].seq == (our - 1) & 0xFFFFFFFF and not probes[0].payload
    h.send(ACK, 1001, our, window=65535)  # the answer: the window is open again
    h.advance(0.001)
    h.run_until(h.now + 3.0)
    assert any(seg.payload == b"q" * 1000 for seg in h.recv())

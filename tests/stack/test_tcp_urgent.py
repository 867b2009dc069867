"""Urgent data (MSG_OOB) segment by segment: URG and the urgent pointer on send, the
out-of-band byte and the mark on receive, SO_OOBINLINE (Linux semantics)."""

from __future__ import annotations

import pytest

from rocketnet import constants as C
from rocketnet.lab.harness import ACK, PSH, Harness
from rocketnet.socket import SocketError
from rocketnet.wire.tcp import URG


def _conn():  # type: ignore[no-untyped-def]
    h = Harness()
    _lst, s, synack = h.handshake()
    return h, s, synack.seq + 1


def test_send_urgent_sets_urg_and_pointer_until_acked() -> None:
    h, s, our = _conn()
    assert s.send(b"ab") == 2
    h.advance(0.001)
    (seg,) = h.recv()
    assert seg.payload == b"ab" and not seg.flags & URG and seg.urgent == 0
    # Nagle would hold "xc" (data in flight), urgent mode sends it at once
    assert s.send(b"xc", urgent=True) == 2
    h.advance(0.001)
    (seg,) = h.recv()
    assert seg.payload == b"xc" and seg.seq == our + 2
    assert seg.flags == ACK | PSH | URG
    assert seg.urgent == 2  # points just past the urgent byte 'c'
    # the peer acknowledges everything: urgent mode ends, later segments carry no URG
    h.send(ACK, 1001, our + 4)
    h.advance(0.001)
    assert s.send(b"z") == 1
    h.advance(0.001)
    (seg,) = h.recv()
    assert seg.payload == b"z" and not seg.flags & URG and seg.urgent == 0


def test_retransmission_before_the_mark_keeps_urg() -> None:
    h, s, our = _conn()
    s.send(b"abc", urgent=True)
    h.advance(0.001)
    (seg,) = h.recv()
    assert seg.flags & URG and seg.urgent == 3
    h.run_until(h.now + 1.5)  # RTO: the same segment again, still urgent
    segs = h.recv()
    assert segs and segs[0].seq == our and segs[0].flags & URG and segs[0].urgent == 3


def test_receive_urgent_byte_out_of_band() -> None:
    h, s, our = _conn()
    with pytest.raises(SocketError) as e:
        s.recv_oob()
    assert e.value.errno == C.EINVAL
    h.send(ACK | PSH | URG, 1001, our, b"abxc", urgent=4)
    h.advance(0.001)
    assert not s.at_mark()
    assert s.recv(100) == b"abx"  # a read stops at the mark
    assert s.at_mark()
    assert s.recv_oob() == b"c"
    with pytest.raises(SocketError) as e:
        s.recv_oob()
    assert e.value.errno == C.EINVAL
    h.send(ACK | PSH, 1005, our, b"tail")
    h.advance(0.001)
    assert s.recv(100) == b"tail"  # the urgent byte is not in the stream


def test_normal_read_at_the_mark_skips_the_urgent_byte() -> None:
    h, s, our = _conn()
    h.send(ACK | PSH | URG, 1001, our, b"ab", urgent=1)  # 'a' is urgent
    h.advance(0.001)
    assert s.at_mark()
    assert s.recv(100) == b"b"
    with pytest.raises(SocketError) as e:
        s.recv_oob()
    assert e.value.errno == C.EINVAL


def test_urgent_pointer_ahead_of_the_data() -> None:
    h, s, our = _conn()
    h.send(ACK | PSH | URG, 1001, our, b"ab", urgent=4)  # the urgent byte is 'c' to come
    h.advance(0.001)
    with pytest.raises(SocketError) as e:
        s.recv_oob()
    assert e.value.errno == C.EAGAIN
    assert s.recv(100) == b"ab"
    h.send(ACK | PSH, 1003, our, b"xcd")  # no URG flag: the byte arrives all the same
    h.advance(0.001)
    assert s.recv_oob() == b"c"
    assert s.recv(100) == b"x"
    assert s.recv(100) == b"d"


def test_oobinline_keeps_the_byte_in_the_stream() -> None:
    h, s, our = _conn()
    s.setsockopt(C.SOL_SOCKET, C.SO_OOBINLINE, 1)
    h.send(ACK | PSH | URG, 1001, our, b"abxc", urgent=4)
    h.advance(0.001)
    assert s.recv(100) == b"abx"
    assert s.at_mark()
    with pytest.raises(SocketError) as e:
        s.recv_oob()
    assert e.value.errno == C.EINVAL
    assert s.recv(100) == b"c"
    assert not s.at_mark()

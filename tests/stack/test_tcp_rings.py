"""The buffers: the byte ring (send and receive storage) and the Assembler (which
out-of-order ranges the receive ring holds), alone and segment by segment: data
written in place whatever the arrival order, copied once in and once out, storage no
larger than what the window lets a connection hold, given back at close."""

from __future__ import annotations

import array

from rocketnet.lab.harness import ACK, FIN, RST, Harness, TcpOptions
from rocketnet.transport.tcp import ring as ring_module
from rocketnet.transport.tcp.assembler import Assembler
from rocketnet.transport.tcp.config import TcpConfig
from rocketnet.transport.tcp.ring import MIN_CAPACITY, SPARE_BYTES, ByteRing, RingMemory


def test_ring_wraps_and_reads_across_the_end() -> None:
    r = ByteRing()
    r.append(b"a" * 3000)
    assert r.capacity == MIN_CAPACITY
    assert r.read(2500) == b"a" * 2500
    r.append(b"0123456789" * 300)  # 3000 bytes from position 3000: wraps at 4096
    assert r.capacity == MIN_CAPACITY and len(r) == 3500
    assert r.read(500) == b"a" * 500
    assert r[0] == ord("0") and r[1099] == ord("9")
    assert r.read(3000) == b"0123456789" * 300
    assert len(r) == 0 and r.head == 0  # empty: back to the front


def test_ring_write_ahead_commit_and_growth_keep_the_bytes() -> None:
    r = ByteRing()
    r.append(b"x" * 4000)
    r.drop(3900)  # head at 3900: the next bytes wrap
    r.write(300, b"later")  # out of order, past a 300-byte hole
    assert len(r) == 100 and r.ahead == 305
    r.write(0, b"h" * 300)  # the hole
    r.commit(305)
    assert len(r) == 405 and r.ahead == 0
    r.write(10_000, b"far")  # beyond the capacity: grows, keeping everything
    assert r.capacity == 16384 and r.head == 0
    r.write(0, b"m" * 10_000)
    r.commit(10_003)
    assert r.read(len(r)) == b"x" * 100 + b"h" * 300 + b"later" + b"m" * 10_000 + b"far"
    r.release()
    assert r.capacity == 0 and len(r) == 0


def test_ring_copies_a_wrapped_range_into_a_frame() -> None:
    r = ByteRing()
    r.append(b"." * 4090)
    r.drop(4090)
    r.append(b"ABCDEFGHIJ")  # 6 bytes at the end, 4 at the front
    frame = memoryview(bytearray(20))
    r.copy_to(frame, 5, 2, 7)
    assert bytes(frame) == b"\0" * 5 + b"CDEFGHI" + b"\0" * 8


def test_host_views_in_place_stop_at_the_end_of_the_storage() -> None:
    """send_buffer / peek: the free room of the send ring and the readable bytes of
    the receive ring in place, each as far as it is contiguous; what is filled in the
    room is queued, what is taken from the readable bytes consumed."""
    h = Harness()
    _lst, s, _synack = h.handshake(WS)
    t = s.inner
    snd = t.sndbuf
    snd.append(b"." * 4000)
    snd.drop(3000)  # 1000 queued at 3000..4000 of 4096
    room = t.send_buffer(500)
    assert room is not None and len(room) == 96  # up to the end; the rest wraps
    room[:] = b"t" * 96
    t.send_queued(96)
    room = t.send_buffer(404)
    assert room is not None and len(room) == 404
    room[:] = b"u" * 404  # at the front
    t.send_queued(404)
    assert len(snd) == 1500 and snd.capacity == MIN_CAPACITY
    assert snd.read(1500) == b"." * 1000 + b"t" * 96 + b"u" * 404
    room = t.send_buffer(1 << 20)  # grows as write does, to what may be queued
    assert room is not None and len(room) == t.send_space() <= snd.capacity
    rcv = t.rcvbuf
    rcv.append(b"." * 4000)
    rcv.drop(3000)
    rcv.append(b"v" * 500)  # 1500 readable at 3000..4096 and 0..404
    head = t.peek(2000)
    assert bytes(head) == b"." * 1000 + b"v" * 96  # the contiguous part
    rcv.drop(len(head))
    assert bytes(t.peek(2000)) == b"v" * 404
    assert bytes(t.peek(4)) == b"v" * 4


def test_send_buffer_and_peek_move_bytes_in_place() -> None:
    """The host's way: a write filled into the send ring (send_buffer/send_queued), a
    read taken from the receive ring (peek/consume), segment by segment as send and
    recv; the window reopens when the bytes are consumed."""
    h = Harness()
    _lst, s, synack = h.handshake(WS, rcvbuf=2048)  # SO_RCVBUF 2048: 2048 bytes of room
    our = synack.seq + 1
    t = s.inner
    room = t.send_buffer(1 << 20)
    assert room is not None and len(room) == t.send_space()
    room[:1200] = b"w" * 1200
    t.send_queued(1200)
    h.advance(0.001)
    assert [g.payload for g in h.recv() if g.payload] == [b"w" * 1000]  # Nagle: 200 wait
    h.send(ACK, 1001, our + 1000, b"r" * 2048)
    h.advance(0.001)
    assert [g.payload for g in h.recv() if g.payload] == [b"w" * 200]
    assert bytes(t.peek(1 << 20)) == b"r" * 2048 and len(t.rcvbuf) == 2048
    t.consume(2000)
    h.advance(0.001)
    (upd,) = h.recv()  # a window update: the buffer is free again
    assert upd.ack == 1001 + 2048 and upd.window == 2000 >> t.rcv_wscale
    assert bytes(t.peek(100)) == b"r" * 48


def test_assembler_merges_touching_and_overlapping_ranges() -> None:
    a = Assembler()
    assert a.add(100, 200) is None
    assert a.add(300, 400) is None
    assert a.add(200, 250) is None  # touches the first: one range
    assert list(a) == [(100, 250), (300, 400)]
    assert a.add(240, 320) == (240, 250)  # overlaps: the duplicate part
    assert list(a) == [(100, 400)] and a.last == 240
    assert a.add(500, 600) is None and a.held() == 400
    assert not a.fits(700, 800, 2) and a.fits(600, 650, 2) and a.fits(700, 800, 3)
    assert a.pop_front(50) == 50  # a hole before 100
    assert a.pop_front(100) == 400 and list(a) == [(500, 600)]
    assert a.pop_front(650) == 650 and len(a) == 0


def test_assembler_leftward_extension_stays_one_range() -> None:
    # a peer sending right to left: each segment extends the range at its left edge
    a = Assembler()
    for i in range(99, 0, -1):
        assert a.add(i * 10, i * 10 + 10) is None
    assert list(a) == [(10, 1000)] and a.last == 10
    assert a.pop_front(10) == 1000


WS = TcpOptions(mss=1000, sack_perm=True, wscale=7)


def test_right_to_left_window_is_reassembled_in_place() -> None:
    """64 segments of a 64000-byte window sent last first: every one is written into
    the ring once, the SACK block grows leftwards, the first one makes it readable."""
    h = Harness()
    _lst, s, synack = h.handshake(WS)
    our = synack.seq + 1
    t = s.inner
    data = bytes(range(256)) * 250  # 64000 bytes
    for i in range(63, 0, -1):
        h.send(ACK, 1001 + 1000 * i, our, data[1000 * i : 1000 * i + 1000])
    h.advance(0.001)
    acks = h.recv()
    assert len(acks) == 63 and all(a.ack == 1001 for a in acks)
    assert acks[-1].options.sack_blocks == ((1001 + 1000, 1001 + 64000),)
    assert len(t.ooo) == 1 and t.ooo_bytes == 63000 and len(t.rcvbuf) == 0
    assert t.rcvbuf.capacity == 65536  # the storage the window needed, no more
    h.send(ACK, 1001, our, data[:1000])
    h.advance(0.001)
    (ack,) = h.recv()
    assert ack.ack == 1001 + 64000 and not ack.options.sack_blocks
    assert len(t.ooo) == 0 and len(t.rcvbuf) == 64000
    assert s.recv(1 << 20) == data


def test_send_ring_wraps_under_partial_acks() -> None:
    """Segments carry the right bytes when the unacknowledged data wraps around the
    end of the send ring."""
    h = Harness()
    _lst, s, synack = h.handshake(TcpOptions(mss=1000), window=65535)
    una = synack.seq + 1
    t = s.inner
    blob = bytes(range(251)) * 100  # 25100 bytes, not a multiple of anything here
    sent = 0
    got = bytearray()
    for _ in range(30):
        if sent < len(blob):
            sent += s.send(blob[sent : sent + 3000])
        h.advance(0.001)
        for seg in h.recv():
            if seg.payload:
                assert seg.seq == una + len(got)
                got += seg.payload
        if got:
            h.send(ACK, 1001, una + len(got))  # everything so far
            h.advance(0.001)
    assert bytes(got) == blob
    assert t.sndbuf.capacity <= 16384 and len(t.sndbuf) == 0


def test_close_gives_the_rings_back() -> None:
    h = Harness()
    _lst, s, synack = h.handshake(WS)
    our = synack.seq + 1
    h.send(ACK, 1001 + 2000, our, b"o" * 1000)  # out of order: held in the ring
    h.send(ACK, 1001, our, b"i" * 1000)
    s.send(b"q" * 5000)  # more than the peer's first window: some stays queued
    h.advance(0.001)
    t = s.inner
    assert len(t.rcvbuf) == 1000 and len(t.ooo) == 1 and len(t.sndbuf) == 5000
    assert t.rcvbuf.capacity > 0 and t.sndbuf.capacity > 0
    h.recv()
    s.close(h.now)  # unread data: a reset, and the connection is gone
    assert [seg.flags & RST for seg in h.recv()] == [RST]
    assert t.rcvbuf.capacity == 0 and t.sndbuf.capacity == 0 and len(t.ooo) == 0


def test_time_wait_keeps_no_buffers() -> None:
    """A connection in TIME_WAIT (2 MSL) sends and receives nothing more: its rings
    go back when it enters that state, not when it is freed a minute later."""
    h = Harness()
    _lst, s, synack = h.handshake(WS)
    our = synack.seq + 1
    s.send(b"r" * 3000)
    h.send(ACK, 1001, our, b"q" * 2000)
    h.advance(0.001)
    assert s.recv(5000) == b"q" * 2000
    s.shutdown_write(h.now)
    h.advance(0.001)
    t = s.inner
    assert t.state == 4 and t.sndbuf.capacity > 0  # FIN_WAIT_1, data unacknowledged
    h.send(ACK | FIN, 3001, t.snd_max)
    h.advance(0.001)
    assert t.state == 6  # TIME_WAIT
    assert t.sndbuf.capacity == 0 and t.rcvbuf.capacity == 0


def test_send_takes_any_buffer_as_bytes() -> None:
    """A memoryview of ints is its bytes: the ring copies bytes, the count is bytes."""
    h = Harness()
    _lst, s, _synack = h.handshake(WS)
    words = array.array("i", [1, 2, 3])
    assert s.send(memoryview(words)) == 12
    h.advance(0.001)
    assert [g.payload for g in h.recv() if g.payload] == [words.tobytes()]


def test_memory_pressure_gives_drained_rings_back() -> None:
    """Every ring charges its storage to the stack's RingMemory; over its share of the
    limit under pressure (here 0 and 0: always) a ring that drains gives its storage
    back and the send buffer does not grow."""
    cfg = TcpConfig()
    cfg.mem_pressure = cfg.mem_limit = 0
    h = Harness(config=cfg)
    _lst, s, synack = h.handshake(WS)
    our = synack.seq + 1
    t = s.inner
    mem = t.layer.mem
    sndbuf = t.sndbuf_limit
    h.send(ACK, 1001, our, b"i" * 1000)
    s.send(b"q" * 3000)
    h.advance(0.001)
    segs = h.recv()
    assert sum(len(g.payload) for g in segs) == 3000
    assert mem.held == t.rcvbuf.capacity + t.sndbuf.capacity == 2 * MIN_CAPACITY
    assert mem.rings == 2
    assert s.recv(5000) == b"i" * 1000
    assert t.rcvbuf.capacity == 0 and mem.held == MIN_CAPACITY
    h.send(ACK, 2001, our + 3000)  # all of it acknowledged
    h.advance(0.001)
    assert t.sndbuf.capacity == 0 and mem.held == 0
    assert t.sndbuf_limit <= sndbuf


def test_released_storage_is_kept_for_the_next_rings(monkeypatch) -> None:
    """A ring's released storage serves the next ring of its size (no new mapping per
    connection), up to SPARE_BYTES per size, never while a view of it is alive and
    never under memory pressure; kept storage is not counted as held."""
    mem = RingMemory(1 << 30, 1 << 30)
    a = ByteRing(mem)
    a.append(b"x" * 100)
    storage = a.buf
    a.release()
    assert mem.held == 0 and mem.spare[MIN_CAPACITY] == [storage]
    b = ByteRing(mem)
    b.append(b"y" * 10)
    assert b.buf is storage and b.read(10) == b"y" * 10 and mem.held == MIN_CAPACITY
    view = b.mv[:0]             # a view of the storage outlives the ring's release
    b.release()
    assert mem.spare[MIN_CAPACITY] == [] and storage.closed is False
    del view
    rings = [ByteRing(mem) for _ in range(SPARE_BYTES // MIN_CAPACITY + 2)]
    for r in rings:
        r.append(b"z")
    for r in rings:
        r.release()
    assert len(mem.spare[MIN_CAPACITY]) == SPARE_BYTES // MIN_CAPACITY
    pressed = RingMemory(0, 0)
    c = ByteRing(pressed)
    c.append(b"p")
    pressed.held += 1           # another ring's storage: over the pressure mark
    c.release()
    assert pressed.spare.get(MIN_CAPACITY, []) == []
    # an interpreter whose mmap cannot refuse a resize under a live view (PyPy): none kept
    monkeypatch.setattr(ring_module, "_VIEWS_CHECKED", False)
    plain = RingMemory(1 << 30, 1 << 30)
    d = ByteRing(plain)
    d.append(b"q")
    d.release()
    assert plain.spare.get(MIN_CAPACITY, []) == [] and plain.held == 0

"""A seeded, in-process network between two NetStacks, on a virtual clock.

``Link`` joins two ``LinkEnd`` devices (loopback-like Ethernet devices whose frames
go to the other end instead of coming back). Both stacks keep their usual lo
addresses (127.0.0.1, ::1): a connection from stack A to 127.0.0.1:P reaches the
listener of stack B on P. Each direction has a propagation delay, a serialization
rate, a drop-tail queue, and seeded impairments: loss (``loss_ba`` for B to A if it
differs; bursty with ``ge``, a Gilbert-Elliott chain), duplication, reordering (extra
delay for a fraction of frames), jitter, corruption (one byte flipped; use
``offload=False`` so checksums are computed and verified and corrupted frames are
dropped), and ``down``: a period in which the link carries nothing. ``run_transfer``
moves data both ways and closes, returning what each side received and the virtual
time it took.
"""

from __future__ import annotations

import hashlib
import heapq
import random

from rocketnet import constants as C
from rocketnet.phy import LoopbackDevice
from rocketnet.phy.netbuf import NetBuf
from rocketnet.stack import NetStack


class LinkEnd(LoopbackDevice):
    def __init__(self, link: Link, mtu: int, offload: bool) -> None:
        super().__init__(mtu=mtu, large_bufs=4096, small_bufs=4096)
        self._caps.checksum_offload = offload
        self.link = link
        self.peer: LinkEnd | None = None
        self.busy_until = 0.0
        self.rx_dropped = 0

    def send(self, buf: NetBuf) -> None:
        frame = bytes(buf.view[: buf.length])
        buf.pool.dealloc(buf)
        self.frames_sent += 1
        self.link.transmit(self, frame)

    def deliver(self, frame: bytes) -> None:
        buf = self.alloc_tx_buffer(len(frame))
        if buf is None:
            self.rx_dropped += 1
            return
        buf.view[: len(frame)] = frame
        self.queue.append(buf)


class Link:
    def __init__(
        self,
        seed: int,
        loss: float = 0.0,
        dup: float = 0.0,
        reorder: float = 0.0,
        corrupt: float = 0.0,
        delay: float = 0.005,
        rate: float = 100e6,
        queue_bytes: int = 256 * 1024,
        mtu: int = 1500,
        offload: bool = True,
        loss_ba: float | None = None,
        jitter: float = 0.0,
        ge: tuple[float, float, float] | None = None,
        down: tuple[float, float] | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.loss, self.dup, self.reorder, self.corrupt = loss, dup, reorder, corrupt
        self.loss_ba = loss if loss_ba is None else loss_ba
        self.jitter = jitter
        # Gilbert-Elliott: (P(good -> bad), P(bad -> good), loss in the bad state), per
        # frame and direction; in the good state ``loss`` applies
        self.ge = ge
        self.bad = {True: False, False: False}  # per direction (from a?)
        self.down = down
        self.delay = delay
        self.rate = rate
        self.queue_bytes = queue_bytes
        self.now = 0.0
        self.events: list[tuple[float, int, LinkEnd, bytes]] = []
        self._seq = 0
        self.a = LinkEnd(self, mtu, offload)
        self.b = LinkEnd(self, mtu, offload)
        self.a.peer, self.b.peer = self.b, self.a
        self.counts = {"sent": 0, "lost": 0, "dup": 0, "reordered": 0, "corrupted": 0,
                       "queue_drops": 0, "down_drops": 0, "delivered": 0}

    def transmit(self, src: LinkEnd, frame: bytes) -> None:
        dst = src.peer
        assert dst is not None
        rng = self.rng
        c = self.counts
        c["sent"] += 1
        # drop-tail queue in front of the serializer
        start = src.busy_until if src.busy_until > self.now else self.now
        if (start - self.now) * self.rate / 8 > self.queue_bytes:
            c["queue_drops"] += 1
            return
        src.busy_until = start + len(frame) * 8 / self.rate
        down = self.down
        if down is not None and down[0] <= self.now < down[1]:
            c["down_drops"] += 1
            return
        fwd = src is self.a
        loss = self.loss if fwd else self.loss_ba
        ge = self.ge
        if ge is not None:
            bad = self.bad[fwd]
            if rng.random() < (ge[1] if bad else ge[0]):
                bad = self.bad[fwd] = not bad
            if bad:
                loss = ge[2]
        if rng.random() < loss:
            c["lost"] += 1
            return
        copies = 2 if rng.random() < self.dup else 1
        if copies == 2:
            c["dup"] += 1
        for _ in range(copies):
            f = frame
            if rng.random() < self.corrupt and len(f) > 14:
                c["corrupted"] += 1
                i = rng.randrange(14, len(f))
                b = bytearray(f)
                b[i] ^= 1 << rng.randrange(8)
                f = bytes(b)
            at = src.busy_until + self.delay
            if self.jitter:
                at += rng.uniform(0, self.jitter)
            if rng.random() < self.reorder:
                c["reordered"] += 1
                at += rng.uniform(0, 3 * self.delay)
            self._seq += 1
            heapq.heappush(self.events, (at, self._seq, dst, f))

    def next_time(self) -> float | None:
        return self.events[0][0] if self.events else None

    def advance(self, now: float) -> None:
        self.now = now
        ev = self.events
        while ev and ev[0][0] <= now:
            _t, _s, dst, f = heapq.heappop(ev)
            self.counts["delivered"] += 1
            dst.deliver(f)


def make_stacks(link: Link, seed: int = 0) -> tuple[NetStack, NetStack]:
    return NetStack(seed=seed, loopback=link.a), NetStack(seed=seed + 1, loopback=link.b)


class Sim:
    """Drives two stacks and a link on one virtual clock."""

    def __init__(self, link: Link, sa: NetStack, sb: NetStack) -> None:
        self.link, self.sa, self.sb = link, sa, sb
        self.now = 0.0

    def step(self, max_dt: float = 0.05) -> None:
        cands = [self.now + max_dt]
        for t in (self.sa.poll_at(self.now), self.sb.poll_at(self.now), self.link.next_time()):
            if t is not None:
                cands.append(t)
        t = min(cands)
        if t > self.now:
            self.now = t
        self.link.advance(self.now)
        self.sa.poll(self.now)
        self.sb.poll(self.now)

    def connect(self, port: int = 5001, family: int = C.AF_INET, configure=None):
        host = "127.0.0.1" if family == C.AF_INET else "::1"
        lst = self.sb.socket(family, C.SOCK_STREAM, 0)
        lst.bind((host, port))
        lst.listen(8)
        cli = self.sa.socket(family, C.SOCK_STREAM, 0)
        if configure is not None:
            configure(cli)
            configure(lst)
        cli.connect((host, port), self.now)
        srv = None
        for _ in range(100000):
            self.step()
            srv = srv or lst.accept()
            if srv is not None and cli.state == "ESTABLISHED":
                break
        assert srv is not None and cli.state == "ESTABLISHED"
        return lst, cli, srv


def run_transfer(sim: Sim, cli, srv, up: bytes, down: bytes, limit: float,
                 srv_reads=None, observe=None) -> dict:
    """Send ``up`` cli->srv and ``down`` srv->cli at once, then close both ways.
    Returns received bytes, the virtual duration and whether both sides finished.
    ``srv_reads(t)``: whether the server's program reads at t (default: always);
    ``observe(t, got_up, got_down)`` is called after every step."""
    t0 = sim.now
    got_up = bytearray()
    got_down = bytearray()
    su = sd = 0
    shut_a = shut_b = False
    mv_up, mv_down = memoryview(up), memoryview(down)
    while sim.now - t0 < limit:
        if su < len(up):
            su += cli.send(mv_up[su : su + 262144])
        elif not shut_a:
            cli.shutdown_write(sim.now)
            shut_a = True
        if sd < len(down):
            sd += srv.send(mv_down[sd : sd + 262144])
        elif not shut_b:
            srv.shutdown_write(sim.now)
            shut_b = True
        sim.step()
        if srv_reads is None or srv_reads(sim.now - t0):
            got_up += srv.recv(1 << 22)
        got_down += cli.recv(1 << 22)
        if observe is not None:
            observe(sim.now - t0, got_up, got_down)
        if cli.rx_eof and srv.rx_eof and shut_a and shut_b:
            break
    return {
        "up": bytes(got_up),
        "down": bytes(got_down),
        "time": sim.now - t0,
        "done": cli.rx_eof and srv.rx_eof,
    }


def payload(seed: int, n: int) -> bytes:
    """n pseudo-random bytes (fast: SHAKE-256 of the seed)."""
    return hashlib.shake_256(b"netsim%d" % seed).digest(n)

"""The :class:`Lab`: stacks and media on one virtual clock, and the helpers a
learner (or a test) needs to open a connection and move bytes through it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from .. import constants as C
from ..iface import InterfaceWrapper
from ..socket import Socket
from ..stack import NetStack
from .clock import VirtualClock
from .media import Hub, Medium, MemDevice


class Lab:
    """Drives ``stacks`` and ``media`` on ``clock``: each :meth:`step` moves the clock to
    the earliest thing that has to happen (a stack's timer, a frame arriving, or
    ``max_dt`` from now), delivers the frames due and polls every stack."""

    def __init__(self, stacks: Iterable[NetStack] = (), media: Iterable[Medium] = (),
                 clock: VirtualClock | None = None) -> None:
        self.clock = clock if clock is not None else VirtualClock()
        self.stacks: list[NetStack] = list(stacks)
        self.media: list[Medium] = list(media)

    @property
    def now(self) -> float:
        return self.clock.now

    def next_time(self) -> float | None:
        """The earliest time a stack or a medium needs attention (None: all idle)."""
        now = self.clock.now
        times = [s.poll_at(now) for s in self.stacks] + [m.next_time() for m in self.media]
        due = [t for t in times if t is not None]
        return min(due) if due else None

    def poll(self) -> None:
        """Deliver due frames, then poll every stack, at the current time."""
        now = self.clock.now
        for m in self.media:
            m.advance(now)
        for s in self.stacks:
            s.poll(now)

    def step(self, max_dt: float = 0.05) -> None:
        nxt = self.next_time()
        t = self.clock.now + max_dt
        if nxt is not None and nxt < t:
            t = nxt
        if t > self.clock.now:
            self.clock.now = t
        self.poll()

    def run_until(self, condition: Callable[[], Any] | None = None, timeout: float = 30.0,
                  max_dt: float = 0.05) -> bool:
        """Step until ``condition()`` is true (True), or ``timeout`` virtual seconds pass
        (False). Without a condition: until nothing is pending anywhere."""
        end = self.clock.now + timeout
        self.poll()
        while True:
            if condition is not None:
                if condition():
                    return True
            elif self.next_time() is None:
                return True
            left = end - self.clock.now
            if left <= 0:
                return False
            self.step(min(max_dt, left))

    def run_for(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass, serving every event on the way."""
        self.run_until(lambda: False, timeout=seconds)

    def connect(self, client: NetStack, server: NetStack, addr: str = "127.0.0.1",
                port: int = 5001, configure: Callable[[Socket], None] | None = None,
                timeout: float = 30.0) -> tuple[Socket, Socket, Socket]:
        """A listener on ``server`` (bound to ``addr``:``port``), a client on ``client``
        connecting to it, run until both ends are ESTABLISHED: (listener, client,
        accepted). ``configure(sock)`` runs on the client and the listener first."""
        family = C.AF_INET6 if ":" in addr else C.AF_INET
        lst = server.socket(family, C.SOCK_STREAM, 0)
        lst.bind((addr, port))
        lst.listen(8)
        cli = client.socket(family, C.SOCK_STREAM, 0)
        if configure is not None:
            configure(cli)
            configure(lst)
        cli.connect((addr, port), self.clock.now)
        got: list[Socket] = []

        def established() -> bool:
            if not got:
                s = lst.accept()
                if s is not None:
                    got.append(s)
            return bool(got) and cli.state == "ESTABLISHED"

        if not self.run_until(established, timeout):
            raise TimeoutError(f"no connection to {addr}:{port} in {timeout} s "
                               f"(client {cli.state}, error {cli.error})")
        return lst, cli, got[0]


def host(hub: Hub, n: int, seed: int = 0, mtu: int = 1500) -> NetStack:
    """A stack whose eth0 (MAC 02:00:00:00:00:n) is on ``hub`` with 10.0.0.n/24 and
    fd00::n/64."""
    st = NetStack(seed=seed)
    mac = bytes((2, 0, 0, 0, 0, n))
    eth = InterfaceWrapper("eth0", MemDevice(hub, mac, mtu),
                           [(bytes((10, 0, 0, n)), 24), (b"\xfd" + b"\x00" * 14 + bytes((n,)), 64)])
    st.add_interface(eth)
    return st


def run(stacks: Iterable[NetStack], clock: VirtualClock,
        until: Callable[[], Any] | None = None, max_time: float = 30.0) -> bool:
    """Poll ``stacks`` on ``clock`` until ``until()`` or ``max_time`` (media that
    deliver at once, such as an unimpaired Hub, need no driving)."""
    return Lab(stacks, clock=clock).run_until(until, max_time)


def tcp_pair(stack: NetStack, clock: VirtualClock, family: int = C.AF_INET,
             port: int = 5001) -> tuple[Socket, Socket, Socket]:
    """(listener, client, accepted) connected over ``stack``'s own loopback after one
    1 ms step (the handshake completes within one poll there)."""
    addr = "127.0.0.1" if family == C.AF_INET else "::1"
    lst = stack.socket(family, C.SOCK_STREAM, 0)
    lst.bind((addr, port))
    lst.listen(8)
    cli = stack.socket(family, C.SOCK_STREAM, 0)
    cli.connect((addr, port), clock.now)
    clock.step(stack)
    srv = lst.accept()
    if srv is None or cli.state != "ESTABLISHED":
        raise RuntimeError(f"loopback handshake incomplete: client {cli.state}")
    return lst, cli, srv


def pump(stack: NetStack, clock: VirtualClock, src: Socket, dst: Socket, data: bytes,
         chunk: int = 1 << 20) -> bytes:
    """Send all of ``data`` from ``src``, stepping 1 ms at a time and draining ``dst``,
    until it has all arrived (or 100000 steps); returns what ``dst`` received."""
    sent = 0
    out = bytearray()
    for _ in range(100000):
        if sent < len(data):
            sent += src.send(data[sent : sent + chunk])
        clock.step(stack)
        out += dst.recv(1 << 22)
        if len(out) >= len(data):
            break
    return bytes(out)


def run_transfer(lab: Lab, cli: Socket, srv: Socket, up: bytes, down: bytes,
                 limit: float, srv_reads: Callable[[float], bool] | None = None,
                 observe: Callable[[float, bytearray, bytearray], None] | None = None,
                 ) -> dict[str, Any]:
    """Send ``up`` cli->srv and ``down`` srv->cli at once, then close both ways.
    Returns what each side received, the virtual time it took and whether both saw
    the end of the stream (``done``). ``srv_reads(t)``: whether the server's program
    reads at t seconds in (default: always); ``observe(t, got_up, got_down)`` is called
    after every step."""
    t0 = lab.now
    got_up = bytearray()
    got_down = bytearray()
    su = sd = 0
    shut_a = shut_b = False
    mv_up, mv_down = memoryview(up), memoryview(down)
    while lab.now - t0 < limit:
        if su < len(up):
            su += cli.send(mv_up[su : su + 262144])
        elif not shut_a:
            cli.shutdown_write(lab.now)
            shut_a = True
        if sd < len(down):
            sd += srv.send(mv_down[sd : sd + 262144])
        elif not shut_b:
            srv.shutdown_write(lab.now)
            shut_b = True
        lab.step()
        if srv_reads is None or srv_reads(lab.now - t0):
            got_up += srv.recv(1 << 22)
        got_down += cli.recv(1 << 22)
        if observe is not None:
            observe(lab.now - t0, got_up, got_down)
        if cli.rx_eof and srv.rx_eof and shut_a and shut_b:
            break
    return {"up": bytes(got_up), "down": bytes(got_down), "time": lab.now - t0,
            "done": cli.rx_eof and srv.rx_eof}


def payload(seed: int, n: int) -> bytes:
    """``n`` reproducible pseudo-random bytes (SHAKE-256 of the seed: fast)."""
    return hashlib.shake_256(b"netsim%d" % seed).digest(n)

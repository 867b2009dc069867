"""smoltcp-style segment harness: one NetStack and a scripted TCP peer at 127.0.0.2.

You play the peer: :meth:`Harness.send` injects a TCP segment (``TcpRepr``) and
:meth:`Harness.recv` returns, parsed, exactly the segments the stack sent towards it,
on a virtual clock you move with :meth:`Harness.at` / :meth:`Harness.advance`. Frames
to other addresses loop back as on lo. Good for asking "what does the stack answer
to *this* segment?" segment by segment.
"""

from __future__ import annotations

from .. import constants as C
from ..phy import LoopbackDevice
from ..phy.netbuf import NetBuf
from ..stack import NetStack
from ..transport import TcpConfig
from ..wire import Ipv4Repr, TcpRepr
from ..wire.tcp import ACK, FIN, PSH, RST, SYN, TcpOptions

__all__ = ["ACK", "FIN", "PSH", "RST", "SYN", "Harness", "TcpOptions", "TcpRepr"]

PEER = b"\x7f\x00\x00\x02"
LOCAL = b"\x7f\x00\x00\x01"
_ETH = b"\x00" * 12 + b"\x08\x00"


class CaptureLoopback(LoopbackDevice):
    """lo, except that frames to the scripted peer are parsed and kept (``captured``)."""

    def __init__(self) -> None:
        super().__init__()
        self.captured: list[tuple[Ipv4Repr, TcpRepr]] = []

    def send(self, buf: NetBuf) -> None:
        frame = bytes(buf.view[: buf.length])
        if frame[12:14] == b"\x08\x00" and frame[30:34] == PEER:
            buf.pool.dealloc(buf)
            ip, seg = Ipv4Repr.parse(frame[14:], verify_checksum=False)
            self.captured.append((ip, TcpRepr.parse(seg)))
            return
        super().send(buf)

    def inject(self, frame: bytes) -> None:
        buf = self.alloc_tx_buffer(len(frame))
        assert buf is not None
        buf.view[: len(frame)] = frame
        LoopbackDevice.send(self, buf)


class Harness:
    """The stack (``stack``, TCP ``config``, ``seed``, ``msl``) and the peer's side."""

    def __init__(self, config: TcpConfig | None = None, seed: int = 1, msl: float = 1.0) -> None:
        self.dev = CaptureLoopback()
        self.stack = NetStack(seed=seed, msl=msl, config=config, loopback=self.dev)
        self.now = 0.0
        self.peer_port = 40000

    def at(self, t: float) -> None:
        """Advance the virtual clock to ``t`` and poll."""
        assert t >= self.now
        self.now = t
        self.stack.poll(t)

    def advance(self, dt: float) -> None:
        self.at(self.now + dt)

    def run_until(self, t: float, step: float = 0.01) -> None:
        """Poll at every deadline the stack asks for up to ``t``."""
        while True:
            nxt = self.stack.poll_at(self.now)
            if nxt is None or nxt > t:
                break
            self.at(max(nxt, self.now))
        self.at(t)

    def send(self, flags: int, seq: int, ack: int = 0, payload: bytes = b"",
             window: int = 65535, options: TcpOptions | None = None, port: int = 5001,
             urgent: int = 0) -> None:
        """Inject one segment from the peer (processed at the next poll)."""
        seg = TcpRepr(self.peer_port, port, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, flags,
                      window, urgent, options, payload).to_bytes()
        ip = Ipv4Repr(PEER, LOCAL, 6, len(seg)).to_bytes()
        self.dev.inject(_ETH + ip + seg)

    def recv(self) -> list[TcpRepr]:
        """Segments the stack sent to the peer since the last call."""
        out = [t for _ip, t in self.dev.captured]
        self.dev.captured.clear()
        return out

    def listen(self, port: int = 5001, rcvbuf: int | None = None):  # type: ignore[no-untyped-def]
        lst = self.stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
        if rcvbuf is not None:
            lst.setsockopt(C.SOL_SOCKET, C.SO_RCVBUF, rcvbuf)
        lst.bind(("127.0.0.1", port))
        lst.listen(8)
        return lst

    def handshake(self, options: TcpOptions | None = None, isn: int = 1000,
                  window: int = 65535, rcvbuf: int | None = None):  # type: ignore[no-untyped-def]
        """Passive open by the peer; returns (listener, accepted socket, SYN-ACK)."""
        lst = self.listen(rcvbuf=rcvbuf)
        self.send(SYN, isn, 0, window=window,
                  options=options if options is not None else TcpOptions(mss=1460))
        self.advance(0.001)
        synack = self.recv()
        assert len(synack) == 1 and synack[0].flags == SYN | ACK
        self.send(ACK, isn + 1, synack[0].seq + 1, window=window,
                  options=_ts_echo(options, synack[0]))
        self.advance(0.001)
        s = lst.accept()
        assert s is not None and s.state == "ESTABLISHED"
        return lst, s, synack[0]


def _ts_echo(options: TcpOptions | None, synack: TcpRepr) -> TcpOptions | None:
    if options is not None and options.timestamps is not None and synack.options.timestamps:
        return TcpOptions(timestamps=(options.timestamps[0] + 1, synack.options.timestamps[0]))
    return None

"""TCP probe: per-socket congestion-control state over time, as Linux's tcp_probe
tracepoint and ``ss -ti`` show it, one record per event.

Off by default and cheap when off: the TCP layer keeps ``probe = None`` and each hook
is one attribute check. Switched on (``NetStack.set_tcp_probe(sink)``), every event
calls ``sink(record)`` with a dict (one JSON line in the stack host's file):

``ev``      ``ack`` (an ACK was processed: after the congestion control reacted),
            ``recovery`` (fast retransmit: ssthresh and cwnd cut), ``rto`` (timeout),
            ``state`` (the connection changed state; ``local``/``remote`` name it)
``t``       the stack's time (seconds; the host's monotonic clock)
``sock``    the stack's socket handle (``stack.sockets``; the host's log names it too)
``state``, ``cwnd``/``ssthresh``/``mss`` (bytes), ``srtt``/``rttvar``/``rto`` (ms),
``inflight`` (RFC 6675 pipe, bytes), ``unacked`` (bytes), ``snd_wnd`` (bytes),
``retrans`` (segments retransmitted so far), ``ca_state`` (0 open, 1 disorder,
3 recovery, 4 loss, as tcpi_ca_state), ``sack`` (the SACK scoreboard: [start, end)
byte offsets of the stream, only when non-empty).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .consts import M
from .layer import TcpLayer
from .tcb import TcpSocket

Sink = Callable[[dict[str, Any]], None]
NO_SSTHRESH = 0x7FFFFFFF


def _endpoint(addr: bytes, port: int) -> str:
    if len(addr) == 4:
        return f"{'.'.join(str(b) for b in addr)}:{port}"
    h = addr.hex()
    return "[" + ":".join(h[i : i + 4] for i in range(0, 32, 4)) + f"]:{port}"


class TcpProbe:
    def __init__(self, layer: TcpLayer, sink: Sink) -> None:
        self.layer = layer
        self.sink = sink
        self.states: dict[int, str] = {}        # last state reported, per socket handle

    def _record(self, tcb: TcpSocket, ev: str) -> dict[str, Any]:
        layer = self.layer
        r: dict[str, Any] = {
            "t": round(layer.now, 6), "sock": tcb.handle, "ev": ev, "state": tcb.state_name,
            "cwnd": tcb.cwnd, "ssthresh": tcb.ssthresh if tcb.ssthresh != NO_SSTHRESH else None,
            "mss": tcb.mss, "srtt": round(tcb.srtt * 1000, 3),
            "rttvar": round(tcb.rttvar * 1000, 3), "rto": round(tcb.rto * 1000, 3),
            "inflight": layer._pipe(tcb), "unacked": (tcb.snd_max - tcb.snd_una) & M,
            "snd_wnd": tcb.snd_wnd, "retrans": tcb.total_retrans, "ca_state": tcb.ca_state,
        }
        if tcb.sacked:
            r["sack"] = [list(b) for b in tcb.sacked]
        return r

    def ack(self, tcb: TcpSocket) -> None:
        self.sink(self._record(tcb, "ack"))

    def loss(self, tcb: TcpSocket, ev: str) -> None:
        self.sink(self._record(tcb, ev))

    def state(self, tcb: TcpSocket) -> None:
        name = tcb.state_name
        if self.states.get(tcb.handle) == name:
            return
        self.states[tcb.handle] = name
        r = self._record(tcb, "state")
        if tcb.rport:
            r["local"] = _endpoint(tcb.lip, tcb.local_port)
            r["remote"] = _endpoint(tcb.rip, tcb.rport)
        if name == "CLOSED":
            del self.states[tcb.handle]
        self.sink(r)

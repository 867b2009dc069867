"""The TCP engine (RFC 9293 state machine, RFC 6298 timers, RFC 7323 window scaling,
RFC 5681/6582 congestion control), driven by ``TcpLayer.poll``-style calls.

``TcpSocket`` (tcb.py) is the transmission control block plus its buffers (and
what a read does: the window update) and options; ``TcpLayer`` (layer.py) owns
every TCB, the ListenTable, the bind table, timers and the segment input/output
paths, one part per file: ports.py (binding, listen/accept), input.py, output.py,
recovery.py (SACK scoreboard, fast recovery), timers.py (RTO, persist, keepalive,
delayed ACK, RTT), congestion.py, buffers.py (buffer sizes, autotuning),
reassembly.py (out-of-order data), listen.py (ListenTable), rtt.py (send times for
RTT samples), probe.py (tcp_probe-like tracing). Nothing here
does I/O or reads a clock: time is the ``now`` given by the caller, frames go to the
interfaces' devices.

Sequence numbers are plain ints modulo 2**32; comparisons go through ``(a - b) & M``.
"""

from __future__ import annotations

from .config import TcpConfig
from .consts import (
    CLOSE_WAIT,
    CLOSED,
    CLOSING,
    ESTABLISHED,
    FIN_WAIT_1,
    FIN_WAIT_2,
    HALF,
    LAST_ACK,
    LISTEN,
    STATE_NAMES,
    SYN_RECEIVED,
    SYN_SENT,
    TIME_WAIT,
    URG_NOTYET,
    URG_READ,
    URG_VALID,
    M,
)
from .layer import TcpLayer
from .tcb import TcpSocket

__all__ = [
    "CLOSED",
    "CLOSE_WAIT",
    "CLOSING",
    "ESTABLISHED",
    "FIN_WAIT_1",
    "FIN_WAIT_2",
    "HALF",
    "LAST_ACK",
    "LISTEN",
    "M",
    "STATE_NAMES",
    "SYN_RECEIVED",
    "SYN_SENT",
    "TIME_WAIT",
    "URG_NOTYET",
    "URG_READ",
    "URG_VALID",
    "TcpConfig",
    "TcpLayer",
    "TcpSocket",
]

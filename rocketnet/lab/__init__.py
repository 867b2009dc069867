"""rocketnet.lab: run rocketnet stacks in your own Python process, on a virtual clock.

Everything here is sans-I/O like the stack itself: no sockets, no threads, no wall
clock. Time is a :class:`VirtualClock` that moves only when the lab moves it, and every
random choice (impairments, ISNs, ports) is seeded, so a run prints the same lines
every time.

The pieces:

- :class:`Hub`: a shared Ethernet segment; :func:`host` makes a stack with an eth0
  (:class:`MemDevice`) on it at 10.0.0.n/24 and fd00::n/64.
- :class:`Cable`: two stacks' loopback devices back to back, with a rate, a queue and
  a delay (a connection to 127.0.0.1 from one stack reaches the other).
- :class:`~rocketnet.phy.Impairments`: seeded loss, delay, jitter, reordering,
  duplication and corruption for either medium.
- :class:`Lab`: steps stacks and media together; :meth:`Lab.run_until` runs until a
  condition holds, :meth:`Lab.connect` opens a TCP connection between two stacks.
- :class:`FramePrinter`: one tcpdump-style line per frame (hang it on
  ``medium.observers``); :func:`parse_frame` decodes a frame with the stack's parsers.
- :class:`DropLoopback`, :func:`tcp_pair`, :func:`pump`: one stack talking to itself,
  losing chosen frames. :mod:`rocketnet.lab.harness`: a scripted TCP peer.

Two stacks, a TCP connection and every segment printed::

    from rocketnet.lab import Cable, FramePrinter, Lab
    from rocketnet.stack import NetStack

    cable = Cable(delay=0.005)
    a, b = NetStack(seed=1, loopback=cable.a), NetStack(seed=2, loopback=cable.b)
    cable.observers.append(FramePrinter())
    lab = Lab([a, b], [cable])
    _listener, cli, srv = lab.connect(a, b, "127.0.0.1", 5001)
    cli.send(b"hello")
    lab.run_until(lambda: srv.rx_available() == 5)

See examples/ in the repository for complete programs.
"""

from __future__ import annotations

from ..wire.frame import Frame, parse_frame, tcp_flags, tcp_payload_len
from .clock import VirtualClock
from .lab import Lab, host, payload, pump, run, run_transfer, tcp_pair
from .media import Cable, CableEnd, DropLoopback, Hub, Medium, MemDevice
from .printer import FramePrinter

__all__ = [
    "Cable",
    "CableEnd",
    "DropLoopback",
    "Frame",
    "FramePrinter",
    "Hub",
    "Lab",
    "Medium",
    "MemDevice",
    "VirtualClock",
    "host",
    "parse_frame",
    "payload",
    "pump",
    "run",
    "run_transfer",
    "tcp_flags",
    "tcp_pair",
    "tcp_payload_len",
]

"""TCP across a cable that loses 2% of the frames: how the stack notices and recovers.

Run: python examples/loss_recovery.py
Two stacks, joined by a 10 Mbit/s cable with 10 ms of delay each way and seeded 2%
loss, move 256 KiB. Only the interesting frames are printed: the first duplicate ACK
carrying SACK blocks after each loss (the receiver saying "I have these, something
before is missing") and the retransmissions that answer it. The end shows the
counters and TCP_INFO.
"""

from __future__ import annotations

import struct

from rocketnet import constants as C
from rocketnet.lab import Cable, FramePrinter, Lab, parse_frame, payload
from rocketnet.phy import Impairments
from rocketnet.stack import NetStack

SIZE = 256 * 1024


def main() -> None:
    cable = Cable(Impairments(loss=0.02, seed=7), delay=0.010, rate=10e6)
    printer = FramePrinter()
    seen: set[int] = set()
    last_sack_ack = [-1]

    def interesting(now: float, medium: Cable, frame: bytes) -> None:
        t = parse_frame(frame).tcp
        if t is None:
            return
        line = printer.describe(frame)          # keeps the relative sequence numbers
        if t.payload and t.seq in seen:
            print(f"{now:.6f} RETRANSMIT {line}")
        elif t.options.sack_blocks and t.ack != last_sack_ack[0]:
            last_sack_ack[0] = t.ack
            print(f"{now:.6f} SACK       {line}")
        if t.payload:
            seen.add(t.seq)

    cable.observers.append(interesting)
    a, b = NetStack(seed=1, loopback=cable.a), NetStack(seed=2, loopback=cable.b)
    lab = Lab([a, b], [cable])
    _listener, cli, srv = lab.connect(a, b, "127.0.0.1", 5001)
    data = payload(1, SIZE)
    got = bytearray()
    sent = 0
    start = lab.now
    while len(got) < SIZE and lab.now - start < 60:
        if sent < SIZE:
            sent += cli.send(data[sent:])
        lab.step()
        got += srv.recv(1 << 20)
    print(f"# {len(got)} bytes in {lab.now - start:.3f} virtual seconds, "
          f"intact: {bytes(got) == data}")
    print(f"# frames lost by the cable: {cable.impair.stats['lost']}")
    for k in ("tcp_retransmits", "tcp_fast_retransmits", "tcp_timeouts"):
        print(f"# {k}: {a.stats.get(k, 0)}")
    info = cli.getsockopt(C.IPPROTO_TCP, C.TCP_INFO, 280)
    rtt, rttvar, ssthresh, cwnd = struct.unpack_from("=4I", info, 68)
    print(f"# TCP_INFO: rtt {rtt} us, rttvar {rttvar} us, "
          f"snd_ssthresh {ssthresh}, snd_cwnd {cwnd} segments")


if __name__ == "__main__":
    main()

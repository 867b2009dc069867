"""In-process TCP throughput: two sockets over lo in one NetStack, no shim.

    .venv/bin/python tools/inproc_throughput.py [MiB]   (default 256)

Prints Gbit/s of payload moved client -> server (virtual clock, wall time measured).
"""

from __future__ import annotations

import sys
import time

from rocketnet import constants as C
from rocketnet.stack import NetStack


def main() -> None:
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    total = mib << 20
    stack = NetStack(seed=1)
    now = 0.0
    lst = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    lst.bind(("127.0.0.1", 5201))
    lst.listen(4)
    cli = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    cli.connect(("127.0.0.1", 5201), now)
    now += 0.0001
    stack.poll(now)
    srv = lst.accept()
    assert srv is not None
    chunk = memoryview(bytes(1 << 20))
    sent = got = 0
    t0 = time.perf_counter()
    while got < total:
        if sent < total:
            sent += cli.send(chunk[: min(len(chunk), total - sent)])
        now += 0.0001
        stack.poll(now)
        got += len(srv.recv(1 << 23))
    dt = time.perf_counter() - t0
    print(f"{mib} MiB in {dt:.2f} s: {total * 8 / dt / 1e9:.2f} Gbit/s "
          f"(retransmits {stack.stats['tcp_retransmits']})")


if __name__ == "__main__":
    main()

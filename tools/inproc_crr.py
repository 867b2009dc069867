"""In-process TCP connect-request-response-close (netperf TCP_CRR's shape) in one
NetStack over lo, no shim: how an interpreter's JIT warms up on per-connection code.

    .venv/bin/python tools/inproc_crr.py [connections per batch] [batches]   (200 12)
    pypy3 --jit decay=0,threshold=150 tools/inproc_crr.py   (PYTHONPATH=. for pypy3)

Prints the process's CPU time per connection for each batch (virtual clock; CPU, not
wall time, so other load on the machine moves it less).
"""

from __future__ import annotations

import sys
import time

from rocketnet import constants as C
from rocketnet.stack import NetStack

PORT = 5201
TIME_WAIT_PAST = 61.0   # seconds of virtual time after a close: TIME_WAIT is over


def main() -> None:
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    batches = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    stack = NetStack(seed=1)
    now = 0.0
    lst = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    lst.bind(("127.0.0.1", PORT))
    lst.listen(128)
    req = memoryview(bytes(64))

    def step(dt: float = 0.0001) -> None:
        nonlocal now
        now += dt
        stack.poll(now)

    for b in range(batches):
        t0 = time.process_time()
        for _ in range(batch):
            cli = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
            cli.connect(("127.0.0.1", PORT), now)
            step()
            srv = lst.accept()
            assert srv is not None
            cli.send(req)
            step()
            assert len(srv.recv(1024)) == len(req)
            srv.send(req)
            step()
            assert len(cli.recv(1024)) == len(req)
            cli.close(now)
            step()
            srv.close(now)
            step()
            step(TIME_WAIT_PAST)
        dt = time.process_time() - t0
        print(f"batch {b}: {dt / batch * 1e6:.1f} us CPU per connection", flush=True)


if __name__ == "__main__":
    main()

"""The relay of tools/floor.c in Python (the floor of the process model for a Python
stack host, CPython or PyPy; `tools/cores floor` runs it): forward bytes between pair
ends, and with a control connection answer the socket and connect RPCs with fresh pair
ends passed by SCM_RIGHTS.  No stack: what a host in Python pays at least per
transaction and per connection.  Same arguments and records as `floor relay`:
    floor_relay.py CTL LISTEN FD1 FD2 [FD3 FD4 ...]     (CTL, LISTEN: -1 for none)
"""
from __future__ import annotations

import select
import socket
import struct
import sys

RPC_SOCKET, RPC_CONNECT = 1, 2
WORD = struct.Struct("=I")
ZERO = WORD.pack(0)


def main(argv: list[str]) -> int:
    ctl_fd, listen_fd, *fds = (int(a) for a in argv)
    ep = select.epoll()
    socks: dict[int, socket.socket] = {}
    peer: dict[int, socket.socket] = {}
    ended: set[int] = set()
    ctl = listener = None
    if ctl_fd >= 0:
        ctl = socket.socket(fileno=ctl_fd)
        listener = socket.socket(fileno=listen_fd)
        ep.register(ctl_fd, select.EPOLLIN)

    def link(a: socket.socket, b: socket.socket) -> None:
        for x, y in ((a, b), (b, a)):
            socks[x.fileno()] = x
            peer[x.fileno()] = y
            ep.register(x.fileno(), select.EPOLLIN)

    for a, b in zip(fds[::2], fds[1::2]):
        link(socket.socket(fileno=a), socket.socket(fileno=b))
    live = len(fds) // 2 if ctl is None else 1
    buf = bytearray(65536)
    view = memoryview(buf)
    pending = None
    while live:
        for fd, _ in ep.poll():
            if ctl is not None and fd == ctl_fd:
                op = ctl.recv(4)
                if len(op) < 4:
                    ep.unregister(ctl_fd)
                    ctl.close()
                    if listener is not None:
                        listener.close()    # the server's accept loop ends
                    live = 0
                    continue
                (code,) = WORD.unpack(op)
                if code == RPC_SOCKET:
                    a, pending = socket.socketpair()
                    socket.send_fds(ctl, [ZERO], [a.fileno()])
                    a.close()
                elif code == RPC_CONNECT and pending is not None:
                    a, s = socket.socketpair()
                    link(pending, s)
                    socket.send_fds(listener, [ZERO], [a.fileno()])  # the accept record
                    a.close()
                    pending = None
                    ctl.sendall(ZERO)
                else:
                    raise SystemExit(f"floor_relay: bad rpc {code}")
                continue
            s = socks.get(fd)
            if s is None or fd in ended:
                continue    # closed earlier in this batch with its peer
            try:
                n = s.recv_into(buf)
            except BlockingIOError:
                continue
            except ConnectionError:
                n = 0
            p = peer[fd]
            if n:
                p.sendall(view[:n])
                continue
            # EOF: the peer's A gets a FIN; both closed once both ended
            ended.add(fd)
            ep.unregister(fd)
            p.shutdown(socket.SHUT_WR)
            pfd = p.fileno()
            if pfd in ended:
                for x in (fd, pfd):
                    ended.discard(x)
                    del peer[x]
                    socks.pop(x).close()
                if ctl is None:
                    live -= 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

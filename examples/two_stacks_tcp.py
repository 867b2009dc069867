"""Two stacks on one Ethernet hub, a TCP connection between them, every frame printed.

Run: python examples/two_stacks_tcp.py
You see ARP resolve 10.0.0.2, the three-way handshake, "hello" and its echo, and the
FIN exchange, each line stamped with the virtual time (the hub delays each frame
100 us).
"""

from __future__ import annotations

from rocketnet.lab import FramePrinter, Hub, Lab, host
from rocketnet.phy import Impairments


def main() -> None:
    hub = Hub(Impairments(delay=0.0001), name="eth0")      # 100 us of cable
    hub.observers.append(FramePrinter())
    a, b = host(hub, 1, seed=1), host(hub, 2, seed=2)      # 10.0.0.1 and 10.0.0.2
    lab = Lab([a, b], [hub])
    _listener, cli, srv = lab.connect(a, b, "10.0.0.2", 7)
    print(f"# connected: {cli.getsockname()} -> {cli.getpeername()} at t={lab.now:.6f}")
    cli.send(b"hello")
    lab.run_until(lambda: srv.rx_available() == 5)
    srv.send(srv.recv(5))                                   # an echo server
    lab.run_until(lambda: cli.rx_available() == 5)
    print(f"# client got {cli.recv(100)!r}")
    cli.close(lab.now)
    lab.run_until(lambda: srv.rx_eof)
    srv.close(lab.now)
    lab.run_until(lambda: srv.state == "CLOSED")
    print(f"# client {cli.state}, server {srv.state}")


if __name__ == "__main__":
    main()

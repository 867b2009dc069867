"""UDP multicast on an Ethernet hub: one sender, two members of 239.1.2.3, one
bystander.

Run: python examples/udp_multicast.py
The datagram goes out once (to the group's MAC 01:00:5e:01:02:03); the hub carries it
to every port; the two stacks that joined the group deliver it, the third drops it.
"""

from __future__ import annotations

import socket
import struct

from rocketnet import constants as C
from rocketnet.lab import FramePrinter, Hub, Lab, host
from rocketnet.phy import Impairments

GROUP = "239.1.2.3"
PORT = 7000
IP_MULTICAST_IF = 32


def mreqn(ifindex: int) -> bytes:
    """struct ip_mreqn: group, local address (any), interface index."""
    return socket.inet_aton(GROUP) + bytes(4) + struct.pack("=i", ifindex)


def eth0_index(stack) -> int:  # type: ignore[no-untyped-def]
    return next(i.index for i in stack.interfaces if i.name == "eth0")


def main() -> None:
    hub = Hub(Impairments(delay=0.0001), name="eth0")      # 100 us of cable
    hub.observers.append(FramePrinter())
    stacks = [host(hub, n, seed=n) for n in (1, 2, 3, 4)]    # 10.0.0.1 .. 10.0.0.4
    sender, members, bystander = stacks[0], stacks[1:3], stacks[3]
    lab = Lab(stacks, [hub])
    receivers = []
    for st in members + [bystander]:
        r = st.socket(C.AF_INET, C.SOCK_DGRAM, 0)
        r.bind(("0.0.0.0", PORT))
        receivers.append(r)
    for st, r in zip(members, receivers):
        r.setsockopt(C.IPPROTO_IP, C.IP_ADD_MEMBERSHIP, mreqn(eth0_index(st)))
    s = sender.socket(C.AF_INET, C.SOCK_DGRAM, 0)
    # no route to 239/8 here: name the interface, as ip_mreqn(ifindex) does on Linux
    s.setsockopt(C.IPPROTO_IP, IP_MULTICAST_IF, mreqn(eth0_index(sender)))
    s.sendto(b"hello, group", (GROUP, PORT))
    lab.run_until()
    for n, r in zip((2, 3, 4), receivers):
        dg = r.recv_datagram()
        print(f"# 10.0.0.{n}: {dg.data if dg is not None else None!r}")


if __name__ == "__main__":
    main()

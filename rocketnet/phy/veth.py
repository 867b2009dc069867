"""Virtual Ethernet pair (Linux's veth): two devices joined back to back, every frame one
end sends is received by the other.  An end carries frames only while both ends are up
(Linux: the carrier is on when both are administratively up; a frame sent without it is
dropped and counted).  Frames never leave their ``NetBuf``: the sender's buffer waits in
the peer's receive queue and goes back to the sender's pool when the peer recycles it.
"""

from __future__ import annotations

from .device import EthernetDevice
from .netbuf import NetBuf

VETH_MTU = 1500
VETH_BUFS = 32


class VethDevice(EthernetDevice):
    def __init__(self, mac: bytes, mtu: int = VETH_MTU, bufs: int = VETH_BUFS) -> None:
        super().__init__(mac, mtu, bufs)
        self.peer: VethDevice = self
        self.up = False                 # administrative state (IFF_UP), down when made
        self.stats["tx_dropped"] = 0

    @property
    def carrier(self) -> bool:
        return self.up and self.peer.up

    def send(self, buf: NetBuf) -> None:
        peer = self.peer
        if not (self.up and peer.up):
            self.stats["tx_dropped"] += 1
            buf.pool.dealloc(buf)
            return
        peer.stats["rx_frames"] += 1
        peer.rxq.append(buf)

    def release(self) -> None:
        """Drop the frames waiting here (the pair is being removed)."""
        while self.rxq:
            buf = self.rxq.popleft()
            buf.pool.dealloc(buf)


def veth_pair(mac_a: bytes, mac_b: bytes, mtu: int = VETH_MTU) -> tuple[VethDevice, VethDevice]:
    a, b = VethDevice(mac_a, mtu), VethDevice(mac_b, mtu)
    a.peer, b.peer = b, a
    return a, b

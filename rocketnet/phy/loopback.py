"""Loopback device: every frame sent is received back, in order.

Like Linux ``lo``: an Ethernet-type device with an all-zero MAC, MTU 65536, and
checksum offload (checksums are neither computed nor verified). Frames never leave
their ``NetBuf``: ``send`` queues the buffer, ``recv`` hands the same buffer out and
``recycle_rx_buffer`` returns it to its pool. Two pools: small buffers for headers-only
frames (ACKs, SYNs) and full-size ones for data, so ACK traffic never starves data.
"""

from __future__ import annotations

from collections import deque
from typing import Callable

from .device import DeviceCapabilities, Medium, NetDevice
from .netbuf import NetBuf, NetBufPool

ETH_HEADER_LEN = 14
SMALL_BUF_SIZE = 256


class LoopbackDevice(NetDevice):
    def __init__(self, mtu: int = 65536, large_bufs: int = 128, small_bufs: int = 1024) -> None:
        self._caps = DeviceCapabilities(mtu=mtu, checksum_offload=True, medium=Medium.ETHERNET)
        self.large = NetBufPool(mtu + ETH_HEADER_LEN, large_bufs)
        self.small = NetBufPool(SMALL_BUF_SIZE, small_bufs, spill=self.large)
        self.rxq: deque[NetBuf] = deque()
        self.plain_rx = LoopbackDevice

    def capabilities(self) -> DeviceCapabilities:
        return self._caps

    def mac_address(self) -> bytes:
        return b"\x00" * 6

    def can_send(self) -> bool:
        return bool(self.large.free) and bool(self.small.free)     # asked per datagram

    def tx_room(self) -> int | None:
        # a frame takes one buffer, a small one spilling into the large pool: as many
        # frames as the large pool alone could take (unless can_send is another's)
        if type(self).can_send is not LoopbackDevice.can_send:
            return None
        large, small = len(self.large.free), len(self.small.free)
        return large if large < small else small

    def can_recv(self) -> bool:
        return bool(self.rxq)

    def max_send_buf_num(self) -> int:
        return self.large.count + self.small.count

    def max_recv_buf_num(self) -> int:
        return self.large.count + self.small.count

    def recycle_rx_buffer(self, buf: NetBuf) -> None:
        buf.pool.dealloc(buf)

    def recycle_tx_buffers(self) -> None:
        # Sent buffers travel to the receive queue; nothing to reclaim here.
        return None

    def send(self, buf: NetBuf) -> None:
        self.rxq.append(buf)

    def tx_queue(self) -> deque[NetBuf] | None:
        return self.rxq if type(self).send is LoopbackDevice.send else None

    def recv(self) -> NetBuf | None:
        if self.rxq:
            return self.rxq.popleft()
        return None

    def alloc_tx_buffer(self, size: int) -> NetBuf | None:
        return self.small.alloc(size)       # a small buffer if it fits and one is free

    def tx_alloc(self) -> Callable[[int], NetBuf | None]:
        return self.small.alloc if type(self).alloc_tx_buffer is \
            LoopbackDevice.alloc_tx_buffer else self.alloc_tx_buffer

"""Token access to a NetDevice, like smoltcp's ``phy::Device``, without an object per
frame (both paths run per segment).

Receive: ``rxq`` is the device's queue of received frames when it has a plain one
(NetDevice.rx_queue): poll_interfaces drains it directly and ``rxq`` is the test for
waiting frames. Other devices: ``receive_all(f, *args)`` consumes every waiting frame
(recv): each is handed to ``f`` and its buffer recycled after (smoltcp's
RxToken.consume).

Transmit: the token is the buffer. ``alloc(size)`` (the device's alloc_tx_buffer, as
NetDevice.tx_alloc names it) or,
when it has none, ``reclaim(size)`` hands out a ``NetBuf`` of the device's pool: holding
it is the permission to send one frame (smoltcp's TxToken); ``None`` means "no buffer
now" (backpressure). The interface writes the frame into ``buf.view[:size]`` and sends
it (InterfaceWrapper._send): counted in ``tx_frames`` and appended to ``txq``, the
queue a plain ``send`` appends to (loopback: its own receive queue), else given to the
device's send.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..phy import NetBuf, NetDevice


class NetDeviceWrapper:
    __slots__ = ("device", "rxq", "txq", "alloc", "caps", "rx_frames", "tx_frames",
                 "tx_backpressure")

    def __init__(self, device: NetDevice) -> None:
        self.caps = device.capabilities()
        self.rx_frames = 0
        self.tx_frames = 0
        self.tx_backpressure = 0
        self.set_device(device)

    def set_device(self, device: NetDevice) -> None:
        """Use ``device`` (at first, or a wrapper of this one, e.g. a capture, in its
        place)."""
        self.device = device
        self.rxq = device.rx_queue()
        self.txq = device.tx_queue()
        self.alloc = device.tx_alloc()

    def receive_all(self, f: Callable[..., Any], *args: Any) -> int:
        """``f(frame, *args)`` for each frame the device's recv hands out, the buffer
        back to the device after each call even if it raises; returns how many frames
        were taken (a plain queue, ``rxq``, is poll_interfaces' to drain)."""
        dev = self.device
        recv = dev.recv
        recycle = dev.recycle_rx_buffer
        n = 0
        buf = recv()             # None when nothing waits (NetDevice.recv)
        while buf is not None:
            n += 1
            self.rx_frames += 1
            try:
                f(buf.view[: buf.length], *args)
            finally:
                recycle(buf)
            buf = recv()
        return n

    def reclaim(self, size: int) -> NetBuf | None:
        """``alloc`` once more after the device reclaimed its completed sends (done
        only when a buffer is needed); None (backpressure, counted) if still none."""
        dev = self.device
        dev.recycle_tx_buffers()
        buf = dev.alloc_tx_buffer(size)
        if buf is None:
            self.tx_backpressure += 1
        return buf

    def transmit(self, size: int) -> NetBuf | None:
        """A buffer for a frame of ``size`` bytes (the token), or None."""
        return self.alloc(size) or self.reclaim(size)

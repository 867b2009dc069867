"""Token access to a NetDevice, like smoltcp's ``phy::Device``.

``receive()`` yields an :class:`RxToken` (consume it once: the frame is handed to a
function, then the buffer is recycled); ``transmit(size)`` yields a :class:`TxToken`
(fill ``token.buffer`` and ``commit()`` it, or ``discard()``). ``None`` from either
means "nothing to receive" / "no buffer now" (backpressure).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..phy import NetBuf, NetDevice

T = TypeVar("T")


class RxToken:
    __slots__ = ("_device", "_buf")

    def __init__(self, device: NetDevice, buf: NetBuf) -> None:
        self._device = device
        self._buf = buf

    def consume(self, f: Callable[..., T], *args: Any) -> T:
        """``f(frame, *args)``, then the buffer goes back to the device."""
        buf = self._buf
        try:
            return f(buf.view[: buf.length], *args)
        finally:
            self._device.recycle_rx_buffer(buf)


class TxToken:
    __slots__ = ("_wrapper", "_buf", "buffer")

    def __init__(self, wrapper: NetDeviceWrapper, buf: NetBuf) -> None:
        self._wrapper = wrapper
        self._buf = buf
        self.buffer = buf.view[: buf.length]

    def commit(self) -> None:
        """Send the frame: it counts in the wrapper's tx_frames."""
        w = self._wrapper
        w.tx_frames += 1
        w.device.send(self._buf)

    def discard(self) -> None:
        self._buf.pool.dealloc(self._buf)


class NetDeviceWrapper:
    __slots__ = ("device", "caps", "rx_frames", "tx_frames", "tx_backpressure")

    def __init__(self, device: NetDevice) -> None:
        self.device = device
        self.caps = device.capabilities()
        self.rx_frames = 0
        self.tx_frames = 0
        self.tx_backpressure = 0

    def receive(self) -> RxToken | None:
        dev = self.device
        buf = dev.recv()         # None when nothing waits (NetDevice.recv)
        if buf is None:
            return None
        self.rx_frames += 1
        return RxToken(dev, buf)

    def transmit(self, size: int) -> TxToken | None:
        dev = self.device
        dev.recycle_tx_buffers()
        buf = dev.alloc_tx_buffer(size)
        if buf is None:
            self.tx_backpressure += 1
            return None
        return TxToken(self, buf)

    def pending_rx(self) -> bool:
        return self.device.can_recv()

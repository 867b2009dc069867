"""Token access to a NetDevice, like smoltcp's ``phy::Device``.

``receive_all(f, *args)`` consumes every waiting frame: each is handed to ``f`` and
its buffer recycled after (smoltcp's RxToken.consume, without an object per frame:
the receive path runs per segment). ``rxq`` is the device's queue of received frames
when it has a plain one (NetDevice.rx_queue): frames are taken from it directly and
``rxq`` is the test for waiting frames; ``txq`` likewise the queue a plain ``send``
appends to (loopback: its receive queue). ``transmit(size)`` yields a :class:`TxToken`
(fill ``token.buffer`` and ``commit()`` it, or ``discard()``); ``None`` means "no
buffer now" (backpressure).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..phy import NetBuf, NetDevice


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
        q = w.txq
        if q is not None:
            q.append(self._buf)
        else:
            w.device.send(self._buf)

    def discard(self) -> None:
        self._buf.pool.dealloc(self._buf)


class NetDeviceWrapper:
    __slots__ = ("device", "rxq", "txq", "caps", "rx_frames", "tx_frames", "tx_backpressure")

    def __init__(self, device: NetDevice) -> None:
        self.device = device
        self.rxq = device.rx_queue()
        self.txq = device.tx_queue()
        self.caps = device.capabilities()
        self.rx_frames = 0
        self.tx_frames = 0
        self.tx_backpressure = 0

    def set_device(self, device: NetDevice) -> None:
        """Put another device (a wrapper of this one, e.g. a capture) in its place."""
        self.device = device
        self.rxq = device.rx_queue()
        self.txq = device.tx_queue()

    def receive_all(self, f: Callable[..., Any], *args: Any) -> int:
        """``f(frame, *args)`` for each frame waiting, the buffer back to the device
        after each call even if it raises; returns how many frames were taken."""
        q = self.rxq
        if q is not None:
            n = 0
            while q:
                buf = q.popleft()
                n += 1
                self.rx_frames += 1
                try:
                    f(buf.view[: buf.length], *args)
                finally:
                    buf.pool.dealloc(buf)
            return n
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

    def transmit(self, size: int) -> TxToken | None:
        dev = self.device
        buf = dev.alloc_tx_buffer(size)
        if buf is None:     # completed sends are reclaimed only when they are needed
            dev.recycle_tx_buffers()
            buf = dev.alloc_tx_buffer(size)
        if buf is None:
            self.tx_backpressure += 1
            return None
        return TxToken(self, buf)

"""MonitorDevice: a pass-through device that shows every frame to its taps (captures,
per-run pcapng files). With no taps a frame costs one list check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .device import DeviceCapabilities, NetDevice
from .netbuf import NetBuf


class Tap(Protocol):
    def frame(self, data: bytes | memoryview, outbound: bool) -> None: ...

    def flush(self) -> None: ...


class MonitorDevice(NetDevice):
    """Wraps ``inner``; delegates everything else (fileno, on_readable...) to it.
    ``record_rx=False`` on loopback (what is sent is what is received); ``fixup`` gives
    the frame as on a wire (e.g. checksums an offloading device leaves out)."""

    def __init__(self, inner: NetDevice, record_rx: bool = True,
                 fixup: Callable[[memoryview], bytes] | None = None) -> None:
        self.inner = inner
        self.record_rx = record_rx
        self.fixup = fixup
        self.taps: list[Tap] = []

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def _show(self, frame: memoryview, outbound: bool) -> None:
        data = frame if self.fixup is None else self.fixup(frame)
        for t in self.taps:
            t.frame(data, outbound)

    def capabilities(self) -> DeviceCapabilities:
        return self.inner.capabilities()

    def mac_address(self) -> bytes:
        return self.inner.mac_address()

    def can_send(self) -> bool:
        return self.inner.can_send()

    def can_recv(self) -> bool:
        return self.inner.can_recv()

    def max_send_buf_num(self) -> int:
        return self.inner.max_send_buf_num()

    def max_recv_buf_num(self) -> int:
        return self.inner.max_recv_buf_num()

    def recycle_rx_buffer(self, buf: NetBuf) -> None:
        self.inner.recycle_rx_buffer(buf)

    def recycle_tx_buffers(self) -> None:
        self.inner.recycle_tx_buffers()

    def send(self, buf: NetBuf) -> None:
        if self.taps:
            self._show(buf.view[: buf.length], True)
        self.inner.send(buf)

    def recv(self) -> NetBuf | None:
        buf = self.inner.recv()
        if buf is not None and self.taps and self.record_rx:
            self._show(buf.view[: buf.length], False)
        return buf

    def alloc_tx_buffer(self, size: int) -> NetBuf | None:
        return self.inner.alloc_tx_buffer(size)

    def tick(self, now: float) -> float | None:
        for t in self.taps:
            t.flush()
        return self.inner.tick(now)

    def poll_at(self) -> float | None:
        return self.inner.poll_at()

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()

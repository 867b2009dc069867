"""Physical layer: devices that move whole frames, and the buffers they use."""

from __future__ import annotations

from .device import DeviceCapabilities, Medium, NetDevice
from .loopback import LoopbackDevice
from .netbuf import NetBuf, NetBufPool

__all__ = [
    "DeviceCapabilities",
    "LoopbackDevice",
    "Medium",
    "NetBuf",
    "NetBufPool",
    "NetDevice",
]

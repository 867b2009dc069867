"""Physical layer: devices that move whole frames, and the buffers they use."""

from __future__ import annotations

from .device import DeviceCapabilities, Medium, NetDevice
from .impair import Impairments
from .loopback import LoopbackDevice
from .monitor import MonitorDevice, Tap
from .netbuf import NetBuf, NetBufPool
from .pcap import PcapDevice, PcapWriter
from .tap import TapDevice
from .wiredev import WireDevice

__all__ = [
    "DeviceCapabilities",
    "Impairments",
    "LoopbackDevice",
    "Medium",
    "MonitorDevice",
    "NetBuf",
    "NetBufPool",
    "NetDevice",
    "PcapDevice",
    "PcapWriter",
    "Tap",
    "TapDevice",
    "WireDevice",
]

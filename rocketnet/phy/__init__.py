"""Physical layer: devices that move whole frames, and the buffers they use. No I/O here:
the devices that own an fd (TAP, wire, pcap writers) live beside the host, in shim.phy."""

from __future__ import annotations

from .device import DeviceCapabilities, Medium, NetDevice
from .impair import DelayLine, Impairments
from .loopback import LoopbackDevice
from .monitor import MonitorDevice, Tap
from .netbuf import NetBuf, NetBufPool
from .veth import VethDevice, veth_pair

__all__ = [
    "DelayLine",
    "DeviceCapabilities",
    "Impairments",
    "LoopbackDevice",
    "Medium",
    "MonitorDevice",
    "NetBuf",
    "NetBufPool",
    "NetDevice",
    "Tap",
    "VethDevice",
    "veth_pair",
]

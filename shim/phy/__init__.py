"""The devices that own an fd, beside the host that runs their event loop (smoltcp's
phy/sys): TAP, the wire between stack hosts, and the pcap/pcapng writers. The
sans-I/O stack (rocketnet/) only sees them as NetDevices."""

from __future__ import annotations

from .pcap import PcapDevice, PcapWriter
from .tap import TapDevice
from .wire import WireDevice

__all__ = ["PcapDevice", "PcapWriter", "TapDevice", "WireDevice"]

"""Interfaces: devices wrapped with addresses, routing, and the receive loop."""

from __future__ import annotations

from .device import NetDeviceWrapper
from .interface import InterfaceWrapper, poll_interfaces, route, source_address

__all__ = [
    "InterfaceWrapper",
    "NetDeviceWrapper",
    "poll_interfaces",
    "route",
    "source_address",
]

"""What a socket may see of the interfaces: route lookup and local addresses. A socket
is given this view, not the stack."""

from __future__ import annotations

from .interface import InterfaceWrapper, route


class RouteView:
    def __init__(self, interfaces: list[InterfaceWrapper]) -> None:
        self.interfaces = interfaces    # the stack's list: interfaces added later show

    def route(self, dst: bytes) -> InterfaceWrapper | None:
        return route(self.interfaces, dst)

    def is_local(self, addr: bytes) -> bool:
        return any(i.is_local(addr) for i in self.interfaces)

    def on_link(self, addr: bytes) -> bool:
        return any(i.on_link(addr) for i in self.interfaces)

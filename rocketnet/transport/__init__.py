"""Transport layer: the TCP engine, the ListenTable and the SocketSet."""

from __future__ import annotations

from .socketset import SocketSet
from .tcp import STATE_NAMES, TcpConfig, TcpLayer, TcpSocket
from .tcp.listen import ListenEntry, ListenTable

__all__ = [
    "STATE_NAMES",
    "ListenEntry",
    "ListenTable",
    "SocketSet",
    "TcpConfig",
    "TcpLayer",
    "TcpSocket",
]

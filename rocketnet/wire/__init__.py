"""Wire formats: checked parsing (``Repr.parse``) and emission (``Repr.emit``).

Parsers never raise on hostile input except :class:`Malformed`, whose ``reason``
(a short constant string) the interface layer counts per reason.
"""

from __future__ import annotations

from .checksum import checksum, pseudo_header_sum
from .error import Malformed
from .ethernet import ETHERTYPE_IPV4, ETHERTYPE_IPV6, EthernetRepr
from .ipv4 import IPPROTO_TCP, Ipv4Repr
from .ipv6 import Ipv6Repr
from .tcp import TcpControl, TcpOptions, TcpRepr, parse_tcp_options

__all__ = [
    "ETHERTYPE_IPV4",
    "ETHERTYPE_IPV6",
    "IPPROTO_TCP",
    "EthernetRepr",
    "Ipv4Repr",
    "Ipv6Repr",
    "Malformed",
    "TcpControl",
    "TcpOptions",
    "TcpRepr",
    "checksum",
    "parse_tcp_options",
    "pseudo_header_sum",
]

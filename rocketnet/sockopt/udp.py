"""IPPROTO_UDP options (net/ipv4/udp.c: udp_lib_setsockopt / udp_lib_getsockopt)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import SocketError
from .core import ENOPROTOOPT, UDP, B, Opt, Value, _range, to_int

if TYPE_CHECKING:
    from ..socket import Socket


def _udp_encap(sk: Socket, value: Value) -> int:
    v = to_int(value)
    if v not in (0, 2, 3):              # none, ESPINUDP, L2TPINUDP
        raise SocketError(ENOPROTOOPT)
    return v


def _cork(sk: Socket, value: Value) -> int:
    """UDP_CORK: while on, sends join the pending datagram; off sends it."""
    v = 1 if to_int(value) else 0
    if sk.calls.corks:
        sk.inner.cork_on = bool(v)
        if not v:
            sk.layer.push_corked(sk.inner)
    return v


def _udplite_only(sk: Socket, value: Value) -> int:
    to_int(value)
    raise SocketError(ENOPROTOOPT)      # UDP-Lite checksum coverage: not UDP-Lite


UDP_OPTIONS: dict[tuple[int, int], Opt] = {
    (UDP, 1): Opt(0, _cork),                            # UDP_CORK
    (UDP, 10): Opt(0, _udplite_only),                   # UDPLITE_SEND_CSCOV
    (UDP, 11): Opt(0, _udplite_only),                   # UDPLITE_RECV_CSCOV
    (UDP, 100): Opt(0, _udp_encap),                     # UDP_ENCAP
    (UDP, 101): B,                                      # UDP_NO_CHECK6_TX
    (UDP, 102): B,                                      # UDP_NO_CHECK6_RX
    (UDP, 103): Opt(0, _range(0, 0xFFFF)),              # UDP_SEGMENT
    (UDP, 104): B,                                      # UDP_GRO
}

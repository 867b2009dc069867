"""InterfaceWrapper (name, addresses, MTU, MAC, neighbors, routes), routing and
``poll_interfaces``.

Receive path: ``poll_interfaces`` checks the link and IP headers of every frame
(checksums unless the device offloads them) and hands the common case -- a TCP segment,
unfragmented, for one of our addresses -- straight to ``handler``. Everything else
(ARP, ICMP, fragments, IPv6 extension headers, UDP, broadcast/multicast) goes to the
interface's network layer ``iface.net`` (see ``rocketnet.iface.ip``). Malformed input
is dropped and counted by reason, never raised past this function.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import Any

from ..phy import Medium, NetDevice
from ..wire.checksum import verify as _verify
from ..wire.error import Malformed
from ..wire.ethernet import ETHERTYPE_IPV4, ETHERTYPE_IPV6
from .device import NetDeviceWrapper
from .link import EthernetLink, solicited_node

_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_IPV6 = struct.Struct("!IHBB16s16s")
_V4MAPPED_PREFIX = b"\x00" * 10 + b"\xff\xff"
ETHERTYPE_ARP = 0x0806
ALL_NODES = b"\xff\x02" + b"\x00" * 13 + b"\x01"
LINK_LOCAL_PREFIX = b"\xfe\x80" + b"\x00" * 6

# handler(iface, version, src, dst, protocol, payload) -- payload is a memoryview
IpHandler = Callable[["InterfaceWrapper", int, bytes, bytes, int, memoryview], None]


def _in_prefix(addr: bytes, net: bytes, prefix: int) -> bool:
    if len(addr) != len(net):
        return False
    full, rest = divmod(prefix, 8)
    if addr[:full] != net[:full]:
        return False
    if rest:
        mask = (0xFF << (8 - rest)) & 0xFF
        return (addr[full] & mask) == (net[full] & mask)
    return True


def _network(addr: bytes, prefix: int) -> bytes:
    full, rest = divmod(prefix, 8)
    out = bytearray(len(addr))
    out[:full] = addr[:full]
    if rest:
        out[full] = addr[full] & ((0xFF << (8 - rest)) & 0xFF)
    return bytes(out)


def eui64_link_local(mac: bytes) -> bytes:
    return LINK_LOCAL_PREFIX + bytes((mac[0] ^ 2,)) + mac[1:3] + b"\xff\xfe" + mac[3:6]


class InterfaceWrapper:
    """A device with a name and IP addresses. On a loopback interface every address of
    a configured prefix is local (Linux: ``local 127.0.0.0/8 dev lo``). A non-loopback
    Ethernet interface sends through an :class:`EthernetLink` (neighbor resolution),
    gets an EUI-64 link-local IPv6 address and joins the all-nodes and solicited-node
    multicast groups of its IPv6 addresses."""

    def __init__(
        self,
        name: str,
        device: NetDevice,
        addresses: Iterable[tuple[bytes, int]] = (),
        loopback: bool = False,
        index: int = 0,
    ) -> None:
        self.name = name
        self.index = index
        self.raw_device = device
        self.stats: dict[str, int] = {}
        self.loopback = loopback
        caps = device.capabilities()
        self.medium = caps.medium
        self.mac = device.mac_address()
        self.link: EthernetLink | None = None
        if self.medium == Medium.ETHERNET and not loopback:
            self.link = EthernetLink(device, self, self.stats)
            device = self.link
        self.dev = NetDeviceWrapper(device)
        self.mtu = caps.mtu
        self.max_mtu = caps.mtu         # SIOCSIFMTU may lower the MTU, not pass the device's
        self.checksum_offload = caps.checksum_offload
        self.addresses: list[tuple[bytes, int]] = []
        self.gateway4: bytes | None = None
        self.gateway6: bytes | None = None
        self.mcast6: set[bytes] = set()
        self.net: Any = None            # the IpLayer, set when the stack adopts the iface
        if self.medium == Medium.ETHERNET:
            self.link_header_len = 14
            zero = b"\x00" * 6
            mac = self.mac if not loopback else zero
            self.link_header_v4 = zero + mac + b"\x08\x00"
            self.link_header_v6 = zero + mac + b"\x86\xdd"
        else:
            self.link_header_len = 0
            self.link_header_v4 = b""
            self.link_header_v6 = b""
        for a, p in addresses:
            self.add_address(a, p)
        if self.link is not None:
            self.add_address(eui64_link_local(self.mac), 64)

    def replace_device(self, dev: NetDevice) -> None:
        """Put ``dev`` (a wrapper of ``raw_device``, e.g. a capture) where the interface
        holds its device: under the Ethernet link layer, else under the wrapper."""
        self.raw_device = dev
        if self.link is not None:
            self.link.dev = dev
        else:
            self.dev.device = dev

    # ---- addresses ----------------------------------------------------------------
    def add_address(self, addr: bytes, prefix: int) -> None:
        if (addr, prefix) in self.addresses:
            return
        self.addresses.append((addr, prefix))
        if len(addr) == 16 and not self.loopback:
            self.mcast6.add(ALL_NODES)
            self.mcast6.add(solicited_node(addr))

    def del_address(self, addr: bytes) -> None:
        self.addresses = [(a, p) for a, p in self.addresses if a != addr]
        self.mcast6 = {ALL_NODES} if any(len(a) == 16 for a, _ in self.addresses) else set()
        for a, _p in self.addresses:
            if len(a) == 16:
                self.mcast6.add(solicited_node(a))

    def has_address(self, addr: bytes) -> bool:
        for net, _p in self.addresses:
            if net == addr:
                return True
        return False

    def is_local(self, addr: bytes) -> bool:
        for net, prefix in self.addresses:
            if len(net) != len(addr):
                continue
            if net == addr:
                return True
            if self.loopback and len(addr) == 4 and _in_prefix(addr, net, prefix):
                return True
        return False

    def is_broadcast(self, addr: bytes) -> bool:
        """Limited broadcast or the directed broadcast of one of our IPv4 prefixes."""
        if addr == b"\xff\xff\xff\xff":
            return True
        for net, p in self.addresses:
            if len(net) == 4 and p < 31 and len(addr) == 4:
                host_bits = (1 << (32 - p)) - 1
                if int.from_bytes(addr, "big") & host_bits == host_bits and _in_prefix(
                        addr, net, p):
                    return True
        return False

    def on_link(self, addr: bytes) -> bool:
        return any(_in_prefix(addr, net, p) for net, p in self.addresses)

    def next_hop(self, dst: bytes) -> bytes | None:
        if self.on_link(dst):
            return dst
        gw = self.gateway4 if len(dst) == 4 else self.gateway6
        if gw is not None and self.on_link(gw):
            return gw
        return None

    def primary_address(self, version: int) -> bytes | None:
        n = 4 if version == 4 else 16
        fallback = None
        for net, _p in self.addresses:
            if len(net) == n:
                if n == 16 and net[:8] == LINK_LOCAL_PREFIX:
                    fallback = fallback or net
                    continue
                return net
        return fallback

    def source_for(self, dst: bytes) -> bytes | None:
        """Source address for dst on this interface: same prefix first, link-local
        for link-local destinations (also link-scoped groups: RFC 6724 rule 2, as Linux),
        else the primary address."""
        if len(dst) == 16 and (dst[:8] == LINK_LOCAL_PREFIX
                               or dst[0] == 0xFF and dst[1] & 0x0F <= 2):
            for net, _p in self.addresses:
                if len(net) == 16 and net[:8] == LINK_LOCAL_PREFIX:
                    return net
        for net, p in self.addresses:
            if len(net) == len(dst) and _in_prefix(dst, net, p):
                return net
        return self.primary_address(4 if len(dst) == 4 else 6)

    def routes(self) -> list[tuple[bytes, int, bytes | None]]:
        """(network, prefix, gateway) rows: connected prefixes, then default routes."""
        out: list[tuple[bytes, int, bytes | None]] = []
        for net, p in self.addresses:
            row = (_network(net, p), p, None)
            if row not in out:
                out.append(row)
        if self.gateway4 is not None:
            out.append((b"\x00" * 4, 0, self.gateway4))
        if self.gateway6 is not None:
            out.append((b"\x00" * 16, 0, self.gateway6))
        return out

    def _drop(self, reason: str) -> None:
        st = self.stats
        st[reason] = st.get(reason, 0) + 1

    def __repr__(self) -> str:
        return f"InterfaceWrapper({self.name!r}, mtu={self.mtu})"


def route(ifaces: Iterable[InterfaceWrapper], dst: bytes) -> InterfaceWrapper | None:
    """The interface that reaches ``dst`` (4- or 16-byte address; IPv4-mapped IPv6
    addresses must be unmapped by the caller): local addresses go to the loopback
    interface, then the longest on-link prefix, then an interface with a default
    gateway of that family."""
    ifaces = list(ifaces)
    for i in ifaces:
        if i.is_local(dst):
            for lo in ifaces:
                if lo.loopback:
                    return lo
            return i
    best = None
    best_len = -1
    for i in ifaces:
        for net, p in i.addresses:
            if p > best_len and _in_prefix(dst, net, p):
                best, best_len = i, p
    if best is not None:
        return best
    for i in ifaces:
        gw = i.gateway4 if len(dst) == 4 else i.gateway6
        if gw is not None:
            return i
    return None


def source_address(iface: InterfaceWrapper, dst: bytes) -> bytes | None:
    """Source address for ``dst`` out of ``iface`` (127.x.y.z -> 127.0.0.1 as Linux)."""
    if iface.loopback:
        return iface.primary_address(4 if len(dst) == 4 else 6)
    return iface.source_for(dst)


def poll_interfaces(
    ifaces: Iterable[InterfaceWrapper],
    handler: IpHandler,
    stats: dict[str, int],
    budget: int = 1 << 30,
) -> int:
    """Receive up to ``budget`` frames from every interface, check link and IP headers
    (checksum unless offloaded), drop what is not for us (counted in ``stats`` by
    reason) and hand the rest to ``handler`` or the interface's network layer.
    Returns the number of frames taken."""
    total = 0
    for iface in ifaces:
        dev = iface.dev
        device = dev.device
        eth = iface.link_header_len
        verify = not iface.checksum_offload
        while total < budget and device.can_recv():
            buf = device.recv()
            if buf is None:
                break
            total += 1
            dev.rx_frames += 1
            try:
                mv = buf.view[: buf.length]
                _input_frame(iface, mv, eth, verify, handler, stats)
            except Malformed as e:
                key = "drop_" + e.reason
                stats[key] = stats.get(key, 0) + 1
            finally:
                device.recycle_rx_buffer(buf)
    return total


def _input_frame(
    iface: InterfaceWrapper,
    mv: memoryview,
    eth: int,
    verify: bool,
    handler: IpHandler,
    stats: dict[str, int],
) -> None:
    n = len(mv)
    if eth:
        if n < 14:
            raise Malformed("eth_truncated")
        ethertype = (mv[12] << 8) | mv[13]
        if iface.link is not None and not mv[0] & 1 and mv[0:6] != iface.mac:
            stats["drop_eth_not_for_us"] = stats.get("drop_eth_not_for_us", 0) + 1
            return
    else:
        ethertype = ETHERTYPE_IPV4 if n and (mv[0] >> 4) == 4 else ETHERTYPE_IPV6
    if ethertype == ETHERTYPE_IPV4:
        if n - eth < 20:
            raise Malformed("ipv4_truncated")
        vihl, _tos, total, ident, frag, _ttl, proto, _c, src, dst = _IPV4.unpack_from(mv, eth)
        ihl = (vihl & 0x0F) << 2
        if vihl >> 4 != 4:
            raise Malformed("ipv4_version")
        if ihl < 20:
            raise Malformed("ipv4_header_len")
        if total < ihl or eth + total > n:
            raise Malformed("ipv4_total_len")
        if verify:
            if not _verify(mv[eth : eth + ihl]):
                raise Malformed("ipv4_checksum")
        if proto == 6 and not frag & 0x3FFF and iface.is_local(dst):
            handler(iface, 4, src, dst, proto, mv[eth + ihl : eth + total])
            return
        net = iface.net
        if net is not None:
            net.ipv4_input(iface, mv[eth : eth + total], ihl, src, dst, proto, ident, frag)
            return
        if frag & 0x3FFF:
            stats["drop_ipv4_fragment"] = stats.get("drop_ipv4_fragment", 0) + 1
            return
        if not iface.is_local(dst):
            stats["drop_not_for_us"] = stats.get("drop_not_for_us", 0) + 1
            return
        handler(iface, 4, src, dst, proto, mv[eth + ihl : eth + total])
    elif ethertype == ETHERTYPE_IPV6:
        if n - eth < 40:
            raise Malformed("ipv6_truncated")
        vtf, plen, nh, _hops, src, dst = _IPV6.unpack_from(mv, eth)
        if vtf >> 28 != 6:
            raise Malformed("ipv6_version")
        if eth + 40 + plen > n:
            raise Malformed("ipv6_payload_len")
        if nh == 6 and iface.is_local(dst):
            handler(iface, 6, src, dst, nh, mv[eth + 40 : eth + 40 + plen])
            return
        net = iface.net
        if net is not None:
            net.ipv6_input(iface, mv[eth : eth + 40 + plen], src, dst, nh)
            return
        if not iface.is_local(dst):
            stats["drop_not_for_us"] = stats.get("drop_not_for_us", 0) + 1
            return
        handler(iface, 6, src, dst, nh, mv[eth + 40 : eth + 40 + plen])
    elif ethertype == ETHERTYPE_ARP and iface.link is not None:
        iface.link.arp_input(mv[eth:])
    else:
        stats["drop_unknown_ethertype"] = stats.get("drop_unknown_ethertype", 0) + 1


def is_v4_mapped(addr16: bytes) -> bool:
    return len(addr16) == 16 and addr16[:12] == _V4MAPPED_PREFIX

"""InterfaceWrapper (name, addresses, MTU), routing and ``poll_interfaces``."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable

from ..phy import Medium, NetDevice
from ..wire.checksum import verify as _verify
from ..wire.error import Malformed
from ..wire.ethernet import ETHERTYPE_IPV4, ETHERTYPE_IPV6
from .device import NetDeviceWrapper

_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_IPV6 = struct.Struct("!IHBB16s16s")
_V4MAPPED_PREFIX = b"\x00" * 10 + b"\xff\xff"

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


class InterfaceWrapper:
    """A device with a name and IP addresses. On a loopback interface every address of
    a configured prefix is local (Linux: ``local 127.0.0.0/8 dev lo``)."""

    def __init__(
        self,
        name: str,
        device: NetDevice,
        addresses: Iterable[tuple[bytes, int]] = (),
        loopback: bool = False,
    ) -> None:
        self.name = name
        self.dev = NetDeviceWrapper(device)
        caps = self.dev.caps
        self.mtu = caps.mtu
        self.checksum_offload = caps.checksum_offload
        self.medium = caps.medium
        self.mac = device.mac_address()
        self.loopback = loopback
        self.addresses: list[tuple[bytes, int]] = list(addresses)
        if self.medium == Medium.ETHERNET:
            self.link_header_len = 14
            zero = b"\x00" * 12  # loopback: all-zero MACs (neighbours come later)
            self.link_header_v4 = zero + b"\x08\x00"
            self.link_header_v6 = zero + b"\x86\xdd"
        else:
            self.link_header_len = 0
            self.link_header_v4 = b""
            self.link_header_v6 = b""
        self.stats: dict[str, int] = {}

    def add_address(self, addr: bytes, prefix: int) -> None:
        self.addresses.append((addr, prefix))

    def is_local(self, addr: bytes) -> bool:
        for net, prefix in self.addresses:
            if len(net) != len(addr):
                continue
            if net == addr:
                return True
            if self.loopback and len(addr) == 4 and _in_prefix(addr, net, prefix):
                return True
        return False

    def on_link(self, addr: bytes) -> bool:
        return any(_in_prefix(addr, net, p) for net, p in self.addresses)

    def primary_address(self, version: int) -> bytes | None:
        n = 4 if version == 4 else 16
        for net, _p in self.addresses:
            if len(net) == n:
                return net
        return None

    def _drop(self, reason: str) -> None:
        st = self.stats
        st[reason] = st.get(reason, 0) + 1

    def __repr__(self) -> str:
        return f"InterfaceWrapper({self.name!r}, mtu={self.mtu})"


def route(ifaces: Iterable[InterfaceWrapper], dst: bytes) -> InterfaceWrapper | None:
    """The interface that reaches ``dst`` (4- or 16-byte address; IPv4-mapped IPv6
    addresses must be unmapped by the caller): local addresses go to the loopback
    interface, then on-link prefixes."""
    ifaces = list(ifaces)
    for i in ifaces:
        if i.is_local(dst):
            for lo in ifaces:
                if lo.loopback:
                    return lo
            return i
    for i in ifaces:
        if i.on_link(dst):
            return i
    return None


def source_address(iface: InterfaceWrapper, dst: bytes) -> bytes | None:
    """Source address for ``dst`` out of ``iface`` (127.x.y.z -> 127.0.0.1 as Linux)."""
    version = 4 if len(dst) == 4 else 6
    return iface.primary_address(version)


def poll_interfaces(
    ifaces: Iterable[InterfaceWrapper],
    handler: IpHandler,
    stats: dict[str, int],
    budget: int = 1 << 30,
) -> int:
    """Receive up to ``budget`` frames from every interface, check link and IP headers
    (checksum unless offloaded), drop what is not for us (counted in ``stats`` by
    reason) and hand the rest to ``handler``. Returns the number of frames taken."""
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
    else:
        ethertype = ETHERTYPE_IPV4 if n and (mv[0] >> 4) == 4 else ETHERTYPE_IPV6
    if ethertype == ETHERTYPE_IPV4:
        if n - eth < 20:
            raise Malformed("ipv4_truncated")
        vihl, _tos, total, _id, frag, _ttl, proto, _c, src, dst = _IPV4.unpack_from(mv, eth)
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
        if not iface.is_local(dst):
            stats["drop_not_for_us"] = stats.get("drop_not_for_us", 0) + 1
            return
        handler(iface, 6, src, dst, nh, mv[eth + 40 : eth + 40 + plen])
    else:
        stats["drop_unknown_ethertype"] = stats.get("drop_unknown_ethertype", 0) + 1


def is_v4_mapped(addr16: bytes) -> bool:
    return len(addr16) == 16 and addr16[:12] == _V4MAPPED_PREFIX

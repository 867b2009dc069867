"""InterfaceWrapper (name, addresses, MTU, MAC, neighbors, routes), routing and
``poll_interfaces``.

Receive path: ``poll_interfaces`` checks the link and IP headers of every frame
(checksums unless the device offloads them) and hands the common case -- a TCP segment,
or a UDP datagram from a unicast source, unfragmented, without IP options, for one of
our addresses -- straight to ``handler`` (TCP) or the UDP handler, the header described
by the interface's reused Repr. Everything else (ARP, ICMP, fragments, IP options, IPv6
extension headers, broadcast/multicast) goes to the interface's network layer
``iface.net`` (see ``rocketnet.iface.ip``). Malformed input is dropped and counted by
reason, never raised past this function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Union

from ..phy import Medium, NetBuf, NetDevice
from ..wire.arp import OP_REPLY, OP_REQUEST, ArpRepr
from ..wire.checksum import verify
from ..wire.error import Malformed
from ..wire.ethernet import ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6
from ..wire.ethernet import HEADER as ETH_HEADER
from ..wire.icmp import V6_NEIGHBOR_SOLICIT, NdpRepr
from ..wire.ipv4 import FLAG_DF, Ipv4Repr
from ..wire.ipv4 import HEADER as IPV4_HEADER
from ..wire.ipv6 import HEADER as IPV6_HEADER
from ..wire.ipv6 import Ipv6Repr
from ..wire.ipv6 import emit_header as emit_ipv6
from ..wire.tcp import emit_header as emit_tcp_header
from ..wire.tcp import emit_v4_headers as emit_v4_tcp
from ..wire.udp import emit_header as emit_udp_header
from ..wire.udp import emit_v4_headers as emit_v4_udp
from .device import NetDeviceWrapper
from .neighbor import (
    BROADCAST,
    INCOMPLETE,
    PROBE,
    REACHABLE,
    STALE,
    Neighbor,
    NeighborCache,
    multicast_mac,
    solicited_node,
)

_V4MAPPED_PREFIX = b"\x00" * 10 + b"\xff\xff"
_ZERO_MAC = b"\x00" * 6
ALL_NODES = b"\xff\x02" + b"\x00" * 13 + b"\x01"
LINK_LOCAL_PREFIX = b"\xfe\x80" + b"\x00" * 6

IpRepr = Union[Ipv4Repr, Ipv6Repr]
# handler(iface, ip, payload): the TCP fast path; payload is a memoryview. ``ip`` may be
# the interface's rx4/rx6, refilled for the next packet: read it, never keep it
IpHandler = Callable[["InterfaceWrapper", IpRepr, memoryview], None]


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


class HeldFrame:
    """A device buffer's stand-in for a frame whose next hop is unresolved: written
    like one (``view``), then committed, the frame waits in the neighbor step (``dst``
    None: no next hop, the frame is dropped)."""

    __slots__ = ("iface", "dst", "view", "length")

    def __init__(self, iface: InterfaceWrapper, dst: bytes | None, size: int) -> None:
        self.iface = iface
        self.dst = dst
        self.view = bytearray(size)
        self.length = size

    def commit(self) -> None:
        if self.dst is not None:
            self.iface._hold(self.dst, self.view)


Token = Union[NetBuf, HeldFrame]   # what transmit hands out: the frame's buffer


class InterfaceWrapper:
    """A device with a name and IP addresses. On a loopback interface every address of
    a configured prefix is local (Linux: ``local 127.0.0.0/8 dev lo``). A non-loopback
    Ethernet interface resolves next hops in its neighbor step (ARP/NDP, ``neigh``),
    gets an EUI-64 link-local IPv6 address and joins the all-nodes and solicited-node
    multicast groups of its IPv6 addresses.

    Transmit: every IP packet of the stack leaves through :meth:`dispatch` (the IP
    header and the transport header as wire Reprs, and the payload) or, per segment or
    datagram, :meth:`transmit` then :meth:`emit_tcp` / :meth:`emit_udp`: the interface
    resolves the link destination, takes a buffer (the token) from its NetDeviceWrapper
    and emits the link, IP and transport headers into it.

    Receive: the common packet (TCP, or UDP from a unicast source; unfragmented, no IP
    options, for one of our addresses) is described to its transport by ``rx4`` /
    ``rx6``, one Repr per interface refilled per packet (no object per packet): an
    IpHandler reads it during its call and keeps nothing of it."""

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
        self.stats: dict[str, int] = {}
        self.loopback = loopback
        caps = device.capabilities()
        self.medium = caps.medium
        self.mac = device.mac_address()
        self.dev = NetDeviceWrapper(device)
        self.neigh: NeighborCache | None = None
        if self.medium == Medium.ETHERNET and not loopback:
            self.neigh = NeighborCache(self.stats)
        self.timed = False
        self.net: Any = None            # the IpLayer, set when the stack adopts the iface
        self._set_timed()
        self.now = 0.0
        # called with (frame, errno) for each held frame a failed resolution drops
        self.on_unreachable: Callable[[bytearray, int], None] | None = None
        self.ip_ident = 0
        self.mtu = caps.mtu
        self.max_mtu = caps.mtu         # SIOCSIFMTU may lower the MTU, not pass the device's
        self.checksum_offload = caps.checksum_offload
        self.addresses: list[tuple[bytes, int]] = []
        self.local: set[bytes] = set()  # the addresses themselves: is_local's usual case
        # primary_address(4), (6) by address length, kept with the addresses: a loopback
        # send's source (source_address) without a scan per datagram
        self.primary: dict[int, bytes | None] = {4: None, 16: None}
        self.gateway4: bytes | None = None
        self.gateway6: bytes | None = None
        self.mcast6: set[bytes] = set()
        self.link_header_len = 14 if self.medium == Medium.ETHERNET else 0
        self.src_mac = self.mac if not loopback else _ZERO_MAC
        # the link header of a frame when no neighbor is resolved (no neighbor step)
        self.eth_v4 = ETH_HEADER.pack(_ZERO_MAC, self.src_mac, ETHERTYPE_IPV4)
        self.eth_v6 = ETH_HEADER.pack(_ZERO_MAC, self.src_mac, ETHERTYPE_IPV6)
        # the common received packet's header (see the class): refilled, never kept
        self.rx4 = Ipv4Repr(b"", b"", 0, 0)
        self.rx6 = Ipv6Repr(b"", b"", 0, 0)
        for a, p in addresses:
            self.add_address(a, p)
        if self.neigh is not None:
            self.add_address(eui64_link_local(self.mac), 64)

    @property
    def raw_device(self) -> NetDevice:
        return self.dev.device

    def replace_device(self, dev: NetDevice) -> None:
        """Put ``dev`` (a wrapper of the device, e.g. a capture) under the interface."""
        self.dev.set_device(dev)
        self._set_timed()

    def _set_timed(self) -> None:
        """Whether tick/poll_at can ever say anything: neighbor timers, or a device with
        its own (one that delays frames); the per-wake-up polls skip it otherwise."""
        dtype = type(self.dev.device)
        self.timed = self.neigh is not None or dtype.tick is not NetDevice.tick or \
            dtype.poll_at is not NetDevice.poll_at
        if self.net is not None:
            self.net.retime()

    # ---- transmit -----------------------------------------------------------------
    def dispatch(self, ip: IpRepr, l4: Any, payload: bytes | bytearray | memoryview) -> bool:
        """Send one IP packet: ``ip`` (payload_len set; IPv4 ident assigned here unless
        it is a fragment), ``l4`` the transport header (a wire Repr with
        ``emit(buf, offset, src, dst, length, fill_checksum)``, or
        None when ``payload`` is the whole IP payload) and the payload. False on device
        backpressure."""
        tok = self.transmit(ip.dst, ip.header_len + ip.payload_len)
        if tok is None:
            return False
        self.emit(tok, ip, l4, payload)
        return True

    def transmit(self, dst: bytes, ip_len: int) -> Token | None:
        """The first half of :meth:`dispatch`, for a sender that changes its state only
        once the packet can go (TCP, UDP): the next-hop step for ``dst`` and a token
        (the device's buffer) for a frame carrying ``ip_len`` bytes of IP, its link
        header written; None on device backpressure. A frame for an unresolved neighbor
        (or without a next hop: then it is dropped, counted) gets a HeldFrame instead,
        which the neighbor step keeps."""
        eth = self.link_header_len
        size = eth + ip_len
        if self.neigh is None:      # no next hop to resolve: the link header is constant
            d = self.dev
            buf = d.alloc(size) or d.reclaim(size)      # d.transmit, one call less
            if buf is not None and eth:
                buf.view[:14] = self.eth_v4 if len(dst) == 4 else self.eth_v6
            return buf
        dmac = self.resolve(dst)
        if not dmac:
            tok: Token | None = HeldFrame(self, dst if dmac is None else None, size)
            dmac = _ZERO_MAC
        else:
            tok = self.dev.transmit(size)
        if tok is not None:
            ETH_HEADER.pack_into(tok.view, 0, dmac, self.src_mac,
                                 ETHERTYPE_IPV4 if len(dst) == 4 else ETHERTYPE_IPV6)
        return tok

    def _send(self, tok: Token) -> None:
        """The frame in ``tok`` is written: held for its neighbor, or sent: counted in
        the device wrapper's tx_frames and appended to its plain queue (``txq``), else
        given to the device's send."""
        if tok.__class__ is HeldFrame:
            tok.commit()            # type: ignore[union-attr]
            return
        d = self.dev
        d.tx_frames += 1
        q = d.txq
        if q is not None:
            q.append(tok)
        else:
            d.device.send(tok)      # type: ignore[arg-type]

    def emit(self, tok: Token, ip: IpRepr, l4: Any,
             payload: bytes | bytearray | memoryview = b"", source: Any = None,
             offset: int = 0, n: int = 0) -> None:
        """The second half of :meth:`dispatch`: the IP header, the transport header and
        the payload into the token's frame, which is sent. The payload is
        ``payload``, or ``n`` bytes from ``offset`` of ``source`` (a buffer that copies
        itself out: ``source.copy_to(frame, at, offset, n)``, TCP's send ring)."""
        buf = tok.view
        if ip.version == 4 and not (ip.more_frags or ip.frag_offset):
            ip.ident = self.ip_ident = (self.ip_ident + 1) & 0xFFFF
        fill = not self.checksum_offload
        p = self.link_header_len + ip.emit(buf, self.link_header_len, fill)
        end = p + ip.payload_len
        if l4 is None:
            buf[p:end] = payload
        else:
            if source is not None:
                source.copy_to(buf, end - n, offset, n)
            else:
                buf[end - len(payload):end] = payload
            l4.emit(buf, p, ip.src, ip.dst, end - p, fill)
        self._send(tok)

    def emit_tcp(self, tok: Token, v4: bool, src: bytes, dst: bytes, hops: int, tos: int,
                 sport: int, dport: int, seq: int, ack: int, flags: int, window: int,
                 urgent: int, opts: bytes, source: Any, offset: int, n: int,
                 tsval: int = -1, tsecr: int = 0) -> None:
        """:meth:`emit` for a TCP segment without Reprs (the per-segment path): the IP
        header (unfragmented; IPv4: the next ident, DF), the TCP header with the
        timestamp option (``tsval`` >= 0; packed with the headers) and the encoded
        options ``opts`` after it, and ``n`` payload bytes from ``offset`` of ``source``
        (``copy_to``, as emit's)."""
        buf = tok.view
        fill = not self.checksum_offload
        p = self.link_header_len
        if v4:
            length = tok.length - p - 20    # the segment: transmit sized the frame for it
            if n:
                source.copy_to(buf, p + 20 + length - n, offset, n)
            self.ip_ident = ident = (self.ip_ident + 1) & 0xFFFF
            emit_v4_tcp(buf, p, src, dst, hops, tos, ident, sport, dport, seq, ack, flags,
                        window, urgent, opts, length - n, length, fill, tsval, tsecr)
        else:
            length = tok.length - p - 40
            if n:
                source.copy_to(buf, p + 40 + length - n, offset, n)
            emit_ipv6(buf, p, src, dst, 6, length, hops, tos)
            emit_tcp_header(buf, p + 40, sport, dport, seq, ack, flags, window, urgent, opts,
                            src, dst, length, fill, tsval, tsecr)
        q = self.dev.txq
        if q is not None and tok.__class__ is NetBuf:     # _send's loopback case, inline
            self.dev.tx_frames += 1
            q.append(tok)
        else:
            self._send(tok)

    def emit_udp(self, tok: Token, v4: bool, src: bytes, dst: bytes, hops: int, tos: int,
                 sport: int, dport: int, payload: bytes | bytearray | memoryview) -> None:
        """:meth:`emit` for a UDP datagram without Reprs (the per-datagram path): the IP
        header (unfragmented; IPv4: the next ident, DF as path MTU discovery wants), the
        UDP header, the payload."""
        buf = tok.view
        fill = not self.checksum_offload
        p = self.link_header_len
        if v4:
            length = tok.length - p - 20    # the datagram: transmit sized the frame for it
            buf[p + 28:p + 20 + length] = payload
            self.ip_ident = ident = (self.ip_ident + 1) & 0xFFFF
            emit_v4_udp(buf, p, src, dst, hops, tos, ident, sport, dport, length, fill)
        else:
            length = tok.length - p - 40
            buf[p + 48:p + 40 + length] = payload
            emit_ipv6(buf, p, src, dst, 17, length, hops, tos)
            emit_udp_header(buf, p + 40, sport, dport, src, dst, length, fill)
        q = self.dev.txq
        if q is not None and tok.__class__ is NetBuf:     # as in emit_tcp
            self.dev.tx_frames += 1
            q.append(tok)
        else:
            self._send(tok)

    def emit_link(self, dmac: bytes, ethertype: int, payload: bytes) -> None:
        """A frame that is not IP (ARP), padded to the Ethernet minimum."""
        n = 14 + len(payload)
        if n < 60:
            payload += b"\x00" * (60 - n)
            n = 60
        tok = self.dev.transmit(n)
        if tok is None:
            self._drop("tx_backpressure")
            return
        buf = tok.view
        ETH_HEADER.pack_into(buf, 0, dmac, self.src_mac, ethertype)
        buf[14:n] = payload
        self._send(tok)

    # ---- the neighbor step ----------------------------------------------------------
    def resolve(self, dst: bytes) -> bytes | None:
        """The MAC for an IP destination; None: unresolved (hold the frame); b"": no
        route. A STALE entry is used and probed."""
        if len(dst) == 4:
            if dst == b"\xff\xff\xff\xff" or self.is_broadcast(dst):
                return BROADCAST
            if 224 <= dst[0] < 240:
                return multicast_mac(dst)
        elif dst[0] == 0xFF:
            return multicast_mac(dst)
        hop = self.next_hop(dst)
        if hop is None:
            self._drop("drop_no_route")
            return b""
        e = self.neigh.entries.get(hop)   # type: ignore[union-attr]
        if e is None or e.mac is None:
            return None
        if e.state == REACHABLE and self.now > e.expires:
            e.state = STALE
        if e.state == STALE:
            e.state = PROBE
            e.probes = 0
            e.next_probe = self.now
            self.solicit(e)
        return e.mac

    def _hold(self, dst: bytes, frame: bytearray) -> None:
        hop = self.next_hop(dst)
        neigh = self.neigh
        if hop is None or neigh is None:
            return
        e = neigh.entries.get(hop)
        if e is None:
            e = neigh.add(hop, self.now)
            self.solicit(e)
        neigh.hold(e, frame)

    def solicit(self, e: Neighbor) -> None:
        """Send an ARP request or a Neighbor Solicitation for e.ip (unicast if known)."""
        neigh = self.neigh
        assert neigh is not None
        e.probes += 1
        e.next_probe = self.now + neigh.retrans
        neigh.note(e.next_probe)
        if len(e.ip) == 4:
            spa = self.source_for(e.ip) or b"\x00" * 4
            arp = ArpRepr(OP_REQUEST, self.mac, spa, b"\x00" * 6, e.ip)
            self.emit_link(e.mac if e.state == PROBE and e.mac else BROADCAST, ETHERTYPE_ARP,
                           arp.to_bytes())
            neigh._count("arp_requests_sent")
            return
        src = self.source_for(e.ip)
        if src is None:
            return
        if e.state == PROBE and e.mac:
            dst = e.ip
        else:
            dst = solicited_node(e.ip)
        ndp = NdpRepr(V6_NEIGHBOR_SOLICIT, e.ip, 0, self.mac).to_icmp()
        self.send_ndp(src, dst, ndp.to_bytes(src, dst))
        neigh._count("ndp_solicits_sent")

    def send_ndp(self, src: bytes, dst: bytes, msg: bytes) -> None:
        """An NDP message (hop limit 255) to a multicast group or a known neighbor (an
        unknown one is not solicited for: it is dropped)."""
        if dst[0] != 0xFF:
            e = self.neigh.entries.get(dst) if self.neigh is not None else None
            if e is None or e.mac is None:
                return
        if not self.dispatch(Ipv6Repr(src, dst, 58, len(msg), 255), None, msg):
            self._drop("tx_backpressure")

    def flush_pending(self, e: Neighbor) -> None:
        """Send the frames held for e, now that it has a MAC."""
        mac = e.mac
        if mac is None:
            return
        while e.pending:
            frame = e.pending.popleft()
            tok = self.dev.transmit(len(frame))
            if tok is None:
                self._drop("tx_backpressure")
                continue
            frame[0:6] = mac
            tok.view[:len(frame)] = frame
            self._send(tok)

    def arp_input(self, payload: memoryview) -> None:
        neigh = self.neigh
        if neigh is None:
            return
        arp = ArpRepr.parse(payload)
        for_us = self.has_address(arp.tpa)
        if arp.spa == b"\x00\x00\x00\x00":
            neigh._count("arp_probe")        # DAD probe from a peer
        else:
            e = neigh.confirm(arp.spa, arp.sha, self.now, create=for_us)
            if e is not None:
                self.flush_pending(e)
        if arp.op == OP_REQUEST and for_us:
            reply = ArpRepr(OP_REPLY, self.mac, arp.tpa, arp.sha, arp.spa)
            self.emit_link(arp.sha, ETHERTYPE_ARP, reply.to_bytes())
            neigh._count("arp_replies_sent")

    def tick(self, now: float) -> float | None:
        """Run the neighbor timers and the device's; the earliest next deadline."""
        self.now = now
        neigh = self.neigh
        if neigh is not None and neigh.due is not None and now >= neigh.due:
            for ip, e in list(neigh.entries.items()):
                if e.state == REACHABLE:
                    if now > e.expires:
                        e.state = STALE
                elif e.state in (INCOMPLETE, PROBE) and now >= e.next_probe:
                    if e.probes >= neigh.max_probes:
                        del neigh.entries[ip]
                        neigh._count("neigh_failed")
                        cb = self.on_unreachable
                        while e.pending:
                            frame = e.pending.popleft()
                            if cb is not None:
                                cb(frame, 113)       # EHOSTUNREACH
                    else:
                        self.solicit(e)
            neigh.due = neigh.next_deadline()
        t = neigh.due if neigh is not None else None
        d = self.dev.device.tick(now)
        if d is not None and (t is None or d < t):
            t = d
        return t

    def poll_at(self) -> float | None:
        """The earliest neighbor or device deadline; a query, it acts on nothing."""
        t = self.neigh.due if self.neigh is not None else None
        d = self.dev.device.poll_at()
        if d is not None and (t is None or d < t):
            t = d
        return t

    # ---- addresses ----------------------------------------------------------------
    def add_address(self, addr: bytes, prefix: int) -> None:
        if (addr, prefix) in self.addresses:
            return
        self.addresses.append((addr, prefix))
        self.local.add(addr)
        if len(addr) == 16 and not self.loopback:
            self.mcast6.add(ALL_NODES)
            self.mcast6.add(solicited_node(addr))
        self._primary_changed()

    def del_address(self, addr: bytes) -> None:
        self.addresses = [(a, p) for a, p in self.addresses if a != addr]
        self.local.discard(addr)
        self.mcast6 = {ALL_NODES} if any(len(a) == 16 for a, _ in self.addresses) else set()
        for a, _p in self.addresses:
            if len(a) == 16:
                self.mcast6.add(solicited_node(a))
        self._primary_changed()

    def _primary_changed(self) -> None:
        self.primary = {4: self.primary_address(4), 16: self.primary_address(6)}

    def has_address(self, addr: bytes) -> bool:
        for net, _p in self.addresses:
            if net == addr:
                return True
        return False

    def is_local(self, addr: bytes) -> bool:
        for net, prefix in self.addresses:
            if net == addr:     # the usual case first: no length tests
                return True
            if self.loopback and len(addr) == 4 and len(net) == 4 and _in_prefix(
                    addr, net, prefix):
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
    if type(ifaces) is not list:    # the stack's list as it is: no copy per datagram
        ifaces = list(ifaces)
    for i in ifaces:
        if dst in i.local or i.is_local(dst):      # the usual case without a call
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
        return iface.primary[len(dst)]
    return iface.source_for(dst)


def poll_interfaces(
    ifaces: Iterable[InterfaceWrapper],
    handler: IpHandler,
    stats: dict[str, int],
) -> int:
    """Receive every waiting frame of each interface (drained from its device's plain
    queue, else through its NetDeviceWrapper's receive_all), check the link and IP
    headers (checksum unless offloaded), drop what is not for us (counted in ``stats``
    by reason) and hand the rest to ``handler`` (the TCP fast path), the UDP handler or
    the interface's network layer. Returns the number of frames taken."""
    total = 0
    for iface in ifaces:
        d = iface.dev
        q = d.rxq
        if q is None:
            total += d.receive_all(_input_frame, iface, handler, stats)
            continue
        while q:        # each buffer back to its pool after its frame, even on an error
            buf = q.popleft()
            d.rx_frames += 1
            total += 1
            try:
                _input_frame(buf.view[:buf.length], iface, handler, stats)
            finally:        # NetBufPool.dealloc inline: one call less per frame
                if buf.in_use:
                    buf.in_use = False
                    buf.length = 0
                    buf.pool.free.append(buf)
    return total


def _input_frame(mv: memoryview, iface: InterfaceWrapper, handler: IpHandler,
                 stats: dict[str, int]) -> None:
    try:     # a malformed frame is dropped and counted, never raised past here
        eth = iface.link_header_len
        n = mv.nbytes
        if eth:
            if n < 14:
                raise Malformed("eth_truncated")
            ethertype = (mv[12] << 8) | mv[13]
            if iface.neigh is not None and not mv[0] & 1 and mv[0:6] != iface.mac:
                stats["drop_eth_not_for_us"] = stats.get("drop_eth_not_for_us", 0) + 1
                return
            n -= 14
        else:
            ethertype = ETHERTYPE_IPV4 if n and (mv[0] >> 4) == 4 else ETHERTYPE_IPV6
        if ethertype == ETHERTYPE_IPV4:
            if n >= 20:
                # the common packet (see the class) without Ipv4Repr.parse: no options,
                # unfragmented, checksum right; anything else takes the full path below
                vihl, tos, total, ident, frag, ttl, proto, _c, src, dst = \
                    IPV4_HEADER.unpack_from(mv, eth)
                if vihl == 0x45 and 20 <= total <= n and not frag & 0x3FFF and (
                        proto == 6 or proto == 17 and src[0] < 224) and (
                        dst in iface.local or iface.is_local(dst)) and (
                        iface.checksum_offload or verify(mv[eth:eth + 20])):
                    ip = iface.rx4
                    ip.src, ip.dst, ip.protocol, ip.payload_len = src, dst, proto, total - 20
                    ip.ttl, ip.tos, ip.ident, ip.dont_frag = ttl, tos, ident, frag & FLAG_DF != 0
                    # UDP only from a unicast source (ipv4_input's test)
                    (handler if proto == 6 else iface.net.handlers[17])(
                        iface, ip, mv[eth + 20:eth + total])
                    return
            body = mv[eth:]
            ip4, payload = Ipv4Repr.parse(body, not iface.checksum_offload)
            iface.net.ipv4_input(iface, ip4, body[:ip4.header_len + ip4.payload_len], payload)
        elif ethertype == ETHERTYPE_IPV6:
            if n >= 40:
                # the common packet (see the class) without Ipv6Repr.parse
                vtf, plen, nh, hops, src, dst = IPV6_HEADER.unpack_from(mv, eth)
                if vtf >> 28 == 6 and 40 + plen <= n and (
                        nh == 6 or nh == 17 and src[0] != 0xFF) and (
                        dst in iface.local or iface.is_local(dst)):
                    ip6 = iface.rx6
                    ip6.src, ip6.dst, ip6.next_header, ip6.payload_len = src, dst, nh, plen
                    ip6.hop_limit, ip6.traffic_class, ip6.flow_label = \
                        hops, (vtf >> 20) & 0xFF, vtf & 0xFFFFF
                    # UDP only from a unicast source (ipv6_input's test)
                    (handler if nh == 6 else iface.net.handlers[17])(
                        iface, ip6, mv[eth + 40:eth + 40 + plen])
                    return
            body = mv[eth:]
            ip6, payload = Ipv6Repr.parse(body)
            iface.net.ipv6_input(iface, ip6, body[:40 + ip6.payload_len], payload)
        elif ethertype == ETHERTYPE_ARP and iface.neigh is not None:
            iface.arp_input(mv[eth:])
        else:
            stats["drop_unknown_ethertype"] = stats.get("drop_unknown_ethertype", 0) + 1
    except Malformed as e:
        key = "drop_" + e.reason
        stats[key] = stats.get(key, 0) + 1


def is_v4_mapped(addr16: bytes) -> bool:
    return len(addr16) == 16 and addr16[:12] == _V4MAPPED_PREFIX

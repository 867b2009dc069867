"""Ethernet next-hop resolution: the neighbor cache (ARP for IPv4, NDP for IPv6) and
``EthernetLink``, the device an Ethernet interface sends through.

The transport layers write whole frames whose destination MAC is still zero;
``EthernetLink.send`` fills it from the neighbor cache (or the multicast/broadcast
mapping). A frame for an unresolved neighbor is copied into that neighbor's pending
queue (bounded) and a solicitation goes out; the queue is flushed when the reply
arrives, or dropped after ``max_probes`` unanswered solicitations (then the IP layer is
told, so a connecting socket gets EHOSTUNREACH as on Linux).

Entries are REACHABLE for ``reachable_time`` after a confirmation, then STALE: still
used, but the next use sends a solicitation, and an entry unconfirmed for
``max_probes * retrans`` more is removed. Sans-I/O: the IP layer passes the time in.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..phy import DeviceCapabilities, NetBuf, NetDevice
from ..wire.arp import OP_REPLY, OP_REQUEST, ArpRepr
from ..wire.icmp import V6_NEIGHBOR_SOLICIT, NdpRepr

if TYPE_CHECKING:
    from .interface import InterfaceWrapper

INCOMPLETE = "INCOMPLETE"
REACHABLE = "REACHABLE"
STALE = "STALE"
PROBE = "PROBE"
FAILED = "FAILED"
BROADCAST = b"\xff" * 6
_IP6 = struct.Struct("!IHBB16s16s")
_U16 = struct.Struct("!H")


def solicited_node(addr: bytes) -> bytes:
    return b"\xff\x02" + b"\x00" * 9 + b"\x01\xff" + addr[13:16]


def multicast_mac(addr: bytes) -> bytes:
    if len(addr) == 4:
        return b"\x01\x00\x5e" + bytes((addr[1] & 0x7F,)) + addr[2:4]
    return b"\x33\x33" + addr[12:16]


class Neighbor:
    __slots__ = ("ip", "mac", "state", "expires", "probes", "next_probe", "pending")

    def __init__(self, ip: bytes) -> None:
        self.ip = ip
        self.mac: bytes | None = None
        self.state = INCOMPLETE
        self.expires = 0.0
        self.probes = 0
        self.next_probe = 0.0
        self.pending: deque[bytes] = deque()


class NeighborCache:
    def __init__(self, stats: dict[str, int], reachable_time: float = 30.0,
                 retrans: float = 1.0, max_probes: int = 3, pending_max: int = 64,
                 max_entries: int = 1024) -> None:
        self.stats = stats
        self.reachable_time = reachable_time
        self.retrans = retrans
        self.max_probes = max_probes
        self.pending_max = pending_max
        self.max_entries = max_entries
        self.entries: dict[bytes, Neighbor] = {}

    def _count(self, k: str) -> None:
        self.stats[k] = self.stats.get(k, 0) + 1

    def confirm(self, ip: bytes, mac: bytes, now: float, create: bool = True) -> Neighbor | None:
        """Record ip -> mac (a reply, or a request from ip). Returns the entry."""
        e = self.entries.get(ip)
        if e is None:
            if not create:
                return None
            if len(self.entries) >= self.max_entries:
                self._gc(now, force=True)
            e = self.entries[ip] = Neighbor(ip)
        e.mac = mac
        e.state = REACHABLE
        e.expires = now + self.reachable_time
        e.probes = 0
        return e

    def _gc(self, now: float, force: bool = False) -> None:
        for ip, e in list(self.entries.items()):
            if e.state == STALE or force and e.state != REACHABLE:
                del self.entries[ip]

    def lookup(self, ip: bytes) -> Neighbor | None:
        return self.entries.get(ip)

    def next_deadline(self) -> float | None:
        t = None
        for e in self.entries.values():
            if e.state in (INCOMPLETE, PROBE):
                d = e.next_probe
            elif e.state == REACHABLE:
                d = e.expires
            else:
                continue
            if t is None or d < t:
                t = d
        return t


class EthernetLink(NetDevice):
    """Wraps an Ethernet device for one interface; see the module docstring."""

    def __init__(self, dev: NetDevice, iface: InterfaceWrapper, stats: dict[str, int]) -> None:
        self.dev = dev
        self.iface = iface
        self.mac = dev.mac_address()
        self.stats = stats
        self.neigh = NeighborCache(stats)
        self.now = 0.0
        # called with (frame bytes, errno) for each queued frame a failed resolution drops
        self.on_unreachable: Callable[[bytes, int], None] | None = None

    # ---- NetDevice: delegated -----------------------------------------------------
    def capabilities(self) -> DeviceCapabilities:
        return self.dev.capabilities()

    def mac_address(self) -> bytes:
        return self.mac

    def can_send(self) -> bool:
        return self.dev.can_send()

    def can_recv(self) -> bool:
        return self.dev.can_recv()

    def max_send_buf_num(self) -> int:
        return self.dev.max_send_buf_num()

    def max_recv_buf_num(self) -> int:
        return self.dev.max_recv_buf_num()

    def recycle_rx_buffer(self, buf: NetBuf) -> None:
        self.dev.recycle_rx_buffer(buf)

    def recycle_tx_buffers(self) -> None:
        self.dev.recycle_tx_buffers()

    def recv(self) -> NetBuf | None:
        return self.dev.recv()

    def alloc_tx_buffer(self, size: int) -> NetBuf | None:
        return self.dev.alloc_tx_buffer(size)

    # ---- transmit with resolution --------------------------------------------------
    def send(self, buf: NetBuf) -> None:
        mv = buf.view
        et = (mv[12] << 8) | mv[13]
        if et == 0x0800:
            dst = bytes(mv[30:34])
        elif et == 0x86DD:
            dst = bytes(mv[38:54])
        else:
            self.dev.send(buf)          # ARP and others: addressed by their builder
            return
        mac = self.resolve(dst)
        if mac:
            mv[0:6] = mac
            self.dev.send(buf)
            return
        if mac is not None:             # no route
            buf.pool.dealloc(buf)
            return
        frame = bytes(mv[: buf.length])
        buf.pool.dealloc(buf)
        self._queue(dst, frame)

    def resolve(self, dst: bytes) -> bytes | None:
        """The MAC for an IP destination; None: unresolved (queue); b"": no route."""
        if len(dst) == 4:
            if dst == b"\xff\xff\xff\xff" or self.iface.is_broadcast(dst):
                return BROADCAST
            if 224 <= dst[0] < 240:
                return multicast_mac(dst)
        elif dst[0] == 0xFF:
            return multicast_mac(dst)
        hop = self.iface.next_hop(dst)
        if hop is None:
            self.stats["drop_no_route"] = self.stats.get("drop_no_route", 0) + 1
            return b""
        e = self.neigh.entries.get(hop)
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

    def _queue(self, dst: bytes, frame: bytes) -> None:
        hop = self.iface.next_hop(dst)
        if hop is None:
            return
        neigh = self.neigh
        e = neigh.entries.get(hop)
        if e is None:
            if len(neigh.entries) >= neigh.max_entries:
                neigh._gc(self.now, force=True)
            e = neigh.entries[hop] = Neighbor(hop)
            e.next_probe = self.now
            self.solicit(e)
        if len(e.pending) >= neigh.pending_max:
            e.pending.popleft()
            neigh._count("drop_neigh_queue_full")
        e.pending.append(frame)

    def solicit(self, e: Neighbor) -> None:
        """Send an ARP request or a Neighbor Solicitation for e.ip (unicast if known)."""
        e.probes += 1
        e.next_probe = self.now + self.neigh.retrans
        iface = self.iface
        if len(e.ip) == 4:
            spa = iface.source_for(e.ip) or b"\x00" * 4
            arp = ArpRepr(OP_REQUEST, self.mac, spa, b"\x00" * 6, e.ip)
            self._emit_raw(e.mac if e.state == PROBE and e.mac else BROADCAST, 0x0806,
                           arp.to_bytes())
            self.neigh._count("arp_requests_sent")
        else:
            src = iface.source_for(e.ip)
            if src is None:
                return
            if e.state == PROBE and e.mac:
                dst, dmac = e.ip, e.mac
            else:
                dst = solicited_node(e.ip)
                dmac = multicast_mac(dst)
            ndp = NdpRepr(V6_NEIGHBOR_SOLICIT, e.ip, 0, self.mac)
            self.emit_ipv6(dmac, src, dst, 58, ndp.to_icmp().to_bytes(src, dst), 255)
            self.neigh._count("ndp_solicits_sent")

    def _emit_raw(self, dmac: bytes, ethertype: int, payload: bytes) -> None:
        n = 14 + len(payload)
        if n < 60:
            payload += b"\x00" * (60 - n)
            n = 60
        buf = self.dev.alloc_tx_buffer(n)
        if buf is None:
            self.neigh._count("tx_backpressure")
            return
        mv = buf.view
        mv[0:6] = dmac
        mv[6:12] = self.mac
        _U16.pack_into(mv, 12, ethertype)
        mv[14:n] = payload
        self.dev.send(buf)

    def emit_ipv6(self, dmac: bytes, src: bytes, dst: bytes, nh: int, payload: bytes,
                  hops: int) -> None:
        b = bytearray(40 + len(payload))
        _IP6.pack_into(b, 0, 0x60000000, len(payload), nh, hops, src, dst)
        b[40:] = payload
        self._emit_raw(dmac, 0x86DD, bytes(b))

    def flush_pending(self, e: Neighbor) -> None:
        mac = e.mac
        if mac is None:
            return
        while e.pending:
            frame = e.pending.popleft()
            buf = self.dev.alloc_tx_buffer(len(frame))
            if buf is None:
                self.neigh._count("tx_backpressure")
                continue
            buf.view[: len(frame)] = frame
            buf.view[0:6] = mac
            self.dev.send(buf)

    # ---- ARP input -----------------------------------------------------------------
    def arp_input(self, payload: memoryview) -> None:
        arp = ArpRepr.parse(payload)
        iface = self.iface
        for_us = iface.has_address(arp.tpa)
        if arp.spa == b"\x00\x00\x00\x00":
            self.neigh._count("arp_probe")        # DAD probe from a peer
        else:
            e = self.neigh.confirm(arp.spa, arp.sha, self.now, create=for_us)
            if e is not None:
                self.flush_pending(e)
        if arp.op == OP_REQUEST and for_us:
            reply = ArpRepr(OP_REPLY, self.mac, arp.tpa, arp.sha, arp.spa)
            self._emit_raw(arp.sha, 0x0806, reply.to_bytes())
            self.neigh._count("arp_replies_sent")

    # ---- timers --------------------------------------------------------------------
    def tick(self, now: float) -> float | None:
        self.now = now
        neigh = self.neigh
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
        t = neigh.next_deadline()
        d = self.dev.tick(now)
        if d is not None and (t is None or d < t):
            t = d
        return t

    def poll_at(self) -> float | None:
        t = self.neigh.next_deadline()
        d = self.dev.poll_at()
        if d is not None and (t is None or d < t):
            t = d
        return t

    def __getattr__(self, name: str):
        return getattr(self.dev, name)


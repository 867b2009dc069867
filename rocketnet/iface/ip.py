"""The network layer beyond the TCP fast path: IPv4 (fragments, broadcast), IPv6
(extension headers, fragments, multicast), ICMPv4/ICMPv6 (echo reply; destination
unreachable generated for closed ports and unknown protocols, and consumed: errors go
to the transport through ``error_handlers``), NDP (NS/NA), and IP output with
fragmentation (``send_ip``).

Transports register ``handlers[proto] = f(iface, ip, payload)`` (ip: the Ipv4Repr or
Ipv6Repr parsed once by the interface; for a reassembled datagram, its last fragment's)
and ``error_handlers[proto] = f(version, local_ip, remote_ip, local_port, remote_port,
errno)``; ``icmp_hooks`` see every ICMP message the layer itself does not consume
(echo replies for ping sockets). Sans-I/O: ``poll(now)`` runs the timers.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from ..wire.checksum import checksum, pseudo_header_sum, verify
from ..wire.error import Malformed
from ..wire.icmp import (
    DEST_UNREACH,
    ECHO_REPLY,
    ECHO_REQUEST,
    NA_OVERRIDE,
    NA_SOLICITED,
    TIME_EXCEEDED,
    UNREACH_PORT,
    UNREACH_PROTOCOL,
    V6_DEST_UNREACH,
    V6_ECHO_REPLY,
    V6_ECHO_REQUEST,
    V6_NEIGHBOR_ADVERT,
    V6_NEIGHBOR_SOLICIT,
    V6_PARAM_NEXT_HEADER,
    V6_PARAM_PROBLEM,
    V6_TIME_EXCEEDED,
    V6_UNREACH_PORT,
    IcmpRepr,
    NdpRepr,
)
from ..wire.ipv4 import Ipv4Repr
from ..wire.ipv6 import Ipv6Repr
from ..wire.ipv6ext import FRAG, NO_NEXT, walk
from .interface import InterfaceWrapper, IpRepr
from .reassembly import Reassembler

_PORTS = struct.Struct("!HH")
_U16 = struct.Struct("!H")

EHOSTUNREACH = 113
ENETUNREACH = 101
ECONNREFUSED = 111
ENOPROTOOPT = 92
EACCES = 13
EMSGSIZE = 90
# Linux icmp_err_convert[] for ICMPv4 destination unreachable codes 0..15
_V4_UNREACH_ERRNO = (ENETUNREACH, EHOSTUNREACH, ENOPROTOOPT, ECONNREFUSED, EMSGSIZE,
                     95, ENETUNREACH, EHOSTUNREACH, 64, ENETUNREACH, EHOSTUNREACH,
                     ENETUNREACH, EHOSTUNREACH, EHOSTUNREACH, EHOSTUNREACH, EHOSTUNREACH)
# ICMPv6 destination unreachable codes 0..6 (icmpv6_err_convert)
_V6_UNREACH_ERRNO = (ENETUNREACH, EACCES, EHOSTUNREACH, EHOSTUNREACH, ECONNREFUSED,
                     EACCES, EACCES)
QUOTE_MAX_V4 = 576 - 28       # RFC 1812: as much as fits in 576 bytes
QUOTE_MAX_V6 = 1280 - 48      # RFC 4443: as much as fits in the minimum MTU

TransportError = Callable[[int, bytes, bytes, int, int, int], None]


class IpLayer:
    def __init__(self, ifaces: list[InterfaceWrapper], stats: dict[str, int]) -> None:
        self.ifaces = ifaces
        self.stats = stats
        self.handlers: dict[int, Callable[[InterfaceWrapper, IpRepr, memoryview], None]] = {}
        self.error_handlers: dict[int, TransportError] = {}
        # error handlers that also take the ICMP type, code, offender and quoted payload
        # (UDP's IP_RECVERR); preferred over error_handlers for their protocol
        self.detail_handlers: dict[int, Callable[..., None]] = {}
        self.icmp_hooks: list[Callable] = []
        self.reasm4 = Reassembler(stats, "ipv4_")
        self.reasm6 = Reassembler(stats, "ipv6_")
        self.frag_id = 0
        self.now = 0.0
        self.deadline: float | None = None
        # the interfaces with timers (InterfaceWrapper.timed): the only ones polled
        self.timed: list[InterfaceWrapper] = []
        # ICMP error rate limit (Linux icmp_msgs_per_sec / icmp_msgs_burst)
        self.tokens = 50.0
        self.token_time = 0.0
        for iface in ifaces:
            self.attach(iface)

    def attach(self, iface: InterfaceWrapper) -> None:
        iface.net = self
        iface.on_unreachable = self._unresolved
        self.retime()

    def retime(self) -> None:
        """An interface came, went or changed its device: which ones have timers."""
        self.timed = [i for i in self.ifaces if i.timed]

    def _count(self, k: str) -> None:
        st = self.stats
        st[k] = st.get(k, 0) + 1

    # ---- timers -----------------------------------------------------------------------
    def poll(self, now: float) -> None:
        self.now = now
        t = None
        if self.reasm4.pending or self.reasm6.pending:     # no scan while nothing waits
            for r in (self.reasm4, self.reasm6):
                r.poll(now)
                d = r.next_deadline()
                if d is not None and (t is None or d < t):
                    t = d
        for iface in self.timed:    # an untimed interface reads no clock
            d = iface.tick(now)
            if d is not None and (t is None or d < t):
                t = d
        self.deadline = t

    def next_deadline(self) -> float | None:
        """Earliest timer of the devices (frames queued since poll count: a delayed
        frame sent by the transport after poll), neighbors and reassembly. A query: it
        sends nothing and evicts nothing (poll does)."""
        t = self.deadline
        for iface in self.timed:
            d = iface.poll_at()
            if d is not None and (t is None or d < t):
                t = d
        return t

    # ---- IPv4 input -------------------------------------------------------------------
    def ipv4_input(self, iface: InterfaceWrapper, ip: Ipv4Repr, pkt: memoryview,
                   payload: memoryview) -> None:
        """``pkt``: the whole packet (for ICMP quotes), ``payload``: what follows the
        header."""
        src, dst = ip.src, ip.dst
        local = iface.is_local(dst)
        bcast = not local and (iface.is_broadcast(dst) or 224 <= dst[0] < 240)
        if not local and not bcast:
            self._count("drop_not_for_us")
            return
        if src[0] >= 224 or src == b"\xff\xff\xff\xff":
            self._count("drop_ipv4_bad_source")
            return
        proto = ip.protocol
        ihl = ip.header_len
        if ip.more_frags or ip.frag_offset:
            done = self.reasm4.add((src, dst, proto, ip.ident), ip.frag_offset, ip.more_frags,
                                   payload, self.now,
                                   bytes(pkt[:ihl]) if not ip.frag_offset else None)
            if done is None:
                return
            first = done[1] if isinstance(done[1], bytes) else bytes(pkt[:ihl])
            ihl = len(first)
            pkt = memoryview(first + done[0])     # header of the first fragment: for quotes
            payload = pkt[ihl:]
        self._dispatch(iface, ip, proto, payload, pkt, bcast)

    # ---- IPv6 input -------------------------------------------------------------------
    def ipv6_input(self, iface: InterfaceWrapper, ip: Ipv6Repr, pkt: memoryview,
                   payload: memoryview) -> None:
        src, dst = ip.src, ip.dst
        mcast = dst[0] == 0xFF
        if mcast:
            if dst not in iface.mcast6:
                self._count("drop_not_for_us")
                return
        elif not iface.is_local(dst):
            self._count("drop_not_for_us")
            return
        if src[0] == 0xFF:
            self._count("drop_ipv6_bad_source")
            return
        proto, off, fragh, _foff = walk(ip.next_header, payload)
        if fragh is not None:
            done = self.reasm6.add((src, dst, fragh.ident), fragh.offset, fragh.more,
                                   payload[off:], self.now)
            if done is None:
                return
            data = done[0]
            proto, off2, again, _ = walk(fragh.next_header, data)
            if again is not None:
                self._count("drop_ipv6_nested_fragment")
                return
            payload = memoryview(data)[off2:]
            full = bytearray(pkt[:40])
            _U16.pack_into(full, 4, len(payload))
            full[6] = proto
            pkt = memoryview(bytes(full) + bytes(payload))
        else:
            payload = payload[off:]
        if proto == NO_NEXT:
            return
        self._dispatch(iface, ip, proto, payload, pkt, mcast)

    # ---- transport dispatch ------------------------------------------------------------
    def _dispatch(self, iface: InterfaceWrapper, ip: IpRepr, proto: int, payload: memoryview,
                  pkt: memoryview, mcast: bool) -> None:
        version = ip.version
        if version == 4 and proto == 1:
            self.icmp4_input(iface, ip.src, ip.dst, payload, pkt, mcast)
            return
        if version == 6 and proto == 58:
            self.icmp6_input(iface, ip.src, ip.dst, payload, pkt, mcast)
            return
        h = self.handlers.get(proto)
        if h is not None:
            if proto == 6 and mcast:
                self._count("drop_tcp_multicast")
                return
            h(iface, ip, payload)
            return
        if mcast:
            self._count("drop_unknown_protocol")
            return
        self._count("drop_unknown_protocol")
        if version == 4:
            self.send_error(iface, 4, ip.src, ip.dst, pkt, DEST_UNREACH, UNREACH_PROTOCOL, 0)
        else:
            self.send_error(iface, 6, ip.src, ip.dst, pkt, V6_PARAM_PROBLEM,
                            V6_PARAM_NEXT_HEADER, 6)

    def port_unreachable(self, iface: InterfaceWrapper, ip: IpRepr, payload: memoryview
                         ) -> bool:
        """A transport found no socket for ``payload`` (sent to ip.dst): ICMP port
        unreachable quoting the packet (never about a broadcast, a multicast or an
        unspecified source, as Linux). False when it is not sent for those reasons."""
        src, dst = ip.src, ip.dst
        if ip.version == 4:
            if dst == b"\xff\xff\xff\xff" or dst[0] >= 224 or not any(src):
                return False
            hdr = Ipv4Repr(src, dst, ip.protocol, len(payload), ip.ttl, ip.tos, ip.ident,
                           ip.dont_frag).to_bytes()
            self.send_error(iface, 4, src, dst, memoryview(hdr + bytes(payload)),
                            DEST_UNREACH, UNREACH_PORT, 0)
        else:
            if dst[0] == 0xFF or not any(src):
                return False
            hdr = Ipv6Repr(src, dst, 17, len(payload), ip.hop_limit, ip.traffic_class,
                           ip.flow_label).to_bytes()
            self.send_error(iface, 6, src, dst, memoryview(hdr + bytes(payload)),
                            V6_DEST_UNREACH, V6_UNREACH_PORT, 0)
        return True

    # ---- ICMP -------------------------------------------------------------------------
    def icmp4_input(self, iface: InterfaceWrapper, src: bytes, dst: bytes, payload: memoryview,
                    pkt: memoryview, bcast: bool) -> None:
        if len(payload) < 8:
            raise Malformed("icmp_truncated")
        if not iface.checksum_offload and not verify(payload):
            raise Malformed("icmp_checksum")
        t, code, _c, rest = struct.unpack_from("!BBHI", payload, 0)
        self._count("icmp_in")
        if t == ECHO_REQUEST:
            if bcast:
                self._count("icmp_echo_broadcast_ignored")
                return
            reply = bytearray(payload)
            reply[0] = ECHO_REPLY
            reply[2:4] = b"\x00\x00"
            _U16.pack_into(reply, 2, checksum(reply))
            self._count("icmp_echo_replies_sent")
            self.send_ip(iface, 4, dst, src, 1, bytes(reply))
            return
        if t in (DEST_UNREACH, TIME_EXCEEDED):
            err = _V4_UNREACH_ERRNO[code] if t == DEST_UNREACH and code < 16 else EHOSTUNREACH
            self._deliver_error(4, payload[8:], err, (t, code, src))
        for hook in self.icmp_hooks:
            hook(iface, 4, src, dst, t, code, rest, payload)

    def icmp6_input(self, iface: InterfaceWrapper, src: bytes, dst: bytes, payload: memoryview,
                    pkt: memoryview, mcast: bool) -> None:
        n = len(payload)
        if n < 8:
            raise Malformed("icmp_truncated")
        if not iface.checksum_offload and not verify(payload, pseudo_header_sum(src, dst, 58, n)):
            raise Malformed("icmp_checksum")
        t, code, _c, rest = struct.unpack_from("!BBHI", payload, 0)
        self._count("icmp6_in")
        if t == V6_ECHO_REQUEST:
            me = iface.source_for(src) if mcast else dst
            if me is None:
                return
            reply = bytearray(payload)
            reply[0] = V6_ECHO_REPLY
            reply[2:4] = b"\x00\x00"
            _U16.pack_into(reply, 2, checksum(reply, pseudo_header_sum(me, src, 58, n)))
            self._count("icmp6_echo_replies_sent")
            self.send_ip(iface, 6, me, src, 58, bytes(reply))
            return
        if t in (V6_NEIGHBOR_SOLICIT, V6_NEIGHBOR_ADVERT):
            self.ndp_input(iface, src, dst, IcmpRepr.parse(payload, 6, verify_checksum=False),
                           pkt[7])
            return
        if t in (V6_DEST_UNREACH, V6_TIME_EXCEEDED):
            err = _V6_UNREACH_ERRNO[code] if t == V6_DEST_UNREACH and code < 7 else EHOSTUNREACH
            self._deliver_error(6, payload[8:], err, (t, code, src))
        for hook in self.icmp_hooks:
            hook(iface, 6, src, dst, t, code, rest, payload)

    def ndp_input(self, iface: InterfaceWrapper, src: bytes, dst: bytes, icmp: IcmpRepr,
                  hops: int) -> None:
        neigh = iface.neigh
        if neigh is None:
            return
        if hops != 255:
            self._count("drop_ndp_hop_limit")
            return
        ndp = NdpRepr.from_icmp(icmp)
        if ndp.target[0] == 0xFF:
            self._count("drop_ndp_multicast_target")
            return
        now = iface.now
        if ndp.type == V6_NEIGHBOR_SOLICIT:
            if not iface.has_address(ndp.target):
                return
            unspecified = not any(src)
            if ndp.lladdr is not None and not unspecified:
                e = neigh.confirm(src, ndp.lladdr, now)
                if e is not None:
                    iface.flush_pending(e)
            if unspecified:         # DAD from a peer: answer to all-nodes, not solicited
                to, flags = b"\xff\x02" + b"\x00" * 13 + b"\x01", NA_OVERRIDE
            else:
                to, flags = src, NA_SOLICITED | NA_OVERRIDE
                if neigh.lookup(src) is None:
                    return
            na = NdpRepr(V6_NEIGHBOR_ADVERT, ndp.target, flags, iface.mac).to_icmp()
            iface.send_ndp(ndp.target, to, na.to_bytes(ndp.target, to))
            self._count("ndp_adverts_sent")
        else:
            if ndp.lladdr is None:
                return
            e = neigh.lookup(ndp.target)
            if e is None:
                return                # unsolicited for a neighbor we do not track
            e2 = neigh.confirm(ndp.target, ndp.lladdr, now)
            if e2 is not None:
                iface.flush_pending(e2)

    def _deliver_error(self, version: int, quote: memoryview, err: int,
                       icmp: tuple[int, int, bytes] | None = None) -> None:
        """An ICMP error quoting one of our packets: tell the transport that sent it."""
        try:
            if version == 4:
                if len(quote) < 28:
                    raise Malformed("icmp_quote_truncated")
                vihl = quote[0]
                ihl = (vihl & 0x0F) * 4
                if vihl >> 4 != 4 or ihl < 20 or len(quote) < ihl + 4:
                    raise Malformed("icmp_quote_bad")
                proto = quote[9]
                lip = bytes(quote[12:16])
                rip = bytes(quote[16:20])
                off = ihl
            else:
                if len(quote) < 44:
                    raise Malformed("icmp_quote_truncated")
                if quote[0] >> 4 != 6:
                    raise Malformed("icmp_quote_bad")
                lip = bytes(quote[8:24])
                rip = bytes(quote[24:40])
                proto, off, frag, _ = walk(quote[6], quote[40:])
                if frag is not None and frag.offset:
                    return
                off += 40
            if len(quote) < off + 4:
                raise Malformed("icmp_quote_truncated")
            lport, rport = _PORTS.unpack_from(quote, off)
        except Malformed as e:
            self._count("drop_" + e.reason)
            return
        h = self.error_handlers.get(proto)
        self._count("icmp_errors_received")
        d = self.detail_handlers.get(proto)
        if d is not None and icmp is not None:
            # (type, code, offender, the quoted datagram after its transport header)
            d(version, lip, rip, lport, rport, err, icmp[0], icmp[1], bytes(icmp[2]),
              bytes(quote[off + 8:]))
        elif h is not None:
            h(version, lip, rip, lport, rport, err)

    def _unresolved(self, frame: bytearray, err: int) -> None:
        """A frame dropped because its next hop never answered ARP/NDP."""
        et = frame[12:14]
        if et == b"\x08\x00":
            self._deliver_error(4, memoryview(frame)[14:], err)
        elif et == b"\x86\xdd":
            self._deliver_error(6, memoryview(frame)[14:], err)

    def _rate_ok(self) -> bool:
        now = self.now
        self.tokens = min(50.0, self.tokens + (now - self.token_time) * 1000.0)
        self.token_time = now
        if self.tokens < 1.0:
            self._count("icmp_errors_ratelimited")
            return False
        self.tokens -= 1.0
        return True

    def send_error(self, iface: InterfaceWrapper, version: int, src: bytes, dst: bytes,
                   pkt: memoryview, type: int, code: int, rest: int) -> None:
        """ICMP error about pkt (received from src, to our dst). Not rate limited on
        lo (Linux: icmpv4_xrlim_allow / icmpv6_xrlim_allow)."""
        if not iface.loopback and not self._rate_ok():
            return
        if version == 4:
            quote = bytes(pkt[:QUOTE_MAX_V4])
            msg = IcmpRepr(4, type, code, rest, quote).to_bytes()
            self._count("icmp_errors_sent")
            self.send_ip(iface, 4, dst, src, 1, msg)
        else:
            quote = bytes(pkt[:QUOTE_MAX_V6])
            msg = IcmpRepr(6, type, code, rest, quote).to_bytes(dst, src)
            self._count("icmp6_errors_sent")
            self.send_ip(iface, 6, dst, src, 58, msg)

    # ---- output -----------------------------------------------------------------------
    def send_ip(self, iface: InterfaceWrapper, version: int, src: bytes, dst: bytes,
                proto: int, payload: bytes | bytearray | memoryview, ttl: int = 64,
                dont_frag: bool = False, tos: int = 0, l4: Any = None, df: bool = False
                ) -> bool:
        """Send one IP datagram through iface: ``l4`` (a transport header Repr, see
        InterfaceWrapper.dispatch) and ``payload``, fragmented to the MTU unless
        ``dont_frag`` (then an oversized datagram is dropped). ``df``: set IPv4's DF on
        a datagram that fits (path MTU discovery's "want"). False if dropped."""
        hl = l4.header_len() if l4 is not None else 0
        n = hl + len(payload)
        mtu = iface.mtu
        ip: IpRepr | None = None
        if version == 4:
            if 20 + n <= mtu:
                ip = Ipv4Repr(src, dst, proto, n, ttl, tos, 0, df or dont_frag)
        elif 40 + n <= mtu:
            ip = Ipv6Repr(src, dst, proto, n, ttl, tos)
        if ip is not None:
            if iface.dispatch(ip, l4, payload):
                return True
            self._count("tx_backpressure")
            return False
        if dont_frag:
            self._count("drop_tx_too_big")
            return False
        if l4 is not None:      # fragments carry the datagram: its header goes first
            dgram = bytearray(n)
            dgram[hl:] = payload
            l4.emit(dgram, 0, src, dst, n, True)
            payload = dgram
        ok = True
        if version == 4:
            iface.ip_ident = ident = (iface.ip_ident + 1) & 0xFFFF
            step = ((mtu - 20) // 8) * 8
            for off in range(0, n, step):
                chunk = payload[off : off + step]
                ok &= iface.dispatch(Ipv4Repr(src, dst, proto, len(chunk), ttl, tos, ident,
                                              False, off + step < n, off), None, chunk)
            self._count("ipv4_fragments_sent")
            return ok
        self.frag_id = ident6 = (self.frag_id + 1) & 0xFFFFFFFF
        step = ((mtu - 48) // 8) * 8
        for off in range(0, n, step):
            chunk = FRAG.pack(proto, 0, off | (1 if off + step < n else 0), ident6) + \
                bytes(payload[off : off + step])
            ok &= iface.dispatch(Ipv6Repr(src, dst, 44, len(chunk), ttl, tos), None, chunk)
        self._count("ipv6_fragments_sent")
        return ok

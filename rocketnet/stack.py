"""NetStack: the facade the stack host drives. Sans-I/O: no threads, no syscalls, no
clock; every call that needs time takes ``now`` (float seconds, any monotonic origin).

API (the stack host relies on exactly these names and semantics)::

    from rocketnet.stack import NetStack
    from rocketnet.socket import Socket, SocketError   # SocketError(errno).errno

    stack = NetStack(seed=0, msl=30.0)   # lo: LoopbackDevice, 127.0.0.1/8 and ::1/128
    s = stack.socket(family, type, proto)
        family AF_INET/AF_INET6, type SOCK_STREAM (SOCK_NONBLOCK/SOCK_CLOEXEC flags are
        accepted and recorded in s.nonblock / s.cloexec), proto 0 or IPPROTO_TCP.
        Errors as Linux socket(2): unknown family -> EAFNOSUPPORT (also AF_UNIX etc.,
        not implemented here), type outside 0..10 or unknown flag bits -> EINVAL,
        other types -> ESOCKTNOSUPPORT (SOCK_RAW: not implemented yet; SOCK_DGRAM:
        UDP, or ping with IPPROTO_ICMP/ICMPV6: inner UdpSocket / PingSocket, calls in
        rocketnet.dgram),
        SOCK_STREAM with a protocol other than 0/IPPROTO_TCP -> EPROTONOSUPPORT.

    s.bind(addr)       ('127.0.0.1', port) / ('::', port[, flowinfo, scope_id]); host ''
                       means any; port 0 = ephemeral 32768-60999. Raises EADDRNOTAVAIL
                       (address not local), EINVAL (already bound, v4-mapped address on a
                       V6ONLY socket, bad tuple), EAFNOSUPPORT (IPv6 host on AF_INET),
                       EADDRINUSE (Linux conflict rules incl. SO_REUSEADDR/SO_REUSEPORT,
                       dual-stack '::' vs IPv4, TIME_WAIT blocks unless SO_REUSEADDR).
    s.listen(backlog)  EINVAL unless unbound/bound/listening (re-listen updates backlog);
                       auto-binds; EADDRINUSE if another listener overlaps. backlog is
                       clamped to somaxconn (4096); the accept queue holds backlog+1
                       connections (Linux); extra SYNs are dropped (client retries).
    s.accept()         -> Socket | None (queue empty); EINVAL if not listening.
    s.connect(addr, now)  starts the handshake, returns None (EINPROGRESS semantics).
                       EALREADY (SYN_SENT), EISCONN (connected, or listening: Linux),
                       ENETUNREACH (no route / v4-mapped on a V6ONLY socket), EINVAL,
                       EAFNOSUPPORT, EADDRNOTAVAIL. Connecting to 0.0.0.0 / :: means
                       the loopback. Failure comes later in s.error (ECONNREFUSED,
                       ETIMEDOUT) with s.state == 'CLOSED'; the socket may connect again.
    s.state            'CLOSED','LISTEN','SYN_SENT','SYN_RECEIVED','ESTABLISHED',
                       'FIN_WAIT_1','FIN_WAIT_2','CLOSE_WAIT','CLOSING','LAST_ACK',
                       'TIME_WAIT'
    s.error            pending error (0 none): ECONNREFUSED, ECONNRESET, EPIPE (RST in
                       CLOSE_WAIT, as Linux), ETIMEDOUT.   s.take_error(): read + clear.
    s.send(data) -> int   queues up to s.send_space() bytes (0 = would block, also while
                       the handshake is in progress). Raises the pending error first if
                       the connection died, else EPIPE after shutdown_write/close/reset
                       and on a never-connected or listening socket (Linux returns
                       EPIPE there, not ENOTCONN).
    s.send_space() -> int
    s.recv(maxlen) -> bytes   up to maxlen buffered bytes, b'' if none (check rx_eof
                       and error to tell EOF / error from would-block). ENOTCONN on a
                       listening or never-connected socket, EINVAL for maxlen < 0.
    s.rx_available() -> int;  s.rx_eof -> bool (FIN received, buffer drained)
    s.shutdown_write(now)   FIN after queued data (ENOTCONN if never connected).
    s.close(now)       release: graceful close; RST instead if unread data is pending
                       or data arrives later, or with SO_LINGER {1, 0}. The stack keeps
                       the connection until fully closed, then frees it from the
                       SocketSet itself.
    s.abort(now)       RST now, free.
    s.getsockname() / s.getpeername()  family-form tuples; AF_INET6 sockets show IPv4
                       peers as '::ffff:a.b.c.d'; getpeername -> ENOTCONN unless
                       connected (SYN_RECEIVED or later, not CLOSED).
    s.setsockopt(level, optname, value: bytes | int); s.getsockopt(level, optname,
                       optlen) -> bytes. Linux semantics: int options need optlen >= 4
                       on set (EINVAL), return min(optlen, 4) bytes on get. Options
                       not listed here, and the errno for levels and names a socket
                       does not know, come from rocketnet.sockopt. SOL_SOCKET:
                       SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE,
                       SO_SNDBUF/SO_RCVBUF (doubled, clamped to 4608/2304 min and 2x
                       profile.wmem_max/rmem_max max; defaults tcp_wmem[1] / tcp_rmem[1];
                       the effective buffer is the value set, and 4 MiB by default like
                       Linux autotuning), SO_ERROR, SO_TYPE, SO_DOMAIN, SO_PROTOCOL,
                       SO_ACCEPTCONN, SO_LINGER, SO_RCVLOWAT, SO_SNDLOWAT, SO_BROADCAST,
                       SO_OOBINLINE, SO_PRIORITY, SO_DEBUG, SO_DONTROUTE. IPPROTO_TCP:
                       TCP_NODELAY, TCP_MAXSEG, TCP_CORK, TCP_KEEPIDLE/KEEPINTVL/KEEPCNT,
                       TCP_INFO (280-byte Linux 6.18 struct tcp_info, truncated to
                       optlen), TCP_CONGESTION ('cubic' default; 'reno' accepted; other
                       names ENOENT). IPPROTO_IP: IP_TOS, IP_TTL. IPPROTO_IPV6:
                       IPV6_V6ONLY (default 0: dual stack; EINVAL once bound),
                       IPV6_UNICAST_HOPS.

    stack.poll(now)          timers, then device rx / TCP input / TCP output rounds
                             until the loopback is quiescent (at most ``max_rounds``).
    stack.poll_at(now)       absolute time poll is next needed; ``now`` if work is
                             pending, None if idle.
    stack.pending()          whether poll has work now (output, frames, untaken events).
    stack.take_events()      set[Socket] whose readable/writable/state/error/accept
                             queue changed since the last call.
    stack.set_tcp_probe(sink)  TCP congestion-control events as dicts to sink(record)
                             (rocketnet.transport.tcp.probe; None: off, the default).
    stack.stats              dict[str, int]: tcp_segments_sent/received,
                             tcp_payload_bytes_sent/received, tcp_retransmits,
                             tcp_rst_sent/received, tcp_active_opens/passive_opens,
                             tcp_timeouts, tcp_fast_retransmits, tcp_tx_backpressure,
                             and drop_<reason> counters.

Work happens only in poll(): send(), recv() and the others only queue data or mark a
connection for output (close/abort/connect may emit a RST or queue a SYN).

Construction: ``NetStack(seed=0, msl=None, config=None, loopback=None, profile=None)``.
``profile`` is the running kernel's answers where Linux versions differ
(rocketnet.profile.KernelProfile; the default changes nothing). ``seed`` keys
the ISN generator and the ephemeral port choice (deterministic; pass a random seed on a
real network). ``msl`` overrides TcpConfig.msl (TIME_WAIT = 2*MSL, default 60 s).
``loopback`` lets tests wrap the LoopbackDevice (e.g. to drop frames).
Sockets live in ``stack.sockets`` (a SocketSet) until the application has closed them
AND the connection is over; a Socket dropped without close()/abort() stays there.

TCP behaviour of this slice: MSS on lo is Linux's advmss (65495 for IPv4: 65536-40
does not fit the IPv4 total-length field; 65476 for IPv6), less 12 bytes when
timestamps are on; window scaling (shift 7), timestamps with PAWS (RFC 7323) and
SACK (RFC 2018) are negotiated (TcpConfig.window_scaling/timestamps/sack switch them
off); out-of-order data is queued (bounded by the receive buffer and
TcpConfig.ooo_max_blocks) and SACKed; loss recovery is RFC 6675 with SACK, NewReno
(RFC 6582) without; congestion control is CUBIC (RFC 9438, default) or Reno, per
socket with TCP_CONGESTION (unknown names ENOENT); RTO = srtt + max(4*rttvar, 200 ms),
initial 1 s, Karn, exponential backoff, 6 SYN / 5 SYN-ACK / 15 data retries,
TCP_USER_TIMEOUT, zero-window probes with backoff, keepalive; RFC 5961 challenge
ACKs; RFC 6528 ISNs; ACK every second segment, at once for out-of-order data or when
over half the offered window is used, quickack (up to 16 ACKs) at the start of a
transfer, else a delayed ACK after 40 ms (TCP_DELACK_MIN) unless data carries it first.
``Socket.send(data, more=True)`` is MSG_MORE; ``send(data, urgent=True)`` is MSG_OOB
(``recv_oob``, ``at_mark``, SO_OOBINLINE as Linux).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

from . import constants as C
from .dgram import DGRAM, PING
from .errors import SocketError
from .iface import InterfaceWrapper, poll_interfaces
from .iface.ip import IpLayer
from .iface.routes import RouteView
from .phy import LoopbackDevice
from .profile import KernelProfile
from .socket import Net, Socket
from .stream import STREAM
from .transport import SocketSet, TcpConfig, TcpLayer, TcpSocket
from .transport.ping import PingLayer, PingSocket
from .transport.udp import UdpLayer, UdpSocket

__all__ = ["NetStack", "Socket", "SocketError"]

_OWNER = attrgetter("owner")


class NetStack:
    def __init__(
        self,
        seed: int = 0,
        msl: float | None = None,
        config: TcpConfig | None = None,
        loopback: LoopbackDevice | None = None,
        max_rounds: int = 256,
        profile: KernelProfile | None = None,
    ) -> None:
        self.stats: dict[str, int] = {}
        # the running kernel's answers where Linux versions differ (rocketnet.profile)
        self.profile = profile or KernelProfile()
        cfg = config or TcpConfig()
        if msl is not None:
            cfg.msl = msl
        prof = self.profile
        cfg.somaxconn = prof.somaxconn
        cfg.so_sndbuf, cfg.so_rcvbuf = prof.tcp_wmem[1], prof.tcp_rmem[1]
        cfg.sndbuf, cfg.rcvbuf = prof.tcp_wmem[2], prof.tcp_rmem[2]  # autotuning's bounds
        dev = loopback if loopback is not None else LoopbackDevice()
        lo = InterfaceWrapper(
            "lo",
            dev,
            [(b"\x7f\x00\x00\x01", 8), (b"\x00" * 15 + b"\x01", 128)],
            loopback=True,
            index=1,
        )
        self.interfaces: list[InterfaceWrapper] = [lo]
        self._lo = lo.dev
        self._multi = False         # more than one interface
        self._last_index = 1
        self.sockets: SocketSet[Socket] = SocketSet()
        self.tcp = TcpLayer(self.interfaces, self.stats, seed, cfg)
        self.tcp.on_free = self._on_free
        # network layer: ARP/NDP, ICMP, fragments; transports register with it
        self.ip = IpLayer(self.interfaces, self.stats)
        self.ip.handlers[6] = self.tcp.ip_input
        self.ip.error_handlers[6] = self.tcp.icmp_error
        # UDP and ping sockets (rocketnet.dgram): one event set for both
        self.udp = UdpLayer(self.interfaces, self.stats, seed)
        self.udp.wmem_default, self.udp.rmem_default = prof.wmem_default, prof.rmem_default
        self.ping = PingLayer(self.interfaces, self.stats, seed)
        self.ping.events = self.udp.events
        self.ping.mc_members = self.udp.mc_members     # one multicast membership count
        self.udp.send_ip = self.ping.send_ip = self.ip.send_ip   # the interface's emit path
        self.udp.port_unreachable = self.ip.port_unreachable
        self.ip.handlers[17] = self.udp.ip_input
        self.ip.error_handlers[17] = self.udp.icmp_error
        self.ip.detail_handlers[17] = self.udp.icmp_error_detail
        self.ip.icmp_hooks.append(self.ping.icmp_hook)
        self.max_rounds = max_rounds
        self._busy = False
        # what a socket is given of the stack (never the stack itself)
        self.net = Net(RouteView(self.interfaces), self.profile, self.sockets)

    @property
    def lo(self) -> InterfaceWrapper:
        return self.interfaces[0]

    def add_interface(self, iface: InterfaceWrapper) -> InterfaceWrapper:
        """Add a non-loopback interface (eth0...); routing picks it by prefix/gateway.
        Its index is the next never used (Linux does not reuse a removed one at once)."""
        self._last_index = max(self._last_index, *(i.index for i in self.interfaces)) + 1
        iface.index = self._last_index
        self.interfaces.append(iface)
        self._multi = True
        self.ip.attach(iface)
        return iface

    def remove_interface(self, iface: InterfaceWrapper) -> None:
        """Take a non-loopback interface out of the stack (its addresses and routes go
        with it); the layers share the list, so it is changed in place."""
        if iface.loopback:
            raise ValueError("the loopback interface stays")
        self.interfaces.remove(iface)
        self._multi = len(self.interfaces) > 1
        self.ip.retime()

    def _on_free(self, tcb: TcpSocket) -> None:
        if tcb.handle:
            self.sockets.remove(tcb.handle)

    def socket(self, family: int, type: int, proto: int = 0) -> Socket:
        if family not in (C.AF_INET, C.AF_INET6):
            raise SocketError(C.EAFNOSUPPORT)
        base = type & C.SOCK_TYPE_MASK
        if type & ~(C.SOCK_TYPE_MASK | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC) or not (
            0 < base < C.SOCK_MAX
        ):
            raise SocketError(C.EINVAL)
        if base == C.SOCK_DGRAM:
            return self._dgram_socket(family, type, proto)
        if base != C.SOCK_STREAM:
            raise SocketError(C.ESOCKTNOSUPPORT)
        if proto not in (0, C.IPPROTO_TCP):
            raise SocketError(C.EPROTONOSUPPORT)
        return Socket(self.net, STREAM, self.tcp, family, type, proto,
                      TcpSocket(self.tcp, family))

    def poll(self, now: float) -> None:
        tcp = self.tcp
        if now < tcp.now:
            now = tcp.now   # a call since took a later reading (the host reads once per
        tcp.now = now       # wake-up): the stack's time never goes back
        timers = tcp.timers
        if timers and timers[0][0] <= now:     # the heap's head: no scan when none is due
            tcp.run_timers(now)
        ip = self.ip
        ip.now = now
        # the network layer's timers only when it has any (fragments, neighbors, devices)
        if ip.timed or ip.reasm4.pending or ip.reasm6.pending or ip.deadline is not None:
            ip.poll(now)
        ifaces = self.interfaces
        stats = self.stats
        handler = tcp.ip_input      # the TCP fast path; the rest goes through self.ip
        for _ in range(self.max_rounds):
            if tcp.dirty:
                tcp.flush()
            poll_interfaces(ifaces, handler, stats)
            # poll_interfaces took every frame, also those its input looped back: one
            # more round only for output left to send or frames queued meanwhile on an
            # interface it had already drained (with a lone interface there are none)
            if not (tcp.dirty or self._multi and self._frames_waiting()):
                self._busy = False
                return
        self._busy = bool(tcp.dirty) or self._frames_waiting()

    def _frames_waiting(self) -> bool:
        for i in self.interfaces:
            d = i.dev
            q = d.rxq       # a plain queue (NetDevice.rx_queue): tested without a call
            if q if q is not None else d.device.can_recv():
                return True
        return False

    def pending(self) -> bool:
        """Whether poll has work now: output queued, frames received, or events not
        taken yet (the host polls again only then)."""
        tcp = self.tcp
        if tcp.events or self.udp.events or self._busy or tcp.dirty:
            return True
        q = self._lo.rxq     # a lone loopback's plain queue: tested without a call
        return bool(q) if q is not None and not self._multi else self._frames_waiting()

    def poll_at(self, now: float) -> float | None:
        if self._busy or self.tcp.dirty:
            return now
        q = self._lo.rxq     # as in pending
        if q if q is not None and not self._multi else self._frames_waiting():
            return now
        t = self.tcp.next_deadline()
        ip = self.ip
        d = ip.next_deadline() if ip.timed else ip.deadline    # O(1) without timed ifaces
        if d is not None and (t is None or d < t):
            t = d
        return t

    def set_tcp_probe(self, sink: Callable[[dict[str, Any]], None] | None) -> None:
        """Record TCP congestion-control events through ``sink(record)`` (see
        rocketnet.transport.tcp.probe); None switches the probe off."""
        from .transport.tcp.probe import TcpProbe

        self.tcp.probe = TcpProbe(self.tcp, sink) if sink is not None else None

    def _dgram_socket(self, family: int, type: int, proto: int) -> Socket:
        if proto == (1 if family == C.AF_INET else 58):    # IPPROTO_ICMP / IPPROTO_ICMPV6
            return Socket(self.net, PING, self.ping, family, type, proto,
                          PingSocket(self.ping, family))
        if proto not in (0, C.IPPROTO_UDP):
            raise SocketError(C.EPROTONOSUPPORT)
        return Socket(self.net, DGRAM, self.udp, family, type, proto,
                      UdpSocket(self.udp, family))

    def take_events(self) -> set[Socket]:
        tcp = self.tcp
        ev = tcp.events
        uev = self.udp.events
        if not (ev or uev):
            return set()
        if ev:
            tcp.events = type(ev)()     # a fresh one, not a clear: the layer reads the attribute
        if uev:
            ev = [*ev, *uev]
            uev.clear()                 # shared with ping: cleared in place
        out = set(map(_OWNER, ev))      # the sockets, with no Python-level call per event
        if None in out:                 # a connection no Socket owns yet (not accepted)
            out.discard(None)
        return out  # type: ignore[return-value]

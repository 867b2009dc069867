"""A tcpdump-style frame printer built on the stack's own parsers (``rocketnet.wire``).

``rocketnet.wire.frame.parse_frame`` decodes a frame; :class:`FramePrinter` turns
frames into one line each, e.g. ::

    0.000200 eth0 IP 10.0.0.1.37170 > 10.0.0.2.7: Flags [S], seq 3999319814, win 65535,
        options [mss 1460,sackOK,TS val 3118969496 ecr 0,wscale 7], length 0

(one line in reality).

Sequence numbers are relative to the first SYN seen of each connection, as tcpdump
shows them. Hang a printer on a medium with ``medium.observers.append(printer)``.
Checksums are not verified here (a capture shows what was sent, good or bad).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from ..wire.arp import OP_REQUEST
from ..wire.frame import Frame, parse_frame
from ..wire.tcp import ACK, CWR, ECE, FIN, PSH, RST, SYN, URG, TcpRepr

_FLAG_CHARS = ((SYN, "S"), (FIN, "F"), (RST, "R"), (PSH, "P"), (URG, "U"), (ECE, "E"),
               (CWR, "W"), (ACK, "."))
_ICMP4 = {0: "echo reply", 3: "unreachable", 8: "echo request", 11: "time exceeded"}
_ICMP6 = {1: "unreachable", 2: "packet too big", 3: "time exceeded", 128: "echo request",
          129: "echo reply", 133: "router solicitation", 134: "router advertisement",
          135: "neighbor solicitation", 136: "neighbor advertisement"}


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def _flags(flags: int) -> str:
    return "".join(ch for bit, ch in _FLAG_CHARS if flags & bit) or "none"


class FramePrinter:
    """Call it as ``printer(now, medium, frame)`` (a medium observer) or use
    :meth:`describe`; each line goes to ``out`` (default: ``print``)."""

    def __init__(self, out: Callable[[str], Any] | None = None, relative: bool = True) -> None:
        self.out = out if out is not None else print
        self.relative = relative
        self._isn: dict[tuple[str, int, str, int], int] = {}

    def __call__(self, now: float, medium: Any, frame: bytes) -> None:
        self.out(f"{now:.6f} {getattr(medium, 'name', '-')} {self.describe(frame)}")

    def describe(self, frame: bytes) -> str:
        """One tcpdump-style line (without time and medium) for ``frame``."""
        f = parse_frame(frame)
        if f.arp is not None:
            a = f.arp
            spa, tpa = ipaddress.ip_address(a.spa), ipaddress.ip_address(a.tpa)
            if a.op == OP_REQUEST:
                return f"ARP, Request who-has {tpa} tell {spa}, length 28"
            return f"ARP, Reply {spa} is-at {_mac(a.sha)}, length 28"
        if f.ip is None:
            return f"{f.error or 'unknown'}, length {len(frame)}"
        ipname = "IP" if f.version == 4 else "IP6"
        if f.error:
            return f"{ipname} {f.src} > {f.dst}: [{f.error}], length {len(frame)}"
        if f.tcp is not None:
            return f"{ipname} {self._tcp(f, f.tcp)}"
        if f.udp is not None:
            sp, dp, _ln = f.udp
            return f"{ipname} {f.src}.{sp} > {f.dst}.{dp}: UDP, length {f.payload_len}"
        if f.icmp is not None:
            t, c, ident, seq = f.icmp
            names = _ICMP4 if f.version == 4 else _ICMP6
            what = names.get(t, f"type {t}")
            if t in (0, 8, 128, 129):
                what += f", id {ident}, seq {seq}"
            elif c:
                what += f" code {c}"
            kind = "ICMP" if f.version == 4 else "ICMP6"
            return f"{ipname} {f.src} > {f.dst}: {kind} {what}, length {f.payload_len + 8}"
        if f.proto == -1:
            ip4 = f.ip
            return (f"{ipname} {f.src} > {f.dst}: fragment id {ip4.ident} offset "
                    f"{ip4.frag_offset}{' +' if ip4.more_frags else ''}, length {f.payload_len}")
        return f"{ipname} {f.src} > {f.dst}: protocol {f.proto}"

    def _tcp(self, f: Frame, t: TcpRepr) -> str:
        key = (f.src, t.src_port, f.dst, t.dst_port)
        if t.flags & SYN:
            self._isn[key] = t.seq
        isn = self._isn.get(key) if self.relative else None
        back = self._isn.get((f.dst, t.dst_port, f.src, t.src_port)) if self.relative else None
        n = len(t.payload)
        parts = [f"Flags [{_flags(t.flags)}]"]
        if isn is not None and not t.flags & SYN:
            rel = (t.seq - isn) & 0xFFFFFFFF
            parts.append(f"seq {rel}:{rel + n}" if n else f"seq {rel}")
        elif n or t.flags & (SYN | FIN | RST):
            parts.append(f"seq {t.seq}:{(t.seq + n) & 0xFFFFFFFF}" if n else f"seq {t.seq}")
        if t.flags & ACK:
            parts.append(f"ack {(t.ack - back) & 0xFFFFFFFF if back is not None else t.ack}")
        parts.append(f"win {t.window}")
        o = t.options
        opts = []
        if o.mss is not None:
            opts.append(f"mss {o.mss}")
        if o.sack_perm:
            opts.append("sackOK")
        if o.timestamps is not None:
            opts.append(f"TS val {o.timestamps[0]} ecr {o.timestamps[1]}")
        if o.wscale is not None:
            opts.append(f"wscale {o.wscale}")
        if o.sack_blocks:
            base = back if back is not None else 0
            blocks = " ".join(f"{(a - base) & 0xFFFFFFFF}:{(b - base) & 0xFFFFFFFF}"
                              for a, b in o.sack_blocks)
            opts.append(f"sack {len(o.sack_blocks)} {{{blocks}}}")
        if opts:
            parts.append(f"options [{','.join(opts)}]")
        parts.append(f"length {n}")
        return f"{f.src}.{t.src_port} > {f.dst}.{t.dst_port}: " + ", ".join(parts)

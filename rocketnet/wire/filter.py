"""Capture filters: a small subset of pcap-filter(7) evaluated on :class:`Frame`.

Primitives: ``tcp``, ``udp``, ``icmp`` (v4 or v6), ``arp``, ``ip``, ``ip6``,
``[src|dst] host ADDR``, ``[src|dst] port N``; combined with ``not``, ``and``, ``or``
(``not`` binds tightest, then ``and``; ``tcp port 80`` means ``tcp and port 80``)
and parentheses. ``compile_filter`` raises
ValueError naming what it did not understand."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from .frame import Frame, parse_frame

Pred = Callable[[Frame], bool]


def _ports(f: Frame) -> tuple[int, int] | None:
    if f.tcp is not None:
        return f.tcp.src_port, f.tcp.dst_port
    if f.udp is not None:
        return f.udp[0], f.udp[1]
    return None


def _proto(name: str) -> Pred:
    if name == "tcp":
        return lambda f: f.tcp is not None
    if name == "udp":
        return lambda f: f.udp is not None
    if name == "icmp":
        return lambda f: f.icmp is not None
    if name == "arp":
        return lambda f: f.arp is not None
    if name == "ip":
        return lambda f: f.version == 4
    return lambda f: f.version == 6


def _host(addr: str, side: str) -> Pred:
    a = str(ipaddress.ip_address(addr))

    def pred(f: Frame) -> bool:
        if f.arp is not None:
            spa, tpa = (str(ipaddress.ip_address(x)) for x in (f.arp.spa, f.arp.tpa))
            return (side != "dst" and spa == a) or (side != "src" and tpa == a)
        return (side != "dst" and f.src == a) or (side != "src" and f.dst == a)
    return pred


def _port(text: str, side: str) -> Pred:
    if not text.isdigit() or int(text) > 65535:
        raise ValueError(f"bad port {text!r}")
    n = int(text)

    def pred(f: Frame) -> bool:
        p = _ports(f)
        return p is not None and ((side != "dst" and p[0] == n) or (side != "src" and p[1] == n))
    return pred


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = text.replace("(", " ( ").replace(")", " ) ").split()
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> str:
        t = self.peek()
        if t is None:
            raise ValueError("filter ends too early")
        self.i += 1
        return t

    def expr(self) -> Pred:
        left = self.conj()
        while self.peek() in ("or", "||"):
            self.take()
            a, b = left, self.conj()
            left = lambda f, a=a, b=b: a(f) or b(f)  # noqa: E731
        return left

    def conj(self) -> Pred:
        left = self.unary()
        while self.peek() not in (None, "or", "||", ")"):
            if self.peek() in ("and", "&&"):
                self.take()                 # else juxtaposed: "tcp port 80" is an and
            a, b = left, self.unary()
            left = lambda f, a=a, b=b: a(f) and b(f)  # noqa: E731
        return left

    def unary(self) -> Pred:
        t = self.take()
        if t in ("not", "!"):
            inner = self.unary()
            return lambda f: not inner(f)
        if t == "(":
            e = self.expr()
            if self.take() != ")":
                raise ValueError("missing )")
            return e
        if t in ("tcp", "udp", "icmp", "arp", "ip", "ip6"):
            return _proto(t)
        side = ""
        if t in ("src", "dst"):
            side, t = t, self.take()
        if t == "host":
            return _host(self.take(), side)
        if t == "port":
            return _port(self.take(), side)
        raise ValueError(f"unknown filter word {t!r}")


def compile_filter(text: str) -> Callable[[bytes | memoryview], bool]:
    """A predicate on raw Ethernet frames for the pcap-filter subset above."""
    p = _Parser(text)
    pred = p.expr()
    if p.peek() is not None:
        raise ValueError(f"unexpected {p.peek()!r} in filter")
    return lambda frame: pred(parse_frame(frame))

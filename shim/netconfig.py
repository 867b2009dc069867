"""Network configuration of a stack host: its Ethernet interface (TAP or wire), its
addresses, default gateways and pcap capture, built from the `host start` options; and
the description of the interfaces that `rocketnet ip` prints."""
from __future__ import annotations

import ipaddress
import os
import secrets
import time
from pathlib import Path

from rocketnet.iface import InterfaceWrapper
from rocketnet.phy import Impairments, NetDevice
from rocketnet.stack import NetStack
from rocketnet.wire.offload import complete_checksums
from shim import resolver, runtime
from shim.phy import PcapDevice, TapDevice, WireDevice


def parse_cidr(text: str) -> tuple[bytes, int]:
    iface = ipaddress.ip_interface(text)
    if "/" not in text:
        raise ValueError(f"address {text!r} needs a prefix length (CIDR, e.g. 10.0.0.2/24)")
    return iface.ip.packed, iface.network.prefixlen


RX_SEED = 1_000_003     # a TAP's receive impairments: a stream apart from its sends


def wire_dir() -> Path:
    d = runtime.runtime_root() / "wires"
    d.mkdir(mode=0o700, exist_ok=True)
    return d


def configure(stack: NetStack, eth: str | None, addrs: list[str], gateways: list[str],
              pcap_dir: str | None, impair: str | None, seed: int | None,
              mtu: int = 1500, impair_rx: str | None = None) -> list[NetDevice]:
    """Add eth0 (and captures) to stack; returns the devices the event loop must watch."""
    watch: list[NetDevice] = []
    if pcap_dir:
        os.makedirs(pcap_dir, 0o700, exist_ok=True)
        lo = stack.lo
        f = runtime.open_private(Path(pcap_dir) / "lo.pcap")
        lo.replace_device(PcapDevice(lo.raw_device, f, time.time, record_rx=False,
                                     fixup=complete_checksums))
    if eth is None:
        if addrs or gateways:
            raise ValueError("--addr/--gateway need --eth")
        return watch
    kind, _, arg = eth.partition(":")
    mac = bytes([0x02]) + secrets.token_bytes(5)
    dev: NetDevice
    imp = Impairments.from_spec(impair or "", seed=seed or 0)
    if kind == "tap" and arg:
        # Linux impairs nothing: the stack impairs what it reads too, with its own seed
        rx = impair if impair_rx is None else impair_rx
        imp_rx = Impairments.from_spec(rx or "", seed=(seed or 0) + RX_SEED)
        dev = TapDevice(arg, mac=mac, mtu=mtu, impair_tx=imp, impair_rx=imp_rx)
    elif kind == "wire" and arg:
        if impair_rx is not None:
            raise ValueError("--impair-rx is for a TAP (on a wire, the sender impairs)")
        dev = WireDevice(wire_dir(), arg, mac=mac, mtu=mtu, impairments=imp)
    else:
        raise ValueError(f"--eth {eth!r}: expected tap:IFNAME or wire:SEGMENT")
    watch.append(dev)
    if pcap_dir:
        dev = PcapDevice(dev, runtime.open_private(Path(pcap_dir) / "eth0.pcap"), time.time)
    iface = InterfaceWrapper("eth0", dev, [parse_cidr(a) for a in addrs])
    for g in gateways:
        ip = ipaddress.ip_address(g).packed
        if len(ip) == 4:
            iface.gateway4 = ip
        else:
            iface.gateway6 = ip
    stack.add_interface(iface)
    return watch


def _fmt(a: bytes) -> str:
    return str(ipaddress.ip_address(a))


def describe(stack: NetStack) -> list[dict]:
    out = []
    for i in stack.interfaces:
        neigh = []
        if i.neigh is not None:
            for ip, e in i.neigh.entries.items():
                neigh.append({"dst": _fmt(ip), "lladdr": e.mac.hex(":") if e.mac else None,
                              "state": e.state})
        raw = i.raw_device
        dev_stats = dict(getattr(raw, "stats", None) or {})
        impair_stats = getattr(raw, "impair_stats", None)
        if impair_stats is not None:
            dev_stats.update(impair_stats())
        out.append({
            "ifindex": i.index, "ifname": i.name, "mtu": i.mtu, "loopback": i.loopback,
            "address": i.mac.hex(":"),
            "addr": [{"local": _fmt(a), "prefixlen": p,
                      "family": "inet" if len(a) == 4 else "inet6",
                      "scope": "host" if i.loopback else (
                          "link" if a[:2] == b"\xfe\x80" else "global")}
                     for a, p in i.addresses],
            "routes": [{"dst": "default" if p == 0 else f"{_fmt(n)}/{p}",
                        "gateway": _fmt(g) if g else None} for n, p, g in i.routes()],
            "neigh": neigh,
            "stats": {"rx_frames": i.dev.rx_frames, "tx_frames": i.dev.tx_frames,
                      **i.stats, **dev_stats},
        })
    return out


def close_devices(stack: NetStack) -> None:
    for i in stack.interfaces:
        close = getattr(i.raw_device, "close", None)
        if close is not None:
            try:
                close()
            except OSError:
                pass


__all__ = ["close_devices", "configure", "describe", "parse_cidr"]


def add_arguments(ap) -> None:
    """The network options of `host start` (also taken by `python -m shim.host`)."""
    ap.add_argument("--eth", metavar="tap:IFNAME|wire:SEGMENT",
                    help="give the host an eth0: a Linux TAP interface (created in the "
                         "network namespace the command runs in) or a virtual segment "
                         "shared with other stack hosts")
    ap.add_argument("--addr", action="append", default=[], metavar="CIDR",
                    help="an address of eth0 (repeatable), e.g. 10.0.0.2/24, fd00::2/64")
    ap.add_argument("--gateway", action="append", default=[], metavar="IP",
                    help="default gateway (IPv4 and/or IPv6; repeatable)")
    ap.add_argument("--pcap", metavar="DIR", help="write DIR/lo.pcap and DIR/eth0.pcap")
    ap.add_argument("--impair", metavar="SPEC",
                    help="impairments of eth0's frames (wire: sent ones; TAP: both ways): "
                         "loss=P,delay=S,jitter=S,reorder=P,reorder_delay=S,dup=P,"
                         "corrupt=P,burst=P_GOOD_BAD:P_BAD_GOOD:LOSS")
    ap.add_argument("--impair-rx", metavar="SPEC",
                    help="a TAP's impairments of the frames it reads from Linux, where "
                         "they differ from --impair's")
    ap.add_argument("--seed", type=int, default=None,
                    help="seed for ISNs, ports and impairments (default: random)")
    resolver.add_arguments(ap)
    ap.add_argument("--tcp-probe", metavar="FILE",
                    help="record every TCP socket's cwnd, ssthresh, RTT, RTO, bytes in "
                         "flight, retransmissions, states and SACK blocks as JSON lines in "
                         "FILE (a new file; see `rocketnet plot`)")

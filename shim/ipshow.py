"""`rocketnet ip`: the stack's interfaces in iproute2's format."""
from __future__ import annotations


def _flags(i: dict) -> str:
    if i["loopback"]:
        return "<LOOPBACK,UP,LOWER_UP>"
    return "<BROADCAST,MULTICAST,UP,LOWER_UP>"


def _link(i: dict, out: list[str], stats: bool) -> None:
    out.append(f"{i['ifindex']}: {i['ifname']}: {_flags(i)} mtu {i['mtu']} state "
               f"{'UNKNOWN' if i['loopback'] else 'UP'}")
    kind = "loopback" if i["loopback"] else "ether"
    out.append(f"    link/{kind} {i['address']} brd ff:ff:ff:ff:ff:ff")
    if stats:
        st = i["stats"]
        out.append(f"    RX: frames {st.get('rx_frames', 0)}  TX: frames {st.get('tx_frames', 0)}")
        for k in sorted(st):
            if k not in ("rx_frames", "tx_frames"):
                out.append(f"    {k} {st[k]}")


def render(ifaces: list[dict], obj: str, stats: bool = False) -> str:
    out: list[str] = []
    if obj in ("addr", "a", "address", "link", "l"):
        for i in ifaces:
            _link(i, out, stats)
            if obj in ("link", "l"):
                continue
            for a in i["addr"]:
                label = f" {i['ifname']}" if a["family"] == "inet" else ""
                out.append(f"    {a['family']} {a['local']}/{a['prefixlen']} scope "
                           f"{a['scope']}{label}")
    elif obj in ("route", "r"):
        for i in ifaces:
            if i["loopback"]:
                continue
            src = {a["family"]: a["local"] for a in i["addr"] if a["scope"] == "global"}
            for r in i["routes"]:
                if r["gateway"]:
                    out.append(f"{r['dst']} via {r['gateway']} dev {i['ifname']}")
                else:
                    fam = "inet6" if ":" in r["dst"] else "inet"
                    line = f"{r['dst']} dev {i['ifname']} proto kernel scope link"
                    if fam in src and fam == "inet":
                        line += f" src {src[fam]}"
                    out.append(line)
    else:
        for i in ifaces:
            for n in i["neigh"]:
                ll = f" lladdr {n['lladdr']}" if n["lladdr"] else ""
                out.append(f"{n['dst']} dev {i['ifname']}{ll} {n['state']}")
    return "\n".join(out) + ("\n" if out else "")

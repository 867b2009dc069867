"""`rocketnet plot FILE`: draw a TCP probe file (JSON lines, see
rocketnet.transport.tcp.probe) as the picture tcp_probe users and Wireshark's stream graphs
show: cwnd, ssthresh and bytes in flight over time above, srtt/rttvar/RTO below, fast
recoveries and timeouts marked. matplotlib is an optional extra (`rocketnet[plot]`)."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any


class PlotError(Exception):
    pass


def load(path: str) -> list[dict[str, Any]]:
    recs = []
    try:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    r = json.loads(line)
                except ValueError as e:
                    raise PlotError(f"{path}:{n}: not a probe record ({e})") from None
                if not isinstance(r, dict) or "t" not in r or "sock" not in r:
                    raise PlotError(f"{path}:{n}: not a probe record")
                recs.append(r)
    except OSError as e:
        raise PlotError(f"{path}: {e.strerror}") from None
    if not recs:
        raise PlotError(f"{path}: no probe records (did a TCP connection run on the host?)")
    return recs


def pick_sockets(recs: list[dict[str, Any]], which: str | None) -> list[int]:
    """The socket handles to draw: those named, or the busiest sender (most ACKs)."""
    acks = Counter(r["sock"] for r in recs if r["ev"] == "ack" and r.get("unacked", 0) >= 0)
    sent = Counter(r["sock"] for r in recs if r["ev"] == "ack" and r.get("inflight", 0) > 0)
    if which == "all":
        return sorted(acks)
    if which is not None:
        try:
            wanted = [int(x) for x in which.split(",")]
        except ValueError:
            raise PlotError(f"--sock {which!r}: socket numbers, comma-separated, or 'all'") \
                from None
        missing = [s for s in wanted if s not in acks]
        if missing:
            raise PlotError(f"no ACK records for socket(s) {missing}; have {sorted(acks)}")
        return wanted
    if not acks:
        raise PlotError("no ACK records: no connection sent data while the probe was on")
    return [(sent or acks).most_common(1)[0][0]]


def describe(recs: list[dict[str, Any]], sock: int) -> str:
    for r in recs:
        if r["sock"] == sock and "remote" in r:
            return f"socket {sock}: {r['local']} \u2192 {r['remote']}"
    return f"socket {sock}"


def plot(path: str, out: str | None = None, which: str | None = None) -> str:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotError("rocketnet plot needs matplotlib: pip install 'rocketnet[plot]' "
                        "(in this tree: .venv/bin/pip install -e '.[plot]')") from None
    recs = load(path)
    socks = pick_sockets(recs, which)
    t0 = recs[0]["t"]
    out = out or str(Path(path).with_suffix(".png"))
    if Path(out).suffix.lower() not in (".png", ".svg", ".pdf"):
        raise PlotError(f"{out}: the output must end in .png, .svg or .pdf")
    fig, axes = plt.subplots(2, len(socks), figsize=(10 * len(socks), 7), sharex="col",
                             squeeze=False)
    for col, sock in enumerate(socks):
        series: dict[str, list[float]] = defaultdict(list)
        marks: list[tuple[float, str]] = []
        for r in recs:
            if r["sock"] != sock:
                continue
            t = r["t"] - t0
            if r["ev"] in ("recovery", "rto"):
                marks.append((t, r["ev"]))
            if r["ev"] != "ack":
                continue
            series["t"].append(t)
            series["cwnd"].append(r["cwnd"] / 1024)
            series["ssthresh"].append(r["ssthresh"] / 1024 if r["ssthresh"] is not None
                                      else float("nan"))
            series["inflight"].append(r["inflight"] / 1024)
            series["srtt"].append(r["srtt"])
            series["rttvar"].append(r["rttvar"])
            series["rto"].append(r["rto"])
        top, bottom = axes[0][col], axes[1][col]
        top.step(series["t"], series["cwnd"], where="post", label="cwnd", color="tab:blue")
        top.step(series["t"], series["ssthresh"], where="post", label="ssthresh",
                 color="tab:orange", linestyle="--")
        top.plot(series["t"], series["inflight"], ".", markersize=2, label="bytes in flight",
                 color="tab:green", alpha=0.5)
        top.set_ylabel("KiB")
        top.set_title(describe(recs, sock))
        bottom.plot(series["t"], series["srtt"], label="srtt", color="tab:purple")
        bottom.plot(series["t"], series["rttvar"], label="rttvar", color="tab:gray")
        bottom.plot(series["t"], series["rto"], label="RTO", color="tab:red", linestyle=":")
        bottom.set_ylabel("ms")
        bottom.set_xlabel("seconds")
        for t, ev in marks:
            for ax in (top, bottom):
                ax.axvline(t, color="tab:red" if ev == "rto" else "tab:olive", alpha=0.35,
                           linewidth=0.8)
        n_rec = sum(1 for _t, ev in marks if ev == "recovery")
        n_rto = sum(1 for _t, ev in marks if ev == "rto")
        top.plot([], [], color="tab:olive", label=f"fast recovery ({n_rec})")
        top.plot([], [], color="tab:red", label=f"timeout ({n_rto})")
        top.legend(loc="upper right", fontsize="small")
        bottom.legend(loc="upper right", fontsize="small")
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out

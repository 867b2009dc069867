"""`rocketnet ss`: the stack's sockets as ss(8) lists them (`ss -tuanip` in spirit):
protocol, state, queues, addresses, the host's socket id and stack handle (as host.log
and `run --trace -y` name them), and for TCP the congestion state `ss -ti` shows."""
from __future__ import annotations

from typing import Any

from shim.hostlog import endpoint

KINDS = {1: "tcp", 2: "udp"}


def describe(stack: Any, table: Any) -> list[dict[str, Any]]:
    """Every socket of the stack, including those the programs closed that the stack
    is still finishing (TIME_WAIT...): their id is the one host.log remembers, else 0."""
    rows = []
    for sk in stack.sockets:
        ch = table.by_sock.get(sk)
        sock_id = ch.sock_id if ch is not None else table.conn_log.ids.get(sk, 0)
        kind = "icmp" if sk.calls.name == "icmp" else KINDS.get(sk.type, str(sk.type))
        row: dict[str, Any] = {"sock": sock_id, "handle": sk.handle, "proto": kind,
                               "state": sk.state, "local": "*", "remote": "*",
                               "recv_q": 0, "send_q": 0}
        try:
            row["local"] = endpoint(sk.getsockname())
        except Exception:              # unbound or closed: ss shows *
            pass
        try:
            row["remote"] = endpoint(sk.getpeername())
        except Exception:
            pass
        try:
            row["recv_q"] = sk.rx_available()
        except Exception:
            pass
        tcb = getattr(sk, "inner", None)
        if kind == "tcp" and tcb is not None and hasattr(tcb, "cwnd"):
            row["send_q"] = len(tcb.sndbuf)
            row["tcp"] = {"cwnd": tcb.cwnd, "mss": tcb.mss,
                          "ssthresh": tcb.ssthresh if tcb.ssthresh != 0x7FFFFFFF else None,
                          "rtt_ms": round(tcb.srtt * 1000, 3),
                          "rttvar_ms": round(tcb.rttvar * 1000, 3),
                          "rto_ms": round(tcb.rto * 1000, 3), "retrans": tcb.total_retrans,
                          "cc": tcb.cc.name.decode()}
        rows.append(row)
    return rows


def render(rows: list[dict[str, Any]], info: bool) -> str:
    out = [f"{'Proto':<5} {'State':<12} {'Recv-Q':>7} {'Send-Q':>7} {'Local':<28} "
           f"{'Peer':<28} {'Sock':>5} {'#':>4}"]
    for r in rows:
        out.append(f"{r['proto']:<5} {r['state']:<12} {r['recv_q']:>7} {r['send_q']:>7} "
                   f"{r['local']:<28} {r['remote']:<28} {r['sock']:>5} {r['handle']:>4}")
        t = r.get("tcp")
        if info and t is not None:
            ss = f" ssthresh:{t['ssthresh'] // t['mss']}" if t["ssthresh"] else ""
            out.append(f"      {t['cc'] or ''} rto:{t['rto_ms']:g} rtt:{t['rtt_ms']:g}/"
                       f"{t['rttvar_ms']:g} mss:{t['mss']} cwnd:{t['cwnd'] // t['mss']}{ss} "
                       f"retrans:{t['retrans']}")
    return "\n".join(out) + "\n"

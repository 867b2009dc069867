"""`rocketnet ip -s link` counts the frames the stack really sent: every frame leaves
through the interface's send (its token: a device buffer), so lo's TX equals the
frames a program's traffic made (one per UDP datagram; one per TCP segment) and equals
lo's RX (what lo sends it receives)."""
from __future__ import annotations

import re
import sys

UDP = ("import socket\n"
       "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 0))\n"
       "for i in range(7):\n"
       "    s.sendto(b'x' * (i + 1), s.getsockname())\n"
       "assert [len(s.recv(100)) for _ in range(7)] == list(range(1, 8))\n")
TCP = ("import socket\n"
       "l = socket.create_server(('127.0.0.1', 0))\n"
       "c = socket.create_connection(l.getsockname()); a, _ = l.accept()\n"
       "c.sendall(b'y' * 100000); got = 0\n"
       "while got < 100000:\n"
       "    got += len(a.recv(65536))\n"
       "c.close(); a.close(); l.close()\n")
LINE = re.compile(r"^\d+: (\S+): .*\n.*\n    RX: frames (\d+)  TX: frames (\d+)$", re.M)


def _lo_frames(rn) -> tuple[int, int]:
    r = rn.run("ip", "-s", "link", "--host", "cnt", check=True)
    rows = {name: (int(rx), int(tx)) for name, rx, tx in LINE.findall(r.stdout)}
    assert "lo" in rows, r.stdout
    return rows["lo"]


def test_ip_s_link_tx_counts_the_frames_sent(rn) -> None:
    assert rn.run("host", "start", "cnt").returncode == 0
    rx0, tx0 = _lo_frames(rn)
    r = rn.run("run", "--host", "cnt", "--", sys.executable, "-c", UDP)
    assert r.returncode == 0, r.stderr
    rx1, tx1 = _lo_frames(rn)
    assert tx1 - tx0 == 7 and rx1 - rx0 == 7
    seg0 = rn.stats("cnt")["stack"]["tcp_segments_sent"]
    r = rn.run("run", "--host", "cnt", "--", sys.executable, "-c", TCP)
    assert r.returncode == 0, r.stderr
    rx2, tx2 = _lo_frames(rn)
    segs = rn.stats("cnt")["stack"]["tcp_segments_sent"] - seg0
    assert segs > 4 and tx2 - tx1 == segs and rx2 - rx1 == segs

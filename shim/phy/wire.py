"""WireDevice: a virtual Ethernet segment joining stack hosts on one machine.

Every member of segment SEG binds an AF_UNIX datagram socket at ``DIR/SEG/<mac>``;
a frame to a unicast MAC goes to that member's socket, a broadcast or multicast frame
to every member but the sender. Seeded :class:`Impairments` (loss, delay, jitter,
reordering, duplication, corruption) apply on the sending side.

AF_UNIX datagram queues are short (net.unix.max_dgram_qlen, often 10): a frame a full
peer refuses (EAGAIN) waits in a per-peer backlog and is retried at the next tick, like
a switch port buffer; beyond ``backlog`` frames the switch drops (counted).
Time comes from ``tick(now)``, which the owner calls; the device keeps the last value.
"""

from __future__ import annotations

import errno
import os
import socket
from collections import deque
from pathlib import Path

from rocketnet.phy.device import EthernetDevice
from rocketnet.phy.impair import DelayLine, Impairments
from rocketnet.phy.netbuf import NetBuf

from .tap import random_mac

RETRY = 0.001


class WireDevice(EthernetDevice):
    def __init__(self, directory: str | os.PathLike, segment: str, mac: bytes | None = None,
                 mtu: int = 1500, impairments: Impairments | None = None, bufs: int = 512,
                 backlog: int = 4096) -> None:
        if not segment or "/" in segment or segment.startswith("."):
            raise ValueError(f"bad segment name {segment!r}")
        self.dir = Path(directory) / segment
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        super().__init__(mac or random_mac(), mtu, bufs)
        self.path = str(self.dir / self._mac.hex())
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        self.impair = impairments if impairments is not None and impairments.active else None
        self.line = DelayLine()
        self.peers: dict[bytes, str] = {}
        self.backlog: dict[str, deque[bytes]] = {}
        self.backlog_max = backlog
        self.stats.update(tx_frames=0, tx_dropped_full=0, tx_no_peer=0)

    def _refresh_peers(self) -> None:
        peers = {}
        try:
            names = os.listdir(self.dir)
        except OSError:
            names = []
        for name in names:
            if len(name) == 12 and name != self._mac.hex():
                try:
                    peers[bytes.fromhex(name)] = str(self.dir / name)
                except ValueError:
                    continue
        self.peers = peers

    def fileno(self) -> int:
        return self.sock.fileno()

    def on_readable(self, budget: int = 256) -> int:
        return self.fill_rx(self.sock.recv_into, budget)

    def close(self) -> None:
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    # ---- transmission -------------------------------------------------------------
    def _deliver(self, frame: bytes) -> None:
        dst = frame[:6]
        if dst[0] & 1:
            self._refresh_peers()        # broadcast/multicast: rare (ARP, NDP)
            targets = list(self.peers.values())
        else:
            path = self.peers.get(dst)
            if path is None:
                self._refresh_peers()
                path = self.peers.get(dst)
                if path is None:
                    self.stats["tx_no_peer"] += 1
                    return
            targets = [path]
        for path in targets:
            q = self.backlog.get(path)
            if q:
                self._enqueue(path, q, frame)
                continue
            self._sendto(path, frame)

    def _enqueue(self, path: str, q: deque[bytes], frame: bytes) -> None:
        if len(q) >= self.backlog_max:
            self.stats["tx_dropped_full"] += 1
        else:
            q.append(frame)

    def _sendto(self, path: str, frame: bytes) -> bool:
        try:
            self.sock.sendto(frame, path)
            self.stats["tx_frames"] += 1
            return True
        except (BlockingIOError, InterruptedError):
            q = self.backlog.setdefault(path, deque())
            self._enqueue(path, q, frame)
            return False
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ECONNREFUSED):
                self.peers = {m: p for m, p in self.peers.items() if p != path}
            self.stats["tx_no_peer"] += 1
            return True

    def _flush_backlog(self) -> None:
        for path in list(self.backlog):
            q = self.backlog[path]
            while q:
                try:
                    self.sock.sendto(q[0], path)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    self.stats["tx_no_peer"] += len(q)
                    q.clear()
                    break
                q.popleft()
                self.stats["tx_frames"] += 1
            if not q:
                del self.backlog[path]

    def tick(self, now: float) -> float | None:
        self.line.advance(now)
        if self.backlog:
            self._flush_backlog()
        return self.poll_at()

    def poll_at(self) -> float | None:
        nxt = self.line.next_time()
        if self.backlog:
            r = self.line.now + RETRY
            nxt = r if nxt is None or r < nxt else nxt
        return nxt

    def impair_stats(self) -> dict[str, int]:
        """The impairment counters, as `ip -s link` shows them."""
        imp = self.impair
        return {} if imp is None else {"impair_" + k: v for k, v in imp.stats.items()}

    # ---- NetDevice --------------------------------------------------------------
    def send(self, buf: NetBuf) -> None:
        frame = bytes(buf.view[: buf.length])
        buf.pool.dealloc(buf)
        line = self.line
        line.carry(frame, line.now, self._deliver, self.impair)

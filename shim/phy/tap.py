"""TapDevice: a Linux TAP interface (/dev/net/tun, IFF_TAP|IFF_NO_PI), the stack's
virtio-net: frames written here enter the real Linux stack of the network namespace
the device was opened in, and Linux's frames are read back.

The device owns its non-blocking fd; the host's event loop watches ``fileno()`` and
calls ``on_readable()``, which reads waiting frames into the receive queue.

Seeded :class:`Impairments` can apply both ways (Linux on the other side impairs
nothing): ``impair_tx`` to the frames the stack writes, ``impair_rx`` to the frames
read from Linux, each carried on a :class:`DelayLine` as the wire device does; a frame
read from Linux waits there from the time it was read (``clock``), and is dropped
(counted in ``rx_overruns``) if no receive buffer is free when it is due.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import time
from collections.abc import Callable

from rocketnet.phy.device import EthernetDevice
from rocketnet.phy.impair import DelayLine, Impairments
from rocketnet.phy.netbuf import NetBuf

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_UP = 0x1
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
SIOCSIFMTU = 0x8922
_IFREQ_FLAGS = struct.Struct("16sH22x")
_IFREQ_INT = struct.Struct("16si20x")


def random_mac(seed: bytes | None = None) -> bytes:
    """A locally administered unicast MAC (02:xx:...)."""
    b = bytearray(seed[:6] if seed and len(seed) >= 6 else os.urandom(6))
    b[0] = (b[0] & 0xFC) | 0x02
    return bytes(b)


class TapDevice(EthernetDevice):
    def __init__(self, ifname: str, mac: bytes | None = None, mtu: int = 1500,
                 bufs: int = 512, bring_up: bool = True,
                 impair_tx: Impairments | None = None, impair_rx: Impairments | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not ifname or len(ifname.encode()) > 15:
            raise ValueError(f"bad interface name {ifname!r}")
        self.ifname = ifname
        super().__init__(mac or random_mac(), mtu, bufs)
        self.fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            fcntl.ioctl(self.fd, TUNSETIFF, _IFREQ_FLAGS.pack(ifname.encode(), IFF_TAP | IFF_NO_PI))
            if bring_up:
                self._set_up(mtu)
        except OSError:
            os.close(self.fd)
            raise
        self.stats.update(tx_frames=0, tx_errors=0)
        self.impair_tx = impair_tx if impair_tx is not None and impair_tx.active else None
        self.impair_rx = impair_rx if impair_rx is not None and impair_rx.active else None
        self.line = DelayLine()
        self.clock = clock
        self._frame = bytearray(self.rx_pool.buf_size)

    def _set_up(self, mtu: int) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            name = self.ifname.encode()
            fcntl.ioctl(s, SIOCSIFMTU, _IFREQ_INT.pack(name, mtu))
            flags = _IFREQ_FLAGS.unpack(fcntl.ioctl(s, SIOCGIFFLAGS, _IFREQ_FLAGS.pack(name, 0)))[1]
            fcntl.ioctl(s, SIOCSIFFLAGS, _IFREQ_FLAGS.pack(name, flags | IFF_UP))

    def fileno(self) -> int:
        return self.fd

    def on_readable(self, budget: int = 256) -> int:
        """Read waiting frames into the receive queue (or onto the delay line, if
        impaired); returns how many."""
        if self.impair_rx is None:
            return self.fill_rx(lambda view: os.readv(self.fd, [view]), budget)
        n = 0
        frame = self._frame
        now = self.clock()
        line = self.line
        while n < budget:
            try:
                got = os.readv(self.fd, [frame])
            except OSError:                         # EAGAIN, EINTR or a real error
                break
            line.carry(bytes(frame[:got]), now, self.inject, self.impair_rx)
            n += 1
        self.stats["rx_frames"] += n
        return n

    def tick(self, now: float) -> float | None:
        self.line.advance(now)
        return self.line.next_time()

    def poll_at(self) -> float | None:
        return self.line.next_time()

    def impair_stats(self) -> dict[str, int]:
        """The impairment counters per direction, as `ip -s link` shows them."""
        out: dict[str, int] = {}
        for way, imp in (("tx", self.impair_tx), ("rx", self.impair_rx)):
            if imp is not None:
                out.update({f"impair_{way}_{k}": v for k, v in imp.stats.items()})
        return out

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    # ---- NetDevice --------------------------------------------------------------
    def send(self, buf: NetBuf) -> None:
        if self.impair_tx is None:
            try:
                self._write(buf.view[: buf.length])
            finally:
                buf.pool.dealloc(buf)
            return
        frame = bytes(buf.view[: buf.length])
        buf.pool.dealloc(buf)
        line = self.line
        line.carry(frame, line.now, self._write, self.impair_tx)

    def _write(self, frame: bytes | memoryview) -> None:
        try:
            os.write(self.fd, frame)
            self.stats["tx_frames"] += 1
        except OSError:
            self.stats["tx_errors"] += 1

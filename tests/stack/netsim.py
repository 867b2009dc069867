"""In-memory Ethernet for sans-I/O tests: a hub joining devices of several stacks."""
from __future__ import annotations

from collections import deque

from rocketnet.iface import InterfaceWrapper
from rocketnet.phy import DeviceCapabilities, Medium, NetBuf, NetBufPool, NetDevice
from rocketnet.stack import NetStack


class Hub:
    def __init__(self) -> None:
        self.ports: list[MemDevice] = []
        self.frames: list[bytes] = []          # everything sent, for inspection
        self.drop = None                       # drop(frame) -> bool

    def deliver(self, src: MemDevice, frame: bytes) -> None:
        self.frames.append(frame)
        if self.drop is not None and self.drop(frame):
            return
        for p in self.ports:
            if p is not src:
                p.inject(frame)


class MemDevice(NetDevice):
    def __init__(self, hub: Hub, mac: bytes, mtu: int = 1500) -> None:
        self.hub = hub
        self.mac = mac
        self.caps = DeviceCapabilities(mtu=mtu, checksum_offload=False, medium=Medium.ETHERNET)
        self.pool = NetBufPool(mtu + 18, 256)
        self.rxq: deque[NetBuf] = deque()
        hub.ports.append(self)

    def inject(self, frame: bytes) -> None:
        buf = self.pool.alloc(len(frame))
        if buf is None:
            return
        buf.view[: len(frame)] = frame
        self.rxq.append(buf)

    def capabilities(self):
        return self.caps

    def mac_address(self):
        return self.mac

    def can_send(self):
        return self.pool.available() > 0

    def can_recv(self):
        return bool(self.rxq)

    def max_send_buf_num(self):
        return self.pool.count

    def max_recv_buf_num(self):
        return self.pool.count

    def recycle_rx_buffer(self, buf):
        buf.pool.dealloc(buf)

    def recycle_tx_buffers(self):
        return None

    def send(self, buf):
        frame = bytes(buf.view[: buf.length])
        buf.pool.dealloc(buf)
        self.hub.deliver(self, frame)

    def recv(self):
        return self.rxq.popleft() if self.rxq else None

    def alloc_tx_buffer(self, size):
        return self.pool.alloc(size)


def host(hub: Hub, n: int, seed: int = 0, mtu: int = 1500) -> NetStack:
    """A stack with eth0 = 10.0.0.n/24 and fd00::n/64 on the hub."""
    st = NetStack(seed=seed)
    mac = bytes((2, 0, 0, 0, 0, n))
    eth = InterfaceWrapper("eth0", MemDevice(hub, mac, mtu),
                           [(bytes((10, 0, 0, n)), 24), (b"\xfd" + b"\x00" * 14 + bytes((n,)), 64)])
    st.add_interface(eth)
    return st


class VClock:
    def __init__(self) -> None:
        self.t = 0.0


def run(stacks, clock, until=None, max_time: float = 30.0, step: float = 0.001) -> None:
    """Poll all stacks, advancing the virtual clock, until until() or max_time."""
    end = clock.t + max_time
    while clock.t < end:
        for s in stacks:
            s.poll(clock.t)
        if until is not None and until():
            return
        busy = [s.poll_at(clock.t) for s in stacks]
        if any(b is not None and b <= clock.t for b in busy):
            continue
        nxt = [b for b in busy if b is not None]
        clock.t = min(nxt) if nxt else clock.t + step
        if until is None and not nxt:
            return

"""The NetDevice trait of the seed design, as an abstract base class."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from typing import Callable

from .netbuf import NetBuf, NetBufPool


class Medium:
    """What a device carries: Ethernet II frames or bare IP packets."""

    ETHERNET = "ethernet"
    IP = "ip"


class DeviceCapabilities:
    """``mtu``: largest IP packet (Ethernet header not counted, as Linux reports it).
    ``checksum_offload``: checksums are neither computed on send nor verified on receive.
    """

    __slots__ = ("mtu", "checksum_offload", "medium", "max_burst")

    def __init__(
        self,
        mtu: int = 1500,
        checksum_offload: bool = False,
        medium: str = Medium.ETHERNET,
        max_burst: int | None = None,
    ) -> None:
        self.mtu = mtu
        self.checksum_offload = checksum_offload
        self.medium = medium
        self.max_burst = max_burst

    def __repr__(self) -> str:
        return (
            f"DeviceCapabilities(mtu={self.mtu}, checksum_offload={self.checksum_offload}, "
            f"medium={self.medium!r})"
        )


class NetDevice(ABC):
    """A network device moving whole frames in ``NetBuf`` buffers.

    Receive: ``recv()`` hands out a filled buffer; the caller gives it back with
    ``recycle_rx_buffer`` once processed. Send: ``alloc_tx_buffer(size)`` (None =
    backpressure), fill ``buf.view[:size]``, then ``send(buf)``; the device owns the
    buffer from then on and ``recycle_tx_buffers`` reclaims the completed ones.
    Devices backed by an fd (TAP, wire) also offer ``fileno()`` and ``on_readable()``
    for the owner's event loop, and ``close()``.
    """

    @abstractmethod
    def capabilities(self) -> DeviceCapabilities: ...

    @abstractmethod
    def mac_address(self) -> bytes: ...

    @abstractmethod
    def can_send(self) -> bool: ...

    def tx_room(self) -> int | None:
        """How many frames can surely be sent now (a sender then need not ask
        ``can_send`` per frame); None where the device cannot tell."""
        return None

    @abstractmethod
    def can_recv(self) -> bool: ...

    @abstractmethod
    def max_send_buf_num(self) -> int: ...

    @abstractmethod
    def max_recv_buf_num(self) -> int: ...

    @abstractmethod
    def recycle_rx_buffer(self, buf: NetBuf) -> None: ...

    @abstractmethod
    def recycle_tx_buffers(self) -> None: ...

    @abstractmethod
    def send(self, buf: NetBuf) -> None: ...

    @abstractmethod
    def recv(self) -> NetBuf | None: ...

    @abstractmethod
    def alloc_tx_buffer(self, size: int) -> NetBuf | None: ...

    def tick(self, now: float) -> float | None:
        """Give the device the time (devices that delay frames need it); returns the
        time it next needs a tick, or None."""
        return None

    def poll_at(self) -> float | None:
        """The time the device next needs a tick (frames it delays, retries), as of the
        last tick and the sends since; a query: it acts on nothing."""
        return None

    # A device whose received frames wait in a deque ``self.rxq`` names the class whose
    # recv (its popleft) and recycle_rx_buffer (the pool's dealloc) it keeps.
    plain_rx: type | None = None

    def rx_queue(self) -> deque[NetBuf] | None:
        """The deque of received frames, while recv and recycle_rx_buffer are the plain
        ones: the receive loop then drains it and tests it for frames without a call
        per frame. None: a subclass (or a wrapper) changed them, use recv/can_recv."""
        home = self.plain_rx
        cls = type(self)
        if home is not None and cls.recv is home.recv and \
                cls.recycle_rx_buffer is home.recycle_rx_buffer:
            return self.rxq     # type: ignore[attr-defined,no-any-return]
        return None

    def tx_queue(self) -> deque[NetBuf] | None:
        """The deque ``send`` only appends to, if its send is that plain (the sender
        then appends without the call); None: use send."""
        return None

    def tx_alloc(self) -> Callable[[int], NetBuf | None]:
        """What ``alloc_tx_buffer`` amounts to, for the sender to call per frame (a
        device whose alloc_tx_buffer only forwards to a pool names the pool's alloc)."""
        return self.alloc_tx_buffer


ETH_HLEN = 14


class EthernetDevice(NetDevice):
    """An Ethernet device whose received frames wait in a queue of pool buffers and whose
    sends complete at once (TAP, wire): all of NetDevice but ``send`` and the way frames
    arrive, which the subclass provides."""

    def __init__(self, mac: bytes, mtu: int, bufs: int) -> None:
        self._mac = mac
        self._caps = DeviceCapabilities(mtu=mtu, checksum_offload=False, medium=Medium.ETHERNET)
        size = mtu + ETH_HLEN + 4        # room for a VLAN tag
        self.rx_pool = NetBufPool(size, bufs)
        self.tx_pool = NetBufPool(size, bufs)
        self.rxq: deque[NetBuf] = deque()
        self.stats: dict[str, int] = {"rx_frames": 0, "rx_overruns": 0}
        self.plain_rx = EthernetDevice

    def capabilities(self) -> DeviceCapabilities:
        return self._caps

    def mac_address(self) -> bytes:
        return self._mac

    def can_send(self) -> bool:
        return bool(self.tx_pool.free)

    def can_recv(self) -> bool:
        return bool(self.rxq)

    def max_send_buf_num(self) -> int:
        return self.tx_pool.count

    def max_recv_buf_num(self) -> int:
        return self.rx_pool.count

    def recycle_rx_buffer(self, buf: NetBuf) -> None:
        buf.pool.dealloc(buf)

    def recycle_tx_buffers(self) -> None:
        return None      # sends complete synchronously

    def recv(self) -> NetBuf | None:
        return self.rxq.popleft() if self.rxq else None

    def fill_rx(self, read_into: Callable[[memoryview], int], budget: int) -> int:
        """Read waiting frames into the receive queue with ``read_into(view) -> length``
        until it would block or the pool is empty (backpressure); returns how many."""
        n = 0
        pool = self.rx_pool
        while n < budget:
            buf = pool.alloc(pool.buf_size)
            if buf is None:
                self.stats["rx_overruns"] += 1     # the kernel keeps them meanwhile
                break
            try:
                got = read_into(buf.view)
            except OSError:                        # EAGAIN, EINTR or a real error
                pool.dealloc(buf)
                break
            buf.length = got
            self.rxq.append(buf)
            n += 1
        self.stats["rx_frames"] += n
        return n

    def inject(self, frame: bytes) -> None:
        """A frame arrives whole (from a medium or a delay line): into the receive
        queue, or dropped and counted if no buffer is free."""
        buf = self.rx_pool.alloc(len(frame))
        if buf is None:
            self.stats["rx_overruns"] += 1
            return
        buf.view[: len(frame)] = frame
        self.rxq.append(buf)

    def alloc_tx_buffer(self, size: int) -> NetBuf | None:
        return self.tx_pool.alloc(size)

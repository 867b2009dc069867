"""TCP header and options (RFC 9293, RFC 7323, RFC 2018).

Options are parsed like Linux does (``tcp_parse_options``): EOL ends the list, NOP is
skipped, an option whose length byte is < 2 or runs past the header ends parsing,
a known option with the wrong length is ignored. A segment is never rejected because
of its options; only a bad header (short, bad data offset) raises :class:`Malformed`.
"""

from __future__ import annotations

import struct

from .checksum import checksum, pseudo_header_sum, verify
from .error import Malformed
from .ipv4 import FLAG_DF
from .ipv4 import HEADER as IPV4_HEADER
from .ipv4 import HEADER_LEN as IPV4_HEADER_LEN
from .ipv4 import fill_header_checksum as fill_ipv4_checksum

HEADER_LEN = 20
HEADER = struct.Struct("!HHIIBBHHH")
V4_HEADERS = struct.Struct(IPV4_HEADER.format + HEADER.format[1:])   # IPv4 then TCP
TS_WORD = 0x0101080A    # NOP, NOP, kind 8, length 10: the aligned timestamp option
HEADER_TS = struct.Struct(HEADER.format + "III")         # TCP, then TS_WORD, tsval, tsecr
V4_HEADERS_TS = struct.Struct(V4_HEADERS.format + "III")
_MSS = struct.Struct("!BBH")
_TS = struct.Struct("!BBII")
_U32 = struct.Struct("!I")
_U32X2 = struct.Struct("!II")
_U16 = struct.Struct("!H")
IPPROTO_TCP = 6


def emit_header(buf: bytearray | memoryview, offset: int, src_port: int, dst_port: int,
                seq: int, ack: int, flags: int, window: int, urgent: int, opts: bytes,
                src: bytes, dst: bytes, length: int, fill_checksum: bool = True,
                tsval: int = -1, tsecr: int = 0) -> None:
    """The header at ``offset``, ``opts`` its option block encoded, for a segment of
    ``length`` bytes whose payload is already in place behind it; the checksum (over
    it all, with the pseudo-header of ``src``/``dst``) when asked. ``tsval`` >= 0:
    the aligned timestamp option (NOP, NOP, TS ``tsval``, ``tsecr``) first, ``opts``
    after it. A sender that lays its header out itself builds no TcpRepr for it."""
    k = len(opts)
    hlen = HEADER_LEN + k if tsval < 0 else HEADER_LEN + 12 + k
    off = ((hlen >> 2) << 4) | ((flags >> 8) & 1)     # data offset (32-bit words), NS
    if tsval < 0:
        HEADER.pack_into(buf, offset, src_port, dst_port, seq, ack, off, flags & 0xFF, window,
                         0, urgent)
    else:
        HEADER_TS.pack_into(buf, offset, src_port, dst_port, seq, ack, off, flags & 0xFF,
                            window, 0, urgent, TS_WORD, tsval, tsecr)
    if k:
        buf[offset + hlen - k:offset + hlen] = opts
    if fill_checksum:
        _fill_checksum(buf, offset, src, dst, length)


def emit_v4_headers(buf: bytearray | memoryview, offset: int, src: bytes, dst: bytes,
                    ttl: int, tos: int, ident: int, src_port: int, dst_port: int, seq: int,
                    ack: int, flags: int, window: int, urgent: int, opts: bytes, hlen: int,
                    length: int, fill_checksum: bool = True, tsval: int = -1, tsecr: int = 0
                    ) -> None:
    """:func:`emit_header` behind an IPv4 header without options (DF, identification
    ``ident``), both at ``offset`` in one struct: a segment's headers in one call.
    ``hlen`` is the TCP header's length (20, 12 with the timestamp, + len(opts): the
    caller knows it)."""
    t = offset + IPV4_HEADER_LEN
    off = ((hlen >> 2) << 4) | ((flags >> 8) & 1)     # data offset (32-bit words), NS
    if tsval < 0:
        V4_HEADERS.pack_into(buf, offset, 0x45, tos, IPV4_HEADER_LEN + length, ident,
                             FLAG_DF, ttl, IPPROTO_TCP, 0, src, dst, src_port, dst_port, seq,
                             ack, off, flags & 0xFF, window, 0, urgent)
        o = t + HEADER_LEN
    else:
        V4_HEADERS_TS.pack_into(buf, offset, 0x45, tos, IPV4_HEADER_LEN + length, ident,
                                FLAG_DF, ttl, IPPROTO_TCP, 0, src, dst, src_port, dst_port,
                                seq, ack, off, flags & 0xFF, window, 0, urgent, TS_WORD,
                                tsval, tsecr)
        o = t + HEADER_LEN + 12
    if opts:
        buf[o:t + hlen] = opts
    if fill_checksum:
        fill_ipv4_checksum(buf, offset)
        _fill_checksum(buf, t, src, dst, length)


def _fill_checksum(buf: bytearray | memoryview, offset: int, src: bytes, dst: bytes,
                   length: int) -> None:
    c = checksum(memoryview(buf)[offset:offset + length],
                 pseudo_header_sum(src, dst, IPPROTO_TCP, length))
    _U16.pack_into(buf, offset + 16, c)

OPT_EOL = 0
OPT_NOP = 1
OPT_MSS = 2
OPT_WSCALE = 3
OPT_SACK_PERM = 4
OPT_SACK = 5
OPT_TIMESTAMPS = 8


# Flag bits as found in header byte 13 (NS is bit 8); the transport uses these.
FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10
URG = 0x20
ECE = 0x40
CWR = 0x80
NS = 0x100


class TcpControl:
    """Flag bits as found in header byte 13 (NS is bit 8)."""

    FIN = FIN
    SYN = SYN
    RST = RST
    PSH = PSH
    ACK = ACK
    URG = URG
    ECE = ECE
    CWR = CWR
    NS = NS


class TcpOptions:
    __slots__ = ("mss", "wscale", "sack_perm", "timestamps", "sack_blocks")

    def __init__(
        self,
        mss: int | None = None,
        wscale: int | None = None,
        sack_perm: bool = False,
        timestamps: tuple[int, int] | None = None,
        sack_blocks: tuple[tuple[int, int], ...] = (),
    ) -> None:
        self.mss = mss
        self.wscale = wscale
        self.sack_perm = sack_perm
        self.timestamps = timestamps
        self.sack_blocks = sack_blocks

    def to_bytes(self) -> bytes:
        """Encoded options, NOP-padded to a multiple of 4 bytes (at most 40)."""
        out = bytearray()
        if self.mss is not None:
            out += _MSS.pack(OPT_MSS, 4, self.mss)
        if self.sack_perm:
            out += b"\x04\x02"
        if self.timestamps is not None:
            out += _TS.pack(OPT_TIMESTAMPS, 10, self.timestamps[0], self.timestamps[1])
        if self.wscale is not None:
            out += bytes((OPT_NOP, OPT_WSCALE, 3, self.wscale))
        if self.sack_blocks:
            out += bytes((OPT_SACK, 2 + 8 * len(self.sack_blocks)))
            for left, right in self.sack_blocks:
                out += _U32X2.pack(left, right)
        while len(out) & 3:
            out.insert(0, OPT_NOP)
        if len(out) > 40:
            raise ValueError("TCP options longer than 40 bytes")
        return bytes(out)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TcpOptions) and all(
            getattr(self, k) == getattr(other, k) for k in self.__slots__
        )

    def __repr__(self) -> str:
        return "TcpOptions(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ")"


def parse_tcp_options(data: bytes | bytearray | memoryview) -> TcpOptions:
    """Parse the option bytes of a TCP header (never raises; see module docstring)."""
    opts = TcpOptions()
    b = bytes(data)
    n = len(b)
    i = 0
    while i < n:
        kind = b[i]
        if kind == OPT_EOL:
            break
        if kind == OPT_NOP:
            i += 1
            continue
        if i + 1 >= n:
            break
        size = b[i + 1]
        if size < 2 or i + size > n:
            break
        if kind == OPT_MSS:
            if size == 4:
                opts.mss = (b[i + 2] << 8) | b[i + 3]
        elif kind == OPT_WSCALE:
            if size == 3:
                opts.wscale = b[i + 2]
        elif kind == OPT_SACK_PERM:
            if size == 2:
                opts.sack_perm = True
        elif kind == OPT_TIMESTAMPS:
            if size == 10:
                opts.timestamps = _U32X2.unpack_from(b, i + 2)
        elif kind == OPT_SACK:
            if size >= 10 and (size - 2) % 8 == 0:
                opts.sack_blocks = tuple(
                    _U32X2.unpack_from(b, j) for j in range(i + 2, i + size, 8)
                )
        i += size
    return opts


class TcpRepr:
    __slots__ = (
        "src_port",
        "dst_port",
        "seq",
        "ack",
        "flags",
        "window",
        "urgent",
        "options",
        "payload",
    )

    def __init__(
        self,
        src_port: int,
        dst_port: int,
        seq: int,
        ack: int,
        flags: int,
        window: int,
        urgent: int = 0,
        options: TcpOptions | bytes | None = None,
        payload: bytes = b"",
    ) -> None:
        """``options``: a TcpOptions, or the option block already encoded (a sender
        that lays its options out itself, as Linux does)."""
        self.src_port = src_port
        self.dst_port = dst_port
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.window = window
        self.urgent = urgent
        self.options = options if options is not None else TcpOptions()
        self.payload = payload

    @classmethod
    def parse(
        cls,
        segment: bytes | bytearray | memoryview,
        src: bytes | None = None,
        dst: bytes | None = None,
    ) -> TcpRepr:
        """Parse a segment; if ``src``/``dst`` addresses are given, verify its checksum."""
        n = len(segment)
        if n < HEADER_LEN:
            raise Malformed("tcp_truncated")
        sport, dport, seq, ack, off, flags, window, _csum, urg = HEADER.unpack_from(segment, 0)
        hlen = (off >> 4) * 4
        if hlen < HEADER_LEN or hlen > n:
            raise Malformed("tcp_data_offset")
        mv = memoryview(segment)
        if src is not None and dst is not None:
            if not verify(mv, pseudo_header_sum(src, dst, IPPROTO_TCP, n)):
                raise Malformed("tcp_checksum")
        opts = parse_tcp_options(mv[HEADER_LEN:hlen]) if hlen > HEADER_LEN else TcpOptions()
        return cls(
            sport, dport, seq, ack, flags | ((off & 1) << 8), window, urg, opts, bytes(mv[hlen:])
        )

    def _options(self) -> bytes:
        o = self.options
        return o if o.__class__ is bytes else o.to_bytes()   # type: ignore[union-attr,return-value]

    def header_len(self) -> int:
        return HEADER_LEN + len(self._options())

    def emit(self, buf: bytearray | memoryview, offset: int, src: bytes, dst: bytes,
             length: int, fill_checksum: bool = True) -> None:
        """Write the header at ``offset`` for a segment of ``length`` bytes whose payload
        is already in place behind it; the checksum (over it all) when asked."""
        emit_header(buf, offset, self.src_port, self.dst_port, self.seq, self.ack, self.flags,
                    self.window, self.urgent, self._options(), src, dst, length, fill_checksum)

    def to_bytes(self, src: bytes | None = None, dst: bytes | None = None) -> bytes:
        """Encode; the checksum is filled when ``src``/``dst`` addresses are given."""
        hlen = self.header_len()
        b = bytearray(hlen + len(self.payload))
        b[hlen:] = self.payload
        self.emit(b, 0, src or b"", dst or b"", len(b), src is not None and dst is not None)
        return bytes(b)

    def _key(self) -> tuple:
        return tuple(getattr(self, k) for k in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TcpRepr) and self._key() == other._key()

    def __repr__(self) -> str:
        return "TcpRepr(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ")"

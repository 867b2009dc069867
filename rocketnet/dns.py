"""DNS messages (RFC 1035, AAAA of RFC 3596), sans-I/O: build a query, read a reply.

The stack host resolves names for shimmed programs by sending these queries through
the stack's own UDP (shim/resolver.py); this module only encodes and decodes.  A
malformed reply raises :class:`Malformed`, never anything else.
"""
from __future__ import annotations

import struct
from typing import NamedTuple

from rocketnet.wire.error import Malformed

HEADER = struct.Struct("!HHHHHH")
RR_FIXED = struct.Struct("!HHIH")
QFIXED = struct.Struct("!HH")

TYPE_A = 1
TYPE_CNAME = 5
TYPE_PTR = 12
TYPE_AAAA = 28
CLASS_IN = 1

RCODE_NOERROR = 0
RCODE_FORMERR = 1
RCODE_SERVFAIL = 2
RCODE_NXDOMAIN = 3
RCODE_NOTIMP = 4
RCODE_REFUSED = 5

FLAG_QR = 0x8000
FLAG_TC = 0x0200
FLAG_RD = 0x0100
MAX_POINTERS = 64          # compression pointers followed per name (loops are malformed)


class Record(NamedTuple):
    name: str
    rtype: int
    rclass: int
    ttl: int
    rdata: bytes            # A/AAAA: the address; CNAME/PTR: the target name (ASCII)


class Reply(NamedTuple):
    qid: int
    flags: int
    rcode: int
    qname: str
    qtype: int
    answers: list[Record]

    @property
    def truncated(self) -> bool:
        return bool(self.flags & FLAG_TC)


def encode_name(name: str) -> bytes:
    """Wire form of a dotted name; ValueError if a label is empty or too long."""
    name = name.rstrip(".") if name != "." else ""
    out = bytearray()
    if name:
        for label in name.split("."):
            raw = label.encode("ascii")
            if not 0 < len(raw) < 64:
                raise ValueError(f"bad DNS label in {name!r}")
            out.append(len(raw))
            out += raw
    out.append(0)
    if len(out) > 255:
        raise ValueError("DNS name longer than 255 bytes")
    return bytes(out)


def query(qid: int, name: str, qtype: int, qclass: int = CLASS_IN) -> bytes:
    """One standard query with recursion desired, as glibc's res_mkquery makes it."""
    return HEADER.pack(qid, FLAG_RD, 1, 0, 0, 0) + encode_name(name) + QFIXED.pack(qtype, qclass)


def reverse_name(addr: bytes) -> str:
    """The in-addr.arpa / ip6.arpa name of a 4- or 16-byte address."""
    if len(addr) == 4:
        return ".".join(str(b) for b in reversed(addr)) + ".in-addr.arpa"
    nibbles = addr.hex()
    return ".".join(reversed(nibbles)) + ".ip6.arpa"


def _name(msg: bytes, off: int) -> tuple[str, int]:
    """Decode the (possibly compressed) name at off; returns it and the offset after it."""
    labels: list[str] = []
    end = -1
    jumps = 0
    total = 0
    while True:
        if off >= len(msg):
            raise Malformed("dns_name_truncated")
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if off + 1 >= len(msg):
                raise Malformed("dns_name_truncated")
            jumps += 1
            if jumps > MAX_POINTERS:
                raise Malformed("dns_name_loop")
            if end < 0:
                end = off + 2
            off = (n & 0x3F) << 8 | msg[off + 1]
            continue
        if n & 0xC0:
            raise Malformed("dns_label_type")
        off += 1
        if n == 0:
            break
        if off + n > len(msg):
            raise Malformed("dns_name_truncated")
        total += n + 1
        if total > 255:
            raise Malformed("dns_name_long")
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n
    return ".".join(labels), (end if end >= 0 else off)


def parse_reply(msg: bytes) -> Reply:
    """The header, first question and answer records of a reply."""
    if len(msg) < HEADER.size:
        raise Malformed("dns_short")
    qid, flags, qd, an, _ns, _ar = HEADER.unpack_from(msg)
    if not flags & FLAG_QR:
        raise Malformed("dns_not_reply")
    off = HEADER.size
    qname, qtype = "", 0
    for i in range(qd):
        name, off = _name(msg, off)
        if off + QFIXED.size > len(msg):
            raise Malformed("dns_short")
        t, _c = QFIXED.unpack_from(msg, off)
        off += QFIXED.size
        if i == 0:
            qname, qtype = name, t
    answers: list[Record] = []
    for _ in range(an):
        name, off = _name(msg, off)
        if off + RR_FIXED.size > len(msg):
            raise Malformed("dns_short")
        rtype, rclass, ttl, rdlen = RR_FIXED.unpack_from(msg, off)
        off += RR_FIXED.size
        if off + rdlen > len(msg):
            raise Malformed("dns_short")
        rdata = msg[off:off + rdlen]
        if rtype in (TYPE_CNAME, TYPE_PTR):
            rdata = _name(msg, off)[0].encode("ascii")
        elif (rtype == TYPE_A and rdlen != 4) or (rtype == TYPE_AAAA and rdlen != 16):
            raise Malformed("dns_bad_rdata")
        off += rdlen
        answers.append(Record(name, rtype, rclass, ttl, rdata))
    return Reply(qid, flags, flags & 0xF, qname, qtype, answers)


def follow(reply: Reply, rtype: int) -> tuple[list[str], list[bytes]]:
    """The CNAME chain from the question (its last name is the canonical one) and the
    rdata of the canonical name's records of rtype, in the order the server gave them."""
    chain = [reply.qname]
    for _ in range(16):
        cur = chain[-1].lower()
        nxt = next((r.rdata.decode() for r in reply.answers
                    if r.rtype == TYPE_CNAME and r.name.lower() == cur), None)
        if nxt is None or nxt in chain:
            break
        chain.append(nxt)
    canon = chain[-1].lower()
    return chain, [r.rdata for r in reply.answers
                   if r.rtype == rtype and r.rclass == CLASS_IN and r.name.lower() == canon]

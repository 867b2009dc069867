"""A tiny DNS server for tests, written apart from rocketnet/dns.py so it checks it:
python3 dns_responder.py ADDR LOGFILE NAME=IP... answers A/AAAA for each NAME (IPv4 or
IPv6), PTR for each IP (its NAME), NXDOMAIN for other names; one log line per query
("<source ip> <qname> <qtype>").  Prints "ready" once bound."""
from __future__ import annotations

import ipaddress
import socket
import struct
import sys


def qname_at(msg: bytes, off: int) -> tuple[str, int]:
    labels = []
    while msg[off]:
        n = msg[off]
        labels.append(msg[off + 1:off + 1 + n].decode())
        off += 1 + n
    return ".".join(labels), off + 1


def reverse(ip: str) -> str:
    return ipaddress.ip_address(ip).reverse_pointer


def main() -> None:
    addr, log = sys.argv[1], sys.argv[2]
    names: dict[str, list[bytes]] = {}
    ptrs: dict[str, str] = {}
    for spec in sys.argv[3:]:
        name, ip = spec.split("=")
        names.setdefault(name.lower(), []).append(ipaddress.ip_address(ip).packed)
        ptrs[reverse(ip)] = name
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    print("ready", flush=True)
    while True:
        msg, peer = s.recvfrom(4096)
        qid, flags = struct.unpack_from("!HH", msg)
        qname, off = qname_at(msg, 12)
        qtype = struct.unpack_from("!H", msg, off)[0]
        question = msg[12:off + 4]
        with open(log, "a") as f:
            f.write(f"{peer[0]} {qname} {qtype}\n")
        answers = []
        key = qname.lower()
        if qtype == 12 and key in ptrs:
            rdata = b"".join(bytes((len(p),)) + p.encode() for p in ptrs[key].split(".")) + b"\0"
            answers.append((12, rdata))
        for a in names.get(key, []):
            if (qtype, len(a)) in ((1, 4), (28, 16)):
                answers.append((qtype, a))
        known = key in names or key in ptrs
        rcode = 0 if known else 3
        out = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, len(answers), 0, 0) + question
        for t, rdata in answers:
            out += struct.pack("!HHHIH", 0xC00C, t, 1, 60, len(rdata)) + rdata
        s.sendto(out, peer)


if __name__ == "__main__":
    main()

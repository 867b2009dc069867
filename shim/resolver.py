"""Name resolution in the stack's world (RN_OP_RESOLVE), served by the stack host.

glibc's resolver makes its UDP socket inside libc, where a preload library cannot
catch it, so the stub interposes the resolver's entry points instead (getaddrinfo,
gethostbyname*, gethostbyaddr*, getnameinfo, res_*: c_stub/resolv.c) and asks the host.
The host answers by its own policy, never through the machine's network:
- a hosts file (default: the machine's /etc/hosts, re-read on every lookup as glibc does);
- the nsswitch order of `files` and `dns` (default: the `hosts:` line of
  /etc/nsswitch.conf; other services there are not the stack's and are skipped);
- DNS queries (rocketnet/dns.py) sent through the stack's own UDP to the host's
  nameservers: `host start --dns ADDR` (repeatable).  Without --dns, a host with a
  default gateway uses the non-loopback nameservers of /etc/resolv.conf; a host without a
  route has none, and a lookup that reaches `dns` fails as glibc does on a machine
  without a reachable nameserver (EAI_AGAIN / TRY_AGAIN).
Each server is tried in order, glibc's default 5 s timeout, 2 attempts; an ICMP error
or a REFUSED/SERVFAIL answer moves on at once.  The stub waits natively on a waiter fd
the host answers on (RN_OP_RESOLVE in rn_protocol.h), never inside an RPC.
"""
from __future__ import annotations

import argparse
import errno
import ipaddress
import secrets
import socket
import struct
import time
from typing import Callable

from rocketnet import dns
from rocketnet.iface.interface import route
from rocketnet.socket import Socket, SocketError
from rocketnet.stack import NetStack
from rocketnet.wire.error import Malformed
from shim import protocol as P
from shim._stub import lib

RES_ADDR: int = lib.RN_RES_ADDR
RES_NAME: int = lib.RN_RES_NAME
RES_QUERY: int = lib.RN_RES_QUERY
RES_SEND: int = lib.RN_RES_SEND
OK: int = lib.RN_RES_OK
NOTFOUND: int = lib.RN_RES_NOTFOUND
NODATA: int = lib.RN_RES_NODATA
AGAIN: int = lib.RN_RES_AGAIN
FAIL: int = lib.RN_RES_FAIL
ANS = struct.Struct("=iII")         # struct rn_res_ans: status, count, name_len
RES_V4MAPPED = 1                    # arg2 bits of RN_RES_ADDR
RES_ALL = 2
TIMEOUT = 5.0                       # glibc's RES_TIMEOUT
ATTEMPTS = 2                        # glibc's RES_DFLRETRY
MAPPED = b"\0" * 10 + b"\xff\xff"     # ::ffff:0:0/96
SOURCES = ("files", "dns")


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The name resolution options of `host start` (also taken by `python -m shim.host`)."""
    ap.add_argument("--dns", action="append", default=[], metavar="ADDR",
                    help="a nameserver the host queries through the stack (repeatable)")
    ap.add_argument("--hosts", metavar="FILE", default="/etc/hosts",
                    help="hosts file of the host's world (default: /etc/hosts)")
    ap.add_argument("--resolve-order", metavar="SOURCES", default=None,
                    help="e.g. 'files dns' (default: the hosts line of /etc/nsswitch.conf)")


def nsswitch_order(path: str = "/etc/nsswitch.conf") -> list[str]:
    """files/dns in the order of the hosts: line (glibc's default: dns files... only when
    the file is missing, here 'files dns')."""
    try:
        with open(path) as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key.strip() == "hosts":
                    words = [w for w in rest.split("#")[0].split() if not w.startswith("[")]
                    return [w for w in words if w in SOURCES]
    except OSError:
        pass
    return list(SOURCES)


def resolv_conf_servers(path: str = "/etc/resolv.conf") -> list[str]:
    out = []
    try:
        with open(path) as f:
            for line in f:
                w = line.split()
                if len(w) >= 2 and w[0] == "nameserver":
                    out.append(w[1])
    except OSError:
        pass
    return out


def hosts_entries(path: str):
    """(address bytes, [names]) per line of a hosts file."""
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return
    for line in lines:
        words = line.split("#", 1)[0].split()
        if len(words) < 2:
            continue
        try:
            addr = ipaddress.ip_address(words[0].split("%")[0]).packed
        except ValueError:
            continue
        yield addr, words[1:]


class Policy:
    """Where a host looks names up."""

    def __init__(self, hosts: str, order: list[str], servers: list[bytes]) -> None:
        self.hosts = hosts
        self.order = order
        self.servers = servers


def make_policy(net: argparse.Namespace | None) -> Policy:
    hosts = getattr(net, "hosts", None) or "/etc/hosts"
    order_text = getattr(net, "resolve_order", None)
    order = ([w for w in order_text.replace(",", " ").split() if w in SOURCES]
             if order_text else nsswitch_order())
    given = getattr(net, "dns", None) or []
    if not given and getattr(net, "gateway", None):
        given = [a for a in resolv_conf_servers()
                 if not ipaddress.ip_address(a.split("%")[0]).is_loopback]
    servers = [ipaddress.ip_address(a.split("%")[0]).packed for a in given]
    return Policy(hosts, order, servers)


class Query:
    """One DNS exchange: a message tried on each server in turn until one answers."""

    def __init__(self, svc: ResolverService, msg: bytes, done: Callable[[int, bytes], None]):
        self.svc = svc
        self.msg = msg
        self.qid = struct.unpack_from("!H", msg)[0]
        self.done = done
        self.tries = [s for _ in range(ATTEMPTS) for s in svc.policy.servers]
        self.sk: Socket | None = None
        self.deadline = 0.0
        self.last = AGAIN

    def next_server(self) -> None:
        self.drop_socket()
        svc = self.svc
        while self.tries:
            server = self.tries.pop(0)
            fam = socket.AF_INET if len(server) == 4 else socket.AF_INET6
            try:
                sk = svc.stack.socket(fam, socket.SOCK_DGRAM, 0)
            except SocketError:
                continue
            try:
                sk.connect((socket.inet_ntop(fam, server), 53), time.monotonic())
                sk.send(self.msg)
            except SocketError:
                sk.close()
                continue
            self.sk = sk
            svc.socks[sk] = self
            self.deadline = time.monotonic() + TIMEOUT
            return
        svc.finish(self, self.last, b"")

    def drop_socket(self) -> None:
        if self.sk is not None:
            self.svc.socks.pop(self.sk, None)
            self.sk.close()
            self.sk = None

    def readable(self) -> None:
        sk = self.sk
        assert sk is not None
        if sk.error:
            sk.take_error()            # ICMP unreachable: the next server at once
            self.next_server()
            return
        while True:
            dg = sk.recv_datagram()   # type: ignore[attr-defined]
            if dg is None:
                return
            data = bytes(dg.data)
            if len(data) < dns.HEADER.size or struct.unpack_from("!H", data)[0] != self.qid:
                self.svc.dropped += 1
                continue
            rcode = data[3] & 0xF
            if rcode in (dns.RCODE_SERVFAIL, dns.RCODE_REFUSED, dns.RCODE_NOTIMP):
                self.last = AGAIN
                self.next_server()
                return
            self.drop_socket()
            self.svc.finish(self, OK, data)
            return


class Job:
    """One RN_OP_RESOLVE: the waiter end the answer goes to, and what is still asked."""

    def __init__(self, waiter: socket.socket, kind: int, arg: bytes, family: int,
                 flags: int) -> None:
        self.waiter = waiter
        self.kind = kind
        self.arg = arg
        self.family = family
        self.flags = flags
        self.sources: list[str] = []    # remaining nsswitch sources
        self.status = NOTFOUND
        self.canon = ""
        self.aliases: list[str] = []
        self.addrs: list[bytes] = []
        self.pending: list[Query] = []
        self.replies: dict[int, tuple[int, bytes]] = {}


class ResolverService:
    def __init__(self, stack: NetStack, net: argparse.Namespace | None) -> None:
        self.stack = stack
        self.policy = make_policy(net)
        self.socks: dict[Socket, Query] = {}
        self.jobs: dict[Query, Job] = {}
        self.dropped = 0                # replies of another id (spoofed or late)

    # ---- RPC ------------------------------------------------------------------

    def op_resolve(self, c, req: P.Request):
        kind, family, flags = req.args[0], req.args[1], req.args[2]
        if kind not in (RES_ADDR, RES_NAME, RES_QUERY, RES_SEND):
            return P.response(-1, errno.EINVAL), None
        if kind == RES_ADDR and family not in (socket.AF_UNSPEC, socket.AF_INET,
                                               socket.AF_INET6):
            return P.response(-1, errno.EAFNOSUPPORT), None
        if kind == RES_NAME and len(req.payload) not in (4, 16):
            return P.response(-1, errno.EINVAL), None
        a, w = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        w.setblocking(False)
        job = Job(w, kind, req.payload, family, flags)
        job.sources = list(self.policy.order)
        self.step(job)
        return P.response(0), a.detach()

    # ---- lookups ----------------------------------------------------------------

    def step(self, job: Job) -> None:
        """Run the job's next source; answers when a source decides."""
        if job.kind in (RES_QUERY, RES_SEND):
            msg = job.arg
            if job.kind == RES_QUERY:       # family = class, flags = type
                try:
                    msg = dns.query(secrets.randbits(16), job.arg.decode("ascii"),
                                    job.flags & 0xFFFF, job.family & 0xFFFF)
                except (ValueError, UnicodeDecodeError):
                    return self.answer(job, FAIL, b"")
            elif len(msg) < dns.HEADER.size:
                return self.answer(job, FAIL, b"")
            if not self.policy.servers:
                return self.answer(job, AGAIN, b"")
            return self.ask(job, [msg])
        while job.sources:
            src = job.sources.pop(0)
            if src == "files":
                status = self.files(job)
                job.status = status
                if status == OK:
                    return self.answer_lookup(job)
                continue
            if not self.policy.servers:
                job.status = AGAIN
                continue
            return self.ask(job, self.dns_queries(job))
        self.answer_lookup(job)

    def files(self, job: Job) -> int:
        if job.kind == RES_NAME:
            for addr, names in hosts_entries(self.policy.hosts):
                if addr == job.arg:
                    job.canon, job.aliases = names[0], names[1:]
                    return OK
            return NOTFOUND
        name = job.arg.decode("ascii", "replace").rstrip(".").lower()
        v4: list[tuple[bytes, list[str]]] = []
        v6: list[tuple[bytes, list[str]]] = []
        both: list[tuple[bytes, list[str]]] = []       # file order
        for addr, names in hosts_entries(self.policy.hosts):
            if name in (n.lower() for n in names):
                (v4 if len(addr) == 4 else v6).append((addr, names))
                both.append((addr, names))
        if job.family == socket.AF_INET:
            found = v4
        elif job.family == socket.AF_INET6:
            found = v6
            if job.flags & RES_V4MAPPED and (job.flags & RES_ALL or not v6):
                found = v6 + [(MAPPED + a, n) for a, n in v4]    # AI_V4MAPPED / AI_ALL
        else:
            found = both
        for addr, names in found:
            if not job.addrs:
                job.canon, job.aliases = names[0], names[1:]
            job.addrs.append(addr)
        return OK if job.addrs else NOTFOUND

    def dns_queries(self, job: Job) -> list[bytes]:
        if job.kind == RES_NAME:
            return [dns.query(secrets.randbits(16), dns.reverse_name(job.arg), dns.TYPE_PTR)]
        name = job.arg.decode("ascii", "replace")
        types = {socket.AF_INET: [dns.TYPE_A], socket.AF_INET6: [dns.TYPE_AAAA]}.get(
            job.family, [dns.TYPE_A, dns.TYPE_AAAA])
        if job.family == socket.AF_INET6 and job.flags & RES_V4MAPPED:
            types = [dns.TYPE_AAAA, dns.TYPE_A]
        try:
            return [dns.query(secrets.randbits(16), name, t) for t in types]
        except ValueError:
            return []

    def ask(self, job: Job, msgs: list[bytes]) -> None:
        if not msgs:
            job.status = NOTFOUND
            return self.step(job)
        job.replies = {}
        queries = [Query(self, m, lambda st, data, i=i: self.got(job, i, st, data))
                   for i, m in enumerate(msgs)]
        for q in queries:
            self.jobs[q] = job
        job.pending = queries
        for q in queries:
            q.next_server()

    def finish(self, q: Query, status: int, data: bytes) -> None:
        self.jobs.pop(q, None)
        q.done(status, data)

    def got(self, job: Job, index: int, status: int, data: bytes) -> None:
        job.replies[index] = (status, data)
        if len(job.replies) < len(job.pending):
            return
        replies = [job.replies[i] for i in range(len(job.pending))]
        job.pending = []
        if job.kind in (RES_QUERY, RES_SEND):
            return self.answer(job, replies[0][0], replies[0][1])
        job.status = self.merge(job, replies)
        if job.status == OK:
            return self.answer_lookup(job)
        self.step(job)

    def merge(self, job: Job, replies: list[tuple[int, bytes]]) -> int:
        """The addresses (or name) of the replies, and the lookup's status."""
        statuses = []
        for status, data in replies:
            if status != OK:
                statuses.append(status)
                continue
            try:
                rep = dns.parse_reply(data)
            except Malformed:
                self.dropped += 1
                statuses.append(AGAIN)
                continue
            if rep.rcode == dns.RCODE_NXDOMAIN:
                statuses.append(NOTFOUND)
                continue
            if rep.rcode != dns.RCODE_NOERROR:
                statuses.append(FAIL)
                continue
            if job.kind == RES_NAME:
                _chain, names = dns.follow(rep, dns.TYPE_PTR)
                if names:
                    job.canon = names[0].decode()
                    return OK
                statuses.append(NODATA)
                continue
            chain, found = dns.follow(rep, rep.qtype)
            if rep.qtype == dns.TYPE_A and job.family == socket.AF_INET6:
                if job.addrs and not job.flags & RES_ALL:
                    continue            # AI_V4MAPPED: IPv4 only when there is no IPv6
                found = [MAPPED + a for a in found]
            if found and not job.canon:
                job.canon, job.aliases = chain[-1], chain[:-1]
            job.addrs.extend(found)
            statuses.append(OK if found else NODATA)
        if job.addrs:
            return OK
        for s in (AGAIN, FAIL, NODATA):
            if s in statuses:
                return s
        return NOTFOUND

    # ---- answers ---------------------------------------------------------------

    def answer_lookup(self, job: Job) -> None:
        if job.kind == RES_NAME:
            return self.answer(job, job.status, b"", self.names(job))
        addrs = self.sort(job.addrs) if job.status == OK else []
        body = b"".join(bytes((len(a),)) + a.ljust(16, b"\0") for a in addrs)
        self.answer(job, job.status, body, self.names(job) if addrs else [], len(addrs))

    @staticmethod
    def names(job: Job) -> list[str]:
        return [job.canon, *job.aliases] if job.status == OK and job.canon else []

    def sort(self, addrs: list[bytes]) -> list[bytes]:
        """RFC 6724 rule 1 as glibc applies it: destinations without a route last."""
        ifaces = self.stack.interfaces
        seen: list[bytes] = []
        for a in addrs:
            if a not in seen:
                seen.append(a)
        return sorted(seen, key=lambda a: route(ifaces, a[12:] if a[:12] == MAPPED else a)
                      is None)

    def answer(self, job: Job, status: int, body: bytes, names: list[str] | None = None,
               count: int = -1) -> None:
        raw = b"".join(n.encode("ascii", "replace") + b"\0" for n in names or [""])
        if count < 0:
            count = len(body)
        try:
            job.waiter.send(ANS.pack(status, count, len(raw)) + raw + body)
        except OSError:
            pass                    # the program is gone
        job.waiter.close()

    # ---- events ----------------------------------------------------------------

    def on_socket(self, sk: Socket) -> None:
        q = self.socks.get(sk)
        if q is not None:
            q.readable()

    def next_deadline(self) -> float | None:
        return min((q.deadline for q in self.socks.values()), default=None)

    def tick(self, now: float) -> None:
        for q in [q for q in self.socks.values() if q.deadline <= now]:
            q.next_server()

    def close(self) -> None:
        for q in list(self.socks.values()):
            q.drop_socket()
        for job in set(self.jobs.values()):
            job.waiter.close()
        self.jobs.clear()


"""NETLINK_SOCK_DIAG answered from the stack: what `ss` shows under the shim.

inet_diag (SOCK_DIAG_BY_FAMILY with struct inet_diag_req_v2, AF_INET/AF_INET6, TCP and
UDP): one struct inet_diag_msg per stack socket matching the family, protocol and state
mask, with the attributes the request's ext bits ask for, as Linux lays them out:
INET_DIAG_MEMINFO, INET_DIAG_INFO (struct tcp_info, rocketnet.socket.Socket.tcp_info),
INET_DIAG_CONG, INET_DIAG_TOS/TCLASS, INET_DIAG_SKMEMINFO, and always INET_DIAG_SHUTDOWN
(and INET_DIAG_SKV6ONLY for IPv6 sockets).

The process column (`ss -p`): ss matches the inode of each message against the
"socket:[inode]" links in /proc/PID/fd.  A shim socket's fd is the program's A end of
the host's socket pair, bound to "\\0rocketnet-<nonce>-<id>", so the inode reported is
A's, looked up by that name in the host's /proc/net/unix: the processes holding the
socket are found by ss exactly as for a kernel socket.

unix_diag (AF_UNIX): every fd of a stack AF_UNIX socket is a kernel socket the host
named "\\0rocketnet-<nonce>-u<id>" (shim/unix.py), so the host asks the kernel's own
unix_diag about exactly those inodes (queues, peers, memory, uid are the kernel's) and
rewrites what is the stack's: the name (the stack name, or none), the VFS node of a
path name (the stack's key), and a listener's state and queue (LISTEN, pending
connections / backlog; its kernel socket is a pair end).  Other families answer
ENOENT, as a kernel without that diag module does.
"""
from __future__ import annotations

import errno
import socket
import struct
from typing import Any

from rocketnet import sockopt
from rocketnet.socket import SocketError
from rocketnet.stack import NetStack
from shim import ifinfo
from shim.channels import ChannelTable

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
REQ_V2 = struct.Struct("=BBBxI")
SOCKID = struct.Struct("!HH16s16s")            # ports and addresses big-endian
SOCKID_TAIL = struct.Struct("=III")            # interface, the cookie pair (host order)
MSG_HEAD = struct.Struct("=BBBB")
MSG_TAIL = struct.Struct("=IIIII")
SOCKID_SIZE = 48
INET_DIAG_MEMINFO, INET_DIAG_INFO, INET_DIAG_CONG = 1, 2, 4
INET_DIAG_TOS, INET_DIAG_TCLASS, INET_DIAG_SKMEMINFO = 5, 6, 7
INET_DIAG_SHUTDOWN, INET_DIAG_SKV6ONLY = 8, 11
TCP_ESTABLISHED, TCP_CLOSE, TCP_LISTEN = 1, 7, 10
CHUNK = 16 * 1024           # Linux fills dump skbs of about this size
SKB_OVERHEAD = 768          # per queued buffer, as rocketnet's UDP accounting


UNIX_REQ = struct.Struct("=BBxxIII8x")          # family, protocol, states, ino, show
UNIX_MSG = struct.Struct("=BBBxI8s")            # family, type, state, ino, cookie
UNIX_DIAG_NAME, UNIX_DIAG_VFS, UNIX_DIAG_PEER, UNIX_DIAG_ICONS, UNIX_DIAG_RQLEN = 0, 1, 2, 3, 4
UDIAG_SHOW_NAME, UDIAG_SHOW_VFS = 1, 2


def proc_unix_inodes(nonce: bytes, tag: str = "") -> dict[int, int]:
    """sock id -> inode of the kernel sockets bound to "\\0rocketnet-<nonce>-<tag><id>"
    (tag "": the A ends of inet sockets, "u": stack AF_UNIX fds)."""
    prefix = "@rocketnet-" + nonce.decode() + "-" + tag
    out: dict[int, int] = {}
    try:
        with open("/proc/net/unix") as f:
            next(f, None)
            for line in f:
                w = line.split()
                if len(w) >= 8 and w[7].startswith(prefix) and w[7][len(prefix):].isdigit():
                    out[int(w[7][len(prefix):])] = int(w[6])
    except OSError:
        pass
    return out


def kernel_unix_dump(states: int, show: int) -> list[bytes]:
    """The kernel's unix_diag messages (struct unix_diag_msg + attributes) for this
    network namespace: the host's own question, answered for its own sockets."""
    out: list[bytes] = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as k:
        body = UNIX_REQ.pack(socket.AF_UNIX, 0, states, 0, show)
        k.send(ifinfo.nlmsg(SOCK_DIAG_BY_FAMILY, ifinfo.NLM_F_DUMP | 1, 1, 0, body))
        while True:
            data = k.recv(1 << 16)
            off = 0
            while off + ifinfo.NLMSG_HDR.size <= len(data):
                length, kind = ifinfo.NLMSG_HDR.unpack_from(data, off)[:2]
                if kind in (ifinfo.NLMSG_DONE, ifinfo.NLMSG_ERROR) or length < 16:
                    return out
                out.append(data[off + ifinfo.NLMSG_HDR.size: off + length])
                off += (length + 3) & ~3
            if not data:
                return out


def _addr(family: int, name: tuple | None) -> tuple[bytes, int]:
    if not name:
        return bytes(16), 0
    fam = socket.AF_INET if family == socket.AF_INET else socket.AF_INET6
    return socket.inet_pton(fam, name[0].split("%")[0]).ljust(16, b"\0"), name[1]


def _peer(sk) -> tuple | None:  # type: ignore[no-untyped-def]
    try:
        return sk.getpeername()
    except (SocketError, OSError):
        return None


def _opt(sk, level: int, name: int) -> int:  # type: ignore[no-untyped-def]
    try:
        return int.from_bytes(sk.getsockopt(level, name, 4)[:4], "little")
    except (SocketError, OSError):
        return 0


class SockDiag:
    def __init__(self, table: ChannelTable, stack: NetStack, unix: Any) -> None:
        self.table = table
        self.stack = stack
        self.unix = unix            # shim.unix.UnixService: the AF_UNIX Sockets

    def requests(self, data: bytes, pid: int) -> list[bytes]:
        """Every request message in one datagram -> the reply datagrams."""
        replies: list[bytes] = []
        off = 0
        H = ifinfo.NLMSG_HDR
        while off + H.size <= len(data):
            length, kind, flags, seq, _ = H.unpack_from(data, off)
            if length < H.size or off + length > len(data):
                break
            msg = data[off:off + length]
            off += (length + 3) & ~3
            family = msg[H.size] if length > H.size else 0
            if (kind == SOCK_DIAG_BY_FAMILY and family == socket.AF_UNIX
                    and length >= H.size + UNIX_REQ.size
                    and flags & ifinfo.NLM_F_DUMP == ifinfo.NLM_F_DUMP):
                _f, _p, ustates, _ino, show = UNIX_REQ.unpack_from(msg, H.size)
                replies.extend(self.unix_dump(ustates, show, seq, pid))
                continue
            if kind != SOCK_DIAG_BY_FAMILY or length < H.size + REQ_V2.size + SOCKID_SIZE:
                replies.append(ifinfo.error_message(errno.EINVAL, msg, seq, pid))
                continue
            family, proto, ext, states = REQ_V2.unpack_from(msg, H.size)
            if family not in (socket.AF_INET, socket.AF_INET6) or proto not in (
                    socket.IPPROTO_TCP, socket.IPPROTO_UDP):
                replies.append(ifinfo.error_message(errno.ENOENT, msg, seq, pid))
                continue
            if flags & ifinfo.NLM_F_DUMP != ifinfo.NLM_F_DUMP:
                replies.append(ifinfo.error_message(errno.EOPNOTSUPP, msg, seq, pid))
                continue
            replies.extend(self.dump(family, proto, ext, states, seq, pid))
        return replies

    def chunks(self, bodies: list[bytes], seq: int, pid: int) -> list[bytes]:
        """The dump's messages in datagrams of about CHUNK bytes, then NLMSG_DONE."""
        out: list[bytes] = []
        cur = b""
        for body in bodies:
            part = ifinfo.nlmsg(SOCK_DIAG_BY_FAMILY, ifinfo.NLM_F_MULTI, seq, pid, body)
            if len(cur) + len(part) > CHUNK:
                out.append(cur)
                cur = b""
            cur += part
        cur += ifinfo.nlmsg(ifinfo.NLMSG_DONE, ifinfo.NLM_F_MULTI, seq, pid,
                            struct.pack("=i", 0))
        out.append(cur)
        return out

    def unix_dump(self, states: int, show: int, seq: int, pid: int) -> list[bytes]:
        unix = self.unix
        by_ino = {ino: sid for sid, ino in proc_unix_inodes(self.table.nonce, "u").items()
                  if sid in unix.socks}
        live = set(by_ino.values())
        keep = set()                # a socket's newest live fd stands for it
        for ino, sid in by_ino.items():
            ids = unix.ids.get(unix.socks[sid], [])
            if sid == next((i for i in reversed(ids) if i in live), None):
                keep.add(ino)
        bodies = []
        for raw in kernel_unix_dump(0xFFFFFFFF, show & ~UDIAG_SHOW_NAME & ~UDIAG_SHOW_VFS):
            if len(raw) < UNIX_MSG.size:
                continue
            fam, type_, state, ino, cookie = UNIX_MSG.unpack_from(raw)
            if ino not in keep:
                continue
            sk = unix.socks[by_ino[ino]].inner
            listening = sk.state == "LISTEN"
            if listening:
                state = TCP_LISTEN
            if not states & (1 << state):
                continue
            attrs = []
            if show & UDIAG_SHOW_NAME and sk.addr is not None:
                attrs.append(ifinfo.rta(UNIX_DIAG_NAME, sk.addr[2:]))
            if show & UDIAG_SHOW_VFS and sk.key is not None and sk.key[0] == "p":
                attrs.append(ifinfo.rta(UNIX_DIAG_VFS, struct.pack("=II", sk.key[2] & 0xFFFFFFFF,
                                                                   sk.key[1] & 0xFFFFFFFF)))
            off = UNIX_MSG.size
            while off + ifinfo.RTA.size <= len(raw):
                n, kind = ifinfo.RTA.unpack_from(raw, off)
                if n < ifinfo.RTA.size:
                    break
                if listening and kind in (UNIX_DIAG_PEER, UNIX_DIAG_ICONS):
                    pass                # its kernel socket is a pair end: no peer here
                elif listening and kind == UNIX_DIAG_RQLEN:
                    attrs.append(ifinfo.rta(kind, struct.pack("=II", sk.pending, sk.backlog)))
                else:
                    attrs.append(raw[off:off + ((n + 3) & ~3)])
                off += (n + 3) & ~3
            bodies.append(UNIX_MSG.pack(fam, type_, state, ino, cookie) + b"".join(attrs))
        return self.chunks(bodies, seq, pid)

    def dump(self, family: int, proto: int, ext: int, states: int, seq: int,
             pid: int) -> list[bytes]:
        inodes = proc_unix_inodes(self.table.nonce)
        by_sock = self.table.by_sock
        bodies = []
        for sk in list(self.stack.sockets):
            if sk.family != family or sk.proto != proto:
                continue
            is_tcp = proto == socket.IPPROTO_TCP
            state = sk.inner.state if is_tcp else (
                TCP_ESTABLISHED if sk.inner.rip is not None else TCP_CLOSE)
            if not states & (1 << state):
                continue
            ch = by_sock.get(sk)
            inode = inodes.get(ch.sock_id, 0) if ch is not None else 0
            bodies.append(self.message(sk, family, state, ext, inode, is_tcp))
        return self.chunks(bodies, seq, pid)

    def message(self, sk, family: int, state: int, ext: int, inode: int,  # type: ignore[no-untyped-def]
                is_tcp: bool) -> bytes:
        t = sk.inner
        try:
            local = sk.getsockname()
        except (SocketError, OSError):
            local = None
        src, sport = _addr(family, local)
        dst, dport = _addr(family, _peer(sk) if state != TCP_LISTEN else None)
        timer = retrans = expires = 0
        if is_tcp and state == TCP_LISTEN:
            entry = t.listen_entry
            ch = self.table.by_sock.get(sk)
            rq = len(entry.accept_queue) + (len(ch.pending_accept) if ch is not None else 0)
            wq = entry.backlog
        elif is_tcp:
            rq = sk.rx_available()
            wq = (t.snd_max - t.snd_una) & 0xFFFFFFFF
            wq += max(0, len(t.sndbuf) - wq)
            if wq and state != 6:
                timer, retrans = 1, t.retransmits        # the retransmit timer is on
                expires = int(t.rto * 1000)
            elif state == 6:
                timer = 3                                  # TIME_WAIT
        else:
            rq = sk.rx_available()
            wq = 0
        head = MSG_HEAD.pack(family, state, timer, min(retrans, 255))
        sid = SOCKID.pack(sport, dport, src, dst) + SOCKID_TAIL.pack(0, sk.handle, 0)
        body = head + sid + MSG_TAIL.pack(expires, rq, wq, getattr(sk, "uid", 0), inode)
        rcvbuf = _opt(sk, socket.SOL_SOCKET, socket.SO_RCVBUF)
        sndbuf = _opt(sk, socket.SOL_SOCKET, socket.SO_SNDBUF)
        attrs = []
        if ext & (1 << (INET_DIAG_MEMINFO - 1)):
            attrs.append(ifinfo.rta(INET_DIAG_MEMINFO, struct.pack("=IIII", rq, wq, 0, wq)))
        if ext & (1 << (INET_DIAG_INFO - 1)) and is_tcp:
            attrs.append(ifinfo.rta(INET_DIAG_INFO, sockopt.tcp_info(sk)))
        if ext & (1 << (INET_DIAG_CONG - 1)) and is_tcp:
            attrs.append(ifinfo.rta(INET_DIAG_CONG, bytes(t.congestion) + b"\0"))
        if ext & (1 << (INET_DIAG_TOS - 1)):
            attrs.append(ifinfo.rta(INET_DIAG_TOS, bytes((_opt(sk, 0, 1) & 0xFF,))))
            if family == socket.AF_INET6:
                attrs.append(ifinfo.rta(INET_DIAG_TCLASS,
                                        bytes((_opt(sk, 41, 67) & 0xFF,))))
        if ext & (1 << (INET_DIAG_SKMEMINFO - 1)):
            rmem = rq + (SKB_OVERHEAD if rq else 0)
            attrs.append(ifinfo.rta(INET_DIAG_SKMEMINFO, struct.pack(
                "=9I", rmem, rcvbuf, wq, sndbuf, 0, wq, 0, 0, 0)))
        if is_tcp:
            shut = 2 if t.fin_queued else 0
        else:
            shut = (1 if t.shut_rd else 0) | (2 if t.shut_wr else 0)
        attrs.append(ifinfo.rta(INET_DIAG_SHUTDOWN, bytes((shut,))))
        if family == socket.AF_INET6:
            attrs.append(ifinfo.rta(INET_DIAG_SKV6ONLY, bytes((int(bool(t.v6only)),))))
        return body + b"".join(attrs)

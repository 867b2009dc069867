"""NETLINK_ROUTE sockets of shimmed programs, served by the stack host.

glibc's getifaddrs/if_nameindex and tools like iproute2 ask the kernel about
interfaces over socket(AF_NETLINK, SOCK_RAW|SOCK_DGRAM, NETLINK_ROUTE); a shimmed
program must get the stack's interfaces instead.  Such a socket is a datagram shim
socket (RN_KIND_DGRAM: SOCK_SEQPACKET pair, struct rn_dgram_hdr + payload per
message): every request datagram the program sends is answered on S by the replies
shim/ifinfo.py, shim/iflink.py and shim/rtroute.py build (link, address and route
dumps; veth pairs, link, route and address changes; NLMSG_ERROR EOPNOTSUPP otherwise).
NETLINK_SOCK_DIAG sockets (ss) are answered from the stack's sockets (shim/sockdiag.py).
Other netlink families go to the kernel (RN_ERR_PASSTHROUGH).
"""
from __future__ import annotations

import errno
import functools
import os
import select
import socket
import struct
from collections import deque
from collections.abc import Container
from typing import Any

from rocketnet.socket import SocketError
from rocketnet.stack import NetStack
from shim import ifinfo, iflink
from shim import protocol as P
from shim.channels import Channel, ChannelTable, kernel_answer
from shim.sockdiag import NETLINK_SOCK_DIAG, SockDiag

NETLINK_ROUTE = 0
EP_IN, EP_OUT = select.EPOLLIN, select.EPOLLOUT
SOL_SOCKET = socket.SOL_SOCKET
SOCKADDR_NL = struct.Struct("=HxxII")
HDR = P.DGRAM_HDR
HDR_SIZE = HDR.size
_KERNEL = SOCKADDR_NL.pack(socket.AF_NETLINK, 0, 0)
_REPLY_HDR = HDR.pack(0, len(_KERNEL), 0, 0, 0, 0, _KERNEL, b"")
_INT_OPTS = {socket.SO_RCVBUF: 212992, socket.SO_SNDBUF: 212992, socket.SO_ERROR: 0,
             socket.SO_TYPE: socket.SOCK_RAW, socket.SO_DOMAIN: socket.AF_NETLINK,
             socket.SO_PROTOCOL: NETLINK_ROUTE}


def random_mac() -> bytes:
    """A random unicast, locally administered MAC (eth_random_addr), for a new veth end."""
    mac = bytearray(os.urandom(6))
    mac[0] = (mac[0] & 0xFE) | 0x02
    return bytes(mac)


class _Token:
    """Stands for the stack socket in the host's by_sock map (no stack socket here)."""

    __slots__ = ()

    def abort(self, now: float) -> None:
        """Nothing to reset: the host is shutting down."""

    def close(self, now: float = 0.0) -> None:
        """Nothing to close."""


class NetlinkChannel(Channel):
    __slots__ = ("portid", "groups", "out", "sock_type", "proto", "net_admin")

    def __init__(self, svc: NetlinkService, sock_id: int, s: socket.socket,
                 sock_type: int, proto: int, net_admin: bool) -> None:
        super().__init__(svc, sock_id, socket.AF_NETLINK, s, _Token())
        self.portid = 0
        self.groups = 0
        self.out: deque[bytes] = deque()
        self.sock_type = sock_type
        self.proto = proto
        # the creator's CAP_NET_ADMIN, which changes need (Linux checks the opener's too)
        self.net_admin = net_admin


class NetlinkService:
    def __init__(self, table: ChannelTable, stack: NetStack, diag: SockDiag) -> None:
        self.table = table
        self.stack = stack
        self.diag = diag
        self.next_port = 0
        self.ops = {
            P.OP_BIND: self.op_bind, P.OP_CONNECT: self.op_ok, P.OP_GETSOCKNAME: self.op_name,
            P.OP_GETPEERNAME: self.op_peer, P.OP_GETSOCKOPT: self.op_getsockopt,
            P.OP_SETSOCKOPT: self.op_ok, P.OP_DGRAM_CHECK: self.op_check,
            P.OP_DGRAM_SYNC: self.op_ok, P.OP_SHUTDOWN: self.op_ok, P.OP_IOCTL: self.op_ioctl,
            P.OP_RDEND: kernel_answer, P.OP_LINGER: kernel_answer,
        }

    def new_socket(self, family: int, type_: int, proto: int):  # type: ignore[no-untyped-def]
        if proto not in (NETLINK_ROUTE, NETLINK_SOCK_DIAG) or type_ not in (socket.SOCK_RAW,
                                                                            socket.SOCK_DGRAM):
            return P.response(-1, P.ERR_PASSTHROUGH), None
        sock_id, a, s = self.table.new_pair(socket.SOCK_SEQPACKET)
        ch = NetlinkChannel(self, sock_id, s, type_, proto, bool(self.table.caller.net_admin))
        self.table.add(ch)
        self.update_mask(ch)
        return P.response(ch.sock_id, 0, b"", P.KIND_DGRAM), a.detach()

    public_ops: frozenset[int] = frozenset()

    # no ids without a channel: a netlink socket lives as long as its channel
    held_maps: tuple[Container[int], ...] = ()

    def port(self, ch: NetlinkChannel) -> int:
        """The socket's port id, assigned on first use as Linux's autobind does."""
        if not ch.portid:
            self.next_port += 1
            ch.portid = (os.getpid() << 12 | self.next_port) & 0x7FFFFFFF or 1
        return ch.portid

    # ---- events -----------------------------------------------------------------

    def update_mask(self, ch: NetlinkChannel) -> None:
        want = (0 if ch.app_eof else EP_IN) | (EP_OUT if ch.out else 0)
        self.table.modify(ch, want)

    def event(self, ch: NetlinkChannel, ev: int) -> None:
        if ev & EP_OUT:
            self.flush(ch)
        if ev & (EP_IN | select.EPOLLHUP | select.EPOLLERR):
            self.read_app(ch)
        if ch.app_eof or ev & select.EPOLLHUP:
            self.table.close(ch)
            return
        self.update_mask(ch)

    def read_app(self, ch: NetlinkChannel) -> None:
        for _ in range(64):
            try:
                msg = ch.s.recv(HDR_SIZE + 65536)
            except BlockingIOError:
                return
            except OSError:
                msg = b""
            if not msg:
                ch.app_eof = True
                return
            if len(msg) < HDR_SIZE:
                continue
            if ch.proto == NETLINK_SOCK_DIAG:
                replies = self.diag.requests(msg[HDR_SIZE:], self.port(ch))
            else:
                replies = ifinfo.route_requests(
                    self.stack.interfaces, msg[HDR_SIZE:], self.port(ch),
                    functools.partial(iflink.request, stack=self.stack,
                                      privileged=ch.net_admin, new_mac=random_mac))
            for reply in replies:
                ch.out.append(_REPLY_HDR + reply)
            self.flush(ch)

    def flush(self, ch: NetlinkChannel) -> None:
        while ch.out:
            try:
                ch.s.send(ch.out[0])
            except BlockingIOError:
                return
            except OSError:
                ch.out.clear()
                return
            ch.out.popleft()

    def service(self, ch: NetlinkChannel) -> None:
        self.flush(ch)

    # ---- RPCs ---------------------------------------------------------------------

    def dispatch(self, c: Any, ch: NetlinkChannel | None, req: P.Request):  # type: ignore[no-untyped-def]
        op = self.ops.get(req.op)
        if op is None:
            return P.response(-1, errno.EOPNOTSUPP), None
        try:
            return op(ch, req)
        except SocketError as e:
            return P.response(-1, e.errno), None

    def op_ok(self, ch: NetlinkChannel, req: P.Request):
        return P.response(0), None

    def op_ioctl(self, ch: NetlinkChannel, req: P.Request):
        """SIOCGIF* on a netlink socket, as on any socket: the stack's interfaces."""
        return P.response(0, 0, ifinfo.ioctl(self.stack.interfaces, req.args[0], req.payload,
                                             self.table.caller.net_admin)), None

    def op_bind(self, ch: NetlinkChannel, req: P.Request):
        raw = req.payload
        if len(raw) < SOCKADDR_NL.size:
            raise SocketError(errno.EINVAL)
        fam, pid, groups = SOCKADDR_NL.unpack_from(raw)
        if fam != socket.AF_NETLINK:
            raise SocketError(errno.EINVAL)
        if pid:
            if ch.portid and ch.portid != pid:
                raise SocketError(errno.EINVAL)
            ch.portid = pid
        else:
            self.port(ch)
        ch.groups = groups
        return P.response(0), None

    def op_name(self, ch: NetlinkChannel, req: P.Request):
        return P.response(0, 0, SOCKADDR_NL.pack(socket.AF_NETLINK, ch.portid, ch.groups)), None

    def op_peer(self, ch: NetlinkChannel, req: P.Request):
        return P.response(0, 0, _KERNEL), None

    def op_getsockopt(self, ch: NetlinkChannel, req: P.Request):
        level, name, optlen = req.args[0], req.args[1], req.args[2]
        if optlen < 0:
            raise SocketError(errno.EINVAL)
        if level != SOL_SOCKET or name not in _INT_OPTS:
            raise SocketError(errno.ENOPROTOOPT)
        value = {socket.SO_TYPE: ch.sock_type, socket.SO_PROTOCOL: ch.proto}.get(
            name, _INT_OPTS[name])
        return P.response(0, 0, struct.pack("=i", value)[:optlen]), None

    def op_check(self, ch: NetlinkChannel, req: P.Request):
        if req.args[0] != 1:
            raw = req.payload
            if len(raw) < SOCKADDR_NL.size or SOCKADDR_NL.unpack_from(raw)[0] != socket.AF_NETLINK:
                raise SocketError(errno.EINVAL)
        return P.response(0, 0, b"", 65536), None

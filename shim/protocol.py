"""The stub <-> host wire protocol, read from the compiled stub (c_stub/rn_protocol.h).

Constants and struct layouts come from the cffi module, so the host and the stub share
one definition.
"""
from __future__ import annotations

import struct
from typing import NamedTuple

from shim._stub import ffi, lib

PROTO_VERSION: int = lib.RN_PROTO_VERSION
NAME_PREFIX = b"rocketnet-"
NONCE_LEN: int = lib.RN_NONCE_LEN
ENV_SOCK = "ROCKETNET_SOCK"
ENV_CTL_FD = "ROCKETNET_CTL_FD"
ENV_TRACE = "ROCKETNET_TRACE"
ENV_TRACE_OPTS = "ROCKETNET_TRACE_OPTS"
ENV_DIALER_FD = "ROCKETNET_DIALER_FD"

OP_HELLO: int = lib.RN_OP_HELLO
HELLO_OOB_STALL: int = lib.RN_HELLO_OOB_STALL
HELLO_OOB_NOMARK: int = lib.RN_HELLO_OOB_NOMARK
HELLO_TCLASS_SOCK: int = lib.RN_HELLO_TCLASS_SOCK
OP_SOCKET: int = lib.RN_OP_SOCKET
OP_BIND: int = lib.RN_OP_BIND
OP_LISTEN: int = lib.RN_OP_LISTEN
OP_CONNECT: int = lib.RN_OP_CONNECT
OP_SHUTDOWN: int = lib.RN_OP_SHUTDOWN
OP_GETSOCKNAME: int = lib.RN_OP_GETSOCKNAME
OP_GETPEERNAME: int = lib.RN_OP_GETPEERNAME
OP_GETSOCKOPT: int = lib.RN_OP_GETSOCKOPT
OP_SETSOCKOPT: int = lib.RN_OP_SETSOCKOPT
OP_IOCTL: int = lib.RN_OP_IOCTL
OP_DIALER: int = lib.RN_OP_DIALER
OP_REOPEN: int = lib.RN_OP_REOPEN
OP_MORE: int = lib.RN_OP_MORE
OP_OOB: int = lib.RN_OP_OOB
OP_LINGER: int = lib.RN_OP_LINGER
OP_RDEND: int = lib.RN_OP_RDEND
OP_RESOLVE: int = lib.RN_OP_RESOLVE


OP_UNIX_ACCEPTED: int = lib.RN_OP_UNIX_ACCEPTED
OP_UNIX_PAIR: int = lib.RN_OP_UNIX_PAIR
OP_UNIX_RESOLVE: int = lib.RN_OP_UNIX_RESOLVE
KIND_UNIX: int = lib.RN_KIND_UNIX
OP_HOST_STATS: int = lib.RN_OP_HOST_STATS
OP_HOST_STOP: int = lib.RN_OP_HOST_STOP
OP_RUN_SESSION: int = lib.RN_OP_RUN_SESSION
KIND_STREAM: int = lib.RN_KIND_STREAM
ERR_PASSTHROUGH: int = lib.RN_ERR_PASSTHROUGH
ERR_REOPEN: int = lib.RN_ERR_REOPEN
ERR_FILL: int = lib.RN_ERR_FILL
OP_SETOPTS: int = lib.RN_OP_SETOPTS
MAX_PAYLOAD: int = lib.RN_MAX_PAYLOAD

# Layouts, checked against the C compiler's view at import time.
REQ = struct.Struct("=II4qII")
RESP = struct.Struct("=qiI2q")
INO = struct.Struct("=Q")   # an inode in a reply payload (RN_OP_CONNECT's fresh A)
ACCEPT_REC_HEAD = struct.Struct("=II")
SETOPT = struct.Struct("=iii")          # struct rn_setopt: level, optname, value
ACCEPT_REC_SIZE: int = ffi.sizeof("struct rn_accept_rec")
if REQ.size != ffi.sizeof("struct rn_req") or RESP.size != ffi.sizeof("struct rn_resp") or \
        SETOPT.size != ffi.sizeof("struct rn_setopt"):
    raise ImportError("shim._stub does not match shim/protocol.py: rebuild the package")


class Request(NamedTuple):
    op: int
    sock_id: int
    args: tuple[int, int, int, int]
    payload: bytes
    fd_hint: int = 0        # 1 + the caller's fd for sock_id (rn_protocol.h), never trusted
    fd: int = -1            # the fd the caller passed with the request (SCM_RIGHTS)


def parse_request(msg: bytes, fd: int = -1) -> Request:
    """Decode one control message (fd: the one passed with it); ValueError if it is
    malformed."""
    plen = len(msg) - REQ.size
    if plen < 0:
        raise ValueError("short request")
    op, sock_id, a0, a1, a2, a3, said, hint = REQ.unpack_from(msg)
    if said != plen or plen > MAX_PAYLOAD:
        raise ValueError("bad payload length")
    return Request(op, sock_id, (a0, a1, a2, a3), msg[REQ.size:], hint, fd)


def response(ret: int, err: int = 0, payload: bytes = b"", arg0: int = 0, arg1: int = 0) -> bytes:
    if not payload:     # most replies: no len() or concatenation
        return RESP.pack(ret, err, 0, arg0, arg1)
    return RESP.pack(ret, err, len(payload), arg0, arg1) + payload


def accept_record(sock_id: int, sockaddr: bytes) -> bytes:
    return ACCEPT_REC_HEAD.pack(sock_id, len(sockaddr)) + sockaddr.ljust(
        ACCEPT_REC_SIZE - ACCEPT_REC_HEAD.size, b"\0")


# Datagram channels (RN_KIND_DGRAM): one message per datagram, header + payload.
OP_DGRAM_CHECK: int = lib.RN_OP_DGRAM_CHECK
OP_DGRAM_SYNC: int = lib.RN_OP_DGRAM_SYNC
KIND_DGRAM: int = lib.RN_KIND_DGRAM
DG_ERROR: int = lib.RN_DG_ERROR
DG_MORE: int = lib.RN_DG_MORE
DG_SEND_TTL: int = lib.RN_DG_SEND_TTL
DG_SEND_TOS: int = lib.RN_DG_SEND_TOS
DG_CM_TSTAMP: int = lib.RN_DG_CM_TSTAMP
DG_CM_TSTAMPNS: int = lib.RN_DG_CM_TSTAMPNS
DG_CM_PKTINFO: int = lib.RN_DG_CM_PKTINFO
DG_CM_TTL: int = lib.RN_DG_CM_TTL
DG_CM_TOS: int = lib.RN_DG_CM_TOS
DG_CM_PKTINFO6: int = lib.RN_DG_CM_PKTINFO6
DG_CM_HOPLIMIT: int = lib.RN_DG_CM_HOPLIMIT
DG_CM_TCLASS: int = lib.RN_DG_CM_TCLASS
DGRAM_HDR = struct.Struct("=HHiIBB6x28s16s")
if DGRAM_HDR.size != ffi.sizeof("struct rn_dgram_hdr") or DGRAM_HDR.size != lib.RN_DGRAM_HDR_SIZE:
    raise ImportError("shim._stub does not match shim/protocol.py: rebuild the package")

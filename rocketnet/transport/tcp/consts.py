"""TCP constants: errno values, states, sequence arithmetic, header layouts."""

from __future__ import annotations

import struct

from ...wire.tcp import TS_WORD  # noqa: F401  (the aligned timestamp option's first word)

# errno values (Linux)
EPIPE = 32
EINVAL = 22
EAGAIN = 11
EADDRINUSE = 98
EADDRNOTAVAIL = 99
ENOTCONN = 107
ECONNRESET = 104
ECONNREFUSED = 111
ETIMEDOUT = 110

# TCP states, numbered as Linux (tcpi_state)
ESTABLISHED = 1
SYN_SENT = 2
SYN_RECEIVED = 3
FIN_WAIT_1 = 4
FIN_WAIT_2 = 5
TIME_WAIT = 6
CLOSED = 7
CLOSE_WAIT = 8
LAST_ACK = 9
LISTEN = 10
CLOSING = 11

STATE_NAMES = {
    ESTABLISHED: "ESTABLISHED",
    SYN_SENT: "SYN_SENT",
    SYN_RECEIVED: "SYN_RECEIVED",
    FIN_WAIT_1: "FIN_WAIT_1",
    FIN_WAIT_2: "FIN_WAIT_2",
    TIME_WAIT: "TIME_WAIT",
    CLOSED: "CLOSED",
    CLOSE_WAIT: "CLOSE_WAIT",
    LAST_ACK: "LAST_ACK",
    LISTEN: "LISTEN",
    CLOSING: "CLOSING",
}

M = 0xFFFFFFFF
HALF = 0x80000000

TCP = struct.Struct("!HHIIBBHHH")
# Ethernet header is copied as bytes; these cover IP + TCP fixed headers.
U16 = struct.Struct("!H")
TCP_TS = struct.Struct("!HHIIBBHHHIII")  # TCP and, in the next 12 bytes, maybe TS_WORD+TS
U32 = struct.Struct("!I")
U32X2 = struct.Struct("!II")

# States in which the connection may carry our data / FIN.
SEND_STATES = frozenset((ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, CLOSING, LAST_ACK))
# States in which received payload is accepted.
RECV_STATES = frozenset((ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2))
SYNCHRONIZED = frozenset(
    (ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT)
)

INT_MAX = 0x7FFFFFFF
V4_MSS_CAP = 65535 - 40  # largest MSS an IPv4 packet can carry (Linux lo: 65495)
V6_MSS_CAP = 65535 - 20
GSO_MAX = 65536  # Linux GSO_LEGACY_MAX_SIZE: the largest segment tcp_sendmsg builds

URG_NOTYET = 1
URG_VALID = 2
URG_READ = 3

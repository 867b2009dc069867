"""rocketnet.sockopt: Linux's level dispatch, option validation, defaults and the
capability rule, on stack sockets without I/O."""

from __future__ import annotations

import struct

import pytest

from rocketnet import constants as C
from rocketnet.errors import SocketError
from rocketnet.lab import VirtualClock, tcp_pair
from rocketnet.stack import NetStack

I = struct.Struct("i")  # noqa: E741
SOL_SOCKET, IP, IP6, TCP, UDP = C.SOL_SOCKET, C.IPPROTO_IP, C.IPPROTO_IPV6, C.IPPROTO_TCP, 17


def err(f, *a) -> int:
    with pytest.raises(SocketError) as e:
        f(*a)
    return e.value.errno


def geti(s, level: int, opt: int) -> int:
    return I.unpack(s.getsockopt(level, opt, 4))[0]


@pytest.mark.parametrize("family", [C.AF_INET, C.AF_INET6])
@pytest.mark.parametrize("type_", [C.SOCK_STREAM, C.SOCK_DGRAM])
def test_unknown_levels_follow_the_protocol_dispatch(stack: NetStack, family: int,
                                                     type_: int) -> None:
    s = stack.socket(family, type_, 0)
    other = UDP if type_ == C.SOCK_STREAM else TCP
    # tcp/udp_getsockopt → ip_getsockopt (EOPNOTSUPP) or ipv6_getsockopt (ENOPROTOOPT)
    want = C.EOPNOTSUPP if family == C.AF_INET else C.ENOPROTOOPT
    assert err(s.getsockopt, other, 1, 4) == want
    assert err(s.getsockopt, 300, 1, 4) == want
    assert err(s.setsockopt, other, 1, I.pack(1)) == C.ENOPROTOOPT
    assert err(s.setsockopt, 300, 1, I.pack(1)) == C.ENOPROTOOPT
    # IPv6 level on an IPv4 socket; IP level on an IPv6 socket goes to the IPv4 code
    if family == C.AF_INET:
        assert err(s.getsockopt, IP6, 26, 4) == C.EOPNOTSUPP
        assert err(s.setsockopt, IP6, 26, I.pack(1)) == C.ENOPROTOOPT
    assert geti(s, IP, 15) == 0                             # IP_FREEBIND
    # unknown option numbers of a known level
    assert err(s.getsockopt, SOL_SOCKET, 99, 4) == C.ENOPROTOOPT
    assert err(s.getsockopt, IP, 99, 4) == C.ENOPROTOOPT


def test_int_options_want_an_int(stack: NetStack) -> None:
    s = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    assert err(s.setsockopt, SOL_SOCKET, 36, b"\x01\x00") == C.EINVAL     # SO_MARK
    assert err(s.setsockopt, TCP, 25, b"\x01") == C.EINVAL                # TCP_NOTSENT_LOWAT
    assert err(s.getsockopt, TCP, 25, -1) == C.EINVAL
    s.setsockopt(TCP, 25, I.pack(12345))
    assert geti(s, TCP, 25) == 12345
    assert s.getsockopt(TCP, 25, 2) == I.pack(12345)[:2]                 # truncated


def test_ip_level_short_values_are_one_byte(stack: NetStack) -> None:
    s = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    s.setsockopt(IP, 15, b"\x07")                  # IP_FREEBIND from a char
    assert geti(s, IP, 15) == 1
    assert s.getsockopt(IP, 1, 2) == b"\x00"       # IP_TOS
    # IP_OPTIONS: framed options, END pads the rest with zeros
    s.setsockopt(IP, 4, b"\x01\x00\x09")
    assert s.getsockopt(IP, 4, 40) == b"\x01\x00\x00\x00"
    assert err(s.setsockopt, IP, 4, b"\x02\x00") == C.EINVAL
    assert s.getsockopt(IP, 10, 1) == b"\x01"      # IP_MTU_DISCOVER: IP_PMTUDISC_WANT
    assert err(s.setsockopt, IP, 10, I.pack(6)) == C.EINVAL
    s.setsockopt(IP, 10, I.pack(2))
    assert geti(s, IP, 10) == 2


def test_struct_options(stack: NetStack) -> None:
    s = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    assert s.getsockopt(SOL_SOCKET, 20, 64) == bytes(16)                 # SO_RCVTIMEO_OLD
    assert err(s.setsockopt, SOL_SOCKET, 20, I.pack(1)) == C.EINVAL
    assert err(s.setsockopt, SOL_SOCKET, 20, struct.pack("qq", 1, 10**6)) == 33  # EDOM
    s.setsockopt(SOL_SOCKET, 21, struct.pack("qq", 2, 500))
    assert s.getsockopt(SOL_SOCKET, 67, 64) == struct.pack("qq", 2, 500)  # _NEW: same value
    # SO_PEERCRED of a non-AF_UNIX socket: no pid, uid/gid -1
    assert s.getsockopt(SOL_SOCKET, 17, 64) == struct.pack("iII", 0, 2**32 - 1, 2**32 - 1)
    # SO_MAX_PACING_RATE: a 64-bit answer when it fits, ~0 by default
    assert s.getsockopt(SOL_SOCKET, 47, 64) == b"\xff" * 8
    s.setsockopt(SOL_SOCKET, 47, I.pack(1000))
    assert s.getsockopt(SOL_SOCKET, 47, 64) == struct.pack("Q", 1000)
    # SO_NETNS_COOKIE wants exactly 8 bytes
    assert err(s.getsockopt, SOL_SOCKET, 71, 64) == C.EINVAL
    assert len(s.getsockopt(SOL_SOCKET, 71, 8)) == 8


def test_cookie_is_per_socket(stack: NetStack) -> None:
    a = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    b = stack.socket(C.AF_INET, C.SOCK_DGRAM, 0)
    ca = a.getsockopt(SOL_SOCKET, 57, 8)
    assert ca == a.getsockopt(SOL_SOCKET, 57, 8) != b.getsockopt(SOL_SOCKET, 57, 8)


def test_privileged_options(stack: NetStack) -> None:
    s = stack.socket(C.AF_INET, C.SOCK_DGRAM, 0)
    s.privileged = False
    assert err(s.setsockopt, SOL_SOCKET, 36, I.pack(7)) == C.EPERM       # SO_MARK
    assert err(s.setsockopt, IP, 19, I.pack(1)) == C.EPERM               # IP_TRANSPARENT
    s.setsockopt(SOL_SOCKET, 25, b"lo\0")         # SO_BINDTODEVICE: binding is free,
    assert err(s.setsockopt, SOL_SOCKET, 25, b"") == C.EPERM  # changing it is not
    s.privileged = True
    s.setsockopt(SOL_SOCKET, 36, I.pack(7))
    assert geti(s, SOL_SOCKET, 36) == 7
    # a device by name or by index: one binding
    assert err(s.setsockopt, SOL_SOCKET, 25, b"nosuchdev\0") == 19        # ENODEV
    assert err(s.setsockopt, SOL_SOCKET, 62, I.pack(-1)) == C.EINVAL
    s.setsockopt(SOL_SOCKET, 62, I.pack(1))                              # SO_BINDTOIFINDEX
    assert s.getsockopt(SOL_SOCKET, 25, 64) == b"lo\0"
    s.setsockopt(SOL_SOCKET, 25, b"")
    assert s.getsockopt(SOL_SOCKET, 25, 64) == b""


def test_tcp_options(stack: NetStack) -> None:
    s = stack.socket(C.AF_INET6, C.SOCK_STREAM, 0)
    assert geti(s, TCP, 7) == C.TCP_SYN_RETRIES                           # TCP_SYNCNT
    assert err(s.setsockopt, TCP, 7, I.pack(128)) == C.EINVAL
    assert geti(s, TCP, 8) == C.TCP_FIN_TIMEOUT                           # TCP_LINGER2
    s.setsockopt(TCP, 8, I.pack(1000))
    assert geti(s, TCP, 8) == C.TCP_FIN_TIMEOUT_MAX
    s.setsockopt(TCP, 9, I.pack(10))      # TCP_DEFER_ACCEPT: seconds → SYN-ACK retransmits
    assert geti(s, TCP, 9) == 15          # 1 + 2 + 4 + 8: the first period covering 10 s
    s.setsockopt(TCP, 10, I.pack(1))      # TCP_WINDOW_CLAMP: at least SOCK_MIN_RCVBUF / 2
    assert geti(s, TCP, 10) == C.SOCK_MIN_RCVBUF // 2
    assert err(s.setsockopt, TCP, 20, I.pack(1)) == C.EPERM               # not in repair
    assert err(s.getsockopt, TCP, 20, 4) == C.EINVAL
    assert err(s.setsockopt, TCP, 31, b"tls\0") == C.ENOENT               # TCP_ULP
    assert err(s.setsockopt, TCP, 45, I.pack(1)) == C.EINVAL              # TCP_RTO_MIN_US
    s.setsockopt(TCP, 45, I.pack(50001))          # rounded up to whole ticks
    assert geti(s, TCP, 45) == -(-50001 * C.HZ // 1000000) * (1000000 // C.HZ)


def test_udp_options(stack: NetStack) -> None:
    s = stack.socket(C.AF_INET, C.SOCK_DGRAM, 0)
    assert err(s.setsockopt, UDP, 99, b"\x01") == C.EINVAL       # ints first, then the name
    assert err(s.setsockopt, UDP, 99, I.pack(1)) == C.ENOPROTOOPT
    s.setsockopt(UDP, 1, I.pack(5))                                       # UDP_CORK
    assert geti(s, UDP, 1) == 1
    assert err(s.setsockopt, UDP, 100, I.pack(1)) == C.ENOPROTOOPT        # UDP_ENCAP
    s.setsockopt(UDP, 100, I.pack(3))
    assert geti(s, UDP, 100) == 3
    assert err(s.setsockopt, UDP, 103, I.pack(70000)) == C.EINVAL         # UDP_SEGMENT
    assert err(s.setsockopt, UDP, 10, I.pack(8)) == C.ENOPROTOOPT         # UDP-Lite only
    assert geti(s, UDP, 10) == 0


def test_type_and_family_specific_answers(stack: NetStack) -> None:
    t = stack.socket(C.AF_INET6, C.SOCK_STREAM, 0)
    u = stack.socket(C.AF_INET6, C.SOCK_DGRAM, 0)
    assert err(t.setsockopt, IP, 32, I.pack(0)) == C.EINVAL   # IP_MULTICAST_IF on TCP
    u.setsockopt(IP, 25, I.pack(1))
    assert geti(u, IP, 25) == 1
    assert err(t.setsockopt, IP, 25, I.pack(1)) == C.EINVAL   # IP_RECVFRAGSIZE on TCP
    t.setsockopt(IP6, 67, I.pack(0xFF))                        # IPV6_TCLASS: TCP keeps ECN
    u.setsockopt(IP6, 67, I.pack(0xFF))
    assert geti(t, IP6, 67) == 0xFC and geti(u, IP6, 67) == 0xFF
    assert geti(t, IP, 49) == 0 and geti(u, IP, 49) == 0       # IP_MULTICAST_ALL: v6 off
    assert geti(stack.socket(C.AF_INET, C.SOCK_STREAM, 0), IP, 49) == 1
    assert err(u.getsockopt, SOL_SOCKET, 74, 4) == C.EOPNOTSUPP  # SO_TXREHASH: TCP only
    assert geti(t, SOL_SOCKET, 74) == 1
    # IPV6_XFRM_POLICY is the IPv6 socket's own, IP_XFRM_POLICY the IPv4 one's
    assert err(t.setsockopt, IP, 17, I.pack(1)) == C.EOPNOTSUPP
    assert err(stack.socket(C.AF_INET, C.SOCK_STREAM, 0).setsockopt, IP, 17,
               I.pack(1)) == C.EINVAL
    # IPV6_ADDR_PREFERENCES: PREFER_SRC_TMP replaces the default public/temporary choice
    assert geti(t, IP6, 72) == 0x500
    t.setsockopt(IP6, 72, I.pack(1))
    assert geti(t, IP6, 72) == 0x401
    assert err(t.setsockopt, IP6, 72, I.pack(3)) == C.EINVAL


def test_connection_state_options(stack: NetStack, clock: VirtualClock) -> None:
    _lst, cli, _srv = tcp_pair(stack, clock, C.AF_INET6)
    fresh = stack.socket(C.AF_INET6, C.SOCK_STREAM, 0)
    assert err(fresh.getsockopt, IP, 14, 4) == C.ENOTCONN     # IP_MTU
    assert err(fresh.getsockopt, IP6, 1, 4) == C.ENOTCONN     # IPV6_ADDRFORM
    assert err(fresh.getsockopt, SOL_SOCKET, 28, 28) == C.ENOTCONN  # SO_PEERNAME
    assert geti(cli, IP6, 24) == stack.interfaces[0].mtu      # IPV6_MTU: the path's
    assert geti(cli, IP6, 1) == C.AF_INET6
    name = cli.getsockopt(SOL_SOCKET, 28, 28)
    assert name[:2] == struct.pack("H", C.AF_INET6) and name[2:4] == (5001).to_bytes(2, "big")
    assert err(cli.getsockopt, SOL_SOCKET, 28, 64) == C.EINVAL  # longer than the address
    assert geti(cli, IP, 52) == cli.getsockname()[1]          # IP_PROTOCOL: inet_num

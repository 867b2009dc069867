from __future__ import annotations

import struct

import pytest

from rocketnet import constants as C
from rocketnet.lab import VirtualClock, tcp_pair
from rocketnet.socket import SocketError
from rocketnet.sockopt.tcp import TCP_INFO_SIZE
from rocketnet.stack import NetStack

I = struct.Struct("i")  # noqa: E741


def err(f, *a) -> int:
    with pytest.raises(SocketError) as e:
        f(*a)
    return e.value.errno


def test_socket_errors(stack: NetStack) -> None:
    assert err(stack.socket, C.AF_UNIX, C.SOCK_STREAM, 0) == C.EAFNOSUPPORT
    assert err(stack.socket, 99, C.SOCK_STREAM, 0) == C.EAFNOSUPPORT
    assert err(stack.socket, C.AF_INET, 99, 0) == C.EINVAL
    assert err(stack.socket, C.AF_INET, C.SOCK_SEQPACKET, 0) == C.ESOCKTNOSUPPORT
    assert err(stack.socket, C.AF_INET, C.SOCK_STREAM, C.IPPROTO_UDP) == C.EPROTONOSUPPORT
    s = stack.socket(C.AF_INET6, C.SOCK_STREAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 6)
    assert s.nonblock and s.cloexec and s.type == C.SOCK_STREAM


def test_unbound_names(stack: NetStack) -> None:
    s4 = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    s6 = stack.socket(C.AF_INET6, C.SOCK_STREAM, 0)
    assert s4.getsockname() == ("0.0.0.0", 0)
    assert s6.getsockname() == ("::", 0, 0, 0)
    assert err(s4.getpeername) == C.ENOTCONN
    assert err(s4.recv, 10) == C.ENOTCONN
    assert err(s4.send, b"x") == C.EPIPE  # Linux: EPIPE on a never-connected socket
    assert err(s4.shutdown_write, 0.0) == C.ENOTCONN


def test_bind_errors(stack: NetStack) -> None:
    a = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    a.bind(("127.0.0.1", 5100))
    assert a.getsockname() == ("127.0.0.1", 5100)
    assert err(a.bind, ("127.0.0.1", 5101)) == C.EINVAL  # already bound
    b = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    assert err(b.bind, ("127.0.0.1", 5100)) == C.EADDRINUSE
    assert err(b.bind, ("0.0.0.0", 5100)) == C.EADDRINUSE
    assert err(b.bind, ("10.1.2.3", 0)) == C.EADDRNOTAVAIL
    assert err(b.bind, ("::1", 0)) == C.EAFNOSUPPORT
    assert err(b.bind, ("nonsense", 0)) == C.EINVAL
    b.bind(("127.0.0.2", 5100))  # 127/8 is local, a different address is no conflict
    c = stack.socket(C.AF_INET6, C.SOCK_STREAM, 0)
    assert err(c.bind, ("::2", 0)) == C.EADDRNOTAVAIL
    assert err(c.bind, ("::", 5100)) == C.EADDRINUSE  # dual stack covers IPv4
    c.setsockopt(C.IPPROTO_IPV6, C.IPV6_V6ONLY, I.pack(1))
    c.bind(("::", 5100))
    assert err(c.setsockopt, C.IPPROTO_IPV6, C.IPV6_V6ONLY, I.pack(0)) == C.EINVAL
    d = stack.socket(C.AF_INET6, C.SOCK_STREAM, 0)
    d.setsockopt(C.IPPROTO_IPV6, C.IPV6_V6ONLY, I.pack(1))
    assert err(d.bind, ("::ffff:127.0.0.1", 0)) == C.EINVAL
    e = stack.socket(C.AF_INET6, C.SOCK_STREAM, 0)
    e.bind(("::ffff:127.0.0.1", 0))
    assert e.getsockname()[0] == "::ffff:127.0.0.1"


def test_reuseaddr(stack: NetStack, clock: VirtualClock) -> None:
    a = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    b = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    for s in (a, b):
        s.setsockopt(C.SOL_SOCKET, C.SO_REUSEADDR, I.pack(1))
    a.bind(("127.0.0.1", 5200))
    b.bind(("127.0.0.1", 5200))  # both reuse, neither listening: allowed
    a.listen(1)
    assert err(b.listen, 1) == C.EADDRINUSE
    c = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    c.setsockopt(C.SOL_SOCKET, C.SO_REUSEADDR, I.pack(1))
    assert err(c.bind, ("127.0.0.1", 5200)) == C.EADDRINUSE  # over a listener


def test_reuseport_listeners(stack: NetStack) -> None:
    a = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    b = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    for s in (a, b):
        s.setsockopt(C.SOL_SOCKET, C.SO_REUSEPORT, I.pack(1))
        s.bind(("127.0.0.1", 5201))
        s.listen(4)


def test_time_wait_blocks_bind_unless_both_have_reuseaddr(clock: VirtualClock) -> None:
    stack = NetStack(seed=4)
    lst, cli, srv = tcp_pair(stack, clock, port=5300)
    srv.close(clock.now)  # server closes first: server port in TIME_WAIT
    clock.step(stack)
    cli.close(clock.now)
    clock.step(stack)
    lst.close(clock.now)
    assert srv.state == "TIME_WAIT"
    n = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    assert err(n.bind, ("127.0.0.1", 5300)) == C.EADDRINUSE
    n.setsockopt(C.SOL_SOCKET, C.SO_REUSEADDR, I.pack(1))
    # as Linux: the TIME_WAIT socket keeps its own SO_REUSEADDR (from the listener:
    # none), and both need it
    assert err(n.bind, ("127.0.0.1", 5300)) == C.EADDRINUSE
    clock.step(stack, 61.0)
    assert srv.state == "CLOSED"
    n.bind(("127.0.0.1", 5300))
    # a listener with SO_REUSEADDR: its connections' TIME_WAIT let the port be bound
    n.setsockopt(C.SOL_SOCKET, C.SO_REUSEADDR, I.pack(1))
    n.listen(1)
    cli = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    cli.connect(("127.0.0.1", 5300), clock.now)
    clock.step(stack)
    srv = n.accept()
    assert srv is not None
    srv.close(clock.now)
    clock.step(stack)
    cli.close(clock.now)
    clock.step(stack)
    n.close(clock.now)
    assert srv.state == "TIME_WAIT"
    again = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    assert err(again.bind, ("127.0.0.1", 5300)) == C.EADDRINUSE
    again.setsockopt(C.SOL_SOCKET, C.SO_REUSEADDR, I.pack(1))
    again.bind(("127.0.0.1", 5300))
    again.listen(1)


def test_listen_and_accept_errors(stack: NetStack, clock: VirtualClock) -> None:
    s = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    assert err(s.accept) == C.EINVAL
    s.listen(3)  # auto-bind
    assert s.getsockname()[0] == "0.0.0.0" and 32768 <= s.getsockname()[1] <= 60999
    assert err(s.connect, ("127.0.0.1", 80), 0.0) == C.EISCONN  # as Linux
    _, cli, _srv = tcp_pair(stack, clock)
    assert err(cli.listen, 1) == C.EINVAL


def test_connect_errors(stack: NetStack, clock: VirtualClock) -> None:
    s = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    assert err(s.connect, ("10.0.0.1", 80), 0.0) == C.ENETUNREACH
    assert err(s.connect, ("::1", 80), 0.0) == C.EAFNOSUPPORT
    s6 = stack.socket(C.AF_INET6, C.SOCK_STREAM, 0)
    s6.setsockopt(C.IPPROTO_IPV6, C.IPV6_V6ONLY, I.pack(1))
    assert err(s6.connect, ("::ffff:127.0.0.1", 80), 0.0) == C.ENETUNREACH


def test_connect_any_means_loopback(stack: NetStack, clock: VirtualClock) -> None:
    lst = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    lst.bind(("0.0.0.0", 5400))
    lst.listen(2)
    c = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    c.connect(("0.0.0.0", 5400), clock.now)
    clock.step(stack)
    assert c.getpeername() == ("127.0.0.1", 5400)
    c2 = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    c2.connect(("127.0.0.9", 5400), clock.now)
    clock.step(stack)
    assert c2.getsockname()[0] == "127.0.0.1"  # Linux picks 127.0.0.1 as source
    a = lst.accept()
    assert a is not None


def test_int_options(stack: NetStack) -> None:
    s = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    g = lambda lv, o: I.unpack(s.getsockopt(lv, o, 4))[0]  # noqa: E731
    assert g(C.SOL_SOCKET, C.SO_SNDBUF) == 16384
    assert g(C.SOL_SOCKET, C.SO_RCVBUF) == 131072
    assert g(C.SOL_SOCKET, C.SO_TYPE) == C.SOCK_STREAM
    assert g(C.SOL_SOCKET, C.SO_DOMAIN) == C.AF_INET
    assert g(C.SOL_SOCKET, C.SO_PROTOCOL) == C.IPPROTO_TCP
    assert g(C.SOL_SOCKET, C.SO_ACCEPTCONN) == 0
    assert g(C.SOL_SOCKET, C.SO_RCVLOWAT) == 1
    assert g(C.IPPROTO_TCP, C.TCP_MAXSEG) == 536
    assert g(C.IPPROTO_TCP, C.TCP_KEEPIDLE) == 7200
    assert g(C.IPPROTO_TCP, C.TCP_KEEPINTVL) == 75
    assert g(C.IPPROTO_TCP, C.TCP_KEEPCNT) == 9
    assert g(C.IPPROTO_IP, C.IP_TTL) == 64
    # Linux doubling and clamping (values checked on Linux 6.18)
    for v, snd, rcv in [(0, 4608, 2304), (2304, 4608, 4608), (4608, 9216, 9216),
                        (100000, 200000, 200000), (10**7, 8388608, 8388608)]:
        s.setsockopt(C.SOL_SOCKET, C.SO_SNDBUF, I.pack(v))
        s.setsockopt(C.SOL_SOCKET, C.SO_RCVBUF, I.pack(v))
        assert (g(C.SOL_SOCKET, C.SO_SNDBUF), g(C.SOL_SOCKET, C.SO_RCVBUF)) == (snd, rcv)
    s.setsockopt(C.SOL_SOCKET, C.SO_REUSEADDR, I.pack(5))
    assert g(C.SOL_SOCKET, C.SO_REUSEADDR) == 1
    assert s.getsockopt(C.SOL_SOCKET, C.SO_REUSEADDR, 2) == b"\x01\x00"
    assert s.getsockopt(C.SOL_SOCKET, C.SO_REUSEADDR, 8) == I.pack(1)
    assert err(s.setsockopt, C.SOL_SOCKET, C.SO_REUSEADDR, b"\x01\x00") == C.EINVAL
    assert err(s.getsockopt, C.SOL_SOCKET, C.SO_REUSEADDR, -1) == C.EINVAL
    assert err(s.getsockopt, C.SOL_SOCKET, 9999, 4) == C.ENOPROTOOPT
    assert err(s.setsockopt, C.SOL_SOCKET, C.SO_TYPE, I.pack(1)) == C.ENOPROTOOPT
    assert err(s.setsockopt, C.IPPROTO_IPV6, C.IPV6_V6ONLY, I.pack(1)) == C.ENOPROTOOPT
    assert err(s.getsockopt, C.IPPROTO_IPV6, C.IPV6_V6ONLY, 4) == C.EOPNOTSUPP
    s.setsockopt(C.IPPROTO_IP, C.IP_TOS, I.pack(0xFF))
    assert g(C.IPPROTO_IP, C.IP_TOS) == 0xFC
    assert err(s.setsockopt, C.IPPROTO_IP, C.IP_TTL, I.pack(0)) == C.EINVAL
    s.setsockopt(C.IPPROTO_IP, C.IP_TTL, I.pack(-1))
    assert g(C.IPPROTO_IP, C.IP_TTL) == 64
    assert err(s.setsockopt, C.IPPROTO_TCP, C.TCP_MAXSEG, I.pack(50)) == C.EINVAL
    s.setsockopt(C.IPPROTO_TCP, C.TCP_MAXSEG, I.pack(1000))
    assert g(C.IPPROTO_TCP, C.TCP_MAXSEG) == 1000
    assert err(s.setsockopt, C.IPPROTO_TCP, C.TCP_KEEPCNT, I.pack(200)) == C.EINVAL
    s.setsockopt(C.SOL_SOCKET, C.SO_RCVLOWAT, I.pack(-1))
    assert g(C.SOL_SOCKET, C.SO_RCVLOWAT) == 16777216
    s.setsockopt(C.IPPROTO_TCP, C.TCP_NODELAY, I.pack(7))
    assert g(C.IPPROTO_TCP, C.TCP_NODELAY) == 1


def test_linger_and_congestion(stack: NetStack) -> None:
    s = stack.socket(C.AF_INET6, C.SOCK_STREAM, 0)
    assert s.getsockopt(C.SOL_SOCKET, C.SO_LINGER, 8) == b"\0" * 8
    s.setsockopt(C.SOL_SOCKET, C.SO_LINGER, struct.pack("ii", 1, 5))
    assert s.getsockopt(C.SOL_SOCKET, C.SO_LINGER, 8) == struct.pack("ii", 1, 5)
    assert err(s.setsockopt, C.SOL_SOCKET, C.SO_LINGER, I.pack(1)) == C.EINVAL
    assert s.getsockopt(C.IPPROTO_TCP, C.TCP_CONGESTION, 16) == b"cubic" + b"\0" * 11
    assert s.getsockopt(C.IPPROTO_TCP, C.TCP_CONGESTION, 3) == b"cub"
    s.setsockopt(C.IPPROTO_TCP, C.TCP_CONGESTION, b"reno")
    assert s.getsockopt(C.IPPROTO_TCP, C.TCP_CONGESTION, 20) == b"reno" + b"\0" * 12
    assert err(s.setsockopt, C.IPPROTO_TCP, C.TCP_CONGESTION, b"nosuch") == C.ENOENT
    assert I.unpack(s.getsockopt(C.IPPROTO_IPV6, C.IPV6_V6ONLY, 4))[0] == 0
    assert I.unpack(s.getsockopt(C.IPPROTO_IPV6, C.IPV6_UNICAST_HOPS, 4))[0] == 64


def test_so_error_and_acceptconn(stack: NetStack, clock: VirtualClock) -> None:
    c = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    c.connect(("127.0.0.1", 3), clock.now)
    clock.step(stack)
    assert I.unpack(c.getsockopt(C.SOL_SOCKET, C.SO_ERROR, 4))[0] == C.ECONNREFUSED
    assert I.unpack(c.getsockopt(C.SOL_SOCKET, C.SO_ERROR, 4))[0] == 0
    lst = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    lst.listen(1)
    assert I.unpack(lst.getsockopt(C.SOL_SOCKET, C.SO_ACCEPTCONN, 4))[0] == 1


def test_tcp_info(stack: NetStack, clock: VirtualClock) -> None:
    assert TCP_INFO_SIZE == 280  # Linux 6.18
    _, cli, srv = tcp_pair(stack, clock)
    cli.send(b"x" * 100000)
    clock.step(stack)
    srv.recv(1 << 20)
    clock.step(stack)
    info = cli.getsockopt(C.IPPROTO_TCP, C.TCP_INFO, 1000)
    assert len(info) == 280
    assert len(cli.getsockopt(C.IPPROTO_TCP, C.TCP_INFO, 100)) == 100
    state, ca, retrans, probes, backoff, opts, wscale = struct.unpack_from("7B", info)
    assert state == 1  # TCP_ESTABLISHED
    assert opts == 7  # TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE, as Linux on lo
    assert wscale == 0x77
    rto, ato, snd_mss, rcv_mss = struct.unpack_from("=4I", info, 8)
    assert rto >= 200000
    assert snd_mss == 65483  # Linux lo advmss for IPv4 less the timestamp option
    rtt, rttvar, ssthresh, cwnd = struct.unpack_from("=4I", info, 68)
    assert cwnd >= 10
    bytes_acked, bytes_received = struct.unpack_from("=2Q", info, 120)
    assert bytes_acked == 100000 and bytes_received == 0
    segs_out, segs_in = struct.unpack_from("=2I", info, 136)
    assert segs_out >= 3 and segs_in >= 2
    total_retrans = struct.unpack_from("=I", info, 100)[0]
    assert total_retrans == 0
    info_srv = srv.getsockopt(C.IPPROTO_TCP, C.TCP_INFO, 280)
    assert struct.unpack_from("=Q", info_srv, 128)[0] == 100000  # bytes_received
    assert I.unpack(cli.getsockopt(C.IPPROTO_TCP, C.TCP_MAXSEG, 4))[0] == 65483


def test_maxseg_is_bounded_by_half_the_peers_largest_window(
    stack: NetStack, clock: VirtualClock
) -> None:
    """TCP_MAXSEG and TCP_INFO's snd_mss report Linux's mss_cache: the MSS bounded to
    half the largest window the peer offered (tcp_bound_to_half_wnd), so a loopback
    client reads about 32 KiB right after the handshake (the SYN-ACK's window is at
    most 65535) and the full MSS once the peer's scaled window has opened."""
    _, cli, srv = tcp_pair(stack, clock)
    t = cli.inner
    assert t.max_snd_wnd <= 0xFFFF
    early = I.unpack(cli.getsockopt(C.IPPROTO_TCP, C.TCP_MAXSEG, 4))[0]
    assert early == t.max_snd_wnd >> 1 < t.mss
    info = cli.getsockopt(C.IPPROTO_TCP, C.TCP_INFO, 280)
    assert struct.unpack_from("=I", info, 16)[0] == early  # tcpi_snd_mss
    srv.send(b"y" * 10000)
    clock.step(stack)
    cli.recv(1 << 20)
    clock.step(stack)
    cli.send(b"x" * 200000)
    for _ in range(20):
        clock.step(stack)
        srv.recv(1 << 20)
    assert t.max_snd_wnd >= 2 * t.mss
    assert I.unpack(cli.getsockopt(C.IPPROTO_TCP, C.TCP_MAXSEG, 4))[0] == t.mss == 65483


def test_tcp_info_of_a_listener(stack: NetStack) -> None:
    """Linux's tcp_get_info stops early for a listener: cwnd, reordering and the accept
    queue (unacked) and its limit (sacked); rto, mss and the rest are 0."""
    lst = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    lst.bind(("127.0.0.1", 5000))
    lst.listen(7)
    info = lst.getsockopt(C.IPPROTO_TCP, C.TCP_INFO, 280)
    assert info[0] == 10                                        # TCP_LISTEN
    rto, ato, snd_mss, rcv_mss, unacked, sacked = struct.unpack_from("=6I", info, 8)
    assert (rto, ato, snd_mss, rcv_mss, unacked, sacked) == (0, 0, 0, 0, 0, 7)
    rtt, rttvar, ssthresh, cwnd = struct.unpack_from("=4I", info, 68)
    assert (rtt, rttvar, ssthresh, cwnd) == (0, 0, 0, 10)


def test_v6_mss(stack: NetStack, clock: VirtualClock) -> None:
    _, cli, _srv = tcp_pair(stack, clock, C.AF_INET6)
    # ::1 advmss 65476 less the timestamp option; TCP_MAXSEG bounded to half the
    # SYN-ACK's window until the peer's window opens
    assert cli.inner.mss == 65476 - 12
    assert I.unpack(cli.getsockopt(C.IPPROTO_TCP, C.TCP_MAXSEG, 4))[0] == (
        cli.inner.max_snd_wnd >> 1)


def test_events(stack: NetStack, clock: VirtualClock) -> None:
    lst = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    lst.bind(("127.0.0.1", 5500))
    lst.listen(2)
    stack.take_events()
    c = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    c.connect(("127.0.0.1", 5500), clock.now)
    clock.step(stack)
    ev = stack.take_events()
    assert lst in ev and c in ev
    assert stack.take_events() == set()
    a = lst.accept()
    assert a is not None
    c.send(b"data")
    clock.step(stack)
    assert a in stack.take_events()


def test_ephemeral_ports_parity_and_exhaustion(clock: VirtualClock) -> None:
    """bind(0) takes ports of the other parity than the range's low end first,
    connect() those of its parity (Linux); a full range gives EADDRINUSE to bind(0)
    and EADDRNOTAVAIL to connect(), also when IP_LOCAL_PORT_RANGE narrows it."""
    from rocketnet.transport import TcpConfig

    cfg = TcpConfig()
    cfg.ephemeral = (40000, 40003)
    stack = NetStack(seed=5, config=cfg)
    lst = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    lst.bind(("127.0.0.1", 5000))
    lst.listen(8)
    b = [stack.socket(C.AF_INET, C.SOCK_STREAM, 0) for _ in range(2)]
    for s in b:
        s.bind(("127.0.0.1", 0))
    assert sorted(s.getsockname()[1] for s in b) == [40001, 40003]  # odd first
    c = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    c.connect(("127.0.0.1", 5000), clock.now)
    assert c.getsockname()[1] in (40000, 40002)
    last = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    last.bind(("127.0.0.1", 0))
    full = stack.socket(C.AF_INET, C.SOCK_STREAM, 0)
    assert err(full.bind, ("127.0.0.1", 0)) == C.EADDRINUSE
    assert err(full.connect, ("127.0.0.1", 5000), clock.now) == C.EADDRNOTAVAIL
    # a per-socket range inside the host's: only its ports
    stack2 = NetStack(seed=5)
    R = struct.pack("I", 50000 | 50000 << 16)  # noqa: N806
    r = stack2.socket(C.AF_INET, C.SOCK_STREAM, 0)
    r.setsockopt(C.IPPROTO_IP, C.IP_LOCAL_PORT_RANGE, R)
    assert r.getsockopt(C.IPPROTO_IP, C.IP_LOCAL_PORT_RANGE) == R
    r.bind(("127.0.0.1", 0))
    assert r.getsockname()[1] == 50000
    r2 = stack2.socket(C.AF_INET, C.SOCK_STREAM, 0)
    r2.setsockopt(C.IPPROTO_IP, C.IP_LOCAL_PORT_RANGE, R)
    assert err(r2.bind, ("127.0.0.1", 0)) == C.EADDRINUSE
    assert err(r2.setsockopt, C.IPPROTO_IP, C.IP_LOCAL_PORT_RANGE, b"\0\0") == C.EINVAL
    assert err(r2.setsockopt, C.IPPROTO_IP, C.IP_LOCAL_PORT_RANGE,
               struct.pack("I", 9 | 8 << 16)) == C.EINVAL

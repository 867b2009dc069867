"""The kernel profile (rocketnet.profile): a stack built with a profile answers as
that kernel where its answers differ from the model; the default profile is the model."""
from __future__ import annotations

import errno
import socket

import pytest

from rocketnet.profile import (
    INT_MAX,
    INT_MIN,
    PROBE_VALUES,
    KernelProfile,
    OptionAnswer,
    ValueAnswer,
)
from rocketnet.socket import SocketError
from rocketnet.stack import NetStack

V6, TCP = socket.AF_INET6, socket.IPPROTO_TCP
IPV6_ADDRFORM = 1
SO_TXREHASH = 74


def _err(call, *args) -> int:  # type: ignore[no-untyped-def]
    try:
        call(*args)
    except SocketError as e:
        return e.errno
    return 0


def _connected_pair(stack: NetStack):  # type: ignore[no-untyped-def]
    lst = stack.socket(V6, socket.SOCK_STREAM)
    lst.bind(("::1", 0))
    lst.listen(4)
    c = stack.socket(V6, socket.SOCK_STREAM)
    c.connect(("::1", lst.getsockname()[1]), 0.0)
    stack.poll(0.0)
    s = lst.accept()
    assert c.state == "ESTABLISHED" and s is not None
    return c, s


@pytest.mark.parametrize("refuse", [0, errno.EINVAL])
def test_listen_after_a_connection_follows_the_profile(refuse):
    stack = NetStack(seed=1, profile=KernelProfile(listen_after_connect=refuse))
    c, s = _connected_pair(stack)
    for sk in (c.renewed(), s.renewed()):      # disconnected, usable again (AF_UNSPEC)
        assert _err(sk.listen, 1) == refuse
    fresh = stack.socket(V6, socket.SOCK_STREAM)
    assert _err(fresh.listen, 1) == 0          # a socket that never connected may listen


def test_default_profile_is_the_model():
    stack = NetStack(seed=1)
    c, _ = _connected_pair(stack)
    # the model has IPV6_ADDRFORM: a v6 peer is not v4-mapped
    assert _err(c.setsockopt, socket.IPPROTO_IPV6, IPV6_ADDRFORM, socket.AF_INET) == \
        errno.EADDRNOTAVAIL


def test_refused_option_answers_as_the_kernel():
    prof = KernelProfile(options={(V6, TCP, socket.IPPROTO_IPV6, IPV6_ADDRFORM):
                                  OptionAnswer(set_err=errno.ENOPROTOOPT)})
    stack = NetStack(seed=1, profile=prof)
    c, _ = _connected_pair(stack)
    assert _err(c.setsockopt, socket.IPPROTO_IPV6, IPV6_ADDRFORM, socket.AF_INET) == \
        errno.ENOPROTOOPT
    assert _err(c.setsockopt, socket.IPPROTO_IPV6, IPV6_ADDRFORM, b"\x02\x00") == \
        errno.ENOPROTOOPT                      # IPv6 level: no int-size check first


def test_refused_option_keeps_the_int_size_check_first():
    key = (V6, TCP, socket.SOL_SOCKET, socket.SO_KEEPALIVE)
    stack = NetStack(seed=1, profile=KernelProfile(options={
        key: OptionAnswer(get_err=errno.EOPNOTSUPP, set_err=errno.EOPNOTSUPP)}))
    s = stack.socket(V6, socket.SOCK_STREAM)
    assert _err(s.setsockopt, socket.SOL_SOCKET, socket.SO_KEEPALIVE, b"\x01") == errno.EINVAL
    assert _err(s.setsockopt, socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1) == errno.EOPNOTSUPP
    assert _err(s.getsockopt, socket.SOL_SOCKET, socket.SO_KEEPALIVE, 4) == errno.EOPNOTSUPP


def _int(b: bytes) -> int:
    return int.from_bytes(b, "little", signed=True)


def _pack(v: int) -> bytes:
    return v.to_bytes(4, "little", signed=True)


def test_option_the_model_lacks_answers_as_the_kernel():
    """Assumed profile: an int option the model does not know, read as -1 on a fresh
    socket, that takes 5 (read back as 1) and 0 (read back as 0) and refuses 255."""
    unknown = 120                               # no option of the model's SOL_SOCKET
    stack = NetStack(seed=1, profile=KernelProfile(options={
        (V6, TCP, socket.SOL_SOCKET, unknown): OptionAnswer(default=-1, values={
            0: ValueAnswer(0, None), 5: ValueAnswer(0, 1),
            255: ValueAnswer(errno.EINVAL, None)})}))
    s = stack.socket(V6, socket.SOCK_STREAM)
    assert _int(s.getsockopt(socket.SOL_SOCKET, unknown, 4)) == -1
    s.setsockopt(socket.SOL_SOCKET, unknown, _pack(5))
    assert _int(s.getsockopt(socket.SOL_SOCKET, unknown, 4)) == 1
    s.setsockopt(socket.SOL_SOCKET, unknown, _pack(0))
    assert _int(s.getsockopt(socket.SOL_SOCKET, unknown, 4)) == 0
    assert _err(s.setsockopt, socket.SOL_SOCKET, unknown, _pack(255)) == errno.EINVAL
    # 7 lies between 5 and 255, which the kernel answers differently: the model answers
    assert _err(s.setsockopt, socket.SOL_SOCKET, unknown, _pack(7)) == errno.ENOPROTOOPT
    assert _err(s.setsockopt, socket.SOL_SOCKET, unknown, b"\x05") == errno.EINVAL
    other = stack.socket(socket.AF_INET, socket.SOCK_STREAM)    # another kind: the model
    assert _err(other.getsockopt, socket.SOL_SOCKET, unknown, 4) == errno.ENOPROTOOPT


def test_window_clamp_of_minus_one_kept_as_linux_6_1_keeps_it():
    """Assumed profile: Linux 6.1's TCP_WINDOW_CLAMP, which keeps a negative value as it
    is (later kernels, the model, raise it to SOCK_MIN_RCVBUF / 2)."""
    taken = ValueAnswer(0, None)
    stack = NetStack(seed=1, profile=KernelProfile(options={
        (V6, TCP, TCP, socket.TCP_WINDOW_CLAMP): OptionAnswer(values={
            INT_MIN: taken, -2: taken, -1: taken})}))
    s = stack.socket(V6, socket.SOCK_STREAM)
    for v in (-1, -1000, INT_MIN):              # -1000: between two probed values alike
        s.setsockopt(TCP, socket.TCP_WINDOW_CLAMP, _pack(v))
        assert _int(s.getsockopt(TCP, socket.TCP_WINDOW_CLAMP, 4)) == v
    s.setsockopt(TCP, socket.TCP_WINDOW_CLAMP, _pack(2))       # the model's clamp again
    assert _int(s.getsockopt(TCP, socket.TCP_WINDOW_CLAMP, 4)) == 1152
    assert _int(stack.socket(socket.AF_INET, socket.SOCK_STREAM).getsockopt(
        TCP, socket.TCP_WINDOW_CLAMP, 4)) == 0


def test_txrehash_on_udp_as_linux_6_1_answers_it():
    """Assumed profile: Linux 6.1's SO_TXREHASH on a UDP socket, taken in -1..1 (-1
    reads net.core.txrehash, 1) and EINVAL outside; the model (6.18) refuses it on
    anything but TCP with EOPNOTSUPP."""
    bad = ValueAnswer(errno.EINVAL, None)
    values = {v: bad for v in PROBE_VALUES}
    values.update({-1: ValueAnswer(0, 1), 0: ValueAnswer(0, None), 1: ValueAnswer(0, None)})
    key = (V6, socket.IPPROTO_UDP, socket.SOL_SOCKET, SO_TXREHASH)
    stack = NetStack(seed=1, profile=KernelProfile(options={
        key: OptionAnswer(default=1, values=values)}))
    u = stack.socket(V6, socket.SOCK_DGRAM)
    assert _int(u.getsockopt(socket.SOL_SOCKET, SO_TXREHASH, 4)) == 1
    for v, back in ((-1, 1), (0, 0), (1, 1)):
        u.setsockopt(socket.SOL_SOCKET, SO_TXREHASH, _pack(v))
        assert _int(u.getsockopt(socket.SOL_SOCKET, SO_TXREHASH, 4)) == back
    for v in (2, 4, 70000, -7, INT_MAX):
        assert _err(u.setsockopt, socket.SOL_SOCKET, SO_TXREHASH, _pack(v)) == errno.EINVAL
    # eight bytes: SOL_SOCKET reads the int at their start
    u.setsockopt(socket.SOL_SOCKET, SO_TXREHASH, _pack(0) + bytes(4))
    assert _int(u.getsockopt(socket.SOL_SOCKET, SO_TXREHASH, 4)) == 0
    v4 = stack.socket(socket.AF_INET, socket.SOCK_DGRAM)        # not in the profile
    assert _err(v4.setsockopt, socket.SOL_SOCKET, SO_TXREHASH, _pack(1)) == errno.EOPNOTSUPP


def test_sysctls_of_the_profile_size_buffers_and_tcp_info():
    prof = KernelProfile(wmem_max=212992, rmem_max=212992, tcp_wmem=(4096, 16384, 4194304),
                         tcp_rmem=(4096, 87380, 6291456), wmem_default=65536,
                         rmem_default=65536, tcp_info_len=232)
    stack = NetStack(seed=1, profile=prof)
    s = stack.socket(V6, socket.SOCK_STREAM)
    as_int = int.from_bytes
    assert as_int(s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4), "little") == 87380
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    assert as_int(s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4), "little") == 2 * 212992
    assert len(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 512)) == 232
    u = stack.socket(V6, socket.SOCK_DGRAM)
    assert as_int(u.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4), "little") == 65536

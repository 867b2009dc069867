"""IP_RECVERR / IPV6_RECVERR: ICMP port unreachable queued on the error queue of an
unconnected UDP socket, as Linux (ip_icmp_error / ip_recv_error)."""
from __future__ import annotations

import errno
import struct

from rocketnet import constants as C

IP_RECVERR, IPV6_RECVERR = 11, 25


def test_port_unreachable_is_queued_with_recverr(stack):
    s = stack.socket(C.AF_INET, C.SOCK_DGRAM, 0)
    s.setsockopt(C.IPPROTO_IP, IP_RECVERR, struct.pack("=i", 1))
    s.sendto(b"hello", ("127.0.0.1", 9))
    stack.poll(0.0)
    e = s.recv_error()
    assert e is not None
    assert (e.data, e.addr, e.port) == (b"hello", b"\x7f\x00\x00\x01", 9)
    assert (e.errno, e.origin, e.type, e.code) == (errno.ECONNREFUSED, 2, 3, 3)
    assert e.offender == b"\x7f\x00\x00\x01"
    assert s.inner.error == 0                 # reading the queue clears the error
    assert s.recv_error() is None
    # a second error: the pending error is reported first, the entry stays queued
    s.sendto(b"again", ("127.0.0.1", 9))
    stack.poll(0.0)
    assert s.take_error() == errno.ECONNREFUSED
    assert s.recv_error().data == b"again"


def test_without_recverr_unconnected_socket_ignores_icmp(stack):
    s = stack.socket(C.AF_INET, C.SOCK_DGRAM, 0)
    s.sendto(b"x", ("127.0.0.1", 9))
    stack.poll(0.0)
    assert s.recv_error() is None and s.inner.error == 0


def test_ipv6_recverr(stack):
    s = stack.socket(C.AF_INET6, C.SOCK_DGRAM, 0)
    s.setsockopt(C.IPPROTO_IPV6, IPV6_RECVERR, struct.pack("=i", 1))
    s.sendto(b"six", ("::1", 9))
    stack.poll(0.0)
    e = s.recv_error()
    assert e is not None and e.data == b"six" and e.port == 9
    assert (e.errno, e.origin, e.type, e.code) == (errno.ECONNREFUSED, 3, 1, 4)
    # turning the option off purges the queue
    s.sendto(b"six", ("::1", 9))
    stack.poll(0.0)
    s.setsockopt(C.IPPROTO_IPV6, IPV6_RECVERR, struct.pack("=i", 0))
    assert s.recv_error() is None

"""The stack host answers as the running kernel where Linux versions differ: the
profile it probes at start, shown by `rocketnet host profile`."""
from __future__ import annotations

import errno
import fcntl
import os
import socket
import subprocess
import sys

import pytest

from rocketnet.profile import PROBE_VALUES, KernelProfile, OptionAnswer, ValueAnswer
from shim import kprofile
from tests.conftest import scaled

# listen() on sockets that once connected, and IPV6_ADDRFORM: both differ between
# Linux 6.12 and 6.18; the program prints what this kernel (or the stack) answers
PROGRAM = r"""
import errno, socket
def err(call, *a):
    try:
        call(*a)
        return "0"
    except OSError as e:
        return errno.errorcode[e.errno]
for fam, host in ((socket.AF_INET6, "::1"), (socket.AF_INET, "127.0.0.1")):
    holder = socket.socket(fam); holder.bind((host, 0))
    s = socket.socket(fam)
    print("connect", err(s.connect, holder.getsockname()), "listen", err(s.listen, 1))
    lst = socket.socket(fam); lst.bind((host, 0)); lst.listen(1)
    c = socket.create_connection(lst.getsockname()[:2]); a, _ = lst.accept()
    print("addrform", err(a.setsockopt, socket.IPPROTO_IPV6, 1, socket.AF_INET))
"""


def test_host_profile_names_the_running_kernel(rn):
    r = rn.run("host", "profile", check=True)
    assert f"kernel: {os.uname().release}" in r.stdout
    assert "listen() after a connection or a connect attempt:" in r.stdout


def test_program_sees_the_running_kernels_answers(rn):
    native = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True,
                            timeout=60)
    shimmed = rn.run("run", "--", sys.executable, "-c", PROGRAM)
    assert native.returncode == 0, native.stderr
    assert shimmed.stdout == native.stdout, shimmed.stderr


def test_host_profile_says_what_af_unix_does_with_a_byte_read_out_of_band(rn):
    """The stub makes up for AF_UNIX's MSG_OOB where it differs from TCP's (c_stub/
    urgent.c) only as the profile says: measured here on a socketpair of our own."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        try:
            a.send(b"u", socket.MSG_OOB)
        except OSError:
            expect = "AF_UNIX MSG_OOB: none"
        else:
            b.recv(1, socket.MSG_OOB)
            a.send(b"d")
            mark = fcntl.ioctl(b.fileno(), 0x8905, bytes(4))     # SIOCATMARK
            try:
                b.recv(1, socket.MSG_DONTWAIT)
                stall = ""
            except BlockingIOError:
                stall = "stalls the next non-blocking read once, "
            expect = ("AF_UNIX MSG_OOB: a byte read out of band " + stall
                      + ("is no mark (SIOCATMARK 0)" if mark == bytes(4) else "stays the mark"))
    r = rn.run("host", "profile", check=True)
    assert expect in r.stdout.splitlines()


TCLASS_PROGRAM = r"""
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::1", 0))
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVTCLASS, 1)
for tc in (-1, 0, 0x28):
    s.sendmsg([b"t"], [(socket.IPPROTO_IPV6, socket.IPV6_TCLASS,
                        tc.to_bytes(4, "little", signed=True))], 0, s.getsockname())
    _, anc, _, _ = s.recvmsg(1, 64)
    print(tc, [int.from_bytes(d[:4], "little") for _, t, d in anc if t == socket.IPV6_TCLASS])
"""


def test_traffic_class_of_minus_one_as_the_running_kernel(rn):
    """An IPV6_TCLASS control message of -1: the socket's class on 6.1, 0xff on 6.18
    (profile's tclass_cmsg_sock, told to the stub at HELLO)."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    native = subprocess.run([sys.executable, "-c", TCLASS_PROGRAM], capture_output=True,
                            text=True, timeout=60)
    assert native.returncode == 0, native.stderr
    shimmed = rn.run("run", "--", sys.executable, "-c", TCLASS_PROGRAM)
    assert shimmed.stdout == native.stdout, shimmed.stderr
    expect = ("the socket's class" if native.stdout.startswith("-1 [0]") else "class 0xff")
    assert f"IPV6_TCLASS control message of -1: {expect}" in \
        rn.run("host", "profile", check=True).stdout.splitlines()


# int options whose answers to some values differ between Linux versions (6.1 keeps
# TCP_WINDOW_CLAMP and TCP_TX_DELAY -1, takes SO_TXREHASH on UDP in -1..1 and UDP_ENCAP
# 1; 6.18 refuses TCP_TX_DELAY INT_MAX): every kind of socket, every probed value and
# values between them
VALUES_PROGRAM = r"""
import socket, sys
OPTS = ((socket.SOL_SOCKET, 74), (socket.IPPROTO_TCP, socket.TCP_WINDOW_CLAMP),
        (socket.IPPROTO_TCP, 37), (socket.IPPROTO_UDP, 100))
values = [int(v) for v in sys.argv[1:]]
for fam in (socket.AF_INET, socket.AF_INET6):
    for typ in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        for level, opt in OPTS:
            for v in values:
                with socket.socket(fam, typ) as s:
                    try:
                        s.setsockopt(level, opt, v)
                        got = int.from_bytes(s.getsockopt(level, opt, 4), "little",
                                             signed=True)
                    except OSError as e:
                        got = e.strerror
                print(fam, typ, level, opt, v, got)
"""


def test_int_option_values_answer_as_the_running_kernel(rn):
    """Each value of the options whose answers differ between Linux versions, natively
    and under the shim: the profile's per-value answers (shim/kprofile.py) make them
    the same on any kernel (sockopt_values compares them in the tools/vm guests)."""
    values = [str(v) for v in sorted({*PROBE_VALUES, -1000, 4, 7, 70000, 1 << 29})]
    native = subprocess.run([sys.executable, "-c", VALUES_PROGRAM, *values],
                            capture_output=True, text=True, timeout=scaled(60))
    assert native.returncode == 0, native.stderr
    shimmed = rn.run("run", "--", sys.executable, "-c", VALUES_PROGRAM, *values,
                     timeout=scaled(120))
    assert shimmed.returncode == 0, shimmed.stderr
    assert shimmed.stdout.splitlines() == native.stdout.splitlines()


def test_host_profile_shows_per_value_answers_as_ranges():
    """Assumed profile: Linux 6.1's SO_TXREHASH on UDP (taken in -1..1, -1 read back as
    net.core.txrehash 1, EINVAL outside); `rocketnet host profile` prints it so."""
    values = {v: ValueAnswer(errno.EINVAL, None) for v in PROBE_VALUES}
    values.update({-1: ValueAnswer(0, 1), 0: ValueAnswer(0, None), 1: ValueAnswer(0, None)})
    prof = KernelProfile(options={(socket.AF_INET, socket.IPPROTO_UDP, socket.SOL_SOCKET, 74):
                                  OptionAnswer(default=1, values=values)})
    assert ("  udp4 SOL_SOCKET 74: an int the model lacks (default 1); set -2147483648..-2: "
            "EINVAL; set -1: reads 1; set 0..1: reads it back; set 2..2147483647: EINVAL"
            ) in kprofile.describe(prof).splitlines()

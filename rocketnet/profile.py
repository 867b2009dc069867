"""KernelProfile: what the Linux kernel the stack imitates answers where kernel
versions differ.

The stack's own option table and protocol code follow one Linux; the kernel a program
runs on may be older or newer (options added, removed or restricted to some socket
kinds; a socket that once connected may or may not listen). The stack host probes the
running kernel once at start (shim/kprofile.py) and hands the answers to the stack as
this configuration. ``KernelProfile()`` (the default, used by in-process tests) changes
nothing: the stack answers as its own model.

How the stack uses an option's answers (``Socket.setsockopt`` / ``getsockopt``), kept
only where the kernel and the model answer a fresh socket differently:
- the kernel refuses the option on a fresh socket of that kind (ENOPROTOOPT or
  EOPNOTSUPP for a get, or for a set of both 0 and 1): the stack refuses it the same way,
  after the int-size check that Linux makes first at some levels;
- the kernel answers a set of some int values otherwise than the model (refuses one the
  model takes or the other way round, or reads back another value: 6.1 keeps
  TCP_WINDOW_CLAMP -1 where later kernels clamp it, takes SO_TXREHASH on UDP in -1..1
  only, and UDP_ENCAP 1): the probe sets every value of ``PROBE_VALUES`` (the edges of
  the int classes options check: sign, 0/1, byte, 15 and 16 bits, 2^24, 2^28, 2^30, the
  ends) and keeps the kernel's answer for each value where it differs; a value between
  two probed ones gets their answer where both have the same one, else the model's;
- an int option the model does not know: its get answers the kernel's default on a
  fresh socket until a set the kernel takes;
- otherwise the stack's model answers.
"""
from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from . import constants as C

# (family, protocol, level, optname)
OptionKey = tuple[int, int, int, int]
REFUSALS = (C.ENOPROTOOPT, C.EOPNOTSUPP)


# the int values a setsockopt probe sends: the edges of the classes Linux's checks make
INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1
PROBE_VALUES = (INT_MIN, -2, -1, 0, 1, 2, 3, 5, 255, 256, 1000, 32767, 32768, 65535, 65536,
                1 << 24, 1 << 28, 1 << 30, INT_MAX)


class ValueAnswer(NamedTuple):
    """The kernel's answer to a set of one int value on a fresh socket."""

    err: int                    # setsockopt's errno (0: taken)
    readback: int | None        # taken: the int read back, None if the value itself


@dataclass(frozen=True)
class OptionAnswer:
    """Where the kernel's answer for one option on a fresh socket of one kind differs
    from the stack's model (the probe keeps only such options)."""

    get_err: int = 0            # getsockopt refused with this errno (0: the model answers)
    set_err: int = 0            # setsockopt refused with this errno (0: the model answers)
    default: int | None = None  # not None: an int option the model lacks, read as this
    # value of PROBE_VALUES -> the kernel's answer, where it is not the model's
    values: Mapping[int, ValueAnswer] = field(default_factory=dict)

    def answer(self, v: int) -> tuple[int, int] | None:
        """(errno, value read back) of the kernel for a set of v, or None where the
        model answers: a probed value's own answer, or the one its two probed
        neighbours share."""
        got = self.values.get(v)
        if got is None and self.values and INT_MIN < v < INT_MAX:
            i = bisect.bisect(PROBE_VALUES, v)
            lo, hi = self.values.get(PROBE_VALUES[i - 1]), self.values.get(PROBE_VALUES[i])
            got = lo if lo is not None and lo == hi else None
        if got is None:
            return None
        return got.err, v if got.readback is None else got.readback


@dataclass(frozen=True)
class KernelProfile:
    """Answers probed from one kernel; the defaults are the stack's own model."""

    release: str = ""                   # uname -r of the probed kernel ("" = not probed)
    options: Mapping[OptionKey, OptionAnswer] = field(default_factory=dict)   # differences
    # errno of listen() on a socket that ever started a connection or was accepted, even
    # after it failed or was disconnected (Linux 6.18: EINVAL; 6.1 and 6.12 allow it: 0)
    listen_after_connect: int = 0
    # IPV6_RTHDR types the kernel takes: 2 (Mobile IPv6) needs CONFIG_IPV6_MIP6, 4
    # (segment routing) the seg6 core
    rthdr_types: frozenset = frozenset({2, 4})
    # errno of an AF_ALG bind whose template gets an algorithm that exists but does not
    # fit it, e.g. hmac(hmac(sha256)) (Linux 6.12: EINVAL; 6.1: ENOENT, tools/vm)
    alg_misfit: int = C.EINVAL
    # AF_UNIX stream MSG_OOB (Linux 5.15+; the shim's TCP urgent byte reaches the program
    # that way): a byte read out of band stays queued, empty, until an in-band read
    # passes it.  Linux 6.1 then answers SIOCATMARK 0 (TCP: 1, still at the mark) and a
    # non-blocking read that meets it first EAGAIN once (TCP reads on); 6.12 and later
    # answer as TCP (af_unix fixes of 2024).  Probed by shim/kprofile.py.
    unix_oob: bool = True               # AF_UNIX stream sockets take MSG_OOB
    unix_oob_stall: bool = False        # the empty byte stalls one non-blocking read
    unix_oob_nomark: bool = False       # SIOCATMARK says 0 at the empty byte
    # an IPv6 datagram sent with an IPV6_TCLASS control message of -1 gets the socket's
    # class (Linux 6.1), not 0xff (6.18): tools/vm measured it (udp_send_cmsg)
    tclass_cmsg_sock: bool = False
    # the sysctls behind buffer sizes and backlogs (/proc/sys/net/...); the defaults are
    # those of the machine the model was written on
    wmem_max: int = 4194304             # core/wmem_max: SO_SNDBUF's clamp
    rmem_max: int = 4194304             # core/rmem_max: SO_RCVBUF's clamp
    wmem_default: int = 212992          # core/wmem_default: a UDP socket's SO_SNDBUF
    rmem_default: int = 212992          # core/rmem_default: a UDP socket's SO_RCVBUF
    tcp_wmem: tuple[int, int, int] = (4096, 16384, 4194304)     # ipv4/tcp_wmem
    tcp_rmem: tuple[int, int, int] = (4096, 131072, 33554432)   # ipv4/tcp_rmem
    somaxconn: int = 4096               # core/somaxconn: listen()'s backlog clamp
    tcp_info_len: int = 280             # bytes of struct tcp_info this kernel fills
    optmem_max: int = 20480             # core/optmem_max: AF_ALG keys below it (sock_kmalloc)

    def option(self, family: int, proto: int, level: int, optname: int) -> OptionAnswer | None:
        return self.options.get((family, proto, level, optname))


"""The stack host answers as the running kernel where Linux versions differ: the
profile it probes at start, shown by `rocketnet host profile`."""
from __future__ import annotations

import os
import subprocess
import sys

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

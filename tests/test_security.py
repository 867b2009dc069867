"""The stack host trusts no one (issue 14): each probe of the issue, as an attacker
would run it, refused with Linux's answer; and a dead host is never a clean EOF.

Root runs a program under `rocketnet run`; a child of it drops to a second local user
that the test creates (and removes).  The probes run in that child.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

PY = sys.executable
NEEDS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create a second user")


@pytest.fixture
def other_user():
    """A second local user made for this test: (uid, gid)."""
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        pytest.skip("useradd/userdel missing: cannot create a second local user")
    name = f"rnsec{os.getpid() % 100000}"
    r = subprocess.run(["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", name],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"useradd failed: {r.stderr.strip()}")
    try:
        pw = pwd.getpwnam(name)
        yield pw.pw_uid, pw.pw_gid
    finally:
        subprocess.run(["userdel", name], capture_output=True)


# ---- host death -----------------------------------------------------------------------

SENDER = textwrap.dedent("""
    import socket, sys
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    print(ls.getsockname()[1], flush=True)
    c, _ = ls.accept()
    block = b"x" * 65536
    try:
        for _ in range(1024):           # 64 MiB
            c.sendall(block)
    except OSError:
        pass
""")

READER = textwrap.dedent("""
    import socket, sys, errno
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    got = 0
    announced = False
    while True:
        try:
            b = s.recv(65536)
        except OSError as e:
            print("error", errno.errorcode[e.errno], got, flush=True)
            sys.exit(1)
        if not b:
            print("eof", got, flush=True)
            sys.exit(0)
        got += len(b)
        if got >= (1 << 20) and not announced:
            announced = True
            print("reading", flush=True)
            sys.stdin.readline()        # the host is killed now
""")


def test_host_killed_mid_transfer_is_a_reset_never_eof(rn):
    """kill -9 of the host during a 64 MiB transfer: the reader's next recv fails with
    ECONNRESET and it exits non-zero, in 10 of 10 runs; one line names the dead host
    and its log."""
    for run in range(10):
        sender = rn.popen("run", "--", PY, "-c", SENDER, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
        port = sender.stdout.readline().strip()
        reader = rn.popen("run", "--", PY, "-c", READER, port, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert reader.stdout.readline().strip() == "reading"
            os.kill(int((rn.runtime_dir / "default" / "host.pid").read_text()), signal.SIGKILL)
            out, err = reader.communicate("go\n", timeout=30)
        finally:
            for p in (sender, reader):
                if p.poll() is None:
                    p.kill()
                p.wait()
        assert reader.returncode != 0, f"run {run}: {out} {err}"
        assert out.split()[:2] == ["error", "ECONNRESET"], f"run {run}: {out} {err}"
        lines = [ln for ln in err.splitlines() if ln.startswith("rocketnet:")]
        assert len(lines) == 1 and "unreachable" in lines[0], err
        assert str(rn.runtime_dir / "default" / "host.log") in lines[0], err
        assert int(out.split()[2]) < 64 << 20


def test_host_killed_write_and_control_calls_fail(rn):
    """After the host died: a write to a connected shim socket is ECONNRESET (or
    SIGPIPE/EPIPE never a success), control calls ENETDOWN."""
    prog = textwrap.dedent("""
        import socket, sys, errno
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        c = socket.create_connection(ls.getsockname())
        a, _ = ls.accept()
        print("ready", flush=True)
        sys.stdin.readline()
        out = []
        for call in (lambda: c.send(b"x" * 100000, socket.MSG_NOSIGNAL),
                     lambda: c.recv(10), lambda: c.getsockname(),
                     lambda: c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)):
            try:
                out.append(repr(call()))
            except OSError as e:
                out.append(errno.errorcode[e.errno])
        print(*out)
    """)
    p = rn.popen("run", "--", PY, "-c", prog, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    os.kill(int((rn.runtime_dir / "default" / "host.pid").read_text()), signal.SIGKILL)
    time.sleep(0.2)
    out, err = p.communicate("go\n", timeout=30)
    assert out.split() == ["ECONNRESET", "ECONNRESET", "ENETDOWN", "ENETDOWN"], out + err

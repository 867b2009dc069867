"""tools/cores (where the host's CPU goes; the second core's options): its readings of
py-spy's stacks and of /proc, which the documented verdicts rest on."""
from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import shutil
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _cores():
    loader = importlib.machinery.SourceFileLoader("cores", str(ROOT / "tools" / "cores"))
    spec = importlib.util.spec_from_loader("cores", loader)
    assert spec is not None
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def test_categorise_splits_user_time_without_system_calls(tmp_path) -> None:
    raw = tmp_path / "x.raw"
    base = "main (shim/host.py:284);StackHost.serve (shim/host.py:175)"
    raw.write_text("\n".join([
        f"{base};send (libc.so.6) 50",          # a system call: stime's, not counted
        f"{base};epoll_wait (libc.so.6) 30",
        f"{base};ByteRing.write (rocketnet/transport/tcp/ring.py:90);"
        "0x7f47e798bb75 (libc.so.6) 10",        # libc's unnamed memmove variant
        f"{base};checksum (rocketnet/wire/checksum.py:31);_sum16 "
        "(rocketnet/wire/checksum.py:16) 5",
        f"{base};OutputMixin._xmit (rocketnet/transport/tcp/output.py:84) 25",
    ]) + "\n")
    got = _cores().categorise(raw)
    assert got == pytest.approx({"copies": 0.25, "checksum": 0.125,
                                 "protocol Python": 0.625})


def test_tree_cpu_counts_descendants(tmp_path) -> None:
    cores = _cores()
    # a shell whose child spins: the child's CPU counts for the shell's tree
    stop = tmp_path / "stop"
    p = subprocess.Popen(["sh", "-c", f"sh -c 'while [ ! -e {stop} ]; do :; done' & wait"])
    try:
        before = cores.tree_cpu([p.pid])
        for _ in range(200):
            if cores.tree_cpu([p.pid]) > before:
                break
            os.sched_yield()
            subprocess.run(["sleep", "0.05"])
        assert cores.tree_cpu([p.pid]) > before
        assert cores.tree_cpu([2 ** 22 + 1]) == 0      # no such process: nothing
    finally:
        stop.touch()
        p.wait(30)


def test_cores_starts_without_the_venv(tmp_path) -> None:
    system = shutil.which("python3", path="/usr/bin:/bin")
    if system is None:
        pytest.skip("no system python3")
    r = subprocess.run([system, str(ROOT / "tools" / "cores"), "--help"],
                       env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "profile" in r.stdout and "floor" in r.stdout, r.stderr


def _recv_exactly(s: socket.socket, n: int) -> bytes:
    got = b""
    while len(got) < n:
        chunk = s.recv(n - len(got))
        assert chunk, f"EOF after {len(got)} of {n} bytes"
        got += chunk
    return got


def _pair() -> tuple[socket.socket, socket.socket]:
    a, s = socket.socketpair()
    a.settimeout(30)
    s.settimeout(30)
    return a, s


@pytest.mark.parametrize("relay", ["C", "Python"])
def test_floor_relay_moves_bytes_and_answers_rpcs(tmp_path, relay) -> None:
    """`tools/cores floor`'s relay (tools/floor.c built as the tool builds it, and
    tools/floor_relay.py): bytes both ways between pair ends, EOF passed on as a FIN, the
    relay ends when both ends ended; with a control connection, the socket RPC gives an
    A and the connect RPC sends the server its A on the listener's channel."""
    if shutil.which("cc") is None:
        pytest.skip("no C compiler (cc)")
    cores = _cores()
    exe = cores.build_floor(tmp_path)
    cmd = [str(exe), "relay"] if relay == "C" else [sys.executable, str(cores.FLOOR_RELAY)]
    (a1, s1), (a2, s2) = _pair(), _pair()
    p = subprocess.Popen([*cmd, "-1", "-1", str(s1.fileno()), str(s2.fileno())],
                         pass_fds=(s1.fileno(), s2.fileno()))
    s1.close()
    s2.close()
    try:
        a1.sendall(b"q" * 64)
        assert _recv_exactly(a2, 64) == b"q" * 64
        big = os.urandom(200000)        # more than one read of the relay's
        a2.sendall(big)
        assert _recv_exactly(a1, len(big)) == big
        a1.close()
        assert a2.recv(1) == b""
        a2.close()
        assert p.wait(30) == 0
    finally:
        if p.poll() is None:
            p.kill()
    (c, cs), (ln, ls) = _pair(), _pair()
    p = subprocess.Popen([*cmd, str(cs.fileno()), str(ls.fileno())],
                         pass_fds=(cs.fileno(), ls.fileno()))
    cs.close()
    ls.close()
    word = struct.Struct("=I")
    try:
        c.sendall(word.pack(1))         # socket: an A comes back
        _, fds, _, _ = socket.recv_fds(c, 4, 1)
        a = socket.socket(fileno=fds[0])
        c.sendall(word.pack(2))         # connect: answered, the server's A on its way
        assert _recv_exactly(c, 4) == word.pack(0)
        _, fds, _, _ = socket.recv_fds(ln, 4, 1)
        srv = socket.socket(fileno=fds[0])
        a.settimeout(30)
        srv.settimeout(30)
        a.sendall(b"request")
        assert _recv_exactly(srv, 7) == b"request"
        srv.sendall(b"response")
        assert _recv_exactly(a, 8) == b"response"
        a.close()
        assert srv.recv(1) == b""
        srv.close()
        c.close()                       # the relay ends, closing the listener's channel
        assert ln.recv(4) == b""
        assert p.wait(30) == 0
    finally:
        if p.poll() is None:
            p.kill()


def test_floor_client_and_server_count_transactions(tmp_path) -> None:
    """floor's client and server on the two ends of a pair: the client reports how many
    transactions it made (no figure is checked: speed belongs in tools/cores floor)."""
    if shutil.which("cc") is None:
        pytest.skip("no C compiler (cc)")
    exe = _cores().build_floor(tmp_path)
    a, s = socket.socketpair()
    server = subprocess.Popen([str(exe), "fd-server", str(s.fileno())], pass_fds=(s.fileno(),))
    r = subprocess.run([str(exe), "client", "fd", str(a.fileno()), "0.2"],
                       pass_fds=(a.fileno(),), capture_output=True, text=True, timeout=60)
    a.close()
    s.close()
    assert server.wait(30) == 0
    f = r.stdout.split()
    assert r.returncode == 0 and f[0] == "transactions" and int(f[1]) > 0, r.stdout + r.stderr

"""AF_UNIX end to end with a real program (socat) through the shim: filesystem and
abstract names are the stack's; a program outside the stack is refused, at once."""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess

import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.skipif(shutil.which("socat") is None,
                                reason="socat is required (tools/setup installs it)")


def shim_client(rn, data: bytes, *addr: str) -> subprocess.CompletedProcess:
    """socat from stdin to addr (retried while the server is not listening yet)."""
    result: list[subprocess.CompletedProcess] = []

    def attempt() -> bool:
        r = subprocess.run(rn.cmd("run", "--", "socat", *addr), input=data, env=rn.env,
                           capture_output=True, timeout=60)
        result[:] = [r]
        return r.returncode == 0 or b"Connection refused" not in r.stderr

    wait_for(attempt, timeout=20, what="socat client")
    return result[0]


def test_socat_path_socket(rn, tmp_path):
    sock = tmp_path / "s.sock"
    out = tmp_path / "out"
    data = os.urandom(4 << 20)
    with open(out, "wb") as f:
        server = rn.popen("run", "--", "socat", "-u", f"UNIX-LISTEN:{sock}", "STDOUT",
                          stdout=f, stderr=subprocess.PIPE)
        try:
            wait_for(sock.exists, what="the socket node")
            st = os.stat(sock)
            assert stat.S_ISSOCK(st.st_mode)
            # a program outside the stack finds a socket node nobody listens on
            native = subprocess.run(["socat", "-u", "STDIN", f"UNIX-CONNECT:{sock}"],
                                    input=b"x", capture_output=True, timeout=20)
            assert native.returncode != 0
            assert b"Connection refused" in native.stderr
            r = shim_client(rn, data, "-u", "STDIN", f"UNIX-CONNECT:{sock}")
            assert r.returncode == 0, r.stderr
            assert server.wait(timeout=30) == 0, server.stderr.read()
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(data).digest()


def test_socat_abstract_request_response(rn, tmp_path):
    name = f"rn-socat-{os.getpid()}-{tmp_path.name}"
    server = rn.popen("run", "--", "socat", f"ABSTRACT-LISTEN:{name},fork",
                      "EXEC:tr a-z A-Z", stderr=subprocess.PIPE)
    try:
        r = shim_client(rn, b"hello through rocketnet\n", "-", f"ABSTRACT-CONNECT:{name}")
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"HELLO THROUGH ROCKETNET\n"
        # the stack's abstract names are not the machine's
        native = subprocess.run(["socat", "-", f"ABSTRACT-CONNECT:{name}"], input=b"x",
                                capture_output=True, timeout=20)
        assert native.returncode != 0
        assert b"Connection refused" in native.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)

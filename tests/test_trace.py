"""`rocketnet run --trace` as strace where it matters: `-` is stderr, -t/-r times, -s
payload bytes, execve/exit/killed lines, -e filter, -c summary, -y socket ids that
host.log (ROCKETNET_LOG) names too; the same on both paths (--via preload, seccomp)."""
from __future__ import annotations

import re
import sys

import pytest

from shim import seccomp_bpf

PROG = """
import os, signal, socket, sys
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen()
r = socket.socket(); print(r.connect_ex(('127.0.0.1', 1)))
c = socket.create_connection(l.getsockname()); s, _ = l.accept()
c.sendall(b'GET / HTTP/1.1\\r\\nHost: rocketnet\\r\\n\\r\\n')
print(len(s.recv(100)))
c.close(); s.close()
if sys.argv[1:] == ['die']:
    os.kill(os.getpid(), signal.SIGTERM)
"""
TIME_ABS = r"\d\d:\d\d:\d\d\.\d{6}"
TIME_REL = r"\d+\.\d{6}"


@pytest.fixture(params=["preload", "seccomp"])
def via(request) -> list[str]:
    """`run` with its path chosen: every test here holds on both."""
    if request.param == "seccomp" and seccomp_bpf.unavailable():
        pytest.skip(seccomp_bpf.unavailable() or "")
    return ["run", "--via", request.param]


def test_trace_dash_is_stderr_with_times_payload_and_process_lines(rn, tmp_path, via) -> None:
    r = rn.run(*via, "--trace", "-", "-t", "-r", "-s", "16", "--", sys.executable, "-c",
               PROG, "die", cwd=tmp_path)
    assert r.returncode == 128 + 15
    assert r.stdout.split() == ["111", "35"]
    assert not (tmp_path / "-").exists()
    lines = r.stderr.splitlines()
    pid = lines[0].split()[0]
    head = rf"^{pid} {TIME_ABS} {TIME_REL} "
    assert re.match(head + r'execve\(".*python.*", \[".*", "-c", ', lines[0]), lines[0]
    assert any(re.match(head + r"connect\(\d+, \{AF_INET, 127\.0\.0\.1:1\}, 16\) = -1 "
                        r"ECONNREFUSED$", ln) for ln in lines), r.stderr
    # the seccomp path names the system call: glibc's send and recv are sendto and
    # recvfrom without an address
    send, recv, tail = ("send", "recv", "") if "preload" in via else \
        ("sendto", "recvfrom", ", NULL, 0")
    assert any(re.search(rf'{send}\(\d+, "GET / HTTP/1\.1\\r\\n"\.\.\., 35, 0{tail}\) = 35$',
                         ln) for ln in lines), r.stderr
    assert any(re.search(rf'{recv}\(\d+, "GET / HTTP/1\.1\\r\\n"\.\.\., 100, 0\) = 35$', ln)
               for ln in lines), r.stderr
    assert lines[-1] == f"{pid} +++ killed by SIGTERM +++"


def test_trace_filter_summary_and_exit_line(rn, tmp_path, via) -> None:
    trace = tmp_path / "t.log"
    r = rn.run(*via, "--trace", str(trace), "-e", "connect,close", "-c", "--",
               sys.executable, "-c", PROG)
    assert r.returncode == 0, r.stderr
    lines = trace.read_text().splitlines()
    calls = {re.match(r"^\d+ ([a-z0-9_+]+)", ln).group(1) for ln in lines}
    assert calls == {"execve", "connect", "close", "+++"}, calls
    assert lines[-1].endswith("+++ exited with 0 +++")
    table = r.stderr.splitlines()
    assert table[0].split() == ["calls", "errors", "bytes", "call", "(errors)"]
    row = next(ln.split() for ln in table if " connect" in ln)
    assert row[:4] == ["2", "1", "0", "connect"] and "ECONNREFUSED" in row[-2]
    assert table[-1].split()[-1] == "total"
    # -c alone: the summary, and no trace file left behind
    r = rn.run(*via, "-c", "--", sys.executable, "-c", PROG, cwd=tmp_path)
    assert r.returncode == 0 and "total" in r.stderr.splitlines()[-1]
    send = "send" if "preload" in via else "sendto"
    assert re.search(rf"^\s+\d+\s+0\s+35\s+{send}$", r.stderr, re.M), r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.log"]


def test_trace_socket_ids_match_host_log(rn, tmp_path, via) -> None:
    r = rn.run(*via, "--trace", "-", "-y", "-e", "connect", "--", sys.executable, "-c", PROG)
    assert r.returncode == 0, r.stderr
    ids = re.findall(r"connect\(\d+<sock (\d+)>, \{AF_INET, 127\.0\.0\.1:(\d+)\}", r.stderr)
    assert len(ids) == 2, r.stderr
    rn.run("host", "stop", "default")
    log = (rn.runtime_dir / "default" / "host.log").read_text()
    refused, ok = ids
    assert re.search(rf"INFO sock {refused[0]} #\d+ tcp .* failed: ECONNREFUSED", log), log
    assert re.search(rf"INFO sock {ok[0]} #\d+ tcp 127\.0\.0\.1:\d+ > 127\.0\.0\.1:{ok[1]} "
                     r"- -> ESTABLISHED", log), log
    assert "INFO host default" in log and "ready" in log

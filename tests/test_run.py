"""`rocketnet run` and `rocketnet host`: process model, exit statuses, faults."""
from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from shim import protocol as P
from shim import runtime
from shim.builds import own_default
from tests.conftest import Rocketnet, wait_for

PY = sys.executable

SERVER = textwrap.dedent("""
    import socket, sys
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(sys.argv[1])))
    srv.listen(8)
    print("listening", flush=True)
    for _ in range(int(sys.argv[2])):
        conn, peer = srv.accept()
        total = 0
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                total += len(data)
        except ConnectionResetError:
            print("reset", flush=True)
        print("conn done", total, flush=True)
        conn.close()
""")

SENDER = textwrap.dedent("""
    import socket, sys
    c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    print("connected", flush=True)
    n = int(sys.argv[2])
    chunk = b"x" * 65536
    while n != 0:
        c.sendall(chunk)
        n -= 1
    c.close()
""")


def test_command_not_found_is_127(rn):
    r = rn.run("run", "--", "no-such-command-rocketnet")
    assert r.returncode == 127
    assert "command not found" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_not_executable_is_126(rn, tmp_path):
    f = tmp_path / "script"
    f.write_text("#!/bin/sh\necho hi\n")
    r = rn.run("run", "--", str(f))
    assert r.returncode == 126
    assert "Permission denied" in r.stderr


def test_exit_status_is_the_commands(rn):
    assert rn.run("run", "--", "sh", "-c", "exit 3").returncode == 3
    assert rn.run("run", "--", "true").returncode == 0


def test_runtime_dir_is_private(rn):
    rn.run("run", "--", "true", check=True)
    assert stat.S_IMODE(os.stat(rn.runtime_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(rn.runtime_dir / "default").st_mode) == 0o700


def test_refuses_a_runtime_dir_others_can_enter(rn):
    os.chmod(rn.runtime_dir, 0o755)
    try:
        r = rn.run("run", "--", "true")
        assert r.returncode == 1
        assert "expected 700" in r.stderr
    finally:
        os.chmod(rn.runtime_dir, 0o700)


def test_two_runs_share_one_host_and_bytes_cross_the_stack(rn, tmp_path):
    (tmp_path / "server.py").write_text(SERVER)
    (tmp_path / "sender.py").write_text(SENDER)
    srv = rn.popen("run", "--", PY, str(tmp_path / "server.py"), "7000", "1",
                   stdout=subprocess.PIPE, text=True)
    assert srv.stdout.readline().strip() == "listening"
    r = rn.run("run", "--", PY, str(tmp_path / "sender.py"), "7000", "64", timeout=60)
    assert r.returncode == 0, r.stderr
    out, _ = srv.communicate(timeout=30)
    assert out.split() == ["conn", "done", str(64 * 65536)]
    listed = rn.run("host", "list").stdout.splitlines()
    assert [line.split()[0] for line in listed[1:]] == ["default"]
    assert rn.stats()["stack"]["tcp_payload_bytes_received"] >= 64 * 65536


def test_killed_client_releases_its_socket_and_host_serves_on(rn, tmp_path):
    (tmp_path / "server.py").write_text(SERVER)
    (tmp_path / "sender.py").write_text(SENDER)
    srv = rn.popen("run", "--", PY, str(tmp_path / "server.py"), "7001", "2",
                   stdout=subprocess.PIPE, text=True)
    assert srv.stdout.readline().strip() == "listening"
    sender = rn.popen("run", "--", PY, str(tmp_path / "sender.py"), "7001", "-1",
                      stdout=subprocess.PIPE, text=True)
    assert sender.stdout.readline().strip() == "connected"
    time.sleep(0.3)
    sender.send_signal(signal.SIGKILL)
    sender.wait(timeout=10)
    line = srv.stdout.readline().split()
    assert line[:2] == ["conn", "done"] and int(line[2]) > 0     # EOF, as Linux's FIN
    r = rn.run("run", "--", PY, str(tmp_path / "sender.py"), "7001", "4", timeout=60)
    assert r.returncode == 0, r.stderr
    out, _ = srv.communicate(timeout=30)
    assert out.split() == ["conn", "done", str(4 * 65536)]
    wait_for(lambda: rn.stats()["sockets"] == 0, what="host to release every socket")


def test_non_socket_fds_pass_through(rn, tmp_path):
    prog = textwrap.dedent(f"""
        import os
        path = {str(tmp_path / "f")!r}
        with open(path, "w") as f:
            f.write("file data")
        r, w = os.pipe()
        os.write(w, b"pipe data")
        efd = os.eventfd(5) if hasattr(os, "eventfd") else None
        print(open(path).read(), os.read(r, 100).decode(),
              os.eventfd_read(efd) if efd is not None else 5)
    """)
    r = rn.run("run", "--", PY, "-c", prog)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["file", "data", "pipe", "data", "5"]


def test_default_host_exits_by_itself_when_idle(rn):
    rn.run("run", "--", PY, "-c", "import socket; socket.socket().close()", check=True)
    pid = int((rn.runtime_dir / "default" / "host.pid").read_text())
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), timeout=20,
             what="the on-demand host to exit")


def test_named_host_start_list_stop(rn):
    r = rn.run("host", "start", "lab")
    assert r.returncode == 0, r.stderr
    assert "lab" in rn.run("host", "list").stdout
    assert rn.run("host", "start", "lab").returncode == 1     # already running
    r = rn.run("run", "--host", "lab", "--", PY, "-c",
               "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); "
               "print(s.getsockname()[0])")
    assert r.stdout.strip() == "127.0.0.1", r.stderr
    assert rn.run("host", "stop", "lab").returncode == 0
    assert "lab" not in rn.run("host", "list").stdout


def test_host_unreachable_gives_enetdown_and_one_line(rn, tmp_path):
    env = dict(rn.env, LD_PRELOAD=str(own_default()), ROCKETNET_SOCK=str(tmp_path / "nothing.sock"))
    prog = ("import socket, errno\n"
            "for _ in range(3):\n"
            "    try:\n"
            "        socket.socket()\n"
            "    except OSError as e:\n"
            "        print(errno.errorcode[e.errno])\n"
            "print(open('/dev/null').read() == '')\n")
    r = subprocess.run([PY, "-c", prog], env=env, capture_output=True, text=True, timeout=30)
    assert r.stdout.split() == ["ENETDOWN"] * 3 + ["True"]
    assert len(r.stderr.strip().splitlines()) == 1 and "unreachable" in r.stderr


def test_host_death_fails_calls_without_hanging(rn, tmp_path):
    prog = textwrap.dedent("""
        import socket, sys, errno
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        print("ready", flush=True)
        sys.stdin.readline()
        try:
            socket.socket()
            print("socket ok")
        except OSError as e:
            print(errno.errorcode[e.errno])
        s.setblocking(False)
        try:
            s.accept()
        except OSError as e:
            print(type(e).__name__)
    """)
    p = rn.popen("run", "--", PY, "-c", prog, stdin=subprocess.PIPE,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    os.kill(int((rn.runtime_dir / "default" / "host.pid").read_text()), signal.SIGKILL)
    time.sleep(0.2)
    out, err = p.communicate("go\n", timeout=20)
    assert out.split()[0] == "ENETDOWN", out + err
    assert "unreachable" in err


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_host_serves_only_its_own_user():
    # Its own runtime directory under /tmp: pytest's base directory is closed to others.
    rn = Rocketnet(Path(tempfile.mkdtemp(prefix="rocketnet-uid-")))
    rn.run("host", "start", "solo", check=True)
    d = rn.runtime_dir / "solo"
    os.chmod(rn.runtime_dir, 0o711)
    os.chmod(d, 0o711)
    os.chmod(d / "ctl.sock", 0o777)
    try:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.setgid(65534)
                os.setuid(65534)
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.connect(str(d / "ctl.sock"))
                s.settimeout(5)
                try:
                    s.send(b"\0" * 48)
                    answer = s.recv(100)
                except ConnectionError:     # reset or broken pipe: closed on us
                    answer = b""
                code = 0 if answer == b"" else 2     # closed without an answer
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        os.chmod(rn.runtime_dir, 0o700)
        os.chmod(d, 0o700)
        rn.stop_all()
        shutil.rmtree(rn.runtime_dir, ignore_errors=True)


def test_trace_names_calls_addresses_and_errnos(rn, tmp_path):
    trace = tmp_path / "trace.txt"
    prog = ("import socket\n"
            "s = socket.socket()\n"
            "try:\n"
            "    s.connect(('127.0.0.1', 9))\n"
            "except ConnectionRefusedError:\n"
            "    print('refused')\n")
    r = rn.run("run", "--trace", str(trace), "--", PY, "-c", prog)
    assert r.stdout.strip() == "refused", r.stderr
    text = trace.read_text()
    assert "socket(AF_INET, SOCK_STREAM" in text
    assert "connect(3, {AF_INET, 127.0.0.1:9}, 16) = -1 ECONNREFUSED" in text
    assert all(line.split()[0].isdigit() for line in text.splitlines())


def test_trace_readiness_fd_calls_and_msghdr(rn, tmp_path):
    """poll/select/epoll sets, fcntl, dup, sendfile/splice and msghdr summaries of shim
    fds are traced with decoded arguments."""
    trace = tmp_path / "trace.txt"
    data = tmp_path / "data.bin"
    data.write_bytes(b"x" * 1000)
    prog = (
        "import fcntl, os, select, socket\n"
        "l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1)\n"
        "c = socket.create_connection(l.getsockname()); s, _ = l.accept()\n"
        "r, w = os.pipe()\n"
        "p = select.poll(); p.register(c, select.POLLIN | select.POLLOUT); p.register(r)\n"
        "p.poll(0)\n"
        "select.select([c, r], [c], [], 0)\n"
        "e = select.epoll(); e.register(c.fileno(), select.EPOLLIN | select.EPOLLET)\n"
        "s.send(b'hi'); e.poll(2)\n"
        "fl = fcntl.fcntl(c, fcntl.F_GETFL)\n"
        "fcntl.fcntl(c, fcntl.F_SETFL, fl | os.O_NONBLOCK)\n"
        "d = os.dup(c.fileno()); os.dup2(c.fileno(), 30)\n"
        f"f = open({str(data)!r}, 'rb'); os.sendfile(c.fileno(), f.fileno(), 0, 1000)\n"
        "os.write(w, b'abc'); os.splice(r, c.fileno(), 3)\n"
        "c.sendmsg([b'ab', b'cd'])\n"
        "select.select([s], [], [], 2); s.recvmsg(4096, 64)\n"
        "print('done')\n")
    r = rn.run("run", "--trace", str(trace), "--", PY, "-c", prog)
    assert r.stdout.strip() == "done", r.stderr
    text = trace.read_text()
    assert "events=POLLIN|POLLOUT}" in text and "revents=POLLOUT}]" in text, text
    assert "select(" in text and ", NULL, {0, 0}) = " in text, text
    assert "epoll_ctl(" in text and "EPOLL_CTL_ADD" in text and "{EPOLLIN|EPOLLET, data=" in text
    assert "epoll_wait(" in text and "= 1 [{EPOLLIN, data=" in text, text
    assert ", F_GETFL) = 2 (" in text and "F_SETFL, O_RDWR|O_NONBLOCK) = 0" in text, text
    assert "F_DUPFD_CLOEXEC, 0) = " in text and "dup2(4, 30) = 30" in text, text
    assert ", [0], 1000) = 1000" in text, text          # sendfile with its offset
    assert "splice(" in text and ", 3, 0) = 3" in text, text
    assert "sendmsg(" in text and "{name=0, iov=[2, 4 bytes], control=0, flags=0}" in text
    assert "recvmsg(" in text and "iov=[1, 4096 bytes], control=" in text, text


def test_host_of_another_build_is_named_not_hung(rn, monkeypatch):
    """A host built from another rn_protocol.h answers HELLO with EPROTO; `rocketnet run`
    and the stub then say what to do instead of failing obscurely."""
    monkeypatch.setenv("ROCKETNET_RUNTIME_DIR", str(rn.runtime_dir))
    path = runtime.ctl_path("stale")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    srv.bind(str(path))
    srv.listen(8)
    ops = []

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                while msg := conn.recv(P.REQ.size + P.MAX_PAYLOAD):
                    ops.append(P.REQ.unpack_from(msg)[0])
                    conn.send(P.RESP.pack(-1, errno.EPROTO, 0, 0, 0))

    threading.Thread(target=serve, daemon=True).start()
    try:
        r = rn.run("run", "--host", "stale", "--", "true", timeout=20)
        assert r.returncode == 1
        assert r.stderr.strip() == ("rocketnet: stack host 'stale' was started by another "
                                    "rocketnet build (its protocol differs); stop it with: "
                                    "rocketnet host stop stale")
        prog = "import socket\ntry:\n socket.socket()\nexcept OSError as e:\n print(e.errno)"
        r = subprocess.run([PY, "-c", prog], capture_output=True, text=True, timeout=20,
                           env=dict(rn.env, LD_PRELOAD=str(own_default()),
                                    ROCKETNET_SOCK=str(path)))
        assert r.stdout.strip() == str(errno.ENETDOWN)
        assert r.stderr.strip() == (
            f"rocketnet: the stack host at {path} was built from another rocketnet "
            "protocol; stop it (rocketnet host stop NAME)")
        assert ops == [P.OP_HELLO, P.OP_HELLO]
    finally:
        srv.close()

"""The stack host trusts no one (issue 14): each probe of the issue, as an attacker
would run it, refused with Linux's answer; and a dead host is never a clean EOF.

Root runs a program under `rocketnet run`; a child of it drops to a second local user
that the test creates (and removes).  The probes run in that child.
"""
from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

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
    import select, socket, sys, errno
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    mode = sys.argv[2]              # recv: blocking reads; poll / epoll: wait, then read
    if mode == "epoll":
        ep = select.epoll()
        ep.register(s.fileno(), select.EPOLLIN)
    got = 0
    announced = False
    seen = 0                        # the wait's events when the stream ended
    while True:
        if mode == "poll":
            p = select.poll()
            p.register(s, select.POLLIN)
            seen = p.poll()[0][1]
        elif mode == "epoll":
            seen = ep.poll()[0][1]
        try:
            b = s.recv(65536)
        except OSError as e:
            err = bool(seen & select.POLLERR) and bool(seen & select.POLLHUP)
            print("error", errno.errorcode[e.errno], got, "pollerr" if err else seen,
                  flush=True)
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


@pytest.mark.parametrize("mode", ["recv", "poll", "epoll"])
def test_host_killed_mid_transfer_is_a_reset_never_eof(rn, mode):
    """kill -9 of the host during a 64 MiB transfer: the reader's next recv fails with
    ECONNRESET and it exits non-zero, in 10 of 10 runs; a reader that waits with poll
    or epoll first sees POLLERR|POLLHUP there, as on a reset connection; one line names
    the dead host and its log."""
    for run in range(10):
        sender = rn.popen("run", "--", PY, "-c", SENDER, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
        port = sender.stdout.readline().strip()
        reader = rn.popen("run", "--", PY, "-c", READER, port, mode, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert reader.stdout.readline().strip() == "reading"
            host_pid = int((rn.runtime_dir / "default" / "host.pid").read_text())
            os.kill(host_pid, signal.SIGKILL)
            out, err = reader.communicate("go\n", timeout=30)
        finally:
            for p in (sender, reader):
                if p.poll() is None:
                    p.kill()
                p.wait()
        assert reader.returncode != 0, f"run {run}: {out} {err}"
        assert out.split()[:2] == ["error", "ECONNRESET"], f"run {run}: {out} {err}"
        if mode != "recv":
            assert out.split()[3] == "pollerr", f"run {run}: {out} {err}"
        lines = [ln for ln in err.splitlines() if ln.startswith("rocketnet:")]
        assert len(lines) == 1, err
        assert f"host default (pid {host_pid}) is gone" in lines[0], err
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


# ---- a dropped child of a root program ------------------------------------------------

LINUX_CHECKS = textwrap.dedent("""
    def linux_checks():
        import errno, socket
        out = []
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            for opt, val in ((socket.SO_PRIORITY, 7), (socket.SO_PRIORITY, 6),
                             (socket.SO_DEBUG, 1), (socket.SO_DEBUG, 0)):
                try:
                    s.setsockopt(socket.SOL_SOCKET, opt, val)
                    out.append("ok")
                except OSError as e:
                    out.append(errno.errorcode[e.errno])
            s.close()
        for fam, proto in ((socket.AF_INET, 1), (socket.AF_INET6, 58)):
            try:
                socket.socket(fam, socket.SOCK_DGRAM, proto).close()
                out.append("ok")
            except OSError as e:
                out.append(errno.errorcode[e.errno])
        try:
            s = socket.socket()
            s.bind(("127.0.0.1", 82))
            out.append("ok")
        except OSError as e:
            out.append(errno.errorcode[e.errno])
        return out
""")

DROPPED = LINUX_CHECKS + textwrap.dedent("""
    import array, errno, json, os, socket, sys
    from shim import protocol as P

    uid, gid, pcap_dir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    mine = socket.socket()              # root's listener: made before the drop
    mine.bind(("127.0.0.1", 0))
    mine.listen(4)
    dialer = int(os.environ["ROCKETNET_DIALER_FD"])

    def sock_id_of(fd):
        # the host's id of a shim fd, as anyone reads it in /proc/net/unix
        ino = os.readlink(f"/proc/self/fd/{fd}")[len("socket:["):-1]
        with open("/proc/net/unix") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 8 and parts[6] == ino:
                    return int(parts[7].rsplit("-", 1)[1])

    mine_id = sock_id_of(mine.fileno())
    # root's unix listeners: one in a 0700 directory, one a 0755 node in an open one
    paths = {}
    for kind, mode in (("private", 0o700), ("open", 0o755)):
        d = os.path.join(os.path.dirname(pcap_dir), kind)
        os.mkdir(d, mode)
        paths[kind] = os.path.join(d, "s.sock")
        u = socket.socket(socket.AF_UNIX)
        u.bind(paths[kind])
        os.chmod(paths[kind], 0o755)
        u.listen(4)
        paths[kind + "_sock"] = u

    def rpc(s, op, sock_id=0, args=(0, 0, 0, 0), payload=b"", fd=None):
        req = P.REQ.pack(op, sock_id, *args, len(payload), 0) + payload
        if fd is None:
            s.send(req)
        else:
            s.sendmsg([req], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
        msg, anc, _f, _a = s.recvmsg(P.RESP.size + P.MAX_PAYLOAD, socket.CMSG_SPACE(16))
        for level, kind, data in anc:
            for fd in array.array("i", data[: len(data) - len(data) % 4]):
                os.close(fd)
        ret, err = P.RESP.unpack_from(msg)[:2]
        return errno.errorcode.get(err, "ok") if ret < 0 else "ok"

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        mine.close()                    # the child knows root's socket only by its id
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        out = {"api": linux_checks()}
        # a control connection over the inherited dialer, from a pair the shim made
        x, y = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        d = socket.socket(fileno=os.dup(dialer))
        socket.send_fds(d, [b"c"], [y.fileno()])
        y.close()
        out["hello"] = rpc(x, P.OP_HELLO, args=(1, P.PROTO_VERSION, 0, 0))
        x.send(P.REQ.pack(P.OP_SOCKET, 0, socket.AF_INET, socket.SOCK_STREAM, 0, 0, 0, 0))
        msg, anc, _f, _a = x.recvmsg(P.RESP.size + P.MAX_PAYLOAD, socket.CMSG_SPACE(4))
        sid = P.RESP.unpack_from(msg)[0]
        sa = socket.AF_INET.to_bytes(2, "little") + (82).to_bytes(2, "big") + bytes(12)
        sa = sa[:4] + socket.inet_aton("127.0.0.1") + sa[8:]
        out["raw_bind_82"] = rpc(x, P.OP_BIND, sid, payload=sa)
        out["pcap"] = rpc(x, P.OP_RUN_SESSION, payload=('{"pcap": "%s"}' % pcap_dir).encode())
        out["stop"] = rpc(x, P.OP_HOST_STOP)
        out["peer_of_root"] = rpc(x, P.OP_GETSOCKNAME, mine_id)
        out["shutdown_root"] = rpc(x, P.OP_SHUTDOWN, mine_id, args=(socket.SHUT_RDWR, 0, 0, 0))
        for kind in ("private", "open"):
            path = paths[kind]
            try:
                socket.socket(socket.AF_UNIX).connect(path)
                out[kind + "_native"] = "ok"
            except OSError as e:
                out[kind + "_native"] = errno.errorcode[e.errno]
            x.send(P.REQ.pack(P.OP_SOCKET, 0, socket.AF_UNIX, socket.SOCK_STREAM, 0, 0, 0, 0))
            msg, anc, _f, _a = x.recvmsg(P.RESP.size + P.MAX_PAYLOAD, socket.CMSG_SPACE(4))
            usid = P.RESP.unpack_from(msg)[0]          # its fd stays open: held
            sa = socket.AF_UNIX.to_bytes(2, "little") + path.encode() + b"\\0"
            st = os.stat(paths["open"])       # a node identity the caller may know
            out[kind + "_raw_ids"] = rpc(x, P.OP_CONNECT, usid,
                                         args=(1, st.st_dev, st.st_ino, 0), payload=sa)
            try:
                node = os.open(path, os.O_PATH)
            except OSError as e:
                out[kind + "_raw_node"] = "walk " + errno.errorcode[e.errno]
                continue
            out[kind + "_raw_node"] = rpc(x, P.OP_CONNECT, usid, args=(1, 0, 0, 0),
                                          payload=sa, fd=node)
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        data += b
    os.waitpid(pid, 0)
    # root is still served, its listener intact
    c = socket.create_connection(mine.getsockname())
    a, _ = mine.accept()
    c.sendall(b"still")
    out = json.loads(data)
    out["root_served"] = a.recv(5).decode()
    print(json.dumps(out))
""")


def fork_as(uid: int, gid: int, body) -> int:
    """A child of this process that drops to uid/gid and runs body(); -> its pid."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            body()
            code = 0
        finally:
            os._exit(code)
    return pid


def native_as(uid: int, gid: int) -> list[str]:
    """linux_checks() run natively by a process of that user: Linux's answers."""
    ns: dict = {}
    exec(LINUX_CHECKS, ns)
    r, w = os.pipe()

    def body() -> None:
        os.close(r)
        os.write(w, json.dumps(ns["linux_checks"]()).encode())

    pid = fork_as(uid, gid, body)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    return json.loads(data)


@pytest.fixture
def dropped(rn, other_user, tmp_path):
    """Runs DROPPED under the shim as root; its child drops to other_user and probes.
    The capture directory belongs to that user; its lo.pcap is a symlink to a file of
    root's (0600, 'secret')."""
    uid, gid = other_user
    base = Path(tempfile.mkdtemp(prefix="rnsec-"))
    os.chmod(base, 0o711)
    cap = base / "cap"
    cap.mkdir()
    os.chown(cap, uid, gid)
    victim = base / "root-only"
    victim.write_text("secret")
    os.chmod(victim, 0o600)
    (cap / "lo.pcap").symlink_to(victim)
    r = rn.run("run", "--", PY, "-c", DROPPED, str(uid), str(gid), str(cap), timeout=60)
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        yield json.loads(r.stdout), victim, cap, (uid, gid)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@NEEDS_ROOT
def test_dropped_child_gets_linux_answers_for_privileged_calls(dropped):
    """Probe 7 (and 2 through the API): SO_PRIORITY 7, SO_DEBUG, ping sockets and port
    82 as the dropped user: the same answers as Linux gives that user natively."""
    out, _victim, _cap, (uid, gid) = dropped
    native = native_as(uid, gid)
    assert "EPERM" in native and "EACCES" in native     # the oracle refuses
    assert out["api"] == native


@NEEDS_ROOT
def test_dropped_child_cannot_bind_privileged_port_with_host_made_pair(dropped):
    """Probe 2: a control connection from a socketpair the host made (its SO_PEERCRED
    is root's) still acts with the sender's credentials: EACCES for port 82."""
    out = dropped[0]
    assert out["hello"] == "ok"
    assert out["raw_bind_82"] == "EACCES"


@NEEDS_ROOT
def test_dropped_child_cannot_stop_or_capture_root_host(dropped, rn):
    """Probes 1 and 4: HOST_STOP and HOST_PCAP from another user: EPERM; root's file
    behind the symlink is untouched and root's host keeps serving."""
    out, victim, cap, _ids = dropped
    assert out["stop"] == "EPERM"
    assert out["pcap"] == "EPERM"
    assert out["root_served"] == "still"
    assert victim.read_text() == "secret"
    assert rn.run("run", "--", PY, "-c", "import socket; socket.socket()").returncode == 0


@NEEDS_ROOT
def test_capture_never_follows_a_symlink_and_is_private(rn, tmp_path):
    """Probe 1 for the owner itself: host start --pcap into a directory whose lo.pcap is
    a symlink fails (ELOOP) and writes nothing through it; a run's fresh capture is 0600
    in a 0700 directory it creates."""
    victim = tmp_path / "victim"
    victim.write_text("secret")
    cap = tmp_path / "cap"
    cap.mkdir()
    (cap / "lo.pcap").symlink_to(victim)
    r = rn.run("host", "start", "capsym", "--pcap", str(cap))
    assert r.returncode != 0, r.stdout + r.stderr
    assert victim.read_text() == "secret"
    fresh = tmp_path / "new" / "cap"
    r = rn.run("run", "--pcap", str(fresh), "--", PY, "-c", "import socket; socket.socket()")
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o700
    (run,) = fresh.glob("run-*.pcapng")
    assert stat.S_IMODE(os.stat(run).st_mode) == 0o600
    log = rn.runtime_dir / "default" / "host.log"
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600


@NEEDS_ROOT
def test_dropped_child_cannot_use_root_socket_by_its_number(dropped):
    """Probe 3: requests naming root's listener by its id (read from /proc/net/unix) from
    a process that holds no fd of it: EBADF, as for an fd it does not have; root's
    clients still connect."""
    out = dropped[0]
    assert out["peer_of_root"] == "EBADF"
    assert out["shutdown_root"] == "EBADF"
    assert out["root_served"] == "still"


SQUATTED = textwrap.dedent("""
    import errno, socket, sys
    s = socket.socket()
    ino = __import__("os").readlink(f"/proc/self/fd/{s.fileno()}")[len("socket:["):-1]
    name = next(line.split()[7] for line in open("/proc/net/unix")
                if len(line.split()) >= 8 and line.split()[6] == ino)
    print(name, flush=True)
    sys.stdin.readline()                # another user squats the next names now
    out = []
    for fam, kind in ((socket.AF_INET, socket.SOCK_STREAM), (socket.AF_INET, socket.SOCK_DGRAM),
                      (socket.AF_UNIX, socket.SOCK_STREAM)) * 10:
        try:
            socket.socket(fam, kind)
            out.append("ok")
        except OSError as e:
            out.append(errno.errorcode[e.errno])
    a, b = socket.socketpair()
    out.append("pair ok")
    print(" ".join(sorted(set(out))))
""")


@NEEDS_ROOT
def test_another_user_cannot_squat_the_next_socket_names(rn, other_user):
    """Probe 6: a local user reads the nonce from /proc/net/unix and pre-binds the
    abstract names of the next socket ids; root's socket() calls still succeed (never
    EIO) and the host logs no traceback."""
    uid, gid = other_user
    p = rn.popen("run", "--", PY, "-c", SQUATTED, stdin=subprocess.PIPE,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    name = p.stdout.readline().strip()          # "@rocketnet-<nonce>-<id>"
    prefix, _, sid = name[1:].rpartition("-")
    r, w = os.pipe()
    ready_r, ready_w = os.pipe()

    def squat() -> None:
        os.close(w)
        os.close(ready_r)
        held = []
        for k in range(1, 400):
            for tag in ("", "u"):
                for kind in (socket.SOCK_STREAM, socket.SOCK_SEQPACKET):
                    s = socket.socket(socket.AF_UNIX, kind)
                    try:
                        s.bind(f"\0{prefix}-{tag}{int(sid) + k}".encode())
                    except OSError:
                        s.close()
                        continue
                    held.append(s)
        os.write(ready_w, b"%d" % len(held))
        os.read(r, 1)                       # hold them until the test is done

    squatter = fork_as(uid, gid, squat)
    os.close(r)
    os.close(ready_w)
    try:
        assert int(os.read(ready_r, 16) or b"0") > 1000       # the names are squatted
        out, err = p.communicate("go\n", timeout=60)
    finally:
        os.close(w)
        os.close(ready_r)
        os.waitpid(squatter, 0)
    assert out.strip() == "ok pair ok", out + err
    assert "Traceback" not in (rn.runtime_dir / "default" / "host.log").read_text()


@NEEDS_ROOT
def test_dropped_child_cannot_reach_unix_listeners_linux_refuses(dropped):
    """Probe 5: root's listeners in a 0700 directory and on a 0755 node: Linux refuses
    the dropped user's connect with EACCES; a raw request naming a node identity, or
    passing the node it can walk to, is refused too (EINVAL, EACCES)."""
    out = dropped[0]
    assert out["private_native"] == "EACCES" and out["open_native"] == "EACCES"
    assert out["private_raw_ids"] == "EINVAL" and out["open_raw_ids"] == "EINVAL"
    assert out["private_raw_node"] == "walk EACCES"
    assert out["open_raw_node"] == "EACCES"

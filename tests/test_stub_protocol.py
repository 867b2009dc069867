"""The preload stub (c_stub/) against a tiny fake stack host.

The fake host (run as a separate process: `python3 tests/test_stub_protocol.py SOCK LOG`)
speaks rn_protocol.h with canned replies and emulates TCP between shim sockets by
relaying bytes between the S ends, which is enough to drive the stub's
socket/bind/listen/connect/accept paths, its fd numbering, EFAULT handling,
recognition of shim fds (and rejection of forged ones), the unreachable-host path
and tracing.  A small C client prints every return value; where it makes sense its
output is compared with the same program run natively (Linux is the oracle).
"""
from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLIENT_C = r"""
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void rep(const char *what, long r)
{
    if (r < 0)
        printf("%s = -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s = %ld\n", what, r);
    fflush(stdout);
}

static int fdflags(int fd)
{
    return ((fcntl(fd, F_GETFD) & FD_CLOEXEC) ? 1 : 0) |
           ((fcntl(fd, F_GETFL) & O_NONBLOCK) ? 2 : 0);
}

static struct sockaddr_in lo(int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "fdnums")) {
        int n = open("/dev/null", O_RDONLY);
        rep("open", n);
        int a = socket(AF_INET, SOCK_STREAM, 0);
        rep("socket4", a);
        int b = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        rep("socket6_cloexec", b);
        int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        rep("socket_nonblock", c);
        int u = socket(AF_UNIX, SOCK_STREAM, 0);
        rep("socket_unix", u);
        printf("flags %d %d %d %d\n", fdflags(a), fdflags(b), fdflags(c), fdflags(u));
        close(b);
        int d = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
        rep("syscall_socket", d);
        rep("bad_type", socket(AF_INET, SOCK_STREAM | 0x1000000, 0));
        int g = socket(AF_INET, SOCK_DGRAM, 0);
        rep("udp", g);
        return 0;
    }
    if (!strcmp(mode, "errors")) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = lo(0);
        int v = 1;
        socklen_t l = sizeof v;
        rep("bind_efault", bind(s, (void *)-1, sizeof a));
        rep("bind_einval", bind(s, (struct sockaddr *)&a, 200));
        rep("bind_neg", bind(s, (struct sockaddr *)&a, (socklen_t)-1));
        rep("connect_efault", connect(s, (void *)-1, sizeof a));
        rep("connect_einval", connect(s, (struct sockaddr *)&a, 129));
        rep("getsockopt_lenfault", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, (void *)-1));
        l = (socklen_t)-1;
        rep("getsockopt_neglen", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l));
        rep("setsockopt_efault", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, (void *)-1, 4));
        rep("getsockname_lenfault", getsockname(s, (struct sockaddr *)&a, (void *)-1));
        rep("accept4_badflags", accept4(s, NULL, NULL, 0x4));
        rep("bind_badfd", bind(999, (struct sockaddr *)&a, sizeof a));
        rep("sendto_efault", sendto(s, "x", 1, 0, (void *)-1, 16));
        rep("syscall_bind_efault", syscall(SYS_bind, s, (void *)-1, sizeof a));
        return 0;
    }
    if (!strcmp(mode, "nonsock")) {
        int p[2];
        rep("pipe", pipe(p));
        int e = eventfd(0, 0);
        rep("eventfd", e);
        struct sockaddr_in a = lo(0);
        socklen_t l = sizeof a;
        rep("getsockname_pipe", getsockname(p[0], (struct sockaddr *)&a, &l));
        rep("bind_eventfd", bind(e, (struct sockaddr *)&a, sizeof a));
        rep("connect_pipe", connect(p[1], (struct sockaddr *)&a, sizeof a));
        rep("write_pipe", write(p[1], "abc", 3));
        char buf[8];
        rep("read_pipe", read(p[0], buf, sizeof buf));
        rep("close_bad", close(-1));
        rep("accept_bad", accept(12345, NULL, NULL));
        int u = socket(AF_NETLINK, SOCK_RAW, 16); /* NETLINK_GENERIC: the kernel's */
        rep("kernel_socket", u);
        rep("kernel_getsockname", getsockname(u, (struct sockaddr *)&a, &l));
        return 0;
    }
    if (!strcmp(mode, "inherited")) { /* fd number in argv[2] */
        int fd = atoi(argv[2]);
        struct sockaddr_storage ss;
        socklen_t l = sizeof ss;
        memset(&ss, 0, sizeof ss);
        int r = getsockname(fd, (struct sockaddr *)&ss, &l);
        rep("getsockname", r);
        printf("family %d len %u\n", ss.ss_family, (unsigned)l);
        return 0;
    }
    if (!strcmp(mode, "exec")) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        char num[16];
        snprintf(num, sizeof num, "%d", s);
        execl(argv[0], argv[0], "inherited", num, (char *)NULL);
        return 1;
    }
    if (!strcmp(mode, "unreachable")) {
        rep("socket", socket(AF_INET, SOCK_STREAM, 0));
        rep("socket", socket(AF_INET6, SOCK_STREAM, 0));
        rep("socket_unix", socket(AF_UNIX, SOCK_STREAM, 0));
        return 0;
    }
    if (!strcmp(mode, "closeall")) { /* the program closes every fd, incl. the control one;
                                       * argv[2]: how (default: close each) */
        const char *how = argc > 2 ? argv[2] : "close";
        rep("socket", socket(AF_INET, SOCK_STREAM, 0));
        if (!strcmp(how, "close_range")) {
            close_range(3, ~0U, 0);
        } else if (!strcmp(how, "closefrom")) {
            closefrom(3);
        } else if (!strcmp(how, "syscall")) {
            syscall(SYS_close_range, 3, ~0U, 0);
        } else if (!strcmp(how, "dup2")) { /* /dev/null onto every high socket fd */
            int n = open("/dev/null", O_RDONLY);
            for (int fd = 100; fd < 70000; fd++) {
                char path[64], link[64];
                snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
                ssize_t k = readlink(path, link, sizeof link - 1);
                if (k > 7 && !strncmp(link, "socket:", 7))
                    dup2(n, fd);
            }
        } else {
            for (int fd = 3; fd < 70000; fd++)
                close(fd);
        }
        rep("socket_after_closeall", socket(AF_INET, SOCK_STREAM, 0));
        return 0;
    }
    if (!strcmp(mode, "rcvtimeo")) { /* argv[2] = port; SO_RCVTIMEO also applies natively */
        int ls = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = lo(atoi(argv[2]));
        bind(ls, (struct sockaddr *)&a, sizeof a);
        listen(ls, 1);
        int c = socket(AF_INET, SOCK_STREAM, 0);
        rep("connect", connect(c, (struct sockaddr *)&a, sizeof a));
        int s = accept(ls, NULL, NULL);
        struct timeval tv = {0, 100000};
        rep("setsockopt", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
        char b[4];
        rep("read", read(s, b, sizeof b));
        rep("getpeername_null_len", getpeername(s, (struct sockaddr *)&a, NULL));
        return 0;
    }
    if (!strcmp(mode, "tcp")) { /* argv[2] = port */
        int port = atoi(argv[2]);
        int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        rep("socket_l", ls);
        int one = 1;
        rep("setsockopt", setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
        struct sockaddr_in a = lo(port);
        rep("accept_notlistening", accept(ls, NULL, NULL));
        rep("bind", bind(ls, (struct sockaddr *)&a, sizeof a));
        rep("listen", listen(ls, 5));
        struct sockaddr_in got;
        socklen_t gl = 4; /* truncated */
        memset(&got, 0, sizeof got);
        rep("getsockname_trunc", getsockname(ls, (struct sockaddr *)&got, &gl));
        printf("gl %u family %d port %d\n", (unsigned)gl, got.sin_family, ntohs(got.sin_port));
        int c = socket(AF_INET, SOCK_STREAM, 0);
        rep("socket_c", c);
        rep("connect", connect(c, (struct sockaddr *)&a, sizeof a));
        struct sockaddr_in6 peer;
        socklen_t pl = sizeof peer;
        int s = accept4(ls, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
        rep("accept4", s);
        printf("peer len %u family %d port %d flags %d\n", (unsigned)pl, peer.sin6_family,
               ntohs(((struct sockaddr_in *)&peer)->sin_port), fdflags(s));
        rep("write", write(c, "hello", 5));
        char buf[64];
        rep("read", read(s, buf, sizeof buf));
        rep("sendto", sendto(s, "world!", 6, 0, (struct sockaddr *)&a, sizeof a));
        struct iovec iov = {"msg", 3};
        struct msghdr mh = {.msg_name = &a, .msg_namelen = sizeof a,
                            .msg_iov = &iov, .msg_iovlen = 1};
        rep("sendmsg", sendmsg(s, &mh, MSG_NOSIGNAL));
        rep("recv", recv(c, buf, 9, MSG_WAITALL));
        rep("shutdown", shutdown(c, SHUT_WR));
        rep("read_eof", read(s, buf, sizeof buf));
        int e = 0;
        socklen_t el = sizeof e;
        rep("getsockopt_error", getsockopt(c, SOL_SOCKET, SO_ERROR, &e, &el));
        rep("close", close(c));
        rep("close", close(s));
        /* non-blocking connect: writable only once the host discarded the filler */
        int n = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        struct sockaddr_in slow = lo(port + 1);
        rep("connect_nb", connect(n, (struct sockaddr *)&slow, sizeof slow));
        struct pollfd pf = {n, POLLOUT, 0};
        rep("poll_now", poll(&pf, 1, 0));
        rep("poll_wait", poll(&pf, 1, 5000));
        printf("revents %#x\n", pf.revents);
        rep("connect_again", connect(n, (struct sockaddr *)&slow, sizeof slow));
        int r = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in refused = lo(port + 2);
        rep("connect_refused", connect(r, (struct sockaddr *)&refused, sizeof refused));
        /* fork: the child gets its own control connection */
        pid_t pid = fork();
        if (pid == 0) {
            int k = socket(AF_INET, SOCK_STREAM, 0);
            rep("child_socket", k);
            _exit(k >= 0 ? 0 : 1);
        }
        int st;
        waitpid(pid, &st, 0);
        rep("child_status", WEXITSTATUS(st));
        return 0;
    }
    fprintf(stderr, "unknown mode\n");
    return 2;
}
"""


# --------------------------------------------------------------------------
# The fake host (runs in its own process: SO_PEERCRED must name it)


def serve(sock_path: str, log_path: str) -> None:
    from shim._stub import ffi, lib

    nonce = os.urandom(RN_NONCE_BYTES).hex()
    log = open(log_path, "a", buffering=1)
    lock = threading.Lock()
    socks: dict[int, dict] = {}
    next_id = [1]
    req_size = ffi.sizeof("struct rn_req")

    def sockaddr_in(port: int) -> bytes:
        return struct.pack("=H", socket.AF_INET) + struct.pack(">H", port) + bytes(
            [127, 0, 0, 1]) + bytes(8)

    def new_pair() -> tuple[int, socket.socket, socket.socket]:
        with lock:
            sid = next_id[0]
            next_id[0] += 1
        a, s = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        a.bind(b"\0" + f"rocketnet-{nonce}-{sid}".encode())
        socks[sid] = {"s": s, "listening": False, "addr": None, "peer": None}
        return sid, a, s

    def relay(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def discard(s: socket.socket, n: int) -> None:
        while n > 0:
            d = s.recv(min(n, 65536))
            if not d:
                return
            n -= len(d)

    def establish(cid: int, lst: dict, port: int, filler: int) -> None:
        c = socks[cid]
        c["peer"] = sockaddr_in(port)
        discard(c["s"], filler)
        sid, a, s = new_pair()
        socks[sid]["peer"] = sockaddr_in(40000 + cid)
        rec = ffi.new("struct rn_accept_rec *")
        rec.sock_id = sid
        addr = sockaddr_in(40000 + cid)
        rec.addrlen = len(addr)
        ffi.memmove(rec.addr, addr, len(addr))
        lst["s"].sendmsg([bytes(ffi.buffer(rec))], [
            (socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", a.fileno()))])
        a.close()
        threading.Thread(target=relay, args=(c["s"], s), daemon=True).start()
        threading.Thread(target=relay, args=(s, c["s"]), daemon=True).start()

    def reply(conn, ret=0, err=0, payload=b"", args=(0, 0), fd=None):
        resp = ffi.new("struct rn_resp *")
        resp.ret = ret
        resp.err = err
        resp.payload_len = len(payload)
        resp.arg[0], resp.arg[1] = args
        anc = []
        if fd is not None:
            anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", fd))]
        conn.sendmsg([bytes(ffi.buffer(resp)) + payload], anc)

    def handle(conn: socket.socket) -> None:
        import errno as E
        while True:
            try:
                msg = conn.recv(req_size + lib.RN_MAX_PAYLOAD)
            except OSError:
                return
            if not msg:
                return
            req = ffi.new("struct rn_req *")
            ffi.memmove(req, msg[:req_size], req_size)
            payload = msg[req_size:req_size + req.payload_len]
            op, sid, a = req.op, req.sock_id, list(req.arg)
            log.write(f"op={op} sid={sid} args={a} plen={len(payload)}\n")
            so = socks.get(sid)
            if op == lib.RN_OP_HELLO:
                reply(conn, ret=os.getpid(), payload=nonce.encode())
            elif op == lib.RN_OP_SOCKET:
                if a[1] == socket.SOCK_DGRAM:
                    reply(conn, -1, lib.RN_ERR_PASSTHROUGH)
                elif a[1] != socket.SOCK_STREAM:
                    reply(conn, -1, E.EINVAL)
                else:
                    nid, A, _s = new_pair()
                    reply(conn, ret=nid, args=(lib.RN_KIND_STREAM, 0), fd=A.fileno())
                    A.close()
            elif so is None:
                reply(conn, -1, E.EBADF)
            elif op == lib.RN_OP_BIND:
                so["addr"] = payload
                reply(conn)
            elif op == lib.RN_OP_LISTEN:
                so["listening"] = True
                reply(conn)
            elif op == lib.RN_OP_GETSOCKNAME:
                reply(conn, payload=so["addr"] or sockaddr_in(0))
            elif op == lib.RN_OP_GETPEERNAME:
                if so["peer"]:
                    reply(conn, payload=so["peer"])
                else:
                    reply(conn, -1, E.ENOTCONN)
            elif op == lib.RN_OP_GETSOCKOPT:
                if (a[0], a[1]) == (socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                    reply(conn, payload=struct.pack("i", int(so["listening"])))
                elif (a[0], a[1]) == (socket.SOL_SOCKET, socket.SO_ERROR):
                    reply(conn, payload=struct.pack("i", so.pop("error", 0)))
                else:
                    reply(conn, payload=struct.pack("i", 0)[: a[2]])
            elif op == lib.RN_OP_SETSOCKOPT:
                reply(conn)
            elif op in (lib.RN_OP_SHUTDOWN, lib.RN_OP_RDEND):
                reply(conn)         # RDEND: this host's sockets read as connected ones
            elif op == lib.RN_OP_CONNECT and a[2]:
                reply(conn, -1, lib.RN_ERR_FILL)    # this host's A is never shut: fill it
            elif op == lib.RN_OP_CONNECT:
                port = struct.unpack(">H", payload[2:4])[0]
                lst = next((x for x in socks.values() if x["listening"] and x["addr"]
                            and x["addr"][2:4] == payload[2:4]), None)
                lst_slow = next((x for x in socks.values() if x["listening"] and x["addr"]
                                 and struct.unpack(">H", x["addr"][2:4])[0] + 1 == port), None)
                if so["peer"] is not None:
                    discard(so["s"], a[0])
                    if so.get("reported"):
                        reply(conn, -1, E.EISCONN)
                    else:
                        so["reported"] = True
                        reply(conn)
                elif lst is not None:
                    establish(sid, lst, port, a[0])
                    reply(conn)
                elif lst_slow is not None:  # "slow" port: EINPROGRESS, established later
                    reply(conn, -1, E.EINPROGRESS)

                    def later(sid=sid, lst=lst_slow, port=port, n=a[0]):
                        time.sleep(0.3)
                        establish(sid, lst, port, n)
                    threading.Thread(target=later, daemon=True).start()
                else:
                    discard(so["s"], a[0])
                    reply(conn, -1, E.ECONNREFUSED)
            else:
                reply(conn, -1, E.EOPNOTSUPP)

    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    srv.bind(sock_path)
    srv.listen(64)
    print("ready", flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


RN_NONCE_BYTES = 8  # RN_NONCE_LEN hex chars

if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
    sys.exit(0)

# --------------------------------------------------------------------------
# Tests

import pytest  # noqa: E402

stub = pytest.importorskip("shim._stub")
builds = pytest.importorskip("shim.builds")
SO = str(builds.own_default())


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("client")
    src = d / "client.c"
    src.write_text(CLIENT_C)
    exe = d / "client"
    subprocess.run(["cc", "-O1", "-o", str(exe), str(src)], check=True)
    return str(exe)


@pytest.fixture()
def host(tmp_path):
    sock = str(tmp_path / "ctl.sock")
    log = tmp_path / "host.log"
    log.write_text("")
    p = subprocess.Popen([sys.executable, __file__, sock, str(log)], stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "ready"
    yield {"sock": sock, "log": log, "pid": p.pid, "dir": tmp_path}
    p.kill()
    p.wait()


def run(exe, *args, sock=None, trace=None, timeout=20, **kw):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROCKETNET_")}
    env["LD_PRELOAD"] = SO
    if sock:
        env["ROCKETNET_SOCK"] = sock
    if trace:
        env["ROCKETNET_TRACE"] = trace
    return subprocess.run([exe, *args], env=env, capture_output=True, text=True,
                          timeout=timeout, **kw)


def native(exe, *args):
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=20)


def ops(host):
    return [line for line in host["log"].read_text().splitlines() if line]


def test_passthrough_without_env(client):
    for mode in ("fdnums", "errors", "nonsock"):
        assert run(client, mode).stdout == native(client, mode).stdout
    r = run("iperf3", "--version") if os.path.exists("/usr/bin/iperf3") else None
    if r is not None:
        assert r.returncode == 0 and "iperf" in r.stdout
    r = run(sys.executable, "-c", "import socket; socket.socket().close(); print('ok')")
    assert r.stdout.strip() == "ok"


def test_fd_numbers_match_native(client, host):
    r = run(client, "fdnums", sock=host["sock"])
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout == native(client, "fdnums").stdout
    log = ops(host)
    assert any(f"op={stub.lib.RN_OP_SOCKET} " in x for x in log)


def test_error_paths_match_native(client, host):
    r = run(client, "errors", sock=host["sock"])
    assert r.stdout == native(client, "errors").stdout
    # EFAULT/EINVAL detected in the stub: no BIND/CONNECT RPC reached the host
    log = ops(host)
    assert not any(f"op={stub.lib.RN_OP_BIND} " in x for x in log)
    assert not any(f"op={stub.lib.RN_OP_CONNECT} " in x for x in log)


def test_non_socket_fds_untouched(client, tmp_path):
    # an unreachable host: any RPC would print the warning line
    r = run(client, "nonsock", sock=str(tmp_path / "nope.sock"))
    assert r.stderr == ""
    assert r.stdout == native(client, "nonsock").stdout


def test_unreachable_host(client, tmp_path):
    path = str(tmp_path / "nope.sock")
    r = run(client, "unreachable", sock=path)
    assert r.stdout.splitlines() == [
        "socket = -1 ENETDOWN", "socket = -1 ENETDOWN", "socket_unix = -1 ENETDOWN"]
    assert r.stderr.splitlines() == [
        f"rocketnet: stack host unreachable at {path}: No such file or directory;"
        f" its log: {tmp_path}/host.log"]


def test_tcp_paths(client, host):
    trace = str(host["dir"] / "trace.txt")
    r = run(client, "tcp", "5001", sock=host["sock"], trace=trace)
    assert r.returncode == 0, r.stdout + r.stderr
    out = dict(line.split(" = ", 1) for line in r.stdout.splitlines() if " = " in line)
    assert out["socket_l"] == "3"
    assert out["accept_notlistening"] == "-1 EINVAL"
    assert out["bind"] == out["listen"] == out["setsockopt"] == "0"
    assert "gl 16 family 2 port 5001" in r.stdout  # 4 bytes copied, full length reported
    assert out["connect"] == "0"
    assert out["accept4"] == "5"
    assert "peer len 16 family 2 port 40002 flags 1" in r.stdout
    assert out["read"] == "5"
    assert out["sendto"] == "6" and out["sendmsg"] == "3" and out["recv"] == "9"
    assert out["read_eof"] == "0"
    assert out["connect_nb"] == "-1 EINPROGRESS"
    assert out["poll_now"] == "0"
    assert out["poll_wait"] == "1"
    assert "revents 0x4" in r.stdout
    assert out["connect_again"] == "0"
    assert out["connect_refused"] == "-1 ECONNREFUSED"
    assert out["child_socket"] == "6" and out["child_status"] == "0"
    # the child made its own control connection
    hellos = [x for x in ops(host) if x.startswith(f"op={stub.lib.RN_OP_HELLO} ")]
    assert len(hellos) == 2
    # filler: the first connect wrote some, the second one (already connecting) none; a
    # fresh socket asks without one first (RN_OP_CONNECT arg2: this host says fill)
    connects = [x for x in ops(host) if x.startswith(f"op={stub.lib.RN_OP_CONNECT} ")]
    args = [[int(v) for v in x.split("args=[")[1].split("]")[0].split(",")] for x in connects]
    assert args[0][0] == 0 and args[0][2] == 1, args
    fill = [a[0] for a in args if not a[2]]
    assert fill[0] > 0 and fill[2] == 0, fill
    t = Path(trace).read_text().splitlines()
    body = [x.split(" ", 1)[1] for x in t]
    assert "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0) = 3" in body
    assert "setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0" in body
    assert "bind(3, {AF_INET, 127.0.0.1:5001}, 16) = 0" in body
    assert "listen(3, 5) = 0" in body
    assert "connect(4, {AF_INET, 127.0.0.1:5001}, 16) = 0" in body
    assert "accept4(3, {AF_INET, 127.0.0.1:40002}, [16], SOCK_CLOEXEC) = 5" in body
    assert "write(4, 5) = 5" in body
    assert "shutdown(4, SHUT_WR) = 0" in body
    assert "close(4) = 0" in body
    assert "connect(4, {AF_INET, 127.0.0.1:5002}, 16) = -1 EINPROGRESS" in body
    assert "connect(5, {AF_INET, 127.0.0.1:5003}, 16) = -1 ECONNREFUSED" in body
    assert all(x.split(" ", 1)[0].isdigit() for x in t)


def test_recognised_after_exec(client, host):
    r = run(client, "exec", sock=host["sock"])
    # the exec'd image does not know the fd: it recognises it by name + SO_PEERCRED
    assert "getsockname = 0" in r.stdout and "family 2 len 16" in r.stdout, r.stdout


def test_forged_name_rejected(client, host):
    # learn the host's nonce with a HELLO of our own
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    nonce = None
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as c:
        from shim._stub import ffi, lib
        c.connect(host["sock"])
        req = ffi.new("struct rn_req *")
        req.op = lib.RN_OP_HELLO
        req.arg[0] = os.getpid()
        req.arg[1] = lib.RN_PROTO_VERSION
        c.send(bytes(ffi.buffer(req)))
        data = c.recv(4096)
        nonce = data[ffi.sizeof("struct rn_resp"):].decode()
    a.bind(b"\0" + f"rocketnet-{nonce}-1".encode())  # forged by this (non-host) process
    fd = a.fileno()
    r = run(client, "inherited", str(fd), sock=host["sock"], pass_fds=(fd,))
    # taken as a shim fd it would answer AF_INET from the host; native: AF_UNIX name
    assert "getsockname = 0" in r.stdout
    assert f"family {socket.AF_UNIX} " in r.stdout, r.stdout
    assert not any(x.startswith(f"op={lib.RN_OP_GETSOCKNAME} ") for x in ops(host))
    a.close()
    b.close()


@pytest.mark.parametrize("how", ["close", "close_range", "closefrom", "syscall", "dup2"])
def test_control_fd_closed_behind_our_back(client, host, how):
    # every way a program closes or replaces fds tells the stub to check its control
    # connection before the next RPC (rpc.c rn_ctl_touch); dup2 leaves /dev/null at 4
    r = run(client, "closeall", how, sock=host["sock"])
    after = 5 if how == "dup2" else 3
    assert r.stdout.splitlines() == ["socket = 3", f"socket_after_closeall = {after}"], \
        r.stdout
    assert r.stderr == ""


def test_adopted_ctl_fd(client, host):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    c.connect(host["sock"])
    fd = c.fileno()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROCKETNET_")}
    env.update(LD_PRELOAD=SO, ROCKETNET_SOCK=host["sock"], ROCKETNET_CTL_FD="3")
    # the control fd arrives as fd 3, where the program's first fd would go
    r = subprocess.run([client, "fdnums"], env=env, pass_fds=(3,),
                       preexec_fn=lambda: os.dup2(fd, 3), capture_output=True,
                       text=True, timeout=20)
    c.close()
    # the inherited fd was moved out of the way at load: numbering is Linux's
    nat = native(client, "fdnums").stdout
    assert r.stdout == nat, r.stdout
    hellos = [x for x in ops(host) if x.startswith("op=1 ")]
    assert len(hellos) == 1  # no second connection: the adopted one was used


def test_dlopen_does_not_act(tmp_path):
    # a process that loads the library without preloading it must not have the env taken
    code = ("import os, ctypes; os.environ['ROCKETNET_CTL_FD'] = '0'; "
            f"os.environ['ROCKETNET_SOCK'] = '/nonexistent'; ctypes.CDLL({SO!r}); "
            "import socket; socket.socket().close(); print(os.environ.get('ROCKETNET_CTL_FD'))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROCKETNET_")}
    env.pop("LD_PRELOAD", None)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=20)
    assert r.stdout.strip() == "0" and r.stderr == "", r.stderr


def test_rcvtimeo_mirrored_natively(client, host):
    t0 = time.monotonic()
    r = run(client, "rcvtimeo", "7001", sock=host["sock"])
    assert r.stdout.splitlines() == ["connect = 0", "setsockopt = 0", "read = -1 EAGAIN",
                                     "getpeername_null_len = -1 EFAULT"], r.stdout
    assert time.monotonic() - t0 < 10

"""AF_ALG through the shim: known answers from published vectors (tests/alg/alg_kat.c),
Python's own AF_ALG API, traces without keys or data, LTP af_alg01-08.

This machine's kernel has no AF_ALG, so the outputs are checked against the
published vectors here; tools/vm (tests/test_kernels.py) compares alg_kat with native
runs in Linux 6.1 and 6.12 guests."""
from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ALG_DIR = Path(__file__).parent / "alg"
CC = shutil.which("cc") or shutil.which("gcc")
LTPROOT = Path("/opt/ltp")
TOOLS = Path(__file__).resolve().parent.parent / "tools"


@pytest.fixture(scope="module")
def kat_exe(tmp_path_factory):
    if CC is None:
        pytest.skip("no C compiler (tools/setup installs gcc)")
    exe = tmp_path_factory.mktemp("alg-bin") / "alg_kat"
    subprocess.run([CC, "-std=gnu11", "-O1", "-Wall", "-Wextra", "-Werror", "-o", str(exe),
                    str(ALG_DIR / "alg_kat.c")], check=True)
    return exe


def test_known_answers_through_the_socket_api(rn, kat_exe, tmp_path):
    trace = tmp_path / "trace"
    r = rn.run("run", "--trace", str(trace), "--", str(kat_exe), timeout=120)
    assert "FAIL" not in r.stdout, r.stdout + r.stderr
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.rstrip().endswith("0 failures")
    oks = {line[3:] for line in r.stdout.splitlines() if line.startswith("ok ")}
    for name in ("hash md5(\"abc\") streamed", "hash sha3-512(\"abc\") streamed",
                 "hash blake2b-512(\"abc\") streamed", "hash crc32c(\"abc\") streamed",
                 "RFC 4231 hmac(sha512) \"Hi There\"", "xts(aes) encrypt", "chacha20 decrypt",
                 "gcm(aes) test case 4 bad tag: EBADMSG",
                 "RFC 8439 2.8.2 rfc7539(chacha20,poly1305) encrypt",
                 "RFC 3610 ccm(aes) packet 1 decrypt", "rfc4106(gcm(aes)) = gcm(aes) with salt||iv",
                 "authenc(hmac(sha256),cbc(aes)) = cbc(aes) then hmac(sha256)",
                 "hmac(hmac(sha256)) refused: EINVAL", "cbc(aes) unaligned length: EINVAL",
                 "sha256 two operation sockets interleaved (b)", "hmac without a key: ENOKEY",
                 "hash operation socket polls no events", "stdrng unseeded: EINVAL",
                 "setkey with an operation socket open: EBUSY"):
        assert name in oks, name
    assert len(oks) >= 57
    # keys and data never reach the trace: option values and buffers as lengths only
    text = trace.read_text()
    assert re.search(r"setsockopt\(\d+, 279, 1, <20 bytes>, 20\) = 0", text), text
    assert "setsockopt(3, 279, 1, <4 bytes>, 4) = 0" in text    # "Jefe": not an int either
    assert "socket(AF_ALG, SOCK_SEQPACKET, 0)" in text
    for secret in ("Jefe", "Hi There", "1245795914", "2b7e1516", "Ladies"):
        assert secret not in text


PY_ALG = textwrap.dedent("""
    import errno, socket
    t = socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET, 0)
    t.bind(("aead", "gcm(aes)"))
    t.setsockopt(socket.SOL_ALG, socket.ALG_SET_KEY, bytes(16))
    op, _ = t.accept()
    op.sendmsg_afalg([bytes(16)], op=socket.ALG_OP_ENCRYPT, iv=bytes(12), assoclen=0)
    print(op.recv(32).hex())
    op.sendmsg_afalg([bytes(31)], op=socket.ALG_OP_DECRYPT, iv=bytes(12), assoclen=0)
    try:
        op.recv(32)
    except OSError as e:
        print(errno.errorcode[e.errno])
    op.setblocking(False)
    op.sendmsg_afalg([bytes(16)], op=socket.ALG_OP_ENCRYPT, iv=bytes(12), assoclen=0,
                     flags=socket.MSG_MORE)
    try:
        op.recv(32)
    except BlockingIOError:
        print("EAGAIN")
    op.send(b"")
    print(len(op.recv(32)))
    try:
        socket.socket(socket.AF_ALG, socket.SOCK_STREAM, 0)
    except OSError as e:
        print(errno.errorcode[e.errno])
""")


def test_python_af_alg_api(rn):
    r = rn.run("run", "--", sys.executable, "-c", PY_ALG, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [
        "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf",  # GCM test case 2
        "EBADMSG", "EAGAIN", "32", "ESOCKTNOSUPPORT"]


PY_BLOCKING = textwrap.dedent("""
    import select, socket, threading, time
    t = socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET, 0)
    t.bind(("skcipher", "cbc(aes)"))
    t.setsockopt(socket.SOL_ALG, socket.ALG_SET_KEY,
                 bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c"))
    op, _ = t.accept()
    op.sendmsg_afalg([bytes.fromhex("6bc1bee22e409f96e93d7e11")], op=socket.ALG_OP_ENCRYPT,
                     iv=bytes(range(16)), flags=socket.MSG_MORE)
    def rest():
        time.sleep(0.3)
        op.send(bytes.fromhex("7393172a"))
    threading.Thread(target=rest).start()
    t0 = time.monotonic()
    print(op.recv(16).hex(), time.monotonic() - t0 >= 0.25)
    print(select.select([], [op], [], 0)[1] == [op])
    try:
        t.setsockopt(socket.SOL_ALG, socket.ALG_SET_KEY, bytes(5000))
    except OSError as e:
        print(e.errno)
""")


def test_blocking_read_completes_when_input_arrives(rn):
    """A read of an incomplete request (MSG_MORE) blocks until another thread sends
    the rest, as on Linux; the operation socket polls writable."""
    r = rn.run("run", "--", sys.executable, "-c", PY_BLOCKING, timeout=60)
    assert r.returncode == 0, r.stderr
    # a new key while an operation socket is open: EBUSY (alg_setkey, as the 6.1/6.12
    # guests answer), whatever the key
    assert r.stdout.split() == ["7649abac8119b246cee98e9b12e9197d", "True", "True", "16"]


PY_POLL = textwrap.dedent("""
    import select, socket
    t = socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET, 0)
    t.bind(("skcipher", "cbc(aes)"))
    t.setsockopt(socket.SOL_ALG, socket.ALG_SET_KEY, bytes(16))
    op, _ = t.accept()
    op.setblocking(False)
    def readable():
        return select.select([op], [], [], 0)[0] == [op]
    print(readable())
    op.sendmsg_afalg([bytes(8)], op=socket.ALG_OP_ENCRYPT, iv=bytes(16), flags=socket.MSG_MORE)
    print(readable())
    try:
        op.recv(16)
    except BlockingIOError:
        print("EAGAIN")
    op.send(bytes(8))
    print(readable(), op.recv(16).hex(), readable())
""")


def test_operation_socket_poll_follows_af_alg_poll(rn):
    """POLLIN where af_alg_poll gives it (no MSG_MORE pending, or input queued); a
    non-blocking read of an incomplete block is EAGAIN."""
    r = rn.run("run", "--", sys.executable, "-c", PY_POLL, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "True", "EAGAIN", "True",
                                "66e94bd4ef8a2c3b884cfa59ca342b2e", "True"]  # AES-128(0, 0)


PY_ERRORS = textwrap.dedent("""
    import errno, socket
    def e(f):
        try:
            f()
            return "ok"
        except OSError as x:
            return "EOPNOTSUPP" if x.errno == errno.EOPNOTSUPP else errno.errorcode[x.errno]
    t = socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET, 0)
    print(e(t.accept), e(lambda: t.listen(1)), e(lambda: t.connect(("hash", "sha1"))),
          e(t.getsockname))
    t.bind(("hash", "sha1"))
    print(e(lambda: t.bind(("hash", "sha256"))), e(lambda: t.send(b"x")), e(lambda: t.recv(4)),
          e(lambda: t.shutdown(socket.SHUT_RD)))
    op, _ = t.accept()
    print(e(lambda: t.bind(("hash", "sha256"))), e(lambda: op.setsockopt(socket.SOL_ALG, 1, b"k")),
          t.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_SEQPACKET)
    op.close()
    print(e(lambda: t.bind(("hash", "sha256"))))
""")


def test_socket_calls_linux_refuses(rn):
    """accept before bind EINVAL; connect/listen/getsockname/shutdown and data on the
    transform socket EOPNOTSUPP; rebinding while an operation socket lives EBUSY, and
    fine at once after its close."""
    r = rn.run("run", "--", sys.executable, "-c", PY_ERRORS, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "EINVAL EOPNOTSUPP EOPNOTSUPP EOPNOTSUPP",
        "ok EOPNOTSUPP EOPNOTSUPP EOPNOTSUPP",
        "EBUSY EOPNOTSUPP True",
        "ok"]


PY_EXEC = textwrap.dedent("""
    import os, socket, subprocess, sys
    t = socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET, 0)
    t.bind(("hash", "sha1"))
    op, _ = t.accept()
    op.send(b"ab", socket.MSG_MORE)
    child = ("import os; fd = int(os.environ['FD']); os.write(fd, b'c'); "
             "print(os.read(fd, 64).hex())")
    subprocess.run([sys.executable, "-c", child], pass_fds=[op.fileno()], check=True,
                   env=dict(os.environ, FD=str(op.fileno())))
""")


def test_operation_socket_inherited_over_exec(rn):
    """An exec'd child recognises an inherited operation socket and continues the hash."""
    r = rn.run("run", "--", sys.executable, "-c", PY_EXEC, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["a9993e364706816aba3e25717850c26c9cd0d89d"]  # SHA-1("abc")


@pytest.mark.skipif(not (LTPROOT / "testcases/bin/af_alg01").exists(), reason="no LTP in /opt/ltp")
def test_ltp_af_alg(rn, tmp_path):
    r = subprocess.run([sys.executable, str(TOOLS / "ltp"), "--ltproot", str(LTPROOT),
                        "-f", "^af_alg", "--log", str(tmp_path / "ltp.log")],
                       env=rn.env, capture_output=True, text=True, timeout=600)
    rows = {m.group(1): tuple(map(int, m.group(2, 3, 4, 5))) for m in re.finditer(
        r"^(af_alg\d\d)\s+\S+\s+(\d+)/(\d+)/(\d+)/(\d+)", r.stdout, re.M)}
    assert len(rows) == 8, r.stdout + r.stderr
    for name, (_passed, failed, broken, _conf) in rows.items():
        assert failed == 0 and broken == 0, (name, r.stdout)
    # CONF only where Linux 6.x has no such algorithm (salsa20, vmac64 were removed)
    for name in ("af_alg01", "af_alg03", "af_alg05", "af_alg06", "af_alg07", "af_alg08"):
        assert rows[name][0] >= 1 and rows[name][3] == 0, (name, r.stdout)


PY_LONG_KEYS = textwrap.dedent("""
    import hashlib, hmac, socket
    t = socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET, 0)
    t.bind(("hash", "hmac(sha256)"))
    limit = int(open("/proc/sys/net/core/optmem_max").read())
    for n in (4096, 4097, 12345, limit - 1, limit):
        key = bytes(i % 251 for i in range(n))
        try:
            t.setsockopt(socket.SOL_ALG, socket.ALG_SET_KEY, key)
        except OSError as e:
            print(n == limit, e.errno)
            continue
        op, _ = t.accept()
        op.send(b"abc")
        print(op.recv(32) == hmac.new(key, b"abc", hashlib.sha256).digest())
        op.close()
""")


def test_keys_longer_than_a_page(rn):
    """alg_setkey takes a key of any length below net.core.optmem_max (sock_kmalloc),
    ENOMEM from there: long HMAC keys give the digest Python's hmac computes."""
    r = rn.run("run", "--", sys.executable, "-c", PY_LONG_KEYS, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True"] * 4 + ["True", "12"]


def test_spliced_and_sendfile_input_keep_the_hash_open(rn, tmp_path):
    """splice with SPLICE_F_MORE keeps a hash open as MSG_MORE does, the last splice
    (or a send without MSG_MORE) ends it; sendfile hands its whole range as one input
    (tests/alg/alg_splice.c; this kernel has no AF_ALG: the digests are checked with
    hashlib)."""
    if CC is None:
        pytest.skip("no C compiler (tools/setup installs gcc)")
    exe = tmp_path / "alg_splice"
    subprocess.run([CC, "-std=gnu11", "-O1", "-Wall", "-Wextra", "-Werror", "-o", str(exe),
                    str(ALG_DIR / "alg_splice.c")], check=True)
    r = rn.run("run", "--", str(exe), timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    data = bytes((i * 7 + i // 251) & 0xFF for i in range(100000))
    whole, tail = hashlib.sha256(data).hexdigest(), hashlib.sha256(data[1000:]).hexdigest()
    got = {k.strip(): v.strip() for k, v in (ln.split("=", 1) for ln in r.stdout.splitlines())}
    assert got["digest after splices"] == whole, r.stdout
    assert got["digest after splice + send"] == whole, r.stdout
    assert (got["sendfile"], got["sendfile offset after"]) == ("100000", "100000"), r.stdout
    assert got["digest after sendfile"] == whole, r.stdout
    assert (got["sendfile NULL offset"], got["file position after"]) == ("99000", "100000")
    assert got["digest after sendfile to EOF"] == tail, r.stdout

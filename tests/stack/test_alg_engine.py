"""The AF_ALG engine (rocketnet.alg), sans-I/O: socket semantics and errors as
Linux's algif_* give them (as Linux 6.1 and 6.12 do: tools/vm compares them), with
published vectors where a result is checked."""
from __future__ import annotations

import errno
import hashlib
import hmac

import pytest

from rocketnet.alg import (
    ALG_OP_DECRYPT,
    ALG_OP_ENCRYPT,
    ALG_SET_AEAD_AUTHSIZE,
    ALG_SET_KEY,
    SOL_ALG,
    AlgError,
    AlgSocket,
    Control,
)

AES_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
IV = bytes(range(16))
PT = bytes.fromhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51")
CBC_CT = bytes.fromhex("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2")


def tfm(type_: str, name: str, key: bytes | None = None) -> AlgSocket:
    t = AlgSocket(lambda n: b"\x5a" * n)
    t.bind(type_, name)
    if key is not None:
        t.setsockopt(SOL_ALG, ALG_SET_KEY, key, len(key))
    return t


def errno_of(fn, *args) -> int:
    with pytest.raises(AlgError) as ei:
        fn(*args)
    return ei.value.errno


@pytest.mark.parametrize("name", ["md5", "sha1", "sha224", "sha256", "sha384", "sha512",
                                  "sha3-224", "sha3-256", "sha3-384", "sha3-512"])
def test_hash_streams_like_hashlib(name):
    op = tfm("hash", name + "-generic").accept()
    op.send(b"a" * 1000, True)
    op.send(b"", True)
    op.send(b"b" * 77, False)
    assert op.recv(64) == hashlib.new(name.replace("-", "_"), b"a" * 1000 + b"b" * 77).digest()


def test_hash_read_semantics():
    op = tfm("hash", "sha256").accept()
    assert op.recv(32) == hashlib.sha256(b"").digest()          # nothing sent: empty message
    op.send(b"ab", True)
    assert op.recv(32) == hashlib.sha256(b"ab").digest()        # read finalises MSG_MORE input
    op.send(b"abc", False)
    clone = op.accept()                                          # accept on a hash op: a copy
    assert op.recv(32) == clone.recv(32) == hashlib.sha256(b"abc").digest()


def test_hmac_rfc4231_and_key_rules():
    key = b"\x0b" * 20
    t = tfm("hash", "hmac(sha256)")
    op = t.accept()
    assert errno_of(op.send, b"x", False) == errno.ENOKEY      # accept without key: ENOKEY use
    t.setsockopt(SOL_ALG, ALG_SET_KEY, key, len(key))
    op.send(b"Hi There", False)
    assert op.recv(32).hex() == (
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    long_key = bytes(range(200))                                   # longer than the block
    assert errno_of(t.setsockopt, SOL_ALG, ALG_SET_KEY, long_key, 200) == errno.EBUSY
    t.release(op)                                                  # key fixed while in use
    t.setsockopt(SOL_ALG, ALG_SET_KEY, long_key, len(long_key))
    op = t.accept()
    op.send(b"m", False)
    assert op.recv(32) == hmac.new(long_key, b"m", hashlib.sha256).digest()
    assert errno_of(tfm("hash", "sha256").setsockopt, SOL_ALG, ALG_SET_KEY, b"k", 1) == errno.ENOSYS


@pytest.mark.parametrize("name", ["nosuch", "sha256(", "cbc(aes", "hmac(sha256,sha1)",
                                  "cbc(des)", "gcm(aes)", "hmac(nosuch)"])
def test_unknown_hash_names_are_enoent(name):
    assert errno_of(tfm, "hash", name) == errno.ENOENT


@pytest.mark.parametrize("name", ["hmac(hmac(sha256))", "hmac(crc32c)", "hmac(blake2b-256)"])
def test_hmac_of_a_hash_that_takes_a_key_is_einval(name):
    assert errno_of(tfm, "hash", name) == errno.EINVAL          # as 6.12 answers (tools/vm)
    # 6.1 answers ENOENT: the host probes it (KernelProfile.alg_misfit)
    assert errno_of(AlgSocket(bytes, misfit=errno.ENOENT).bind, "hash", name) == errno.ENOENT


def test_crc32c_known_answers():
    op = tfm("hash", "crc32c").accept()
    op.send(b"123456789", False)
    assert op.recv(4) == (0xE3069283).to_bytes(4, "little")     # the CRC-32C check value
    t = tfm("hash", "crc32c")
    assert errno_of(t.setsockopt, SOL_ALG, ALG_SET_KEY, b"abc", 3) == errno.EINVAL


def test_cbc_chains_the_iv_across_requests():
    op = tfm("skcipher", "cbc(aes-generic)", AES_KEY).accept()
    op.send(PT[:16], False, Control(ALG_OP_ENCRYPT, IV))
    assert op.recv(16) == CBC_CT[:16]
    op.send(PT[16:], False, Control(ALG_OP_ENCRYPT, None))       # no new IV: chained
    assert op.recv(16) == CBC_CT[16:]


def test_skcipher_partial_reads_and_blocking():
    op = tfm("skcipher", "cbc(aes)", AES_KEY).accept()
    assert op.recv(16) is None                                   # no input yet: would block
    op.send(PT[:8], True, Control(ALG_OP_ENCRYPT, IV))
    assert op.recv(16) is None                                   # less than a block, MORE
    op.send(PT[8:], False)
    assert op.recv(16) == CBC_CT[:16]                            # a short read: one block
    assert op.recv(64, nonblocking=True) == CBC_CT[16:]          # what there is, not 64
    assert op.recv(64, nonblocking=True) is None                 # all taken: request over
    op.send(PT[:16], False, Control(ALG_OP_ENCRYPT, IV))
    assert op.recv(32) is None                                   # 16 of 32: waits to fill
    op.send(PT[16:], False, Control(ALG_OP_ENCRYPT, None))
    assert op.recv(32) == CBC_CT                                 # ... and then fills up


def test_skcipher_errors():
    t = tfm("skcipher", "cbc(aes)")
    op = t.accept()
    assert errno_of(op.send, PT, False, Control(ALG_OP_ENCRYPT, IV)) == errno.ENOKEY
    t.setsockopt(SOL_ALG, ALG_SET_KEY, AES_KEY, 16)     # the open socket has no key yet
    assert errno_of(t.setsockopt, SOL_ALG, ALG_SET_KEY, bytes(17), 17) == errno.EINVAL
    op.send(b"", True, Control(ALG_OP_ENCRYPT, IV))     # a bad length kept the key ...
    assert errno_of(t.setsockopt, SOL_ALG, ALG_SET_KEY, AES_KEY, 16) == errno.EBUSY
    assert errno_of(op.send, PT, False, Control(ALG_OP_ENCRYPT, IV[:12])) == errno.EINVAL
    assert errno_of(op.send, PT, False, Control(7, IV)) == errno.EINVAL
    op.send(PT[:15], False, Control(ALG_OP_ENCRYPT, IV))
    assert errno_of(op.send, b"x", False) == errno.EINVAL        # unread request, no MORE
    assert errno_of(op.recv, 15) == errno.EINVAL                 # unaligned
    assert op.recv(15) is None                                   # ... and consumed
    assert errno_of(t.bind, "skcipher", "ecb(aes)") == errno.EBUSY   # operation sockets alive
    op.parent.release(op)
    t.bind("skcipher", "ecb(aes)")
    assert errno_of(t.bind, "skcipher", "aes") == errno.ENOENT   # a cipher is not an skcipher
    assert errno_of(t.setsockopt, 1, 2, b"", 0) == errno.ENOPROTOOPT
    assert errno_of(AlgSocket(bytes).accept) == errno.EINVAL     # accept before bind
    assert errno_of(AlgSocket(bytes).bind, "hash", "sha256", 1, 0) == errno.EINVAL


def test_ctr_and_chacha20_match_published_vectors():
    op = tfm("skcipher", "ctr(aes)", AES_KEY).accept()
    op.send(PT[:16], False, Control(ALG_OP_ENCRYPT, bytes.fromhex(
        "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")))
    assert op.recv(16).hex() == "874d6191b620e3261bef6864990db6ce"   # SP 800-38A F.5.1
    op = tfm("skcipher", "chacha20", bytes(range(32))).accept()
    iv = (1).to_bytes(4, "little") + bytes.fromhex("000000000000004a00000000")
    op.send(b"Ladies and Gentlemen", False, Control(ALG_OP_ENCRYPT, iv))
    assert op.recv(20).hex().startswith("6e2e359a2568f98041ba0728dd0d6981")  # RFC 8439 2.4.2


def test_gcm_aead_layout_tag_sizes_and_ebadmsg():
    t = tfm("aead", "gcm(aes)", bytes(16))
    op = t.accept()
    op.send(b"AAD!" + bytes(16), False, Control(ALG_OP_ENCRYPT, bytes(12), 4))
    out = op.recv(100, nonblocking=True)
    assert out[:4] == b"AAD!" and len(out) == 4 + 16 + 16
    op.send(out, False, Control(ALG_OP_DECRYPT, bytes(12), 4))
    assert op.recv(100) is None                                  # 20 of 100: waits to fill
    op.send(out, False, Control(ALG_OP_DECRYPT, bytes(12), 4))
    assert op.recv(40) == (b"AAD!" + bytes(16)) * 2
    bad = out[:-1] + bytes([out[-1] ^ 1])
    op.send(bad, False, Control(ALG_OP_DECRYPT, bytes(12), 4))
    assert errno_of(op.recv, 20) == errno.EBADMSG
    op.send(b"AAD", False, Control(ALG_OP_DECRYPT, bytes(12), 4))
    assert errno_of(op.recv, 100) == errno.EINVAL                # less than assoc + tag
    assert errno_of(op.recv, 100) == errno.EINVAL                # ... and nothing consumed
    op.parent.release(op)                                        # authsize: no socket open
    assert errno_of(t.setsockopt, SOL_ALG, ALG_SET_AEAD_AUTHSIZE, b"", 5) == errno.EINVAL
    t.setsockopt(SOL_ALG, ALG_SET_AEAD_AUTHSIZE, b"", 8)
    op2 = t.accept()
    op2.send(bytes(16), False, Control(ALG_OP_ENCRYPT, bytes(12), 0))
    assert op2.recv(24).hex() == (                              # GCM test case 2, 8-byte tag
        "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bd")
    op2.send(bytes(16), True, Control(ALG_OP_ENCRYPT, bytes(12), 0))
    assert op2.recv(100) is None                                 # AEAD waits for all input


def test_aead_names_and_keys():
    assert errno_of(tfm, "aead", "rfc7539(chacha20,sha256)") == errno.EINVAL  # not poly1305
    assert errno_of(tfm, "aead", "rfc7539(chacha20,nosuch)") == errno.ENOENT
    assert errno_of(tfm, "aead", "gcm(des)") == errno.ENOENT
    t = tfm("aead", "rfc7539(chacha20,poly1305)")
    assert errno_of(t.setsockopt, SOL_ALG, ALG_SET_AEAD_AUTHSIZE, b"", 12) == errno.EINVAL
    assert errno_of(t.setsockopt, SOL_ALG, ALG_SET_KEY, bytes(16), 16) == errno.EINVAL
    t = tfm("aead", "gcm(aes)", bytes(16))
    assert errno_of(t.setsockopt, SOL_ALG, ALG_SET_KEY, bytes(15), 15) == errno.EINVAL
    op = t.accept()                     # crypto_aead_setkey failed: the key is gone
    assert errno_of(op.send, bytes(16), False, Control(ALG_OP_ENCRYPT, bytes(12))) == \
        errno.ENOKEY
    t = tfm("aead", "rfc4106(gcm(aes))", bytes(20))
    op = t.accept()
    op.send(bytes(12) + bytes(16), False, Control(ALG_OP_ENCRYPT, bytes(8), 12))
    assert errno_of(op.recv, 44) == errno.EINVAL                 # assoclen must be 16 or 20


def test_authenc_rtattr_key():
    t = tfm("aead", "authenc(hmac(sha256),cbc(aes))")
    for key in (b"\x09\x00\x01\x00\x00\x00\x00\x01\x00",          # LTP af_alg06: rta_len 9
                b"\x08\x00\x02\x00\x00\x00\x00\x10" + bytes(16),  # wrong rta_type
                b"\x08\x00\x01\x00\x00\x00\x00\x20" + bytes(16),  # enckeylen > what follows
                b"\x08\x00"):
        assert errno_of(t.setsockopt, SOL_ALG, ALG_SET_KEY, key, len(key)) == errno.EINVAL
    key = b"\x08\x00\x01\x00\x00\x00\x00\x10" + b"K" * 32 + AES_KEY
    t.setsockopt(SOL_ALG, ALG_SET_KEY, key, len(key))
    op = t.accept()
    op.send(b"hdr!" + PT, False, Control(ALG_OP_ENCRYPT, IV, 4))
    out = op.recv(4 + 32 + 32)
    assert out[4:36] == CBC_CT
    assert out[36:] == hmac.new(b"K" * 32, b"hdr!" + CBC_CT, hashlib.sha256).digest()


def test_rng_reads_at_most_128_bytes():
    t = tfm("rng", "stdrng")
    op = t.accept()
    assert errno_of(op.recv, 16) == errno.EINVAL                 # a DRBG not yet seeded
    op = tfm("rng", "stdrng", bytes(32)).accept()
    assert op.recv(16) == b"\x5a" * 16
    assert len(op.recv(1000)) == 128
    assert errno_of(op.send, b"x", False) == errno.EOPNOTSUPP

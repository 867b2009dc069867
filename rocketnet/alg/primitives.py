"""Algorithm names and primitives of the AF_ALG engine (Linux crypto API names).

Every primitive comes from a well-kept library: hashlib/hmac for digests and
`cryptography` for ciphers and AEADs.  Names are parsed as Linux parses template
instances ("hmac(sha256)", "authenc(hmac(sha256),cbc(aes))"); the driver names
Linux registers for its generic implementations ("aes-generic", "sha256-generic")
resolve to the same algorithm.  Unknown names and constructions Linux refuses
(hmac(hmac(x)), rfc7539 with a non-poly1305 hash) raise AlgError(ENOENT).
"""
from __future__ import annotations

import errno
import hashlib
from typing import Callable

from cryptography.hazmat.primitives import hashes as chashes


class AlgError(Exception):
    """A failure with the errno Linux gives."""

    def __init__(self, err: int) -> None:
        super().__init__(errno.errorcode.get(err, str(err)))
        self.errno = err


class AlgMisfit(AlgError):
    """A template given an algorithm that exists but does not fit it: the errno differs
    between kernels (AlgSocket's `misfit`)."""

    def __init__(self) -> None:
        super().__init__(errno.EINVAL)


Node = tuple[str, list["Node"]]


def parse_name(name: str) -> Node:
    """"a(b,c(d))" -> ("a", [("b", []), ("c", [("d", [])])]); ENOENT if malformed."""
    pos = 0

    def node() -> Node:
        nonlocal pos
        start = pos
        while pos < len(name) and name[pos] not in "(),":
            pos += 1
        head = name[start:pos]
        if not head:
            raise AlgError(errno.ENOENT)
        args: list[Node] = []
        if pos < len(name) and name[pos] == "(":
            pos += 1
            args.append(node())
            while pos < len(name) and name[pos] == ",":
                pos += 1
                args.append(node())
            if pos >= len(name) or name[pos] != ")":
                raise AlgError(errno.ENOENT)
            pos += 1
        return _alias(head), args

    tree = node()
    if pos != len(name):
        raise AlgError(errno.ENOENT)
    return tree


def _alias(head: str) -> str:
    """Linux driver names of the generic implementations -> algorithm names."""
    for suffix in ("-generic", "-lib"):
        if head.endswith(suffix):
            return head[: -len(suffix)]
    return head


# ---- hashes -------------------------------------------------------------------

class _CryptoHash:
    """hashlib-like wrapper for a `cryptography` hash (SM3 where OpenSSL lacks it)."""

    def __init__(self, algo: chashes.HashAlgorithm, ctx: chashes.Hash | None = None) -> None:
        self.algo = algo
        self.ctx = ctx if ctx is not None else chashes.Hash(algo)
        self.digest_size = algo.digest_size
        self.block_size = getattr(algo, "block_size", 64) or 64

    def update(self, data: bytes) -> None:
        self.ctx.update(bytes(data))

    def copy(self) -> _CryptoHash:
        return _CryptoHash(self.algo, self.ctx.copy())

    def digest(self) -> bytes:
        return self.ctx.copy().finalize()


def _hashlib(name: str, **kw: int) -> Callable[[], object] | None:
    try:
        hashlib.new(name, **kw)
    except (ValueError, TypeError):
        return None
    def make(data: bytes = b"") -> object:      # hmac.new calls it with a long key
        return hashlib.new(name, data, **kw)
    return make


def _sm3() -> Callable[[], object] | None:
    f = _hashlib("sm3")
    if f is not None:
        return f
    try:
        _CryptoHash(chashes.SM3())
    except Exception:  # noqa: BLE001 - not offered by this OpenSSL
        return None
    def make(data: bytes = b"") -> object:
        h = _CryptoHash(chashes.SM3())
        h.update(data)
        return h
    return make


class Crc32c:
    """The kernel's "crc32c" shash: 4-byte little-endian ~crc, optional 4-byte seed key."""

    digest_size = 4
    block_size = 1
    _table: list[int] = []

    def __init__(self, seed: int = 0xFFFFFFFF) -> None:
        if not Crc32c._table:
            for i in range(256):
                c = i
                for _ in range(8):
                    c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
                Crc32c._table.append(c)
        self.crc = seed

    def update(self, data: bytes) -> None:
        t, c = self._table, self.crc
        for b in bytes(data):
            c = t[(c ^ b) & 0xFF] ^ (c >> 8)
        self.crc = c

    def copy(self) -> Crc32c:
        n = Crc32c(self.crc)
        return n

    def digest(self) -> bytes:
        return ((~self.crc) & 0xFFFFFFFF).to_bytes(4, "little")


def _hash_table() -> dict[str, Callable[[], object]]:
    table: dict[str, Callable[[], object]] = {}
    for kname, pyname in (("md5", "md5"), ("sha1", "sha1"), ("sha224", "sha224"),
                          ("sha256", "sha256"), ("sha384", "sha384"), ("sha512", "sha512"),
                          ("sha3-224", "sha3_224"), ("sha3-256", "sha3_256"),
                          ("sha3-384", "sha3_384"), ("sha3-512", "sha3_512")):
        f = _hashlib(pyname)
        if f is not None:
            table[kname] = f
    for bits in (160, 256, 384, 512):
        f = _hashlib("blake2b", digest_size=bits // 8)
        if f is not None:
            table[f"blake2b-{bits}"] = f
    sm3 = _sm3()
    if sm3 is not None:
        table["sm3"] = sm3
    return table


HASHES = _hash_table()
BLAKE2B_BITS = {"blake2b-160": 20, "blake2b-256": 32, "blake2b-384": 48, "blake2b-512": 64}


def hash_factory(node: Node) -> tuple[str, Callable[[], object]]:
    """An unkeyed hash node -> (canonical name, constructor); ENOENT otherwise."""
    head, args = node
    if args or head not in HASHES:
        raise AlgError(errno.ENOENT)
    return head, HASHES[head]

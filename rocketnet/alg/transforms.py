"""Transforms (what an AF_ALG socket is bound to) and their one-shot operations.

A transform holds the algorithm, its key and (AEAD) tag size; `Operation`
(rocketnet/alg/engine.py) holds the per-request state of one operation socket.
"""
from __future__ import annotations

import errno
import hmac
import struct
from typing import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, ChaCha20Poly1305

from rocketnet.alg.primitives import (
    BLAKE2B_BITS,
    AlgError,
    AlgMisfit,
    Crc32c,
    Node,
    hash_factory,
    parse_name,
)

AES_KEYS = (16, 24, 32)


def _einval() -> AlgError:
    return AlgError(errno.EINVAL)


# ---- hash ---------------------------------------------------------------------

class HashAlg:
    """hash type: unkeyed digests, hmac(<unkeyed digest>), blake2b (optional key), crc32c."""

    kind = "hash"

    def __init__(self, node: Node) -> None:
        head, args = node
        self.key: bytes | None = None
        self.keyed = False          # a key is required before use
        self.optional_key = False   # setkey allowed but not required
        if head == "hmac":
            if len(args) != 1:
                raise AlgError(errno.ENOENT)
            if HashAlg(args[0]).can_setkey():
                raise AlgMisfit()   # hmac_create: the inner hash must take no key
            self.name, inner = hash_factory(args[0])
            self.name = f"hmac({self.name})"
            self.inner = inner
            self.keyed = True
            self.digest_size = inner().digest_size  # type: ignore[attr-defined]
        elif head == "crc32c" and not args:
            self.name, self.optional_key, self.digest_size = "crc32c", True, 4
        else:
            self.name, self.inner = hash_factory(node)
            self.optional_key = self.name in BLAKE2B_BITS
            self.digest_size = self.inner().digest_size  # type: ignore[attr-defined]

    def can_setkey(self) -> bool:
        return self.keyed or self.optional_key

    def setkey(self, key: bytes) -> None:
        if self.name == "crc32c":
            if len(key) != 4:
                raise _einval()
        elif self.name in BLAKE2B_BITS:
            if not 1 <= len(key) <= 64:
                raise _einval()
        elif not self.keyed:
            raise AlgError(errno.ENOSYS)      # Linux: unkeyed ahash has no setkey
        self.key = bytes(key)

    def ready(self) -> bool:
        return not self.keyed or self.key is not None

    def new(self) -> object:
        if self.name == "crc32c":
            seed = 0xFFFFFFFF if self.key is None else int.from_bytes(self.key, "little")
            return Crc32c(seed)
        if self.keyed:
            return hmac.new(self.key or b"", digestmod=self.inner)
        if self.name in BLAKE2B_BITS and self.key is not None:
            import hashlib
            return hashlib.blake2b(key=self.key, digest_size=BLAKE2B_BITS[self.name])
        return self.inner()


# ---- skcipher -----------------------------------------------------------------

class SkcipherAlg:
    """skcipher type: ecb/cbc/ctr/xts(aes), chacha20."""

    kind = "skcipher"

    def __init__(self, node: Node) -> None:
        head, args = node
        self.key: bytes | None = None
        if head == "chacha20" and not args:
            self.mode, self.ivsize, self.blocksize, self.keysizes = "chacha20", 16, 1, (32,)
        elif head in ("ecb", "cbc", "ctr", "xts") and args == [("aes", [])]:
            self.mode = head
            self.ivsize = 0 if head == "ecb" else 16
            self.blocksize = 1 if head == "ctr" else 16
            self.keysizes = (32, 64) if head == "xts" else AES_KEYS
        else:
            raise AlgError(errno.ENOENT)
        self.name = "chacha20" if self.mode == "chacha20" else f"{self.mode}(aes)"

    def setkey(self, key: bytes) -> None:
        if len(key) not in self.keysizes:
            raise _einval()
        if self.mode == "xts" and key[: len(key) // 2] == key[len(key) // 2:]:
            raise _einval()     # `cryptography` refuses equal XTS halves (Linux: FIPS mode)
        self.key = bytes(key)

    def ready(self) -> bool:
        return self.key is not None

    def crypt(self, enc: bool, iv: bytes, data: bytes) -> tuple[bytes, bytes]:
        """-> (output, chained IV), as the kernel leaves req->iv after the request."""
        key = self.key or b""
        n = len(data)
        if self.blocksize > 1 and n % self.blocksize:
            raise _einval()
        if self.mode == "xts" and n < 16:
            raise _einval()
        if self.mode == "chacha20":
            ctx = Cipher(algorithms.ChaCha20(key, iv), None)
        elif self.mode == "ecb":
            ctx = Cipher(algorithms.AES(key), modes.ECB())
        elif self.mode == "cbc":
            ctx = Cipher(algorithms.AES(key), modes.CBC(iv))
        elif self.mode == "ctr":
            ctx = Cipher(algorithms.AES(key), modes.CTR(iv))
        else:
            ctx = Cipher(algorithms.AES(key), modes.XTS(iv))
        c = ctx.encryptor() if enc or self.mode in ("ctr", "chacha20") else ctx.decryptor()
        out = c.update(bytes(data)) + c.finalize()
        if self.mode == "cbc" and n:
            iv = (out if enc else bytes(data))[-16:]
        elif self.mode == "ctr":
            ctr = (int.from_bytes(iv, "big") + (n + 15) // 16) % (1 << 128)
            iv = ctr.to_bytes(16, "big")
        elif self.mode == "chacha20":
            ctr = (int.from_bytes(iv[:4], "little") + (n + 63) // 64) & 0xFFFFFFFF
            iv = ctr.to_bytes(4, "little") + iv[4:]
        return out, iv


# ---- aead ---------------------------------------------------------------------

class AeadAlg:
    """aead type: gcm(aes), rfc4106(gcm(aes)), ccm(aes), rfc7539(chacha20,poly1305),
    authenc(hmac(<hash>),cbc(aes)) and authencesn(...) (IPsec extended sequence
    numbers) with the kernel's rtattr key."""

    kind = "aead"

    def __init__(self, node: Node) -> None:
        head, args = node
        self.key: bytes | None = None
        self.auth: Callable[[], object] | None = None
        gcm = ("gcm", [("aes", [])])
        if head == "gcm" and args == [("aes", [])]:
            self.mode, self.ivsize, self.maxauth = "gcm", 12, 16
        elif head == "rfc4106" and args == [gcm]:
            self.mode, self.ivsize, self.maxauth = "rfc4106", 8, 16
        elif head == "ccm" and args == [("aes", [])]:
            self.mode, self.ivsize, self.maxauth = "ccm", 16, 16
        elif head == "rfc7539" and args == [("chacha20", []), ("poly1305", [])]:
            self.mode, self.ivsize, self.maxauth = "rfc7539", 12, 16
        elif head == "rfc7539" and len(args) == 2 and args[0] == ("chacha20", []):
            HashAlg(args[1])        # ENOENT if there is no such hash at all
            raise AlgMisfit()       # chachapoly_create: a hash other than poly1305
        elif (head in ("authenc", "authencesn") and len(args) == 2 and args[0][0] == "hmac"
              and len(args[0][1]) == 1 and args[1] == ("cbc", [("aes", [])])):
            hname, self.auth = hash_factory(args[0][1][0])
            self.mode, self.ivsize = "authenc", 16
            self.esn = head == "authencesn"
            self.maxauth = self.auth().digest_size  # type: ignore[attr-defined]
            self.hname = hname
        else:
            raise AlgError(errno.ENOENT)
        self.authsize = self.maxauth
        self.name = head

    def setauthsize(self, n: int) -> None:
        ok = {
            "gcm": n in (4, 8, 12, 13, 14, 15, 16),
            "rfc4106": n in (8, 12, 16),
            "ccm": 4 <= n <= 16 and n % 2 == 0,
            "rfc7539": n == 16,
            "authenc": 0 <= n <= self.maxauth,
        }[self.mode]
        if not ok:
            raise _einval()
        self.authsize = n

    def setkey(self, key: bytes) -> None:
        key = bytes(key)
        if self.mode in ("gcm", "ccm"):
            ok = len(key) in AES_KEYS
        elif self.mode == "rfc4106":
            ok = len(key) - 4 in AES_KEYS
        elif self.mode == "rfc7539":
            ok = len(key) == 32
        else:
            self.authkey, self.enckey = _authenc_keys(key)
            ok = len(self.enckey) in AES_KEYS
        if not ok:
            raise _einval()
        self.key = key

    def ready(self) -> bool:
        return self.key is not None

    def crypt(self, enc: bool, iv: bytes, assoc: bytes, data: bytes) -> bytes:
        """enc: data = plaintext -> ciphertext || tag; dec: data = ciphertext || tag ->
        plaintext (EBADMSG if the tag does not verify)."""
        key, t = self.key or b"", self.authsize
        if enc:
            body, tag = data, b""
        else:
            body, tag = data[: len(data) - t], data[len(data) - t:]
        if self.mode in ("gcm", "rfc4106"):
            if self.mode == "rfc4106":
                if len(assoc) not in (16, 20):
                    raise _einval()
                nonce, aad, key = key[-4:] + iv, assoc[:-8], key[:-4]
            else:
                nonce, aad = iv, assoc
            if enc:
                c = Cipher(algorithms.AES(key), modes.GCM(nonce)).encryptor()
                c.authenticate_additional_data(aad)
                out = c.update(body) + c.finalize()
                return out + c.tag[:t]
            d = Cipher(algorithms.AES(key), modes.GCM(nonce, tag, min_tag_length=4)).decryptor()
            d.authenticate_additional_data(aad)
            try:
                return d.update(body) + d.finalize()
            except InvalidTag:
                raise AlgError(errno.EBADMSG) from None
        if self.mode == "ccm":
            lp = iv[0] + 1
            if not 2 <= lp <= 8:
                raise _einval()
            nonce = iv[1: 16 - lp]
            aead = AESCCM(key, tag_length=t)
            return _aead_call(aead, enc, nonce, body, tag, assoc)
        if self.mode == "rfc7539":
            return _aead_call(ChaCha20Poly1305(key), enc, iv, body, tag, assoc)
        # authenc(hmac(H),cbc(aes)): encrypt-then-MAC over assoc || ciphertext;
        # authencesn: the high sequence number (assoc[4:8]) is hashed after the data
        if len(body) % 16:
            raise _einval()
        if self.esn and len(assoc) < 8:
            raise _einval()

        def mac_of(ct: bytes) -> bytes:
            if self.esn:
                msg = assoc[:4] + assoc[8:] + ct + assoc[4:8]
            else:
                msg = assoc + ct
            return hmac.new(self.authkey, msg, self.auth).digest()[:t]

        if enc:
            c = Cipher(algorithms.AES(self.enckey), modes.CBC(iv)).encryptor()
            ct = c.update(body) + c.finalize()
            return ct + mac_of(ct)
        mac = mac_of(body)
        if not hmac.compare_digest(mac, tag):
            raise AlgError(errno.EBADMSG)
        d = Cipher(algorithms.AES(self.enckey), modes.CBC(iv)).decryptor()
        return d.update(body) + d.finalize()


def _aead_call(aead, enc: bool, nonce: bytes, body: bytes, tag: bytes,  # type: ignore[no-untyped-def]
               assoc: bytes) -> bytes:
    try:
        if enc:
            return aead.encrypt(nonce, body, assoc or None)
        return aead.decrypt(nonce, body + tag, assoc or None)
    except InvalidTag:
        raise AlgError(errno.EBADMSG) from None
    except ValueError:
        raise AlgError(errno.EINVAL) from None


_RTA = struct.Struct("=HH")
CRYPTO_AUTHENC_KEYA_PARAM = 1


def _authenc_keys(key: bytes) -> tuple[bytes, bytes]:
    """crypto_authenc_extractkeys: rtattr{len, type=1} + be32 enckeylen, authkey, enckey."""
    if len(key) < _RTA.size:
        raise _einval()
    rta_len, rta_type = _RTA.unpack_from(key)
    if rta_len < _RTA.size or rta_len > len(key):
        raise _einval()
    if rta_type != CRYPTO_AUTHENC_KEYA_PARAM or rta_len - _RTA.size != 4:
        raise _einval()
    enckeylen = int.from_bytes(key[4:8], "big")
    rest = key[(rta_len + 3) & ~3:]
    if len(rest) < enckeylen:
        raise _einval()
    split = len(rest) - enckeylen
    return rest[:split], rest[split:]


class RngAlg:
    """rng type: "stdrng" (random bytes from the host's source; a key reseeds nothing).

    The DRBGs ("stdrng" is one) give EINVAL until seeded with ALG_SET_KEY: algif_rng
    never instantiates them (drbg_generate: no drbg->core)."""

    kind = "rng"

    def __init__(self, node: Node) -> None:
        if node not in (("stdrng", []), ("drbg_nopr_hmac_sha256", []),
                        ("drbg_pr_hmac_sha256", []), ("jitterentropy_rng", [])):
            raise AlgError(errno.ENOENT)
        self.name = node[0]
        self.key: bytes | None = None

    def setkey(self, key: bytes) -> None:
        self.key = bytes(key)

    def ready(self) -> bool:
        return True

    def seeded(self) -> bool:
        return self.key is not None or self.name == "jitterentropy_rng"


TYPES = {"hash": HashAlg, "skcipher": SkcipherAlg, "aead": AeadAlg, "rng": RngAlg}


def new_transform(type_: str, name: str):  # type: ignore[no-untyped-def]
    """bind(): the transform for salg_type/salg_name; ENOENT if Linux would not have it."""
    cls = TYPES.get(type_)
    if cls is None:
        raise AlgError(errno.ENOENT)
    return cls(parse_name(name))

"""AF_ALG sockets as Linux models them (crypto/af_alg.c, algif_*.c), sans-I/O.

`AlgSocket` is the transform ("tfm") socket: bind to a type and algorithm name,
set the key and AEAD tag size, accept operation sockets.  `Operation` is one
accepted socket: input arrives with `send` (control: op, IV, AAD length; `more` is
MSG_MORE), the result is taken with `recv`.  Errors are AlgError with Linux's errno;
`recv` returns None where Linux would block waiting for more input.
"""
from __future__ import annotations

import errno
from typing import Callable, NamedTuple

from rocketnet.alg.primitives import AlgError
from rocketnet.alg.transforms import new_transform
from rocketnet.profile import KernelProfile

SOL_ALG = 279
ALG_SET_KEY = 1
ALG_SET_IV = 2
ALG_SET_OP = 3
ALG_SET_AEAD_ASSOCLEN = 4
ALG_SET_AEAD_AUTHSIZE = 5
ALG_OP_DECRYPT = 0
ALG_OP_ENCRYPT = 1
CRYPTO_ALG_KERN_DRIVER_ONLY = 0x1000
RNG_MAXSIZE = 128


class Control(NamedTuple):
    """What sendmsg's SOL_ALG control messages set (iv None: not given)."""

    op: int = ALG_OP_DECRYPT
    iv: bytes | None = None
    assoclen: int = 0


class AlgSocket:
    """The transform socket: bind, setsockopt, accept."""

    def __init__(self, rng: Callable[[int], bytes],
                 optmem_max: int = KernelProfile.optmem_max) -> None:
        self.tfm = None
        self.refcnt = 0                # operation sockets alive
        self.rng = rng
        self.optmem_max = optmem_max

    def bind(self, type_: str, name: str, feat: int = 0, mask: int = 0) -> None:
        if (feat | mask) & ~CRYPTO_ALG_KERN_DRIVER_ONLY:
            raise AlgError(errno.EINVAL)
        if self.refcnt:
            raise AlgError(errno.EBUSY)
        self.tfm = new_transform(type_, name)

    def setsockopt(self, level: int, name: int, value: bytes, optlen: int) -> None:
        if level != SOL_ALG or self.tfm is None:
            raise AlgError(errno.ENOPROTOOPT)
        if name == ALG_SET_KEY:
            if optlen >= self.optmem_max:    # alg_setkey's sock_kmalloc
                raise AlgError(errno.ENOMEM)
            self.tfm.setkey(value[:optlen])
        elif name == ALG_SET_AEAD_AUTHSIZE:
            if not hasattr(self.tfm, "setauthsize"):
                raise AlgError(errno.ENOPROTOOPT)
            self.tfm.setauthsize(optlen)
        else:
            raise AlgError(errno.ENOPROTOOPT)

    def accept(self) -> Operation:
        if self.tfm is None:
            raise AlgError(errno.EINVAL)
        op = Operation(self, self.tfm)
        self.refcnt += 1
        return op

    def release(self) -> None:
        """An operation socket was closed."""
        self.refcnt = max(0, self.refcnt - 1)


class Operation:
    """One accepted operation socket (algif_hash / algif_skcipher / algif_aead / algif_rng)."""

    def __init__(self, parent: AlgSocket, tfm) -> None:  # type: ignore[no-untyped-def]
        self.parent = parent
        self.tfm = tfm
        self.kind = tfm.kind
        self.more = False
        # hash
        self.h = None
        self.result: bytes | None = None
        # skcipher / aead
        self.init = False
        self.enc = False
        self.iv = bytes(getattr(tfm, "ivsize", 0))
        self.assoclen = 0
        self.buf = bytearray()

    @property
    def used(self) -> int:
        return len(self.buf)

    def _check_key(self) -> None:
        if not self.tfm.ready():
            raise AlgError(errno.ENOKEY)

    # ---- sendmsg ------------------------------------------------------------------

    def send(self, data: bytes, more: bool, ctl: Control | None = None) -> int:
        if self.kind == "rng":
            raise AlgError(errno.EOPNOTSUPP)
        self._check_key()
        if self.kind == "hash":
            return self._hash_send(data, more)
        if ctl is not None:
            if ctl.op not in (ALG_OP_ENCRYPT, ALG_OP_DECRYPT):
                raise AlgError(errno.EINVAL)
            if ctl.iv is not None and len(ctl.iv) != self.tfm.ivsize:
                raise AlgError(errno.EINVAL)
        if self.init and not self.more and self.buf:
            raise AlgError(errno.EINVAL)
        self.init = True
        if ctl is not None:
            self.enc = ctl.op == ALG_OP_ENCRYPT
            if ctl.iv is not None:
                self.iv = bytes(ctl.iv)
            self.assoclen = ctl.assoclen
        self.buf += data
        self.more = more
        return len(data)

    def _hash_send(self, data: bytes, more: bool) -> int:
        if not self.more:
            if more:
                self.result = None
            self.h = self.tfm.new()
        self.more = False
        if self.h is None:
            self.h = self.tfm.new()
        self.h.update(data)
        self.more = more
        if not more:
            self.result = self.h.digest()
        return len(data)

    # ---- recvmsg ------------------------------------------------------------------

    def recv(self, n: int) -> bytes | None:
        """Up to n bytes of result; None: Linux would wait for more input."""
        if self.kind == "rng":
            return self.parent.rng(min(max(n, 0), RNG_MAXSIZE))
        self._check_key()
        if self.kind == "hash":
            return self._hash_recv()
        if self.kind == "skcipher":
            return self._skcipher_recv(n)
        return self._aead_recv(n)

    def _hash_recv(self) -> bytes:
        """The full digest; the caller truncates to the buffer (MSG_TRUNC)."""
        result = self.result
        if result is None or self.more:
            if result is None and not self.more:
                self.h = self.tfm.new()
            if self.h is None:
                self.h = self.tfm.new()
            result = self.h.digest()
            self.more = False
        self.result = None
        return result

    def _skcipher_recv(self, n: int) -> bytes | None:
        bs = self.tfm.blocksize
        if not self.init or (self.more and self.used < bs):
            return None
        take = min(max(n, 0), self.used)
        if self.more or take < self.used:
            take -= take % bs
        data = bytes(self.buf[:take])
        del self.buf[:take]
        if not take:
            return b""
        out, self.iv = self.tfm.crypt(self.enc, self.iv, data)
        return out

    def _aead_recv(self, n: int) -> bytes | None:
        if not self.init or self.more:
            return None
        t = self.tfm.authsize
        used, alen = self.used, self.assoclen
        data = bytes(self.buf)
        self.buf.clear()
        if used < alen + (0 if self.enc else t):
            raise AlgError(errno.EINVAL)
        outlen = used + t if self.enc else used - t
        body = data[alen:]
        if n < outlen:
            less = outlen - n
            if len(body) < less:
                raise AlgError(errno.EINVAL)
            body = body[: len(body) - less]
        assoc = data[:alen]
        return assoc + self.tfm.crypt(self.enc, self.iv, assoc, body)

    # ---- accept on an operation socket (hash: a copy of the state) ------------------

    def accept(self) -> Operation:
        if self.kind != "hash":
            raise AlgError(errno.EOPNOTSUPP)
        self._check_key()
        op = Operation(self.parent, self.tfm)
        op.more = self.more
        op.result = self.result
        op.h = self.h.copy() if self.h is not None else None  # type: ignore[attr-defined]
        self.parent.refcnt += 1
        return op

"""AF_ALG sockets as Linux models them (crypto/af_alg.c, algif_*.c), sans-I/O.

`AlgSocket` is the transform ("tfm") socket: bind to a type and algorithm name,
set the key and AEAD tag size, accept operation sockets.  `Operation` is one
accepted socket: input arrives with `send` (control: op, IV, AAD length; `more` is
MSG_MORE), the result is taken with `recv`.  Errors are AlgError with Linux's errno;
`recv` returns None where Linux would block waiting for more input.  Checked against
Linux 6.1 and 6.12 in QEMU (tools/vm).
"""
from __future__ import annotations

import errno
from typing import Callable, NamedTuple

from rocketnet.alg.primitives import AlgError, AlgMisfit
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
                 optmem_max: int = KernelProfile.optmem_max, misfit: int = errno.EINVAL) -> None:
        self.misfit = misfit           # bind's errno for a template's misfit argument
        self.tfm = None
        self.refcnt = 0                # operation sockets alive
        self.nokey_refcnt = 0          # of those, accepted without a key and not used since
        self.rng = rng
        self.optmem_max = optmem_max

    def bind(self, type_: str, name: str, feat: int = 0, mask: int = 0) -> None:
        if (feat | mask) & ~CRYPTO_ALG_KERN_DRIVER_ONLY:
            raise AlgError(errno.EINVAL)
        if self.refcnt:
            raise AlgError(errno.EBUSY)
        try:
            self.tfm = new_transform(type_, name)
        except AlgMisfit:
            raise AlgError(self.misfit) from None

    def setsockopt(self, level: int, name: int, value: bytes, optlen: int) -> None:
        if self.refcnt != self.nokey_refcnt:
            raise AlgError(errno.EBUSY)     # alg_setsockopt: keyed operation sockets alive
        if level != SOL_ALG or self.tfm is None:
            raise AlgError(errno.ENOPROTOOPT)
        if name == ALG_SET_KEY:
            if optlen >= self.optmem_max:    # alg_setkey's sock_kmalloc
                raise AlgError(errno.ENOMEM)
            try:
                self.tfm.setkey(value[:optlen])
            except AlgError:
                # crypto_aead/ahash_setkey: a failed setkey leaves the transform
                # without a key (CRYPTO_TFM_NEED_KEY); crypto_skcipher_setkey checks
                # the key length first and keeps the old key on that error
                if self.tfm.kind == "aead" or (self.tfm.kind == "hash" and self.tfm.keyed):
                    self.tfm.key = None
                raise
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

    def release(self, op: Operation) -> None:
        """An operation socket was closed."""
        self.refcnt = max(0, self.refcnt - 1)
        if op.nokey:
            self.nokey_refcnt = max(0, self.nokey_refcnt - 1)


class Operation:
    """One accepted operation socket (algif_hash / algif_skcipher / algif_aead / algif_rng)."""

    def __init__(self, parent: AlgSocket, tfm) -> None:  # type: ignore[no-untyped-def]
        self.parent = parent
        self.tfm = tfm
        self.kind = tfm.kind
        # accepted before the key was set: checked (and counted as keyed) on first use
        self.nokey = not tfm.ready()
        parent.nokey_refcnt += self.nokey
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
        self.partial = bytearray()      # output of a blocking read that waits to fill up

    @property
    def used(self) -> int:
        return len(self.buf)

    def _check_key(self) -> None:
        """*_check_key: only a socket accepted without a key is checked, once"""
        if not self.nokey:
            return
        if not self.tfm.ready():
            raise AlgError(errno.ENOKEY)
        self.nokey = False
        self.parent.nokey_refcnt -= 1

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

    def recv(self, n: int, nonblocking: bool = False) -> bytes | None:
        """Up to n bytes of result; None: Linux would wait for more input.

        skcipher_recvmsg and aead_recvmsg loop until the buffer is full: a blocking read
        larger than the result keeps what it has (self.partial) and waits for more
        input; a non-blocking one returns what it has.  An error ends the loop with the
        bytes so far, except EBADMSG from an AEAD (and any error before the first)."""
        if self.kind == "rng":
            if not self.tfm.seeded():
                raise AlgError(errno.EINVAL)
            return self.parent.rng(min(max(n, 0), RNG_MAXSIZE))
        self._check_key()
        if self.kind == "hash":
            return self._hash_recv()
        aead = self.kind == "aead"
        out = self.partial
        while len(out) < n:
            if not self.init or self.more and (aead or self.used < self.tfm.blocksize):
                if out and nonblocking:
                    break
                self.partial = out
                return None
            try:
                chunk = self._aead_step(n - len(out)) if aead else \
                    self._skcipher_step(n - len(out))
            except AlgError as e:
                if not out or (aead and e.errno == errno.EBADMSG):
                    self.partial = bytearray()
                    raise
                break
            if not chunk:
                break
            out += chunk
        self.partial = bytearray()
        return bytes(out)

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

    def _pull(self, n: int) -> bytes:
        """af_alg_pull_tsgl: take n bytes of input; once all is taken the request is over
        unless MORE (a read then waits for the next sendmsg), as 6.1 and 6.12 do"""
        data = bytes(self.buf[:n])
        del self.buf[:n]
        if not self.buf:
            self.init = self.more
        return data

    def _skcipher_step(self, room: int) -> bytes:
        bs = self.tfm.blocksize
        take = min(room, self.used)
        if self.more or take < self.used:
            take -= take % bs
        data = self._pull(take)
        if not take:
            return b""
        out, self.iv = self.tfm.crypt(self.enc, self.iv, data)
        return out

    def _aead_step(self, room: int) -> bytes:
        t = self.tfm.authsize
        used, alen = self.used, self.assoclen
        if used < alen + (0 if self.enc else t):
            raise AlgError(errno.EINVAL)    # aead_sufficient_data: nothing is consumed
        outlen = used + t if self.enc else used - t
        body = used - alen
        if room < outlen:                   # a shorter buffer: less input, rest stays
            less = outlen - room
            if body < less:
                raise AlgError(errno.EINVAL)
            body -= less
        data = self._pull(alen + body)
        assoc = data[:alen]
        return assoc + self.tfm.crypt(self.enc, self.iv, assoc, data[alen:])

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

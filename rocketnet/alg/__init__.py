"""AF_ALG: the kernel crypto socket API, served by the stack (sans-I/O)."""
from rocketnet.alg.engine import (
    ALG_OP_DECRYPT,
    ALG_OP_ENCRYPT,
    ALG_SET_AEAD_ASSOCLEN,
    ALG_SET_AEAD_AUTHSIZE,
    ALG_SET_IV,
    ALG_SET_KEY,
    ALG_SET_OP,
    SOL_ALG,
    AlgSocket,
    Control,
    Operation,
)
from rocketnet.alg.primitives import AlgError

__all__ = ["ALG_OP_DECRYPT", "ALG_OP_ENCRYPT", "ALG_SET_AEAD_ASSOCLEN", "ALG_SET_AEAD_AUTHSIZE",
           "ALG_SET_IV", "ALG_SET_KEY", "ALG_SET_OP", "SOL_ALG", "AlgError", "AlgSocket",
           "Control", "Operation"]

"""cffi builder for the preload stub.

The stub (stub.c) is compiled as the cffi extension module ``shim._stub``.  The same
shared object serves twice:
- LD_PRELOADed into programs, where its interposers catch the socket API (it needs
  nothing from Python there: the only Python references are the cffi glue's, bound
  lazily and never called);
- imported by the stack host, which reads the wire protocol's constants and struct
  layouts from it, so stub and host share one definition (rn_protocol.h).
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
HEADER = HERE / "rn_protocol.h"


def protocol_cdef(header_text: str) -> str:
    """The integer #defines and the structs of rn_protocol.h, in cdef form."""
    text = re.sub(r"/\*.*?\*/", "", header_text, flags=re.S)
    lines = [
        f"#define {m.group(1)} ..."
        for m in re.finditer(r"^#define\s+(RN_\w+)\s+-?\d+\s*$", text, re.M)
    ]
    lines += re.findall(r"^struct rn_\w+ \{.*?\};", text, re.M | re.S)
    return "\n".join(lines)


def protocol_version(header_text: str) -> int:
    """A version that changes whenever rn_protocol.h does (positive, fits a C int)."""
    return int(hashlib.sha256(header_text.encode()).hexdigest()[:7], 16) + 1


HEADER_TEXT = HEADER.read_text()
# The stub's whole C source: the derived protocol version, the protocol, the interposers.
STUB_SOURCE = (f"#define RN_PROTO_VERSION {protocol_version(HEADER_TEXT)}\n"
               '#include "rn_protocol.h"\n' + (HERE / "stub.c").read_text())


ffibuilder = FFI()
ffibuilder.cdef(protocol_cdef(HEADER_TEXT) + "\n#define RN_PROTO_VERSION ...")
ffibuilder.set_source(
    "shim._stub",
    STUB_SOURCE,
    include_dirs=[str(HERE)],
    libraries=["dl", "pthread"],
    extra_compile_args=["-std=gnu11", "-Wall", "-Wextra", "-O2", "-fvisibility=hidden"],
    depends=[str(HEADER), str(HERE / "stub.c"), str(HERE / "dgram.c"), str(HERE / "resolv.c"),
             str(HERE / "uring.c"), str(HERE / "landlock.c"),
             str(HERE / "ifreq.c"), str(HERE / "alg.c"),
             str(HERE / "unix.c"), str(HERE / "seccomp.c"), str(HERE / "trace.c"),
             str(HERE / "traceopt.c"), str(HERE / "epint.c"),
             str(HERE / "self.c"), str(HERE / "defer.c")],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)

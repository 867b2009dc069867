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


ffibuilder = FFI()
ffibuilder.cdef(protocol_cdef(HEADER.read_text()))
ffibuilder.set_source(
    "shim._stub",
    '#include "rn_protocol.h"\n' + (HERE / "stub.c").read_text(),
    include_dirs=[str(HERE)],
    libraries=["dl", "pthread"],
    extra_compile_args=["-std=gnu11", "-Wall", "-Wextra", "-O2", "-fvisibility=hidden"],
    depends=[str(HEADER), str(HERE / "stub.c"), str(HERE / "dgram.c"),
             str(HERE / "ifreq.c"), str(HERE / "alg.c"),
             str(HERE / "unix.c")],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)

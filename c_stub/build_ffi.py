"""cffi builder of the host's view of the stub: the module ``shim._stub``.

The preload library itself is plain C (build_preload.py).  This module, for the host
and the CLI only, carries what they share with it: the wire protocol's constants and
struct layouts (rn_protocol.h, compiled, so stub and host share one definition) and
the stub's ELF inspection (program.c: which preload build serves a program).
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

PROGRAM_CDEF = """
struct rn_program { int error; int elf; int script; int elfclass; int machine; int dynamic;
                    int has_dynamic; char interp[256]; };
int rn_program_read(int dirfd, const char *path, struct rn_program *p);
const char *rn_machine_arch(int machine);
const char *rn_preload_build(const char *interp);
const char *rn_program_problem(const struct rn_program *p, const char *own_arch);
const char *rn_own_arch(void);
"""

ffibuilder = FFI()
ffibuilder.cdef(protocol_cdef(HEADER_TEXT) + "\n#define RN_PROTO_VERSION ...\n" + PROGRAM_CDEF)
ffibuilder.set_source(
    "shim._stub",
    f"#define RN_PROTO_VERSION {protocol_version(HEADER_TEXT)}\n"
    '#include "rn_protocol.h"\n#include "program.c"\n',
    include_dirs=[str(HERE)],
    extra_compile_args=["-std=gnu11", "-Wall", "-Wextra", "-O2"],
    depends=[str(HEADER), str(HERE / "program.c"), str(HERE / "program.h")],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)

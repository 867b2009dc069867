"""What a program about to run is, as far as the preload stub is concerned.

The stub reaches a program only through the dynamic loader's LD_PRELOAD, and only the
socket calls that go through libc.  Which preload build a program's loader takes, and
which programs no build serves (static, foreign machine, 32-bit, a C library without a
build), is shim/builds.py's question (the stub's own ELF reader, c_stub/program.c).  This
module names what escapes a build that would load:
- a Go binary (a .go.buildinfo section or a Go build-id note): Go makes its socket
  system calls itself, also when cgo links it against libc;
- the loader runs it in secure-execution mode (AT_SECURE), which ignores LD_PRELOAD:
  file capabilities (the security.capability xattr), or a set-user-ID / set-group-ID
  bit that changes the caller's ids, when the caller is not root.
`rocketnet run` warns in one line naming the program and the reason, or refuses it
(exit 126) with --strict.  `rocketnet run --strict` also sets STRICT_ENV=1 for the
whole process tree: the contract for the stub's execve hook is then to refuse such a
program (execve fails with EACCES after one line on stderr naming it and the reason),
and to warn in that same one line without it.

API (also for other helpers): inspect(path) -> Program (interp: the PT_INTERP path or
None, static, go, elf class/machine, caps, setid bits); escape_reason(path) -> the
reason or None.  Never raises on a file it cannot read or parse (then: None).
"""
from __future__ import annotations

import mmap
import os
import stat
import struct
from typing import NamedTuple

STRICT_ENV = "ROCKETNET_STRICT"
PT_INTERP, PT_NOTE = 3, 4
NT_GO_BUILDID = 4
GO_BUILDINFO_MAGIC = b"\xff Go buildinf:"
MAX_HEADERS = 4096              # program/section headers read at most (hostile files)


class Program(NamedTuple):
    path: str
    elf: bool
    elf_class: int              # 1: 32-bit, 2: 64-bit (0: not ELF)
    machine: int
    interp: str | None          # PT_INTERP: the loader the kernel starts, None if static
    go: bool
    caps: bool                  # security.capability xattr present
    setuid: bool                # S_ISUID with an owner other than the caller
    setgid: bool                # S_ISGID with a group other than the caller's


class _Elf(NamedTuple):
    cls: int
    machine: int
    interp: str | None
    go: bool


def _read_elf(data: bytes) -> _Elf | None:
    """Parse what is needed from an ELF image (ValueError/struct.error on a bad one)."""
    if data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] not in (1, 2):
        return None
    cls = data[4]
    end = "<" if data[5] == 1 else ">"
    if cls == 2:
        hdr = struct.unpack_from(end + "HHIQQQIHHHHHH", data, 16)
    else:
        hdr = struct.unpack_from(end + "HHIIIIIHHHHHH", data, 16)
    _type, machine, _ver, _entry, phoff, shoff, _fl, _eh, phentsize, phnum, shentsize, shnum, \
        shstrndx = hdr
    ph = struct.Struct(end + ("IIQQQQQQ" if cls == 2 else "IIIIIIII"))
    interp = None
    go = False
    for i in range(min(phnum, MAX_HEADERS)):
        off = phoff + i * phentsize
        if off + ph.size > len(data):
            break
        f = ph.unpack_from(data, off)
        p_type = f[0]
        p_offset, p_filesz = (f[2], f[5]) if cls == 2 else (f[1], f[4])
        seg = data[p_offset:p_offset + p_filesz]
        if p_type == PT_INTERP:
            interp = seg.split(b"\0", 1)[0].decode("utf-8", "replace")
        elif p_type == PT_NOTE:
            go = go or _go_note(seg, end)
    sh = struct.Struct(end + ("IIQQQQIIQQ" if cls == 2 else "IIIIIIIIII"))
    if not go and shnum and shoff and shstrndx < shnum:
        sections = []
        for i in range(min(shnum, MAX_HEADERS)):
            off = shoff + i * shentsize
            if off + sh.size > len(data):
                break
            sections.append(sh.unpack_from(data, off))
        if shstrndx < len(sections):
            s = sections[shstrndx]
            strtab = data[s[4]:s[4] + s[5]]
            for s in sections:
                name = strtab[s[0]:strtab.find(b"\0", s[0])]
                if name == b".go.buildinfo":
                    go = True
    return _Elf(cls, machine, interp, go)


def _go_note(seg: bytes, end: str) -> bool:
    off = 0
    while off + 12 <= len(seg):
        namesz, descsz, kind = struct.unpack_from(end + "III", seg, off)
        name = seg[off + 12:off + 12 + namesz]
        if kind == NT_GO_BUILDID and name.rstrip(b"\0") == b"Go":
            return True
        off += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3)
    return False


def inspect(path: str, euid: int | None = None, egid: int | None = None) -> Program | None:
    """What path is; None if it cannot be read."""
    euid = os.geteuid() if euid is None else euid
    egid = os.getegid() if egid is None else egid
    try:
        st = os.stat(path)
        with open(path, "rb") as f:
            elf = None
            if f.read(4) == b"\x7fELF":
                with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                    elf = _read_elf(m)  # type: ignore[arg-type]
    except (OSError, ValueError, struct.error):
        return None
    try:
        caps = bool(os.getxattr(path, "security.capability"))
    except OSError:
        caps = False
    setuid = bool(st.st_mode & stat.S_ISUID) and st.st_uid != euid
    setgid = bool(st.st_mode & stat.S_ISGID) and st.st_gid != egid
    if elf is None:
        return Program(path, False, 0, 0, None, False, caps, setuid, setgid)
    return Program(path, True, elf.cls, elf.machine, elf.interp, elf.go, caps, setuid, setgid)


def _script_interp(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            line = f.readline(256)
    except OSError:
        return None
    if not line.startswith(b"#!"):
        return None
    words = line[2:].split()
    return os.fsdecode(words[0]) if words else None


def escape_reason(path: str, euid: int | None = None) -> str | None:
    """Why the stub will not serve path's sockets (one phrase), or None."""
    euid = os.geteuid() if euid is None else euid
    p = inspect(path, euid)
    if p is None:
        return None
    if euid != 0:
        if p.caps:
            return "it has file capabilities, so the loader ignores LD_PRELOAD"
        if p.setuid or p.setgid:
            which = "set-user-ID" if p.setuid else "set-group-ID"
            return f"it is {which}, so the loader ignores LD_PRELOAD"
    if not p.elf:
        interp = _script_interp(path)
        if interp is not None and interp != path:
            why = escape_reason(interp, euid)
            return f"its interpreter {interp}: {why}" if why else None
        return None
    if p.go:
        return "it is a Go program, which makes its socket system calls itself"
    return None     # static, foreign or 32-bit programs: shim/builds.py names them

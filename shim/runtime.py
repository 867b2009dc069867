"""Where stack hosts live: a private per-user runtime directory, one folder per host.

<runtime>/<name>/ctl.sock    the host's control socket (SOCK_SEQPACKET)
<runtime>/<name>/host.pid    the host's pid, written once it is ready
<runtime>/<name>/host.log    the host's stderr
<runtime>/<name>/lock        flock held while a host is being started
"""
from __future__ import annotations

import errno
import os
import re
import socket
import stat
from pathlib import Path
from typing import BinaryIO

DEFAULT_HOST = "default"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class RuntimeDirError(Exception):
    """The runtime directory is unusable (wrong owner or permissions)."""


def runtime_root() -> Path:
    """The per-user runtime directory, created 0700 and checked to be ours."""
    base = os.environ.get("ROCKETNET_RUNTIME_DIR")
    if base:
        root = Path(base)
    else:
        xdg = os.environ.get("XDG_RUNTIME_DIR")
        if xdg and os.path.isdir(xdg) and os.access(xdg, os.W_OK):
            root = Path(xdg) / "rocketnet"
        else:
            root = Path("/tmp") / f"rocketnet-{os.getuid()}"
    try:
        os.mkdir(root, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(root)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise RuntimeDirError(f"{root} is not a directory owned by uid {os.getuid()}")
    if stat.S_IMODE(st.st_mode) != 0o700:
        raise RuntimeDirError(f"{root} has mode {stat.S_IMODE(st.st_mode):o}, expected 700")
    return root


def open_private(path: str | os.PathLike, append: bool = False) -> BinaryIO:
    """A file this user's host writes (log, capture): never through a symlink, created
    0600 exclusively; an existing one only if it is a plain file of ours with no other
    name (then truncated, or appended to)."""
    flags = os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fd = os.open(path, flags)           # ELOOP on a symlink
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_nlink != 1:
            os.close(fd)
            raise OSError(errno.EPERM, "not a private file of this user", str(path)) from None
        os.fchmod(fd, 0o600)
        if not append:
            os.ftruncate(fd, 0)
    return os.fdopen(fd, "ab" if append else "wb")


def check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ValueError(f"invalid host name {name!r} (letters, digits, '_', '.', '-')")
    return name


def host_dir(name: str) -> Path:
    d = runtime_root() / check_name(name)
    try:
        os.mkdir(d, 0o700)
    except FileExistsError:
        pass
    return d


def ctl_path(name: str) -> Path:
    return host_dir(name) / "ctl.sock"


def host_names() -> list[str]:
    root = runtime_root()
    return sorted(p.name for p in root.iterdir() if p.is_dir() and _NAME_RE.match(p.name))


def read_pid(name: str) -> int | None:
    try:
        return int((host_dir(name) / "host.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def connect_ctl(name: str) -> socket.socket | None:
    """A connected control socket to host NAME, or None if no host answers there."""
    path = ctl_path(name)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(str(path))
    except OSError as e:
        s.close()
        if e.errno in (errno.ENOENT, errno.ECONNREFUSED):
            return None
        raise
    return s

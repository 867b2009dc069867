"""Files kept between runs in the user's own cache directory (0700, owned by the user,
not a symlink): the kernel profile (shim/profilecache.py) and the measured host
interpreter record (shim/hostpick.py). A file holds a JSON object; it is created 0600
without following symlinks and replaced atomically; a file that is not ours, is not
private or does not parse reads as empty.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path


def cache_dir() -> Path | None:
    """The user's own private cache directory, made if missing; None if it is not
    private to this user (then nothing is cached)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    d = Path(base) / "rocketnet"
    try:
        os.makedirs(d, mode=0o700, exist_ok=True)
        st = os.lstat(d)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        return None
    return d


def load(path: Path) -> dict:
    """The entries of ``path`` ({} if missing, foreign, not private or corrupt)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return {}
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
            return {}
        try:
            entries = json.loads(f.read())
        except ValueError:
            return {}
    return entries if isinstance(entries, dict) else {}


def store(path: Path, entries: dict) -> None:
    """Replace ``path`` with ``entries`` (nothing if it cannot be written)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
    except OSError:
        return
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(entries, f)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


def digest_code(h: hashlib._Hash, roots: tuple[Path, ...], files: tuple[Path, ...] = ()) -> None:
    """Feed ``h`` the names and contents of the Python files under ``roots`` and of
    ``files``: an entry kept for one version of the code is not believed for another."""
    paths = sorted(p for root in roots for p in root.rglob("*.py")) + list(files)
    for p in paths:
        try:
            data = p.read_bytes()
        except OSError:
            data = b""
        h.update(str(p).encode() + b"\0" + data)

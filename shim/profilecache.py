"""The kernel profile (shim/kprofile.py) kept between host starts: probing every option
of every kind of socket takes seconds (thousands of throwaway native sockets), and a
host starts for every `rocketnet run` and every test.

An entry is keyed by what the answers depend on: the running kernel (release and boot
id), the network namespace and its sysctls the probe reads, and the code that asks and
models the answers (the contents of rocketnet/ and shim/kprofile.py).  A change of any
re-probes.  The cache lives in the user's own cache directory (shim/usercache.py).
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

from rocketnet.profile import KernelProfile, OptionAnswer, ValueAnswer
from shim import kprofile, usercache

ENTRIES = 8             # profiles kept (other namespaces, other checkouts)
FILE = "kprofile.json"
CODE_ROOTS = (Path(__file__).resolve().parent.parent / "rocketnet",)
CODE_FILES = (Path(kprofile.__file__).resolve(),)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def key() -> str:
    """A digest of everything the probed answers depend on."""
    h = hashlib.sha256()
    h.update(os.uname().release.encode())
    h.update(_read("/proc/sys/kernel/random/boot_id"))
    try:
        h.update(str(os.stat("/proc/self/ns/net").st_ino).encode())
    except OSError:
        pass
    for name in (*kprofile.SYSCTLS.values(), "ipv6/conf/all/disable_ipv6"):
        h.update(name.encode() + b"=" + _read(f"/proc/sys/net/{name}"))
    usercache.digest_code(h, CODE_ROOTS, CODE_FILES)
    return h.hexdigest()


def _encode(p: KernelProfile) -> dict:
    d = dataclasses.asdict(p)
    d["rthdr_types"] = sorted(p.rthdr_types)
    d["options"] = [[list(k), a.get_err, a.set_err, a.default,
                     [[v, va.err, va.readback] for v, va in a.values.items()]]
                    for k, a in p.options.items()]
    return d


def _decode(d: dict) -> KernelProfile:
    fields = {f.name: f for f in dataclasses.fields(KernelProfile)}
    kw = {}
    for name, value in d.items():
        if name not in fields:
            raise ValueError(f"unknown field {name}")
        kw[name] = tuple(value) if isinstance(value, list) else value
    kw["rthdr_types"] = frozenset(d["rthdr_types"])
    kw["options"] = {tuple(k): OptionAnswer(get_err, set_err, default,
                                            {v: ValueAnswer(err, rb) for v, err, rb in values})
                     for k, get_err, set_err, default, values in d["options"]}
    return KernelProfile(**kw)


def probe() -> KernelProfile:
    """This kernel's profile: the cached one if its key matches, else probed and kept."""
    d = usercache.cache_dir()
    if d is None:
        return kprofile.probe()
    k = key()
    entries = usercache.load(d / FILE)
    entry = entries.get(k)
    if isinstance(entry, dict):
        try:
            return _decode(entry["profile"])
        except (KeyError, TypeError, ValueError):
            pass
    profile = kprofile.probe()
    entries[k] = {"profile": _encode(profile), "seq": 1 + max(
        (e.get("seq", 0) for e in entries.values() if isinstance(e, dict)), default=0)}
    newest = sorted(entries, key=lambda e: entries[e].get("seq", 0)
                    if isinstance(entries[e], dict) else 0)[-ENTRIES:]
    usercache.store(d / FILE, {e: entries[e] for e in newest})
    return profile

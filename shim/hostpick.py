"""Which interpreter runs the stack hosts `rocketnet` starts: CPython (the one running
`rocketnet`) or PyPy, whichever serves programs faster on this machine.

ROCKETNET_HOST_PYTHON names the interpreter outright.  Otherwise the choice is the one
`rocketnet host pick` measured and recorded (tools/setup runs it); with no record for
the installed interpreters and this rocketnet version, the interpreter running
`rocketnet`.  A host start never measures: measuring starts a host per interpreter and
takes ~10 s, which a first `rocketnet run` (often under a caller's timeout) must not
pay, and a measurement squeezed into a few seconds on a loaded machine picks by noise.

The measurement is the real path: for each interpreter a stack host is started under
it (in a private runtime directory) and serves shimmed programs through its channels
(shim/hostload.py, run under the interpreter running `rocketnet`: a bulk transfer,
request/response and new connections, measured after a warm-up as a host is after its
first second), ROUNDS times, interpreters interleaved, the best of the rounds per rate.
A candidate is picked when the geometric mean of its three rates relative to our own
interpreter's exceeds MARGIN; one that cannot serve everything our own serves (the
stub's module not built for it; AF_ALG without `cryptography`) is excluded, and the
reason is shown.  The record lives in the user's cache directory (shim/usercache.py),
keyed by the interpreters (path, size, mtime, a virtual environment's packages) and
the rocketnet version: a change of
either means no record, so our own interpreter until `rocketnet host pick` runs again.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, NamedTuple, Union

from shim import usercache

ENV = "ROCKETNET_HOST_PYTHON"
FILE = "hostpick.json"
ROOT = Path(__file__).resolve().parent.parent
# tools/pypy-setup's PyPy environment (with `cryptography`), preferred to a bare pypy3
PYPY_VENV = ROOT / ".venv-pypy" / "bin" / "pypy3"
RATES = ("bulk_mbit", "rr_per_s", "crr_per_s")
MARGIN = 1.1            # a candidate must be this much faster overall to replace our own
ROUNDS = 2
SECONDS = 0.5           # measured per rate and round
WARM = 1.0              # unmeasured mix first: a host's first second
TIMEOUT = 60.0          # for one interpreter's round
Result = Union[dict, str]   # the rates, or why there are none


class Choice(NamedTuple):
    python: str
    why: str


def candidates() -> list[str]:
    """Our own interpreter, then PyPy if installed."""
    found = [sys.executable]
    pypy = str(PYPY_VENV) if os.access(PYPY_VENV, os.X_OK) else shutil.which("pypy3")
    if pypy and os.path.realpath(pypy) != os.path.realpath(sys.executable):
        found.append(pypy)
    return found


def rocketnet_version() -> str:
    from importlib import metadata
    try:
        return metadata.version("rocketnet")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def key(pythons: list[str]) -> str:
    """What a record holds for: these interpreters, as they are, and this rocketnet."""
    h = hashlib.sha256(rocketnet_version().encode())
    for p in pythons:
        real = os.path.realpath(p)
        try:
            st = os.stat(real)
        except OSError:
            continue
        h.update(f"\0{p}\0{real}\0{st.st_size}\0{st.st_mtime_ns}".encode())
        # a virtual environment's packages (e.g. `cryptography` installed into it)
        for site in sorted(Path(p).parent.parent.glob("lib/*/site-packages")):
            h.update(str(site.stat().st_mtime_ns).encode())
    return h.hexdigest()


def missing() -> dict[str, str]:
    """What a host under the running interpreter could not serve: {feature: why}."""
    try:
        import shim._stub  # noqa: F401
    except ImportError as e:
        return {"stub": f"the stub's module is not built for it ({e}; tools/pypy-setup)"}
    from shim import alg
    if not alg.HAVE_ALG:
        return {"AF_ALG": "no `cryptography` for it (tools/pypy-setup makes .venv-pypy with one)"}
    return {}


def missing_under(python: str) -> dict[str, str]:
    """missing() as ``python`` answers it."""
    try:
        r = subprocess.run([python, "-m", "shim.hostpick"], capture_output=True, text=True,
                           timeout=TIMEOUT, cwd="/", env=dict(os.environ, PYTHONPATH=str(ROOT)))
        got = json.loads(r.stdout)
        if isinstance(got, dict):
            return got
    except (OSError, subprocess.TimeoutExpired, ValueError) as e:
        return {"start": f"it does not run: {e}"}
    return {"start": "it does not run: " + (r.stderr.strip().splitlines() or ["?"])[-1]}


def measure(python: str, env: dict[str, str]) -> Result:
    """The workload's rates with a host under ``python`` (``env``: a host's environment),
    or why there are none."""
    cli = [sys.executable, "-m", "shim.cli"]
    with tempfile.TemporaryDirectory(prefix="rocketnet-pick-") as rt:
        env = dict(env, ROCKETNET_RUNTIME_DIR=rt, PYTHONPATH=str(ROOT))
        env[ENV] = python

        def rocketnet(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([*cli, *args], env=env, capture_output=True, text=True,
                                  timeout=TIMEOUT, cwd="/")
        try:
            r = rocketnet("host", "start", "pick")
            if r.returncode:
                return "its host does not start: " + r.stderr.strip().replace("\n", " ")
            try:
                r = rocketnet("run", "--host", "pick", "--", sys.executable, "-m",
                              "shim.hostload", str(SECONDS), str(WARM))
            finally:
                rocketnet("host", "stop", "pick")
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"the workload did not end: {e}"
    try:
        rates = json.loads(r.stdout)
        if r.returncode == 0 and all(rates[k] > 0 for k in RATES):
            return {k: float(rates[k]) for k in RATES}
    except (ValueError, KeyError, TypeError):
        pass
    return "the workload failed: " + (r.stderr.strip().splitlines() or ["no output"])[-1]


def best(rounds: list[Result]) -> Result:
    """Per rate, the best round (the one the machine's load disturbed least)."""
    got = [r for r in rounds if isinstance(r, dict)]
    if not got:
        return rounds[-1]
    return {k: max(r[k] for r in got) for k in RATES}


def decide(results: dict[str, Result], lacks: dict[str, dict[str, str]]) -> Choice:
    """The choice among measured interpreters, the first being our own: ``results`` their
    rates (or why none), ``lacks`` what each could not serve."""
    own, *others = results
    base = results[own]
    if not isinstance(base, dict):
        return Choice(own, f"our own; not measured: {base}")
    chosen, chosen_mean = own, MARGIN
    notes = [f"{own}: " + ", ".join(f"{k} {base[k]:.0f}" for k in RATES)]
    for p in others:
        got = results[p]
        if not isinstance(got, dict):
            notes.append(f"{p}: excluded: {got}")
            continue
        ratios = {k: got[k] / base[k] for k in RATES}
        mean = math.exp(sum(math.log(r) for r in ratios.values()) / len(ratios))
        shown = ", ".join(f"{k} {got[k]:.0f} (x{ratios[k]:.2f})" for k in RATES)
        absent = {f: why for f, why in lacks.get(p, {}).items() if f not in lacks.get(own, {})}
        if absent:
            notes.append(f"{p}: {shown}: x{mean:.2f} overall; excluded: lacks "
                         + "; ".join(f"{f}: {why}" for f, why in absent.items()))
            continue
        notes.append(f"{p}: {shown}: x{mean:.2f} overall")
        if mean > chosen_mean:
            chosen, chosen_mean = p, mean
    rule = f"the fastest by the geometric mean of the three rates, by more than x{MARGIN}"
    return Choice(chosen, f"measured ({rule}): " + "; ".join(notes))


def pick(env: dict[str, str], say: Callable[[str], None]) -> Choice:
    """Measure every candidate (``env``: a host's environment), record and return the
    choice; ``say`` hears the progress."""
    pythons = candidates()
    lacks = {p: missing_under(p) for p in pythons}
    rounds: dict[str, list[Result]] = {p: [] for p in pythons}
    for n in range(ROUNDS):
        for p in pythons if n % 2 == 0 else pythons[::-1]:
            if lacks[p].keys() & {"stub", "start"}:
                rounds[p].append("; ".join(lacks[p].values()))
                continue
            say(f"round {n + 1}/{ROUNDS}: a host under {p}")
            rounds[p].append(measure(p, env))
            say(f"  {rounds[p][-1]}")
    choice = decide({p: best(r) for p, r in rounds.items()}, lacks)
    d = usercache.cache_dir()
    if d is not None:
        usercache.store(d / FILE, {key(pythons): {
            "python": choice.python, "why": choice.why,
            "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}})
    return choice


def recorded(pythons: list[str]) -> Choice | None:
    """The recorded choice for these interpreters and this rocketnet, if any."""
    d = usercache.cache_dir()
    if d is None:
        return None
    entry = usercache.load(d / FILE).get(key(pythons))
    if not isinstance(entry, dict):
        return None
    python, why, at = entry.get("python"), entry.get("why"), entry.get("at")
    if python not in pythons or not isinstance(why, str) or not isinstance(at, str):
        return None
    return Choice(python, f"{why} [{at}]")


def choose() -> Choice:
    """The interpreter for a new stack host, and why (never measures)."""
    named = os.environ.get(ENV)
    if named:
        # a relative path names a file from here; the host starts in /
        if "/" in named:
            named = os.path.abspath(named)
        return Choice(named, f"from {ENV}")
    pythons = candidates()
    if len(pythons) == 1:
        return Choice(sys.executable, "the only interpreter found (no pypy3)")
    return recorded(pythons) or Choice(
        sys.executable, f"the one running rocketnet: not measured against {pythons[1]} for "
                        "these interpreters and this version (`rocketnet host pick` measures)")


def describe() -> str:
    """Which interpreter hosts and why, for `rocketnet --version`."""
    c = choose()
    line = f"host interpreter: {c.python} ({c.why})"
    if c.why.startswith(f"from {ENV}"):
        lacks = missing_under(c.python)
        if lacks:
            line += "; it lacks " + "; ".join(f"{f}: {why}" for f, why in lacks.items())
    return line


if __name__ == "__main__":
    print(json.dumps(missing()))

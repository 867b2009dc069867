"""The host interpreter picker (shim/hostpick.py): its decision from measurements (fake
ones here: no timing is asserted), the override, the record's privacy and its
revalidation, and the real-path workload it measures."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from shim import hostpick, usercache

OWN = sys.executable
FAST = {"bulk_mbit": 8000.0, "rr_per_s": 16000.0, "crr_per_s": 800.0}
BASE = {"bulk_mbit": 5000.0, "rr_per_s": 8000.0, "crr_per_s": 800.0}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private cache directory, no override, and a fake PyPy (an executable file)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(hostpick.ENV, raising=False)
    pypy = tmp_path / "pypy3"
    pypy.write_text("#!/bin/sh\n")
    pypy.chmod(0o755)
    monkeypatch.setattr(hostpick, "candidates", lambda: [OWN, str(pypy)])
    return tmp_path / "cache" / "rocketnet"


def fake_measurements(monkeypatch, rates: dict[str, dict | str],
                      lacks: dict[str, dict[str, str]] | None = None) -> list[str]:
    """hostpick's measurement replaced by ``rates`` per interpreter; returns the calls."""
    calls = []

    def measure(python, env):
        calls.append(python)
        return rates[python]
    monkeypatch.setattr(hostpick, "measure", measure)
    monkeypatch.setattr(hostpick, "missing_under", lambda p: (lacks or {}).get(p, {}))
    return calls


def test_a_clearly_faster_candidate_is_picked():
    c = hostpick.decide({OWN: BASE, "pypy3": FAST}, {})
    assert c.python == "pypy3"
    assert "x1.60" in c.why and "x2.00" in c.why     # bulk and request/response ratios


def test_a_candidate_within_the_margin_is_not():
    near = {k: v * 1.05 for k, v in BASE.items()}
    assert hostpick.decide({OWN: BASE, "pypy3": near}, {}).python == OWN


def test_one_slow_rate_weighs_as_much_as_the_others():
    # 1.6x bulk and 2x RR do not make up for 5x fewer connections per second
    slow_crr = dict(FAST, crr_per_s=160.0)
    c = hostpick.decide({OWN: BASE, "pypy3": slow_crr}, {})
    assert c.python == OWN and "x0.20" in c.why


def test_a_candidate_lacking_a_feature_is_excluded_with_the_reason():
    c = hostpick.decide({OWN: BASE, "pypy3": FAST},
                        {OWN: {}, "pypy3": {"AF_ALG": "no `cryptography` for it"}})
    assert c.python == OWN
    assert "excluded: lacks AF_ALG: no `cryptography` for it" in c.why


def test_a_feature_our_own_lacks_too_does_not_exclude():
    lacks = {"AF_ALG": "no `cryptography`"}
    assert hostpick.decide({OWN: BASE, "pypy3": FAST}, {OWN: lacks, "pypy3": lacks}).python \
        == "pypy3"


def test_a_candidate_that_failed_is_excluded_with_the_reason():
    c = hostpick.decide({OWN: BASE, "pypy3": "its host does not start: boom"}, {})
    assert c.python == OWN and "pypy3: excluded: its host does not start: boom" in c.why


def test_our_own_failing_keeps_our_own():
    c = hostpick.decide({OWN: "the workload failed: x", "pypy3": FAST}, {})
    assert c.python == OWN and "not measured: the workload failed: x" in c.why


def test_the_best_round_counts_per_rate():
    a = dict(BASE, rr_per_s=100.0)
    b = dict(BASE, bulk_mbit=1.0)
    assert hostpick.best([a, "failed", b]) == BASE
    assert hostpick.best(["first", "second"]) == "second"


def test_the_override_wins_without_measuring(cache, monkeypatch, tmp_path):
    calls = fake_measurements(monkeypatch, {})
    monkeypatch.setenv(hostpick.ENV, "/opt/some/python")
    assert hostpick.choose() == ("/opt/some/python", f"from {hostpick.ENV}")
    # a relative path is taken from the caller's directory (the host starts in /)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(hostpick.ENV, ".venv-pypy/bin/pypy3")
    assert hostpick.choose().python == str(tmp_path / ".venv-pypy/bin/pypy3")
    monkeypatch.setenv(hostpick.ENV, "pypy3")  # a bare name is looked up in PATH
    assert hostpick.choose().python == "pypy3"
    assert calls == []


def test_no_record_means_our_own_and_a_host_start_never_measures(cache, monkeypatch):
    calls = fake_measurements(monkeypatch, {})
    c = hostpick.choose()
    assert c.python == OWN and "`rocketnet host pick` measures" in c.why
    assert calls == [] and not (cache / hostpick.FILE).exists()


def test_pick_measures_interleaved_and_records_privately(cache, monkeypatch):
    pypy = hostpick.candidates()[1]
    calls = fake_measurements(monkeypatch, {OWN: BASE, pypy: FAST})
    heard: list[str] = []
    assert hostpick.pick({}, heard.append).python == pypy
    assert calls == [OWN, pypy, pypy, OWN][:2 * hostpick.ROUNDS]
    assert heard
    f = cache / hostpick.FILE
    assert f.stat().st_mode & 0o777 == 0o600 and cache.stat().st_mode & 0o777 == 0o700
    assert list(json.loads(f.read_text()).values())[0]["python"] == pypy
    c = hostpick.choose()                   # later host starts: the record, no measuring
    assert c.python == pypy and "measured" in c.why and len(calls) == 2 * hostpick.ROUNDS
    assert pypy in hostpick.describe()


def test_the_record_is_revalidated_when_an_interpreter_changes(cache, monkeypatch):
    pypy = hostpick.candidates()[1]
    fake_measurements(monkeypatch, {OWN: BASE, pypy: FAST})
    hostpick.pick({}, lambda _m: None)
    assert hostpick.choose().python == pypy
    st = os.stat(pypy)
    os.utime(pypy, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))   # an upgraded pypy3
    c = hostpick.choose()
    assert c.python == OWN and "not measured" in c.why


def test_the_record_is_revalidated_when_rocketnet_changes(cache, monkeypatch):
    pypy = hostpick.candidates()[1]
    fake_measurements(monkeypatch, {OWN: BASE, pypy: FAST})
    hostpick.pick({}, lambda _m: None)
    monkeypatch.setattr(hostpick, "rocketnet_version", lambda: "99.0")
    assert hostpick.choose().python == OWN


def test_a_symlinked_record_is_neither_believed_nor_followed(cache, monkeypatch, tmp_path):
    pypy = hostpick.candidates()[1]
    fake_measurements(monkeypatch, {OWN: BASE, pypy: FAST})
    hostpick.pick({}, lambda _m: None)
    f = cache / hostpick.FILE
    target = tmp_path / "elsewhere.json"
    target.write_text(f.read_text())
    target.chmod(0o600)
    f.unlink()
    f.symlink_to(target)
    assert hostpick.choose().python == OWN  # a link is never read, even to a good record
    before = target.read_text()
    hostpick.pick({}, lambda _m: None)
    assert target.read_text() == before     # and never written through
    assert not f.is_symlink() and f.stat().st_mode & 0o777 == 0o600


def test_a_record_others_can_write_is_not_believed(cache, monkeypatch):
    pypy = hostpick.candidates()[1]
    fake_measurements(monkeypatch, {OWN: BASE, pypy: FAST})
    hostpick.pick({}, lambda _m: None)
    (cache / hostpick.FILE).chmod(0o622)
    assert hostpick.choose().python == OWN
    assert usercache.load(cache / hostpick.FILE) == {}


@pytest.mark.parametrize("block, feature", [("cryptography", "AF_ALG"), ("shim._stub", "stub")])
def test_an_interpreter_lacking_a_module_is_excluded_saying_why(cache, monkeypatch, block,
                                                               feature):
    """A PyPy without `cryptography` (tools/pypy-setup without network) or without the
    stub's module: faster or not, never picked, and the record says why."""
    pypy = hostpick.candidates()[1]
    Path(pypy).write_text(      # a fake: our own interpreter with that module missing
        f"#!/bin/sh\nexec {OWN} -c \"import runpy, sys; sys.modules['{block}'] = None; "
        "runpy.run_module('shim.hostpick', run_name='__main__')\"\n")
    lacks = hostpick.missing_under(pypy)
    assert set(lacks) == {feature}
    monkeypatch.setattr(hostpick, "measure", lambda p, env: FAST if p == pypy else BASE)
    c = hostpick.pick({}, lambda _m: None)
    assert c.python == OWN and f"{pypy}: " in c.why and lacks[feature] in c.why
    assert "excluded" in hostpick.describe()


def test_what_our_own_interpreter_serves():
    assert hostpick.missing() == {}
    assert hostpick.missing_under(OWN) == {}


def test_the_workload_runs_the_real_path(monkeypatch):
    """A host under our own interpreter serves the shimmed workload: three rates."""
    monkeypatch.setattr(hostpick, "SECONDS", 0.1)
    monkeypatch.setattr(hostpick, "WARM", 0.1)
    got = hostpick.measure(OWN, dict(os.environ))
    assert isinstance(got, dict), got
    assert set(got) == set(hostpick.RATES) and all(v > 0 for v in got.values())

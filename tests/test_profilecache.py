"""The kernel profile is probed once per kernel, namespace and code, and kept privately
(shim/profilecache.py): a cached profile is the probed one; what is not ours, not
private or not parsable is never believed."""
from __future__ import annotations

import json
import os

import pytest

from rocketnet.profile import KernelProfile, OptionAnswer, ValueAnswer
from shim import kprofile, profilecache


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "rocketnet"


@pytest.fixture(scope="module")
def probed() -> KernelProfile:
    return kprofile.probe()


@pytest.fixture
def counted(monkeypatch, probed):
    """kprofile.probe replaced by the module's probed profile, with a call count."""
    calls = []

    def probe() -> KernelProfile:
        calls.append(1)
        return probed
    monkeypatch.setattr(kprofile, "probe", probe)
    return calls


def test_round_trip_of_this_kernels_profile(probed):
    assert profilecache._decode(json.loads(json.dumps(profilecache._encode(probed)))) == probed


def test_round_trip_of_every_kind_of_answer():
    p = KernelProfile(release="x", rthdr_types=frozenset({2}), tcp_wmem=(1, 2, 3), options={
        (10, 17, 17, 100): OptionAnswer(get_err=92, set_err=0, default=7,
                                        values={-1: ValueAnswer(22, None),
                                                5: ValueAnswer(0, 1152)})})
    assert profilecache._decode(json.loads(json.dumps(profilecache._encode(p)))) == p


def test_second_start_reads_the_cache(cache_home, counted, probed):
    assert profilecache.probe() == probed
    assert profilecache.probe() == probed
    assert len(counted) == 1
    f = cache_home / profilecache.FILE
    assert f.stat().st_mode & 0o777 == 0o600
    assert cache_home.stat().st_mode & 0o777 == 0o700


def test_a_changed_key_probes_again(cache_home, counted, monkeypatch):
    profilecache.probe()
    monkeypatch.setattr(profilecache, "key", lambda: "another kernel")
    profilecache.probe()
    profilecache.probe()
    assert len(counted) == 2
    assert len(json.loads((cache_home / profilecache.FILE).read_text())) == 2


def test_key_follows_the_code(tmp_path, monkeypatch):
    src = tmp_path / "code"
    src.mkdir()
    (src / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(profilecache, "CODE_ROOTS", (src,))
    before = profilecache.key()
    assert profilecache.key() == before
    (src / "a.py").write_text("x = 2\n")
    assert profilecache.key() != before


def test_only_the_newest_entries_are_kept(cache_home, counted, monkeypatch):
    for i in range(profilecache.ENTRIES + 3):
        monkeypatch.setattr(profilecache, "key", lambda i=i: f"k{i}")
        profilecache.probe()
    kept = json.loads((cache_home / profilecache.FILE).read_text())
    assert sorted(kept) == sorted(f"k{i}" for i in range(3, profilecache.ENTRIES + 3))


def test_a_corrupt_file_is_probed_over(cache_home, counted, probed):
    cache_home.mkdir(mode=0o700)
    f = cache_home / profilecache.FILE
    fd = os.open(f, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, json.dumps({profilecache.key(): {"profile": {"options": 3}}}).encode())
    os.close(fd)
    assert profilecache.probe() == probed
    assert len(counted) == 1
    assert profilecache.probe() == probed          # the probed one replaced it
    assert len(counted) == 1


def test_a_file_others_can_write_is_not_believed(cache_home, counted, probed):
    profilecache.probe()
    f = cache_home / profilecache.FILE
    entries = json.loads(f.read_text())
    forged = dict(entries[profilecache.key()]["profile"], release="forged")
    f.write_text(json.dumps({profilecache.key(): {"profile": forged, "seq": 9}}))
    os.chmod(f, 0o622)
    assert profilecache.probe() == probed
    assert len(counted) == 2


def test_a_symlinked_file_is_not_followed(cache_home, counted, tmp_path):
    cache_home.mkdir(mode=0o700)
    target = tmp_path / "elsewhere"
    target.write_text("{}")
    (cache_home / profilecache.FILE).symlink_to(target)
    profilecache.probe()
    assert len(counted) == 1                        # never read through the link...
    assert target.read_text() == "{}"               # ...nor written through it:
    f = cache_home / profilecache.FILE              # the link itself is replaced
    assert not f.is_symlink() and f.stat().st_mode & 0o777 == 0o600


def test_a_directory_others_can_enter_is_not_used(cache_home, counted):
    cache_home.mkdir(mode=0o755)
    os.chmod(cache_home, 0o755)
    profilecache.probe()
    profilecache.probe()
    assert len(counted) == 2
    assert not (cache_home / profilecache.FILE).exists()

"""Shared fixtures: a private runtime directory, so every test session has its own
stack hosts and never touches a user's."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROCKETNET = [sys.executable, "-m", "shim.cli"]


class Rocketnet:
    """Runs the `rocketnet` command against a private runtime directory."""

    def __init__(self, runtime_dir: Path) -> None:
        self.runtime_dir = runtime_dir
        self.env = dict(os.environ, ROCKETNET_RUNTIME_DIR=str(runtime_dir))
        self.env.pop("LD_PRELOAD", None)

    def cmd(self, *args: str) -> list[str]:
        return [*ROCKETNET, *args]

    def run(self, *args: str, timeout: float = 60, check: bool = False,
            **kw) -> subprocess.CompletedProcess:
        return subprocess.run(self.cmd(*args), env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=check, **kw)

    def popen(self, *args: str, **kw) -> subprocess.Popen:
        return subprocess.Popen(self.cmd(*args), env=self.env, **kw)

    def stats(self, host: str = "default") -> dict:
        r = self.run("host", "stats", host, check=True)
        return json.loads(r.stdout)

    def stop_all(self) -> None:
        r = self.run("host", "list")
        for line in r.stdout.splitlines()[1:]:
            self.run("host", "stop", line.split()[0])


@pytest.fixture
def rn(tmp_path_factory) -> Rocketnet:
    d = tmp_path_factory.mktemp("rt")
    os.chmod(d, 0o700)
    r = Rocketnet(d)
    yield r
    r.stop_all()


def wait_for(pred, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")

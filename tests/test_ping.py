"""Debian's ping (iputils) through the shim: ICMP echo over the stack's ping sockets."""
from __future__ import annotations

import re
import shutil

import pytest

pytestmark = pytest.mark.skipif(shutil.which("ping") is None,
                                reason="ping is not installed (tools/setup installs iputils-ping)")


@pytest.mark.parametrize("args", [["127.0.0.1"], ["-6", "::1"]], ids=["v4", "v6"])
def test_ping_through_the_stack(rn, args):
    r = rn.run("run", "--", "ping", "-c", "3", "-i", "0.2", *args, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"3 packets transmitted, 3 received, 0% packet loss", r.stdout), r.stdout
    assert len(re.findall(r"^64 bytes from .*icmp_seq=\d+ ttl=64 time=", r.stdout, re.M)) == 3
    stats = rn.stats()["stack"]
    assert stats["ping_echo_sent"] >= 3 and stats["ping_echo_replies_received"] >= 3


def test_ping_default_interval(rn):
    r = rn.run("run", "--", "ping", "-c", "2", "127.0.0.1", timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 received" in r.stdout

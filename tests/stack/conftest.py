from __future__ import annotations

import pytest

from rocketnet.lab import VirtualClock
from rocketnet.stack import NetStack


@pytest.fixture
def stack() -> NetStack:
    return NetStack(seed=1)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()

from __future__ import annotations

import pytest
from stack_helpers import Clock

from rocketnet.stack import NetStack


@pytest.fixture
def stack() -> NetStack:
    return NetStack(seed=1)


@pytest.fixture
def clock() -> Clock:
    return Clock()

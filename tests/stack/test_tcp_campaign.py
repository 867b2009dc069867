"""The loss campaign, short: every profile of tests/stack/campaign.py (loss 0.1% to
30%, reordering, duplication, corruption, delay with jitter, bursty loss, asymmetric
loss, a link down for 5 s, a reader that stops for seconds at a time) with two seeds,
512 KiB each way on the virtual clock: byte-exact, closed, and without a stretch of
timeouts that the loss rate does not explain. ``tools/soak --simulate`` runs it long."""

from __future__ import annotations

import pytest
from campaign import PROFILES, run, table

SIZE = 512 * 1024


@pytest.mark.parametrize("profile", list(PROFILES))
def test_campaign_profile(profile: str) -> None:
    results = [run(profile, seed, SIZE) for seed in (1, 2)]
    for r in results:
        assert r["goodput_up"] > 0 and r["goodput_down"] > 0
        if PROFILES[profile].get("loss", 0) >= 0.01:
            assert r["retransmits"] > 0
    print("\n" + table(results))

"""A one-minute `sla-engine bench soak` (issue 11): traffic, a kill and a broker pause at a kill,
then every decision of a replay is on the alerts topic, under one id and one content."""

from __future__ import annotations

from bench.soak import run


def test_a_one_minute_soak_loses_and_duplicates_nothing() -> None:
    result = run(minutes=1.0, rate=5, fault_every_s=18.0, seed=3)
    assert result["faults"] == 2  # one kill, one broker pause with a kill
    assert result["decisions"] > 100
    assert result["lost"] == 0, result
    assert result["two_ids"] == 0 and result["two_contents"] == 0
    assert result["samples"] and result["rss_mib_first_last_max"] is not None

"""Label values from event data are bounded (`topologies.labels`)."""

from __future__ import annotations

from config.loader import load
from topologies.labels import OTHER, Bounded, policy_values


def test_200_teams_fold_into_the_cap_and_other_stably() -> None:
    teams = Bounded("team", known={"vip-desk"}, cap=30)
    first = [teams(f"team-{i:03d}") for i in range(200)]
    assert first[:30] == [f"team-{i:03d}" for i in range(30)]
    assert set(first[30:]) == {OTHER}
    assert [teams(f"team-{i:03d}") for i in range(200)] == first  # no flapping
    assert teams("vip-desk") == "vip-desk" and teams("") == ""
    assert len(set(first)) == 31


def test_known_values_come_from_the_policy() -> None:
    assert policy_values(load(None), "team") == frozenset()  # the default names no team

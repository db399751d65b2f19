"""Bounded metric label values for labels fed from event data (the team of an alert, the team
key of the KPI gauges): the values the policy names, plus the first `TEAM_CAP` others a worker
sees; any later value is folded into `other` (counters) or left out (KPI gauges, whose values
cannot be summed: the full set is on the `sla.kpis` topic). Which teams get a series is stable
for the life of a worker, so series do not flap."""

from __future__ import annotations

from collections.abc import Iterable

from engine.rules import RuntimePolicy
from topologies import metrics

TEAM_CAP = 30  # teams beyond the policy's with their own series, per worker
OTHER = "other"


class Bounded:
    """A label's admitted values: `known` always, up to `cap` more in order of first sight."""

    def __init__(self, label: str, known: Iterable[str] = (), cap: int = TEAM_CAP) -> None:
        self.label = label
        self.reset(known, cap)

    def reset(self, known: Iterable[str], cap: int) -> None:
        self.cap = cap
        self.known = frozenset(known)
        self.seen: set[str] = set()
        self.folded: set[str] = set()

    def admits(self, value: str) -> bool:
        """True when `value` has (or now gets) its own series; "" (unset) always has one."""
        if value in self.seen or value in self.known or value == "":
            return True
        if len(self.seen) < self.cap:
            self.seen.add(value)
            return True
        if value not in self.folded and len(self.folded) < 100_000:
            self.folded.add(value)
            metrics.LABEL_OVERFLOW.labels(self.label).inc()
        return False

    def __call__(self, value: str) -> str:
        """The label value to use for `value`: itself, or `other`."""
        return value if self.admits(value) else OTHER


def policy_values(policy: RuntimePolicy, attr: str) -> frozenset[str]:
    """Every value of ticket attribute `attr` that the policy's targets or triggers name."""
    out: set[str] = set()
    for clock in policy.clocks:
        for target in clock.targets:
            out |= target.when.get(attr, frozenset())
        for trigger in (*clock.start, *clock.stop, *clock.resume):
            out |= trigger.when.get(attr, frozenset())
    return frozenset(out)


TEAMS = Bounded("team")


def configure(policy: RuntimePolicy, cap: int = TEAM_CAP) -> None:
    """Set the known teams from the policy (at worker start)."""
    TEAMS.reset(policy_values(policy, "team"), cap)

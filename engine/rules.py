"""The policy as the engine runs it: plain frozen dataclasses, built once at start by `config/`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.calendar import Calendar
from schemas.attributes import DIMENSIONS


@dataclass(frozen=True, slots=True)
class Threshold:
    """One grading step of a clock: `kind`/`level` fire when clock time reaches `at_us`."""

    kind: str  # warning | breach | escalation
    level: str | None  # None for warnings
    at_us: int


@dataclass(frozen=True, slots=True)
class Target:
    """A target rule: the first whose `when` matches the ticket gives the thresholds."""

    rule: str  # human-readable name of the rule in the policy, for explain
    when: Mapping[str, frozenset[str]]  # ticket attribute -> accepted values
    thresholds: tuple[Threshold, ...]  # sorted by at_us; empty for an `untracked` entry
    breach_us: int | None = None  # derived: the first breach threshold (a cycle's stop reads it)

    def __post_init__(self) -> None:
        breach = next((th.at_us for th in self.thresholds if th.kind == "breach"), None)
        object.__setattr__(self, "breach_us", breach)

    def matches(self, attrs: Mapping[str, str | None]) -> bool:
        return all(attrs.get(k) in vals for k, vals in self.when.items())


@dataclass(frozen=True, slots=True)
class Trigger:
    """An event that acts on a clock, optionally only for tickets with given attributes."""

    type: str
    when: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def matches(self, event_type: str, attrs: Mapping[str, str | None]) -> bool:
        if event_type != self.type:
            return False
        for k, accepted in self.when.items():
            if attrs.get(k) not in accepted:
                return False
        return True


def any_fires(
    triggers: tuple[Trigger, ...], event_type: str, attrs: Mapping[str, str | None]
) -> bool:
    """True when one of `triggers` matches the event (a loop: this is on the hot path)."""
    for trigger in triggers:
        if trigger.matches(event_type, attrs):
            return True
    return False


@dataclass(frozen=True, slots=True)
class CalendarChoice:
    """A calendar for the tickets a `when` matches (an empty `when` matches every ticket)."""

    when: Mapping[str, frozenset[str]]
    calendar: Calendar

    def matches(self, attrs: Mapping[str, str | None]) -> bool:
        return all(attrs.get(k) in vals for k, vals in self.when.items())


@dataclass(frozen=True, slots=True)
class ClockRule:
    """An SLA clock: when it starts, stops, resumes and pauses, its calendar and its targets."""

    name: str
    calendar: Calendar
    start: tuple[Trigger, ...]
    stop: tuple[Trigger, ...]
    resume: tuple[Trigger, ...]  # restart a stopped cycle keeping its elapsed time (reopen)
    pause_statuses: frozenset[str]
    targets: tuple[Target, ...]
    event_types: frozenset[str] = frozenset()  # derived: every event type a trigger names
    # Per-ticket calendars, first match wins; none matching (or none given): `calendar`.
    calendars: tuple[CalendarChoice, ...] = ()
    version: str = ""  # the policy version this rule belongs to (alerts carry it)

    def __post_init__(self) -> None:
        types = {t.type for t in (*self.start, *self.stop, *self.resume)}
        object.__setattr__(self, "event_types", frozenset(types))

    def target_for(self, attrs: Mapping[str, str | None]) -> Target | None:
        """The first target whose `when` matches, in file order (None: no target matches)."""
        for t in self.targets:
            if t.matches(attrs):
                return t
        return None

    def calendar_for(self, attrs: Mapping[str, str | None]) -> Calendar:
        """The calendar of a cycle starting for a ticket with these attributes."""
        for choice in self.calendars:
            if choice.matches(attrs):
                return choice.calendar
        return self.calendar

    def target_inputs(self) -> frozenset[str]:
        """Ticket attributes the targets and calendars of this clock depend on."""
        keys = {k for t in self.targets for k in t.when}
        keys.update(k for c in self.calendars for k in c.when)
        return frozenset(keys)


DAY_US = 86_400 * 1_000_000
KPI_UNITS = ("hour", "day", "week", "month")
KPI_DIMENSIONS: tuple[str, ...] = DIMENSIONS


def _default_targets() -> Mapping[str, float]:
    return {"resolution_rate": 0.90, "csat": 0.85, "complaint_24h_rate": 0.90}


@dataclass(frozen=True, slots=True)
class KpiRules:
    """How the KPIs are computed (`engine.kpis`); the defaults are the monitoring regulation's.

    `targets` maps a rate metric to its target share (higher is better); `grace_us` is how long
    after a window's end (in stream time) it becomes final; `backlog_bands_us` are the upper
    bounds of the backlog age bands (wall time since creation); `business_calendar` is the
    calendar of the business-time durations (None: no business-time metrics)."""

    timezone: str = "Asia/Shanghai"
    units: tuple[str, ...] = KPI_UNITS
    dimensions: tuple[str, ...] = KPI_DIMENSIONS
    grace_us: int = DAY_US
    targets: Mapping[str, float] = field(default_factory=_default_targets)
    business_calendar: Calendar | None = None
    complaint_category: str = "complaint"
    complaint_within_us: int = DAY_US
    backlog_bands_us: tuple[int, ...] = (DAY_US, 3 * DAY_US, 5 * DAY_US, 10 * DAY_US)
    include_flagged_surveys: bool = True
    invalid_reasons: frozenset[str] = frozenset({"malicious", "unrelated"})
    team_csat_below: float = 0.15  # flag a team this far below the mean of the teams' CSAT
    team_csat_mode: str = "relative"  # relative: a share of the mean; points: absolute
    team_csat_min_surveys: int = 5  # teams with fewer counted surveys are left out of the mean


@dataclass(frozen=True, slots=True)
class RuntimePolicy:
    """Everything `evaluate` needs; `version` is the content hash every alert carries."""

    version: str
    clocks: tuple[ClockRule, ...]
    notify: Mapping[str, tuple[str, ...]]  # "warning" or a level -> roles
    stop_all_on: frozenset[str] = frozenset({"closed"})
    # Events whose arrival sets the ticket's workflow status (besides status_changed).
    status_on: Mapping[str, str] = field(default_factory=dict)
    kpis: KpiRules = field(default_factory=KpiRules)
    # Later versions of the policy: (effective_from µs, version), ascending. Each is in force
    # from its instant to the next one's; this policy is in force before the first.
    later: tuple[tuple[int, RuntimePolicy], ...] = ()
    # Derived: ticket attributes whose change re-selects targets (any version's).
    target_inputs: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        keys = {"priority", "category", "channel"}
        for policy in (self, *(p for _, p in self.later)):
            for c in policy.clocks:
                keys |= c.target_inputs()
        object.__setattr__(self, "target_inputs", frozenset(keys))

    def clock(self, name: str) -> ClockRule:
        for c in self.clocks:
            if c.name == name:
                return c
        raise KeyError(name)

    def at(self, t: int) -> RuntimePolicy:
        """The version in force at instant `t`."""
        current = self
        for since, version in self.later:
            if since > t:
                break
            current = version
        return current

    def versions(self) -> tuple[RuntimePolicy, ...]:
        """Every version, oldest first."""
        return (self, *(p for _, p in self.later))

    def by_version(self, version: str) -> RuntimePolicy:
        """The version with this content hash (this one when unknown)."""
        for p in self.later:
            if p[1].version == version:
                return p[1]
        return self

    def clock_names(self) -> tuple[str, ...]:
        """Every clock of every version, in order of first appearance."""
        names: dict[str, None] = {}
        for policy in self.versions():
            names.update((c.name, None) for c in policy.clocks)
        return tuple(names)

    def find_clock(self, name: str) -> ClockRule | None:
        """The clock of that name in this version, None when it has none."""
        for c in self.clocks:
            if c.name == name:
                return c
        return None

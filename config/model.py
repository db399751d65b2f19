"""The policy file's pydantic model: what a service team may configure, validated at start."""

from __future__ import annotations

import itertools
import re
from datetime import date
from typing import Annotated, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)

from schemas.attributes import DIMENSIONS, Dimension

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_HOURS = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WORKWEEK: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")


def parse_duration(value: object) -> int:
    """`90s`, `15m`, `4h`, `2d` or a number of seconds → microseconds."""
    if isinstance(value, bool):
        raise ValueError("a duration such as 90s, 15m, 4h or 2d")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return round(value * 1_000_000)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return round(float(m.group(1)) * _UNIT_S[m.group(2) or "s"] * 1_000_000)
    raise ValueError(f"{value!r} is not a duration such as 90s, 15m, 4h or 2d")


DurationUs = Annotated[int, BeforeValidator(parse_duration)]


def _listify(value: object) -> object:
    return [value] if isinstance(value, str) else value


Values = Annotated[list[str], BeforeValidator(_listify)]


def _iana_zone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"unknown IANA time zone {v!r}") from e
    return v


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # Fields added after the first release: left out of the content hash while at their
    # default, so a policy that does not use them keeps its version (`versions.version_of`).
    hash_omit_default: ClassVar[frozenset[str]] = frozenset()


def block_minutes(block: str) -> tuple[int, int]:
    """`"09:00-12:00"` → (540, 720): minutes from local midnight; the end may be 24:00."""
    m = _HOURS.match(block)
    if not m:
        raise ValueError(f"{block!r} is not a block like 09:00-12:00")
    h1, m1, h2, m2 = (int(x) for x in m.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if not (0 <= start < end <= 24 * 60) or m1 > 59 or m2 > 59:
        raise ValueError(f"{block!r}: a block must start before it ends, within one day")
    return start, end


def _block(v: str) -> str:
    block_minutes(v)
    return v


Block = Annotated[str, AfterValidator(_block)]


class CalendarSpec(_Strict):
    hash_omit_default: ClassVar[frozenset[str]] = frozenset({"dates", "breaks"})

    timezone: str
    always_open: bool = False
    hours: list[Block] | dict[Weekday, list[Block]] = Field(
        default_factory=list,
        description='working blocks, "09:00-12:00"; or per weekday: {mon: [...], sat: [...]}',
    )
    weekdays: list[Weekday] = Field(default_factory=lambda: list(_WORKWEEK))
    public_holidays: str | None = Field(default=None, description="holidays-package country code")
    extra_holidays: list[date] = Field(default_factory=list)
    extra_workdays: list[date] = Field(default_factory=list)
    dates: dict[date, list[Block]] = Field(
        default_factory=dict,
        description="a date's own blocks, overriding weekday and holiday rules ([] = closed)",
    )
    breaks: dict[date, list[Block]] = Field(
        default_factory=dict, description="closures cut out of a date's working blocks"
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        return _iana_zone(v)

    @field_validator("public_holidays")
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from engine.calendar_days import supported_countries

        if v not in supported_countries():
            raise ValueError(f"{v!r} is not a country code the holidays package knows")
        return v


class TriggerSpec(_Strict):
    type: str
    when: dict[str, Values] = Field(default_factory=dict)


def _trigger(value: object) -> object:
    return {"type": value} if isinstance(value, str) else value


Triggers = list[Annotated[TriggerSpec, BeforeValidator(_trigger)]]


class TargetSpec(_Strict):
    hash_omit_default: ClassVar[frozenset[str]] = frozenset({"untracked"})

    when: dict[str, Values] = Field(default_factory=dict)
    target: DurationUs | None = Field(default=None, description="warning threshold")
    limit: DurationUs | None = Field(
        default=None, description="breach threshold (grading is relative to it)"
    )
    untracked: bool = Field(
        default=False, description="tickets this entry matches are deliberately not tracked"
    )


class CalendarChoice(_Strict):
    """One entry of a per-ticket `calendar:` list: the first whose `when` matches wins."""

    when: dict[str, Values] = Field(default_factory=dict)
    calendar: str


class LevelStep(_Strict):
    level: Literal["minor", "moderate", "severe"]
    of_limit: float = Field(gt=0)


class Grading(_Strict):
    breach: LevelStep = LevelStep(level="minor", of_limit=1.0)
    escalations: list[LevelStep] = Field(
        default_factory=lambda: [
            LevelStep(level="moderate", of_limit=1.5),
            LevelStep(level="severe", of_limit=2.0),
        ]
    )


class ClockSpec(_Strict):
    calendar: str | list[CalendarChoice]
    start: Triggers
    stop: Triggers = Field(default_factory=list)
    resume: Triggers = Field(default_factory=list)
    pause_statuses: list[str] = Field(default_factory=list)
    targets: list[TargetSpec] = Field(min_length=1)
    grading: Grading | None = None


_DAY_US = 86_400 * 1_000_000
KpiUnit = Literal["hour", "day", "week", "month"]
KpiDimension = Dimension
_KPI_UNITS: tuple[KpiUnit, ...] = ("hour", "day", "week", "month")
_KPI_DIMENSIONS = DIMENSIONS


class KpiComplaints(_Strict):
    category: str = Field(default="complaint", description="the category that marks a complaint")
    answered_within: DurationUs = Field(
        default=_DAY_US, description="first response due within this wall time (24h)"
    )


class KpiSurveys(_Strict):
    include_flagged: bool = Field(
        default=True, description="count all-5 / all-1 surveys in CSAT and means (still flagged)"
    )
    invalid_reasons: list[str] = Field(
        default_factory=lambda: ["malicious", "unrelated"],
        description="invalid_reason values counted by name; any other is counted as 'other'",
    )


class KpiTeamFlag(_Strict):
    below_mean: float = Field(default=0.15, gt=0, lt=1)
    mode: Literal["relative", "points"] = Field(
        default="relative",
        description="relative: CSAT <= mean x (1 - below_mean); points: CSAT <= mean - below_mean",
    )
    min_surveys: int = Field(default=5, ge=1, description="fewer counted surveys: left out")


class KpiSpec(_Strict):
    """Windowed KPIs (spec §6): windows, dimensions, targets, grace period, survey rules."""

    windows: list[KpiUnit] = Field(default_factory=lambda: list(_KPI_UNITS))
    dimensions: list[KpiDimension] = Field(default_factory=lambda: list(_KPI_DIMENSIONS))
    grace: DurationUs = Field(
        default=_DAY_US, description="a window is final this long after its end (stream time)"
    )
    business_calendar: str | None = Field(
        default=None,
        description="calendar of business-time durations (default: the resolution clock's)",
    )
    targets: dict[str, float] = Field(
        default_factory=lambda: {"resolution_rate": 0.90, "csat": 0.85, "complaint_24h_rate": 0.90}
    )
    complaints: KpiComplaints = KpiComplaints()
    backlog_age_bands: list[DurationUs] = Field(
        default_factory=lambda: [_DAY_US, 3 * _DAY_US, 5 * _DAY_US, 10 * _DAY_US],
        description="upper bounds of the backlog age bands (wall time since creation)",
    )
    surveys: KpiSurveys = KpiSurveys()
    team_csat_flag: KpiTeamFlag = KpiTeamFlag()

    @field_validator("windows", "dimensions")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("each entry at most once")
        return v

    @field_validator("backlog_age_bands")
    @classmethod
    def _bands(cls, v: list[int]) -> list[int]:
        if any(b <= 0 for b in v) or any(a >= b for a, b in itertools.pairwise(v)):
            raise ValueError("age bands must be positive and strictly increasing")
        return v


class VersionSpec(_Strict):
    """A later version of the policy: from `effective_from` on, the sections it gives replace
    those of the version before it (the others carry over)."""

    effective_from: AwareDatetime
    calendars: dict[str, CalendarSpec] | None = None
    grading: Grading | None = None
    notify: dict[str, list[str]] | None = None
    lifecycle_status: dict[str, str] | None = None
    stop_all_on: list[str] | None = None
    clocks: dict[str, ClockSpec] | None = None
    ticket_values: dict[str, Values] | None = None


class PolicyFile(_Strict):
    """The whole policy file."""

    hash_omit_default: ClassVar[frozenset[str]] = frozenset({"ticket_values", "versions"})

    name: str = "policy"
    reporting_timezone: str = "Asia/Shanghai"
    calendars: dict[str, CalendarSpec]
    grading: Grading = Grading()
    notify: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "warning": ["agent"],
            "minor": ["agent"],
            "moderate": ["agent", "supervisor"],
            "severe": ["agent", "supervisor", "department_manager"],
        }
    )
    lifecycle_status: dict[str, str] = Field(default_factory=dict)
    stop_all_on: list[str] = Field(default_factory=lambda: ["closed"])
    clocks: dict[str, ClockSpec] = Field(min_length=1)
    kpis: KpiSpec = KpiSpec()
    ticket_values: dict[str, Values] = Field(
        default_factory=dict,
        description="the values an attribute can take (a `when` naming another is an error)",
    )
    versions: list[VersionSpec] = Field(
        default_factory=list, description="later versions, by ascending effective_from"
    )

    @field_validator("reporting_timezone")
    @classmethod
    def _reporting_zone(cls, v: str) -> str:
        return _iana_zone(v)

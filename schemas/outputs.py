"""Output messages: alerts on `sla.alerts`, rejects on `tickets.dlq`, KPI snapshots on `sla.kpis`.

None of these models has a field for customer name or contact: privacy by construction.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.attributes import Dimension

AlertKind = Literal["warning", "breach", "escalation", "retraction"]
Level = Literal["minor", "moderate", "severe"]


class Responsible(BaseModel):
    """Who held the ticket when the threshold was crossed (accountability)."""

    model_config = ConfigDict(extra="forbid")
    agent: str | None = None
    supervisor: str | None = None
    team: str | None = None
    department: str | None = None


class HolderShare(Responsible):
    """Clock time of a cycle counted while one holder had the ticket (cross-department rule)."""

    seconds: float = Field(ge=0, description="clock (calendar) seconds counted for this holder")


class Alert(BaseModel):
    """One SLA decision. `alert_id` is deterministic: consumers drop repeats by it."""

    model_config = ConfigDict(extra="forbid")
    alert_id: str = Field(
        description="hash of ticket, clock, cycle, kind, level, due_at (+generation)"
    )
    ticket_id: str
    clock: str
    cycle: int = Field(
        ge=1, description="which run of the clock (a survey clock restarts per resolution)"
    )
    kind: AlertKind
    level: Level | None = Field(description="minor|moderate|severe for breaches and escalations")
    priority: str | None = Field(
        description="the ticket's priority at due_at; null when no event of it named one"
    )
    category: str | None = None
    channel: str | None = None
    due_at: AwareDatetime = Field(description="event-time instant the threshold was crossed")
    target_seconds: float = Field(description="the threshold, in clock (calendar) seconds")
    elapsed_seconds: float = Field(description="clock seconds elapsed at due_at")
    calendar: str
    responsible: Responsible
    attribution: list[HolderShare] = Field(
        default_factory=list,
        description="the cycle's clock seconds up to due_at split by who had the ticket while the "
        "clock ran (agent, supervisor, team, department), in order of first holding, one entry a "
        "holder; the seconds sum to elapsed_seconds and the holder at due_at is always listed "
        "(0 s when the ticket reached them at that instant); absent (empty) on retractions",
    )
    notify: list[str]
    policy_version: str
    caused_by: list[str] = Field(description="event ids that started, moved or stopped the clock")
    detected_at: AwareDatetime = Field(
        description="when the engine emitted it: wall clock live, the stream-time clock in replay"
    )
    retracts: str | None = Field(
        default=None, description="for retractions: the withdrawn alert_id"
    )
    retracted_kind: AlertKind | None = Field(
        default=None, description="for retractions: the kind of the withdrawn alert"
    )
    reason: str | None = Field(
        default=None, description="for retractions: late_event | exempted | appeal_overturned"
    )


class Reject(BaseModel):
    """An input that could not be used, with the reason and its original bytes: nothing is lost."""

    model_config = ConfigDict(extra="forbid")
    reason: str
    raw: str | None = Field(
        description="the original message: text, or base64 when not UTF-8; null when the "
        "record had no value at all (raw_encoding none), unlike an empty one; customer name, "
        "phone and email replaced by [redacted] (schemas.redact)"
    )
    raw_encoding: Literal["utf-8", "base64", "none"] = "utf-8"
    raw_bytes: int | None = Field(default=None, description="size of the original value")
    raw_clipped: bool = Field(
        default=False, description="raw holds only the first 64 KiB of a larger value"
    )
    key: str | None = Field(default=None, description="the input record's key (clipped)")
    key_encoding: Literal["utf-8", "base64"] | None = None
    line: int | None = Field(default=None, description="line number in a replayed file")
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    detected_at: AwareDatetime | None = None


class Window(BaseModel):
    """A tumbling event-time window in the policy's reporting time zone."""

    model_config = ConfigDict(extra="forbid")
    unit: Literal["hour", "day", "week", "month"] = Field(
        description="week = ISO week (Monday start)"
    )
    start: AwareDatetime = Field(description="inclusive, with the reporting zone's offset")
    end: AwareDatetime = Field(description="exclusive")
    label: str = Field(description="2026-11-23T09 | 2026-11-23 | 2026-W48 | 2026-11")


class Comparison(BaseModel):
    """Headline metrics of the same dimension key in another window."""

    model_config = ConfigDict(extra="forbid")
    label: str
    start: AwareDatetime
    metrics: dict[str, float | int | None]


class KpiSnapshot(BaseModel):
    """KPI values of one window for one dimension key (`engine.kpis.snapshot` defines every
    metric). Key for compaction: unit, window start, dimension, key."""

    model_config = ConfigDict(extra="forbid")
    window: Window
    dimension: Literal["overall", Dimension]
    key: str = Field(description='the dimension value; "all" for overall, "unknown" when unset')
    metrics: dict[str, float | int | None] = Field(
        description="counts, rates (0-1), durations in seconds; null: no base to compute it on"
    )
    targets: dict[str, float] = Field(default_factory=dict, description="metric -> target share")
    gaps: dict[str, float | None] = Field(
        default_factory=dict, description="metric -> value - target (negative: short of it)"
    )
    flags: list[str] = Field(
        default_factory=list,
        description="below_target:<metric>; csat_below_team_mean (team dimension)",
    )
    previous: Comparison | None = Field(default=None, description="the window just before")
    last_year: Comparison | None = Field(default=None, description="the same period a year ago")
    final: bool = Field(
        default=False, description="the stream clock is past the window end plus the grace period"
    )
    as_of: AwareDatetime | None = Field(
        default=None, description="the stream-time clock the snapshot was taken at"
    )
    policy_version: str

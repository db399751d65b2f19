"""Live SLA status: the `sla.status` message (one per ticket, compacted) and the query API's
answers (`GET /tickets/{ticket_id}`, `GET /at-risk`). `engine.status` builds the content.

No field for customer name or contact: privacy by construction.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.outputs import Level, Responsible

ClockState = Literal["running", "paused", "stopped", "met", "breached"]
ThresholdKind = Literal["warning", "breach", "escalation"]
LevelReached = Literal["warning", "minor", "moderate", "severe"]


class NextThreshold(BaseModel):
    """The next threshold of a clock's cycle."""

    model_config = ConfigDict(extra="forbid")
    kind: ThresholdKind
    level: Level | None = Field(description="minor|moderate|severe; null for a warning")
    at_seconds: float = Field(ge=0, description="clock (calendar) seconds at which it is crossed")
    due_at: AwareDatetime | None = Field(
        description="when it is crossed if nothing changes; null while the clock is paused"
    )


class ClockStatus(BaseModel):
    """One clock of the ticket's current cycle."""

    model_config = ConfigDict(extra="forbid")
    clock: str
    cycle: int = Field(ge=1)
    state: ClockState = Field(
        description="running | paused while the cycle is open; once it ended: met (its own "
        "stop event before the breach threshold), breached (after it), stopped (ended "
        "otherwise, e.g. the ticket was closed first)"
    )
    breached: bool = Field(description="the breach threshold of this cycle has been crossed")
    exempt: bool = Field(description="an exemption was granted for this cycle")
    calendar: str
    rule: str | None = Field(description="the policy's target rule; null when none matches")
    counted_seconds: float = Field(
        ge=0, description="clock seconds counted in this cycle up to as_of (µs precision)"
    )
    target_seconds: float | None = Field(description="the warning threshold (the target)")
    limit_seconds: float | None = Field(description="the breach threshold (the limit)")
    remaining_seconds: float | None = Field(
        description="limit_seconds - counted_seconds: negative once breached"
    )
    highest_level: LevelReached | None = Field(
        description="the last threshold crossed in this cycle: warning, or the breach or "
        "escalation level; null when none"
    )
    next: NextThreshold | None = Field(description="null when the cycle ended or none is left")


class TicketStatus(BaseModel):
    """A ticket's SLA status at `as_of`: the value of `sla.status` (key: ticket_id; a tombstone
    once the ticket leaves retention) and of `GET /tickets/{ticket_id}`."""

    model_config = ConfigDict(extra="forbid")
    v: Literal[1] = Field(description="format version")
    ticket_id: str
    as_of: AwareDatetime = Field(description="the instant the counted seconds are taken at")
    status: str | None = Field(description="the ticket's workflow status")
    priority: str | None
    category: str | None
    channel: str | None
    product_line: str | None
    holder: Responsible = Field(description="who has the ticket now")
    last_event_at: AwareDatetime | None
    next_due_at: AwareDatetime | None = Field(description="the soonest next threshold")
    policy_version: str
    clocks: list[ClockStatus] = Field(description="every clock that has started, policy order")


class AtRiskEntry(BaseModel):
    """A running clock whose next threshold is due within the window asked for."""

    model_config = ConfigDict(extra="forbid")
    ticket_id: str
    clock: str
    cycle: int = Field(ge=1)
    kind: ThresholdKind
    level: Level | None
    due_at: AwareDatetime
    counted_seconds: float = Field(ge=0)
    limit_seconds: float | None
    remaining_seconds: float | None
    highest_level: LevelReached | None
    priority: str | None
    team: str | None
    agent: str | None


class AtRiskList(BaseModel):
    """`GET /at-risk`: soonest first, merged across the workers."""

    model_config = ConfigDict(extra="forbid")
    as_of: AwareDatetime
    until: AwareDatetime = Field(description="as_of + within")
    items: list[AtRiskEntry]
    truncated: bool = Field(
        description="the list stopped at `limit`: more clocks may be due in the window"
    )
    workers: int = Field(ge=1, description="workers whose answer is merged in")
    missing: list[str] = Field(
        default_factory=list, description="API URLs of workers that did not answer"
    )


class ApiError(BaseModel):
    """A 4xx or 5xx answer of the query API."""

    model_config = ConfigDict(extra="forbid")
    error: str = Field(description="what was wrong, for a person to read")

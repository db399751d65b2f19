"""Input events on `tickets.events`: one model per event type, a discriminated union on `type`.

Unknown extra fields are kept (producers may send more than we read). Customer name and
contact are accepted here and never copied to any output model.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, field_validator

Priority = Literal["A", "B", "C"]
NonEmpty = Annotated[str, Field(min_length=1)]
# Source-system attributes (`attributes: {tier: vip, region: south}`): a few short labels a
# policy's `when` may select on (`attributes.tier`). Never personal data: they are kept in the
# ticket's state like the other fields.
AttributeKey = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
AttributeValue = Annotated[str, Field(max_length=256)]
Attributes = Annotated[dict[AttributeKey, AttributeValue], Field(max_length=32)]
# Instants the engine can do calendar arithmetic around (deadlines land days or years later).
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


class Customer(BaseModel):
    """The customer as the ticketing system knows them; `name`/`phone`/`email` are personal data."""

    model_config = ConfigDict(extra="allow")
    id: str | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None


class _Event(BaseModel):
    model_config = ConfigDict(extra="allow")
    event_id: NonEmpty
    ticket_id: NonEmpty
    occurred_at: AwareDatetime
    # Hand-off fields: any event may carry the holder of the ticket from then on.
    team: str | None = None
    agent: str | None = None
    supervisor: str | None = None
    department: str | None = None
    attributes: Attributes | None = Field(
        default=None,
        description="labels from the source system a policy may select on (never personal data)",
    )

    @field_validator("occurred_at")
    @classmethod
    def _in_range(cls, v: datetime) -> datetime:
        if not EARLIEST <= v < LATEST:
            raise ValueError(f"{v.isoformat()} is outside the supported years 1900-8999")
        return v


class Created(_Event):
    type: Literal["created"]
    priority: Priority
    category: NonEmpty = "simple"
    channel: str | None = None
    product_line: str | None = None
    request_type: str | None = None
    customer: Customer | None = None


class Assigned(_Event):
    """Assignment or hand-off to another agent, team or department."""

    type: Literal["assigned"]


class Responded(_Event):
    """First reply to the customer by phone or online."""

    type: Literal["responded"]


class OnsiteRequested(_Event):
    type: Literal["onsite_requested"]


class OnsiteArrived(_Event):
    type: Literal["onsite_arrived"]


class Updated(_Event):
    """Progress update (or first solution) given to the customer."""

    type: Literal["updated"]


class StatusChanged(_Event):
    type: Literal["status_changed"]
    status: NonEmpty


class PriorityChanged(_Event):
    type: Literal["priority_changed"]
    priority: Priority


class Resolved(_Event):
    type: Literal["resolved"]
    solution: str | None = None


class Reopened(_Event):
    type: Literal["reopened"]


class Closed(_Event):
    type: Literal["closed"]
    customer_confirmed: bool | None = None


class SurveySent(_Event):
    type: Literal["survey_sent"]


Score = Annotated[int, Field(ge=1, le=5)]


class Survey(BaseModel):
    """The seven survey items, each scored 1-5, plus free text."""

    model_config = ConfigDict(extra="allow")
    responsiveness: Score | None = None
    problem_solving: Score | None = None
    professionalism: Score | None = None
    patience: Score | None = None
    proactive: Score | None = None
    overall: Score | None = None
    recommend: Score | None = None
    comment: str | None = None
    invalid_reason: str | None = None


class SurveySubmitted(_Event):
    type: Literal["survey_submitted"]
    survey: Survey


class ExemptionRequested(_Event):
    type: Literal["exemption_requested"]
    clock: NonEmpty
    cycle: int | None = None
    reason: str | None = None


class ExemptionGranted(_Event):
    """A delay caused by a system fault or an external party: the clock's cycle is exempt."""

    type: Literal["exemption_granted"]
    clock: NonEmpty
    cycle: Annotated[int, Field(ge=1)] | None = None
    reason: NonEmpty


class ExemptionRejected(_Event):
    type: Literal["exemption_rejected"]
    clock: NonEmpty
    cycle: int | None = None
    reason: str | None = None


class AppealFiled(_Event):
    type: Literal["appeal_filed"]
    alert_id: NonEmpty
    reason: str | None = None


class AppealDecided(_Event):
    """An independent review of a breach: `overturned` retracts it and the escalations above it."""

    type: Literal["appeal_decided"]
    alert_id: NonEmpty
    outcome: Literal["upheld", "overturned"]
    reviewer: str | None = None
    reason: str | None = None


TicketEvent = Annotated[
    Created
    | Assigned
    | Responded
    | OnsiteRequested
    | OnsiteArrived
    | Updated
    | StatusChanged
    | PriorityChanged
    | Resolved
    | Reopened
    | Closed
    | SurveySent
    | SurveySubmitted
    | ExemptionRequested
    | ExemptionGranted
    | ExemptionRejected
    | AppealFiled
    | AppealDecided,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[TicketEvent] = TypeAdapter(TicketEvent)
EVENT_TYPES: tuple[str, ...] = (
    "created",
    "assigned",
    "responded",
    "onsite_requested",
    "onsite_arrived",
    "updated",
    "status_changed",
    "priority_changed",
    "resolved",
    "reopened",
    "closed",
    "survey_sent",
    "survey_submitted",
    "exemption_requested",
    "exemption_granted",
    "exemption_rejected",
    "appeal_filed",
    "appeal_decided",
)

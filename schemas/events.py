"""Input events on `tickets.events`: one model per event type, a discriminated union on `type`.

Unknown extra fields are kept (producers may send more than we read). Customer name and
contact are accepted here and never copied to any output model.

Strict, and bounded so that whatever passes can never crash the engine: `occurred_at` is an
RFC 3339 text (no epoch numbers, no `+0800`), integers are JSON integers (no `"3"`, no `true`),
booleans are JSON booleans, every string has a `maxLength` and every integer a range. The
published JSON Schema (`python -m schemas.generate`) carries the same rules; duplicate keys,
which a JSON Schema cannot see, are refused by `schemas.parse`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    WithJsonSchema,
    field_validator,
)

from schemas.bounds import (
    CYCLE_MAX,
    ID_MAX,
    INSTANT_PATTERN,
    INSTANT_RE,
    NAME_MAX,
    STATUS_MAX,
    STATUS_PATTERN,
    TEXT_MAX,
    YEAR_MAX,
    YEAR_MIN,
)

Priority = Literal["A", "B", "C"]
# Identifiers (event, ticket, alert ids) and names (team, agent, clock, channel, ...).
NonEmpty = Annotated[str, Field(min_length=1, max_length=ID_MAX)]
Name = Annotated[str, Field(max_length=NAME_MAX)]
Text = Annotated[str, Field(max_length=TEXT_MAX)]  # free text: read for presence, never kept
Status = Annotated[str, Field(min_length=1, max_length=STATUS_MAX, pattern=STATUS_PATTERN)]
StrictBool = Annotated[bool, Strict()]


def _integral(v: object) -> object:
    """A JSON number with no fraction (`3.0`, `1e2`) is an integer, as JSON Schema says."""
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


Cycle = Annotated[int, Strict(), Field(ge=1, le=CYCLE_MAX), BeforeValidator(_integral)]
# Source-system attributes (`attributes: {tier: vip, region: south}`): a few short labels a
# policy's `when` may select on (`attributes.tier`). Never personal data: they are kept in the
# ticket's state like the other fields.
ATTRIBUTE_KEY = r"^[A-Za-z0-9_-]+$"
AttributeKey = Annotated[str, Field(min_length=1, max_length=64, pattern=ATTRIBUTE_KEY)]
AttributeValue = Annotated[str, Field(max_length=NAME_MAX)]
# The schema pydantic derives puts the key pattern in `patternProperties`, which leaves other
# keys unconstrained; the contract says exactly what the parser enforces instead.
Attributes = Annotated[
    dict[AttributeKey, AttributeValue],
    Field(max_length=32),
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": 32,
            "propertyNames": {"minLength": 1, "maxLength": 64, "pattern": ATTRIBUTE_KEY},
            "additionalProperties": {"type": "string", "maxLength": NAME_MAX},
        }
    ),
]


class Customer(BaseModel):
    """The customer as the ticketing system knows them; `name`/`phone`/`email` are personal data."""

    model_config = ConfigDict(extra="allow")
    id: Name | None = None
    name: Name | None = None
    phone: Annotated[str, Field(max_length=64)] | None = None
    email: Annotated[str, Field(max_length=254)] | None = None  # RFC 5321 path limit


class _Event(BaseModel):
    model_config = ConfigDict(extra="allow", regex_engine="python-re")
    event_id: NonEmpty
    ticket_id: NonEmpty
    occurred_at: AwareDatetime = Field(
        description="RFC 3339 date-time with a UTC offset (`Z` or `+08:00`), years "
        f"{YEAR_MIN}-{YEAR_MAX}, at most 9 fraction digits (read to the microsecond)",
        json_schema_extra={"pattern": INSTANT_PATTERN},
    )
    # Hand-off fields: any event may carry the holder of the ticket from then on.
    team: Name | None = None
    agent: Name | None = None
    supervisor: Name | None = None
    department: Name | None = None
    attributes: Attributes | None = Field(
        default=None,
        description="labels from the source system a policy may select on (never personal data)",
    )

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _rfc3339(cls, v: object) -> object:
        if not isinstance(v, str):
            raise ValueError("should be an RFC 3339 date-time text, e.g. 2026-11-23T09:00:00+08:00")
        if INSTANT_RE.search(v) is None:
            raise ValueError(
                "should be an RFC 3339 date-time with seconds and a timezone offset (Z, +08:00), "
                f"years {YEAR_MIN}-{YEAR_MAX}"
            )
        return v


class Created(_Event):
    type: Literal["created"]
    priority: Priority
    category: NonEmpty = "simple"
    channel: Name | None = None
    product_line: Name | None = None
    request_type: Name | None = None
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
    status: Status = Field(description="a workflow status code (pause rules name them)")


class PriorityChanged(_Event):
    type: Literal["priority_changed"]
    priority: Priority


class Resolved(_Event):
    type: Literal["resolved"]
    solution: Text | None = None


class Reopened(_Event):
    type: Literal["reopened"]


class Closed(_Event):
    type: Literal["closed"]
    customer_confirmed: StrictBool | None = None


class SurveySent(_Event):
    type: Literal["survey_sent"]


Score = Annotated[int, Strict(), Field(ge=1, le=5), BeforeValidator(_integral)]


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
    comment: Text | None = None
    invalid_reason: Name | None = None


class SurveySubmitted(_Event):
    type: Literal["survey_submitted"]
    survey: Survey


class ExemptionRequested(_Event):
    type: Literal["exemption_requested"]
    clock: NonEmpty
    cycle: Cycle | None = None
    reason: Text | None = None


class ExemptionGranted(_Event):
    """A delay caused by a system fault or an external party: the clock's cycle is exempt."""

    type: Literal["exemption_granted"]
    clock: NonEmpty
    cycle: Cycle | None = None
    reason: Annotated[str, Field(min_length=1, max_length=TEXT_MAX)]


class ExemptionRejected(_Event):
    type: Literal["exemption_rejected"]
    clock: NonEmpty
    cycle: Cycle | None = None
    reason: Text | None = None


class AppealFiled(_Event):
    type: Literal["appeal_filed"]
    alert_id: NonEmpty
    reason: Text | None = None


class AppealDecided(_Event):
    """An independent review of a breach: `overturned` retracts it and the escalations above it."""

    type: Literal["appeal_decided"]
    alert_id: NonEmpty
    outcome: Literal["upheld", "overturned"]
    reviewer: Name | None = None
    reason: Text | None = None


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
CONTRACT = (
    "One ticket event on tickets.events, a JSON object discriminated by `type`. Beyond this "
    "schema: keys must be unique in every object (a message with a duplicate key is rejected "
    "with reason `duplicate key`), and the message must be UTF-8 JSON (RFC 8259)."
)

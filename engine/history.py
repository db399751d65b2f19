"""A ticket's history: compact events holding only what SLA evaluation reads, ordered by
(occurred_at, event_id)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple, get_args

from engine.instant import to_us
from schemas import fast
from schemas.attributes import TICKET_ATTRS
from schemas.events import TicketEvent
from schemas.parse import parse_event

# Fields of an input event that evaluation reads; everything else (customer name and contact
# in particular) is left behind at the edge.
KEPT_FIELDS = (
    *TICKET_ATTRS,
    "clock",
    "cycle",
    "reason",
    "alert_id",
    "outcome",
    "reviewer",  # appeal decisions: kept for the audit trail (`engine.explain`), not evaluated
    # Read by the KPIs (record completeness, surveys), not by the clocks.
    "request_type",
    "solution",
    "customer_confirmed",
    # Source-system labels (`attributes: {tier: vip}`), for `when: {attributes.tier: vip}`.
    "attributes",
)


def _kept_by_type() -> dict[str, tuple[str, ...]]:
    """The kept fields each event type declares, in `KEPT_FIELDS` order: a validated event's
    fields hold exactly its type's declared ones, so the others need not be looked up."""
    union = get_args(get_args(TicketEvent)[0]) or get_args(TicketEvent)
    out = {}
    for model in union:
        declared = model.model_fields
        (kind,) = get_args(declared["type"].annotation)
        out[kind] = tuple(k for k in KEPT_FIELDS if k in declared)
    return out


_KEPT = _kept_by_type()


# Free text is reduced here, at the edge, so that ticket state, its changelog and `explain`
# never hold it verbatim (a phone number typed into a solution would leak): a solution only
# counts as recorded (the KPIs' record completeness); a reason or an invalid-survey reason is
# kept when it is a code (`system_fault`, `malicious`), else only that one was given. A status
# is a code by the input contract (it drives the pause rules) and is kept as it is.
CODE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
RECORDED = "(recorded)"  # a solution was given; its text is not kept
NOT_KEPT = "(text not kept)"  # a reason was given that is not a code
FREE_TEXT = ("solution", "reason")


def _reduced(name: str, value: Any) -> Any:
    """What is kept of free-text field `name`; None: nothing (blank)."""
    if not isinstance(value, str) or not value.strip():
        return None
    if name == "solution":
        return RECORDED
    return value if CODE.fullmatch(value) else NOT_KEPT


def invalid_reason(value: Any) -> str | None:
    """A survey's invalid_reason as the KPIs count it: a code by name, any other text `other`."""
    if value is None or not str(value).strip():
        return None
    name = str(value).strip().lower()
    return name if CODE.fullmatch(name) else "other"


class Ev(NamedTuple):
    """One event as evaluation sees it: instant in µs, id, type and the kept fields.

    Made per event as `tuple.__new__(Ev, (...))`, like `Decision`, `Context` and `CycleEnd`:
    calling a NamedTuple runs the `__new__` it was made with, interpreted even from a compiled
    module; the same tuple built directly costs ~60 % (~460,000 a replay of 20,000 tickets)."""

    at: int
    id: str
    type: str
    data: dict[str, Any]

    @property
    def key(self) -> tuple[int, str]:
        """Ordering key: occurred_at, ties broken by event_id."""
        return (self.at, self.id)


def decoded(raw: bytes | str) -> tuple[str, Ev]:
    """The ticket id and compact event of one raw message, the one decode of the replay and the
    live worker: the fast path's fields and instant (`schemas.fast`) for the common valid
    event, else the model's (`schemas.parse`); InvalidEvent with the reason when it is not one."""
    found = fast.timed(raw) if isinstance(raw, bytes) else None
    if found is not None:
        fields, at = found
    else:
        event = parse_event(raw)
        fields, at = event.__dict__, to_us(event.occurred_at)
    return fields["ticket_id"], from_fields(fields, at)


def from_model(event: Any) -> Ev:
    """Compact form of a validated `schemas.events` model."""
    return from_fields(event.__dict__, to_us(event.occurred_at))


def from_fields(fields: Mapping[str, Any], at: int) -> Ev:
    """Compact form of a validated event's declared fields (`schemas.parse.parse_fields`:
    nested `customer` and `survey` as models or as plain dicts), `at` its instant in µs."""
    data = {
        k: v for k in _KEPT.get(fields["type"], KEPT_FIELDS) if (v := fields.get(k)) is not None
    }
    customer = fields.get("customer")
    if customer is not None and (customer.get("id") if isinstance(customer, dict) else customer.id):
        data["customer_ref"] = True  # only that a reference exists: no personal data is kept
    survey = fields.get("survey")
    if survey is not None:
        scores = survey if isinstance(survey, dict) else survey.__dict__
        data["survey"] = {k: v for k, v in scores.items() if k != "comment" and v is not None}
    return tuple.__new__(Ev, (at, fields["event_id"], fields["type"], _scrubbed(data)))


def _scrubbed(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with its free text reduced (see `CODE`); idempotent."""
    for name in FREE_TEXT:
        if name in data:
            kept = _reduced(name, data[name])
            if kept is None:
                del data[name]
            else:
                data[name] = kept
    scores = data.get("survey")
    if isinstance(scores, dict) and "invalid_reason" in scores:
        why = invalid_reason(scores["invalid_reason"])
        if why is None:
            del scores["invalid_reason"]
        else:
            scores["invalid_reason"] = why
    return data


def to_row(ev: Ev) -> list[Any]:
    """A JSON-ready row (for state stored in RocksDB)."""
    return [ev.at, ev.id, ev.type, ev.data]


def from_row(row: list[Any]) -> Ev:
    """An event from stored state; free text that state written before the reduction still
    holds is reduced now, so it leaves RocksDB and the changelog at the next write."""
    return Ev(int(row[0]), str(row[1]), str(row[2]), _scrubbed(dict(row[3])))

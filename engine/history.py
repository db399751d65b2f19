"""A ticket's history: compact events holding only what SLA evaluation reads, ordered by
(occurred_at, event_id)."""

from __future__ import annotations

from typing import Any, NamedTuple

from engine.instant import to_us

# Fields of an input event that evaluation reads; everything else (customer name and contact
# in particular) is left behind at the edge.
KEPT_FIELDS = (
    "priority",
    "category",
    "channel",
    "product_line",
    "team",
    "agent",
    "supervisor",
    "department",
    "status",
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


class Ev(NamedTuple):
    """One event as evaluation sees it: instant in µs, id, type and the kept fields."""

    at: int
    id: str
    type: str
    data: dict[str, Any]

    @property
    def key(self) -> tuple[int, str]:
        """Ordering key: occurred_at, ties broken by event_id."""
        return (self.at, self.id)


def from_model(event: Any) -> Ev:
    """Compact form of a validated `schemas.events` model."""
    fields = event.__dict__
    data = {k: v for k in KEPT_FIELDS if (v := fields.get(k)) is not None}
    customer = fields.get("customer")
    if customer is not None and customer.id:
        data["customer_ref"] = True  # only that a reference exists: no personal data is kept
    survey = fields.get("survey")
    if survey is not None:
        data["survey"] = {
            k: v for k, v in survey.__dict__.items() if k != "comment" and v is not None
        }
    return Ev(to_us(event.occurred_at), event.event_id, event.type, data)


def to_row(ev: Ev) -> list[Any]:
    """A JSON-ready row (for state stored in RocksDB)."""
    return [ev.at, ev.id, ev.type, ev.data]


def from_row(row: list[Any]) -> Ev:
    return Ev(int(row[0]), str(row[1]), str(row[2]), dict(row[3]))

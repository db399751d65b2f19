"""KPI family *records*: completeness of a closed ticket's record.

Facts: `records` — a closed ticket (status closed now), at its last `closed` event; the value
is a bit mask of the missing record fields (`RECORD_FIELDS`): customer reference, request
type, product, handler, solution, customer confirmation. 0 = complete.

Snapshot fields: `records.closed`, `records.complete`, `records.incomplete`,
`records.completeness`, `records.missing.<field>`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.history import Ev
from engine.kpis.cells import Cell, Metrics, ratio
from engine.kpis.facts import Dims, Fact, Story, fact

RECORD_FIELDS = (
    "customer_ref",
    "request_type",
    "product",
    "handler",
    "solution",
    "customer_confirmed",
)
_RECORD_KEYS = frozenset({"request_type", "solution", "customer_confirmed", "customer_ref"})
_MISSING = tuple(f"records.missing.{name}" for name in RECORD_FIELDS)


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


class RecordFacts:
    """Collects the record fields and the last `closed` event during the walk."""

    __slots__ = ("closed", "fields")

    def __init__(self) -> None:
        self.closed: tuple[int, Dims] | None = None
        self.fields: dict[str, Any] = {}

    def event(self, ev: Ev, dims: Dims, story: Story, add: Callable[[Fact], None]) -> None:
        for name, value in ev.data.items():
            if name in _RECORD_KEYS:
                self.fields[name] = value
        if ev.type == "closed":
            self.closed = (ev.at, dims)

    def finish(self, story: Story, add: Callable[[Fact], None]) -> None:
        if self.closed is None or story.attrs.get("status") != "closed":
            return
        close_at, close_dims = self.closed
        fields = self.fields
        present = (
            fields.get("customer_ref") is True,
            _text(fields.get("request_type")),
            _text(close_dims[5]),
            _text(close_dims[1]),
            _text(fields.get("solution")),
            fields.get("customer_confirmed") is True,
        )
        missing = 0
        for bit, ok in enumerate(present):
            if not ok:
                missing |= 1 << bit
        add(fact("records", close_at, close_dims, missing))


def counters(metric: str, value: int) -> tuple[tuple[str, int], ...] | None:
    """The counters a `records` fact adds to (None: not this family's metric)."""
    if metric != "records":
        return None
    out = [("records.closed", 1)]
    if value == 0:
        out.append(("records.complete", 1))
    for bit, name in enumerate(RECORD_FIELDS):
        if value & (1 << bit):
            out.append((f"records.missing.{name}", 1))
    return tuple(out)


def put(m: Metrics, cell: Cell) -> None:
    """The family's snapshot fields of one cell."""
    c = cell.counts.get
    closed, complete = c("records.closed", 0), c("records.complete", 0)
    m["records.closed"], m["records.complete"] = closed, complete
    m["records.incomplete"] = closed - complete
    m["records.completeness"] = ratio(complete, closed)
    for name in _MISSING:
        m[name] = c(name, 0)

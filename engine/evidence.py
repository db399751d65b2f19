"""The evidence chain of one alert as documents (`engine.explain` builds them): its events,
clock intervals, counted calendar blocks, the rule applied and the exemption and appeal trail.
Times are µs internally; `to_dict` gives ISO 8601 UTC instants and seconds, like the alerts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.clocks import Holder
from engine.instant import iso, seconds
from schemas.attributes import HOLDER_ROLES


def holder_dict(h: Holder) -> dict[str, str | None]:
    """A holder tuple as the `{agent, supervisor, team, department}` object of the outputs."""
    return dict(zip(HOLDER_ROLES, h, strict=True))


@dataclass(frozen=True, slots=True)
class EventLine:
    """One event of the ticket as evaluation saw it (no personal data is kept)."""

    event_id: str
    type: str
    at: int
    fields: Mapping[str, Any]
    caused_by: bool  # named in the alert's caused_by
    after_due: bool  # later than the threshold instant (it cannot have caused it)

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "type": self.type,
            "occurred_at": iso(self.at),
            "fields": dict(self.fields),
            "caused_by": self.caused_by,
            "after_due": self.after_due,
        }


@dataclass(frozen=True, slots=True)
class Interval:
    """A stretch of one clock cycle in one phase under one holder; `end` None = still so."""

    clock: str
    cycle: int
    state: str  # running | paused | stopped
    start: int
    end: int | None
    counted_us: int  # clock µs counted in it (up to `now` when open); 0 unless running
    holder: Holder

    def to_dict(self) -> dict[str, Any]:
        return {
            "clock": self.clock,
            "cycle": self.cycle,
            "state": self.state,
            "start": iso(self.start),
            "end": iso(self.end) if self.end is not None else None,
            "seconds": seconds(self.counted_us),
            "holder": holder_dict(self.holder),
        }


@dataclass(frozen=True, slots=True)
class Block:
    """A calendar working block (or the part of it the clock ran in) that counted."""

    start: int
    end: int
    holder: Holder

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": iso(self.start),
            "end": iso(self.end),
            "seconds": seconds(self.end - self.start),
            "holder": holder_dict(self.holder),
        }


@dataclass(frozen=True, slots=True)
class RuleApplied:
    """The policy rule behind the alert's threshold."""

    clock: str
    calendar: str
    rule: str  # e.g. clocks.resolution.targets[0]
    when: Mapping[str, tuple[str, ...]]  # the selector: ticket attribute -> accepted values
    thresholds: tuple[tuple[str, str | None, int], ...]  # (kind, level, clock µs)
    applied: tuple[str, str | None, int]  # the threshold the alert announces
    policy_version: str

    def to_dict(self) -> dict[str, Any]:
        def step(t: tuple[str, str | None, int]) -> dict[str, Any]:
            return {"kind": t[0], "level": t[1], "seconds": seconds(t[2])}

        warning = next((t for t in self.thresholds if t[0] == "warning"), None)
        breach = next((t for t in self.thresholds if t[0] == "breach"), None)
        return {
            "clock": self.clock,
            "calendar": self.calendar,
            "rule": self.rule,
            "when": {k: list(v) for k, v in self.when.items()},
            "target_seconds": seconds(warning[2]) if warning else None,
            "breach_seconds": seconds(breach[2]) if breach else None,
            "thresholds": [step(t) for t in self.thresholds],
            "applied": step(self.applied),
            "policy_version": self.policy_version,
        }


@dataclass(frozen=True, slots=True)
class TrailEntry:
    """An exemption or appeal event of the alert's clock cycle and what it did."""

    event_id: str
    type: str
    at: int
    clock: str | None
    cycle: int | None
    alert_id: str | None  # appeals: the alert named
    outcome: str | None
    reviewer: str | None
    reason: str | None
    answers: str | None  # a decision: the request it answers (event id)
    answered_by: str | None  # a request: the decision that answered it (event id)
    retractions: tuple[Mapping[str, Any], ...]  # retraction alerts this event caused
    concerns_alert: bool  # names the explained alert or withdrew it

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "type": self.type,
            "occurred_at": iso(self.at),
            "clock": self.clock,
            "cycle": self.cycle,
            "alert_id": self.alert_id,
            "outcome": self.outcome,
            "reviewer": self.reviewer,
            "reason": self.reason,
            "answers": self.answers,
            "answered_by": self.answered_by,
            "retracted": [
                {
                    "retraction_id": r["alert_id"],
                    "retracts": r["retracts"],
                    "kind": r["retracted_kind"],
                    "level": r["level"],
                }
                for r in self.retractions
            ],
            "concerns_alert": self.concerns_alert,
        }


@dataclass(slots=True)
class Evidence:
    """The evidence chain of one alert; `to_dict` is the `explain --json` document."""

    asked: str  # the id asked about (a retraction's id explains the alert it withdrew)
    alert: Mapping[str, Any]  # the alert explained, as emitted
    retraction: Mapping[str, Any] | None  # what withdrew it, if anything did
    announcements: list[Mapping[str, Any]]  # every alert and retraction of the same decision
    rule: RuleApplied | None
    due: int
    counted_us: int  # clock µs of the cycle at `due` per the ticket's history as now known
    events: list[EventLine]
    intervals: list[Interval]
    blocks: list[Block]
    trail: list[TrailEntry]
    now: int
    notified: list[dict[str, str | None]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "retracted" if self.retraction is not None else "standing"

    def to_dict(self) -> dict[str, Any]:
        a = self.alert
        return {
            "alert_id": self.asked,
            "explained": a["alert_id"],
            "ticket_id": a["ticket_id"],
            "clock": a["clock"],
            "cycle": a["cycle"],
            "kind": a["kind"],
            "level": a["level"],
            "status": self.status,
            "retraction": dict(self.retraction) if self.retraction is not None else None,
            "due_at": a["due_at"],
            "target_seconds": a["target_seconds"],
            "elapsed_seconds": a["elapsed_seconds"],
            "counted_seconds": seconds(self.counted_us),
            "calendar": a["calendar"],
            "rule": self.rule.to_dict() if self.rule is not None else None,
            "responsible": a["responsible"],
            "notified": self.notified,
            "attribution": a.get("attribution", []),
            "caused_by": a["caused_by"],
            "events": [e.to_dict() for e in self.events],
            "intervals": [i.to_dict() for i in self.intervals],
            "blocks": [b.to_dict() for b in self.blocks],
            "trail": [t.to_dict() for t in self.trail],
            "announcements": [announcement(x) for x in self.announcements],
            "policy_version": a["policy_version"],
            "as_of": iso(self.now),
        }


def announcement(a: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "alert_id": a["alert_id"],
        "kind": a["kind"],
        "detected_at": a["detected_at"],
        "retracts": a.get("retracts"),
        "reason": a.get("reason"),
        "caused_by": a["caused_by"],
        "responsible": a["responsible"],
    }

"""The audit's comparison: the standing decisions of a replay and of the live alerts topic, by
content, one ticket at a time.

A *standing decision* is an alert that no retraction on the same side withdrew, named by its
content: (ticket, clock, cycle, kind, level, due_at). Its `alert_id` is not part of it: a
decision retracted and issued again on one side only (another arrival order, a worker restart)
has another id and is the same decision. So the comparison is on content, and what depends on
the path taken is reported apart, as *churn*, never as a failure:

- `reissued`: the same standing decision under different ids;
- `transient`: an alert emitted and retracted on one side (one entry a retracted alert).

The findings (they fail the audit), in the order the summary lists them:

- `missing` (replay only) and `extra` (live only): a standing decision on one side alone, once
  those left are paired by (ticket, clock, cycle, kind, level) as `due_at_differs`, then by
  (ticket, clock, cycle, kind) as `level_differs`;
- `responsible_differs`: the same decision, another `responsible` or `attribution`;
- `fields_differ`: the same decision, other fields differing (priority, target, notify, …);
- `late` / `early`: the first announcement of a decision live (retracted ones included) more
  than the threshold after (before) the replay's first announcement could be known.

Pure: the caller reads the topics, groups the alerts by ticket and restricts them to the window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.effective import EffectiveSet
from engine.instant import iso, to_us

Alert = dict[str, Any]
Decision = tuple[Any, ...]  # (ticket, clock, cycle, kind, level, due_at µs)

# class of a finding → (its label in the summary, whether it fails the audit)
FINDINGS = {
    "missing": "missing: standing in the replay only",
    "extra": "extra: standing live only",
    "due_at_differs": "moved: due_at differs",
    "level_differs": "other level",
    "responsible_differs": "other responsible / attribution",
    "fields_differ": "other fields differ",
    "late": "emitted late",
    "early": "emitted before due_at",
    "unreadable": "unreadable live records",
}
CHURN = {
    "reissued": "re-issued: same decision, other alert_id",
    "transient": "transient: emitted and retracted on one side",
}
NOTES = {"not_comparable": "not comparable: ticket's history before the look-back"}
# Which group a finding belongs to: the `class` of a `--diff` line.
GROUP = {
    **dict.fromkeys(FINDINGS, "decision"),
    "late": "timing",
    "early": "timing",
    "unreadable": "input",
    **dict.fromkeys(CHURN, "churn"),
    **dict.fromkeys(NOTES, "note"),
}
_IGNORED = {"alert_id", "detected_at", "caused_by"}  # path-dependent, not the decision's content
_WHO = ("responsible", "attribution")


def us(text: str) -> int:
    """An ISO 8601 instant with an offset, in µs."""
    return to_us(datetime.fromisoformat(text))


def decision(a: Alert) -> Decision:
    """The content that names a decision: what an auditor compares."""
    return (a["ticket_id"], a["clock"], a["cycle"], a["kind"], a["level"], us(a["due_at"]))


def entry(diff: str, replay: Alert | None, live: Alert | None, **extra: Any) -> dict[str, Any]:
    """One finding as a `--diff` line: its class, the decision, both sides' alerts."""
    a = replay if replay is not None else live
    assert a is not None
    return {
        "diff": diff,
        "class": GROUP[diff],
        "alert_id": a.get("alert_id"),
        "ticket_id": a.get("ticket_id"),
        "clock": a.get("clock"),
        "cycle": a.get("cycle"),
        "kind": a.get("kind"),
        "level": a.get("level"),
        "due_at": a.get("due_at"),
        **extra,
        "replay": replay,
        "live": live,
    }


@dataclass(frozen=True, slots=True)
class Side:
    """One side's alerts of one ticket: the standing decisions, the first announcement of every
    decision, and the alerts retracted on this side."""

    standing: dict[Decision, list[Alert]]
    first: dict[Decision, Alert]
    transient: list[Alert]


def side(alerts: Iterable[Alert]) -> Side:
    """Sort one side's alerts (in the order announced) into standing (the effective set,
    `engine.effective`), first and transient."""
    alerts = list(alerts)
    effective = EffectiveSet()
    effective.update(alerts)
    standing: dict[Decision, list[Alert]] = defaultdict(list)
    for a in effective.current.values():
        standing[decision(a)].append(a)
    first: dict[Decision, Alert] = {}
    transient = []
    for a in alerts:
        if a["kind"] == "retraction":
            continue
        first.setdefault(decision(a), a)
        if a["alert_id"] in effective.retracted:
            transient.append(a)
    return Side(dict(standing), first, transient)


def _matched(r: Alert, l_: Alert) -> list[dict[str, Any]]:
    out = []
    if r["alert_id"] != l_["alert_id"]:
        out.append(entry("reissued", r, l_, live_alert_id=l_["alert_id"]))
    who = [k for k in _WHO if r.get(k) != l_.get(k)]
    if who:
        out.append(entry("responsible_differs", r, l_, fields=who))
    keys = (r.keys() | l_.keys()) - _IGNORED - set(_WHO)
    other = sorted(k for k in keys if r.get(k) != l_.get(k))
    if other:
        out.append(entry("fields_differ", r, l_, fields=other))
    return out


def _timing(r: Alert, knowable: int, l_: Alert, threshold: int) -> list[dict[str, Any]]:
    detected, due = us(l_["detected_at"]), us(r["due_at"])
    if detected - knowable > threshold:
        late = round((detected - knowable) / 1e6, 3)
        return [entry("late", r, l_, late_seconds=late, knowable_at=iso(knowable))]
    if detected < due - threshold:
        return [entry("early", r, l_, early_seconds=round((due - detected) / 1e6, 3))]
    return []


def _pair(only_r: list[Alert], only_l: list[Alert], width: int, diff: str) -> list[dict[str, Any]]:
    """Pair what is left by the first `width` parts of the decision; remove the pairs."""
    groups: dict[Decision, list[list[Alert]]] = defaultdict(lambda: [[], []])
    for i, alerts in enumerate((only_r, only_l)):
        for a in alerts:
            groups[decision(a)[:width]][i].append(a)
    out = []
    for rs, ls in groups.values():
        rs.sort(key=lambda a: (us(a["due_at"]), a["alert_id"]))
        ls.sort(key=lambda a: (us(a["due_at"]), a["alert_id"]))
        for r, l_ in zip(rs, ls, strict=False):
            only_r.remove(r)
            only_l.remove(l_)
            out.append(
                entry(
                    diff,
                    r,
                    l_,
                    live_alert_id=l_["alert_id"],
                    live_due_at=l_["due_at"],
                    live_level=l_["level"],
                )
            )
    return out


@dataclass(frozen=True, slots=True)
class TicketAudit:
    entries: list[dict[str, Any]]
    matched: int  # standing decisions on both sides
    standing_replay: int
    standing_live: int


def compare_ticket(
    replay: Sequence[tuple[Alert, int]], live: Sequence[Alert], late_threshold: int
) -> TicketAudit:
    """One ticket: `replay` its alerts in the window as announced by the replay, each with the
    instant (µs) the engine could know it; `live` those of the alerts topic, one record an id
    (the first detected). Every finding and every churn entry, in no particular order."""
    knowable = {r["alert_id"]: k for r, k in replay}
    rs, ls = side(r for r, _ in replay), side(live)
    out: list[dict[str, Any]] = [entry("transient", a, None, side="replay") for a in rs.transient]
    out += [entry("transient", None, a, side="live") for a in ls.transient]
    only_r: list[Alert] = []
    only_l: list[Alert] = []
    matched = 0
    for key in rs.standing.keys() | ls.standing.keys():
        r_all = sorted(rs.standing.get(key, []), key=lambda a: a["alert_id"])
        l_all = sorted(ls.standing.get(key, []), key=lambda a: a["alert_id"])
        for r, l_ in zip(r_all, l_all, strict=False):
            matched += 1
            out += _matched(r, l_)
        only_r += r_all[len(l_all) :]
        only_l += l_all[len(r_all) :]
    for key, r in rs.first.items():
        if key in ls.first:
            out += _timing(r, knowable[r["alert_id"]], ls.first[key], late_threshold)
    out += _pair(only_r, only_l, 5, "due_at_differs")
    out += _pair(only_r, only_l, 4, "level_differs")
    out += [entry("missing", a, None) for a in only_r]
    out += [entry("extra", None, a) for a in only_l]
    standing = (sum(map(len, s.standing.values())) for s in (rs, ls))
    return TicketAudit(out, matched, *standing)


def order(e: dict[str, Any]) -> tuple[Any, ...]:
    """The order of the findings in a report: by due_at, ticket, clock, alert id, class."""
    due = e.get("due_at")
    return (
        us(due) if isinstance(due, str) else 0,
        str(e.get("ticket_id")),
        str(e.get("clock")),
        str(e.get("alert_id")),
        e["diff"],
    )


def fails(diff: str) -> bool:
    """Whether a finding of this class fails the audit (churn and notes never do)."""
    return diff in FINDINGS

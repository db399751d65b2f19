"""Checks of a policy that its field validators cannot make: `when` conditions that can never
match the event contract, targets that leave tickets silently untracked, per-ticket calendars
without a default, calendar blocks that overlap and dates given twice. Each problem is a
(location, message) pair; the loader turns the location into `file:line`."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import get_args

from config.model import CalendarChoice, CalendarSpec, ClockSpec, PolicyFile, block_minutes
from engine.evaluate import ATTRIBUTES_PREFIX
from schemas.attributes import TICKET_ATTRS  # what a `when` may name (or attributes.<name>)
from schemas.events import Priority

Loc = list[int | str]
Problem = tuple[Loc, str]

PRIORITIES: tuple[str, ...] = get_args(Priority)


def check_contract(p: PolicyFile) -> list[Problem]:
    """Every problem of the `when` conditions, targets, calendar choices and calendars."""
    bad: list[Problem] = []
    for attr, values in p.ticket_values.items():
        loc: Loc = ["ticket_values", attr]
        if not _known_key(attr):
            bad.append((loc, _unknown_key(attr)))
        elif attr == "priority":
            bad.extend((loc, _never(attr, v, p)) for v in values if v not in PRIORITIES)
    for name, cal in p.calendars.items():
        bad.extend(_calendar(["calendars", name], cal))
    for cname, clock in p.clocks.items():
        bad.extend(_clock(p, ["clocks", cname], clock))
    return bad


def _known_key(key: str) -> bool:
    return key in TICKET_ATTRS or (
        key.startswith(ATTRIBUTES_PREFIX) and len(key) > len(ATTRIBUTES_PREFIX)
    )


def _unknown_key(key: str) -> str:
    return (
        f"unknown ticket attribute {key!r}; known: {', '.join(TICKET_ATTRS)}, "
        f"or {ATTRIBUTES_PREFIX}<name> for the events' attributes"
    )


def _allowed(p: PolicyFile, key: str) -> tuple[str, ...] | None:
    """The values `key` can take by the contract (priority) or the policy's ticket_values."""
    if key in p.ticket_values:
        return tuple(p.ticket_values[key])
    return PRIORITIES if key == "priority" else None


def _never(key: str, value: str, p: PolicyFile) -> str:
    allowed = _allowed(p, key) or ()
    source = f"ticket_values.{key} lists" if key in p.ticket_values else "the event contract allows"
    return f"{key} {value!r} can never match: {source} {', '.join(allowed)}"


def check_when(p: PolicyFile, loc: Loc, when: Mapping[str, list[str]]) -> list[Problem]:
    """A condition naming an unknown attribute, or a value the attribute can never take."""
    bad: list[Problem] = []
    for key, values in when.items():
        at: Loc = [*loc, "when", key]
        if not _known_key(key):
            bad.append((at, _unknown_key(key)))
            continue
        allowed = _allowed(p, key)
        if allowed is not None:
            bad.extend((at, _never(key, v, p)) for v in values if v not in allowed)
    return bad


def _clock(p: PolicyFile, base: Loc, clock: ClockSpec) -> list[Problem]:
    bad: list[Problem] = []
    for field in ("start", "stop", "resume"):
        for i, trig in enumerate(getattr(clock, field)):
            bad.extend(check_when(p, [*base, field, i], trig.when))
    bad.extend(_calendar_choice(p, base, clock.calendar))
    for i, t in enumerate(clock.targets):
        at: Loc = [*base, "targets", i]
        bad.extend(check_when(p, at, t.when))
        if t.untracked:
            if t.target is not None or t.limit is not None:
                bad.append((at, "an untracked entry takes no target or limit"))
            continue
        if t.target is None or t.limit is None:
            missing = "target" if t.target is None else "limit"
            bad.append((at, f"{missing} is required (or `untracked: true`)"))
            continue
        for name, value in (("target", t.target), ("limit", t.limit)):
            if value <= 0:
                bad.append(
                    (
                        [*at, name],
                        f"a {name} of 0s leaves the tickets it matches untracked: give a "
                        "positive duration, or write `untracked: true` to mean it",
                    )
                )
        if t.target > t.limit:
            bad.append(([*at, "target"], "the target must not exceed the limit"))
    bad.extend(_coverage(p, base, clock))
    return bad


def _started_values(clock: ClockSpec, key: str, allowed: tuple[str, ...]) -> set[str]:
    """The values of `key` a cycle of `clock` can start with (its start triggers' conditions)."""
    out: set[str] = set()
    for trig in clock.start:
        out.update(trig.when.get(key, allowed))
    return out & set(allowed)


def _coverage(p: PolicyFile, base: Loc, clock: ClockSpec) -> list[Problem]:
    """For each attribute with known values that the targets select on, every value a cycle can
    have must meet an entry (a target or `untracked: true`): otherwise tickets silently go
    untracked."""
    bad: list[Problem] = []
    keys = dict.fromkeys(k for t in clock.targets for k in t.when)
    for key in keys:
        allowed = _allowed(p, key)
        if allowed is None:
            continue
        for value in sorted(_started_values(clock, key, allowed)):
            if not any(key not in t.when or value in t.when[key] for t in clock.targets):
                bad.append(
                    (
                        [*base, "targets"],
                        f"no entry matches {key} {value!r}: those tickets would not be "
                        f"tracked; add a target, or {{when: {{{key}: {value}}}, "
                        "untracked: true} to mean it",
                    )
                )
    return bad


def _calendar_choice(
    p: PolicyFile, base: Loc, calendar: str | list[CalendarChoice]
) -> list[Problem]:
    bad: list[Problem] = []
    choices = [CalendarChoice(calendar=calendar)] if isinstance(calendar, str) else calendar
    for i, choice in enumerate(choices):
        at: Loc = [*base, "calendar"] if isinstance(calendar, str) else [*base, "calendar", i]
        if choice.calendar not in p.calendars:
            where = at if isinstance(calendar, str) else [*at, "calendar"]
            bad.append(
                (
                    where,
                    f"unknown calendar {choice.calendar!r}; "
                    f"defined: {', '.join(sorted(p.calendars))}",
                )
            )
        if not isinstance(calendar, str):
            bad.extend(check_when(p, at, choice.when))
            if not choice.when and i != len(choices) - 1:
                bad.append((at, "the entries after a default (no `when`) can never match"))
    if not isinstance(calendar, str) and (not calendar or calendar[-1].when):
        bad.append(([*base, "calendar"], "the last entry must be the default (no `when`)"))
    return bad


def _calendar(base: Loc, cal: CalendarSpec) -> list[Problem]:
    bad: list[Problem] = []
    if cal.always_open and (cal.hours or cal.dates or cal.breaks):
        bad.append((base, "an always_open calendar takes no hours, dates or breaks"))
    if isinstance(cal.hours, dict):
        if "weekdays" in cal.model_fields_set:
            bad.append(
                (
                    [*base, "weekdays"],
                    "with hours per weekday, the working days are the ones in hours: "
                    "remove weekdays",
                )
            )
        for day, blocks in cal.hours.items():
            bad.extend(_overlaps([*base, "hours", day], blocks))
    else:
        bad.extend(_overlaps([*base, "hours"], cal.hours))
    for field in ("dates", "breaks"):
        for day, blocks in getattr(cal, field).items():
            bad.extend(_overlaps([*base, field, str(day)], blocks))
    bad.extend(_twice(base, cal))
    return bad


def _overlaps(loc: Loc, blocks: Iterable[str]) -> list[Problem]:
    """Blocks must be in order and must not overlap."""
    bad: list[Problem] = []
    spans = [block_minutes(b) for b in blocks]
    for i, (a, b) in enumerate(itertools.pairwise(spans), 1):
        if b[0] < a[1]:
            bad.append(([*loc, i], f"{list(blocks)[i]!r} overlaps or precedes the block before it"))
    return bad


def _twice(base: Loc, cal: CalendarSpec) -> list[Problem]:
    """A date named twice among extra_holidays, extra_workdays and dates."""
    bad: list[Problem] = []
    seen: dict[object, str] = {}
    for field in ("extra_holidays", "extra_workdays", "dates"):
        values = getattr(cal, field)
        for i, day in enumerate(values):
            at: Loc = [*base, field, str(day)] if field == "dates" else [*base, field, i]
            if day in seen:
                bad.append((at, f"{day} is given twice (also in {seen[day]})"))
            else:
                seen[day] = field
    return bad

"""Load a policy file: YAML → validated model → the engine's runtime policy, with errors that say
the file, the line and what is wrong."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from config.contract import check_contract
from config.model import WEEKDAYS, ClockSpec, Grading, PolicyFile, TriggerSpec, block_minutes
from config.versions import given, version_models, version_of
from engine.calendar import Calendar
from engine.instant import to_us
from engine.rules import (
    CalendarChoice,
    ClockRule,
    KpiRules,
    RuntimePolicy,
    Target,
    Threshold,
    Trigger,
)
from schemas.events import EVENT_TYPES

DEFAULT_POLICY = Path(__file__).with_name("policy.default.yaml")
NOTIFY_KEYS = ("warning", "minor", "moderate", "severe")  # what `notify` is keyed by
# KPI metrics that can have a target (shares, higher is better); plus sla.<clock>.attainment.
KPI_TARGETABLE = (
    "resolution_rate",
    "fcr_rate",
    "csat",
    "complaint_24h_rate",
    "records.completeness",
    "surveys.participation",
    "sla.all.attainment",
)


class PolicyError(ValueError):
    """A policy file that cannot be used; `str()` is `path:line: where: what`, one per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate keys instead of silently keeping the last one."""


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _mapping,
)


def _timestamp(loader: _UniqueKeyLoader, node: yaml.ScalarNode) -> Any:
    """A date or time; an impossible one (2026-02-30) is an error at its line, not a crash."""
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError as e:
        raise yaml.constructor.ConstructorError(
            None, None, f"{node.value!r} is not a valid date: {e}", node.start_mark
        ) from None


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def _line_of(root: yaml.Node | None, loc: Sequence[int | str]) -> int:
    """The 1-based line of the YAML node at `loc`, or of its nearest existing parent."""
    node = root
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                    nxt = v
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            nxt = node.value[part]
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line


def _where(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse(text: str, path: str = "<policy>") -> PolicyFile:
    """Validate policy text; raise PolicyError with `path:line: where: what` for every problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = e.problem or e.context or "malformed YAML"
        if e.problem and e.context and e.context_mark and e.context_mark.line + 1 != line:
            # e.g. an unclosed bracket: say where the construct it belongs to started
            what += f" ({e.context} at line {e.context_mark.line + 1})"
        raise PolicyError([f"{path}:{line}: YAML: {what}"]) from None
    if not isinstance(data, dict):
        raise PolicyError([f"{path}:1: the policy must be a YAML mapping"])
    try:
        model = PolicyFile.model_validate(data)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
            line = _line_of(root, loc)
            problems.append(f"{path}:{line}: {_where(loc)}: {err['msg']}")
        raise PolicyError(problems) from None
    problems = [
        f"{path}:{_line_of(root, loc)}: {_where(loc)}: {msg}" for loc, msg in _checks(model)
    ]
    if problems:
        raise PolicyError(problems)
    return model


def _checks(model: PolicyFile) -> list[tuple[list[int | str], str]]:
    """The problems of the top level; when it has none, those of each later version, each
    reported at the version entry that brings it (the section it replaced, or the entry)."""
    bad = _check(model) + check_contract(model)
    if bad:
        return bad
    previous = None
    for v in version_models(model)[1:]:
        assert v.spec is not None and v.index is not None
        entry: list[int | str] = ["versions", v.index]
        if previous is not None and v.spec.effective_from <= previous:
            bad.append(([*entry, "effective_from"], "versions must be in ascending effective_from"))
        previous = v.spec.effective_from
        if not given(v.spec):
            bad.append((entry, "a version must replace at least one section"))
        if not v.model.clocks:
            bad.append(([*entry, "clocks"], "a version needs at least one clock"))
        fields = given(v.spec)
        for loc, msg in _check(v.model) + check_contract(v.model):
            if loc and loc[0] in fields:
                bad.append(([*entry, *loc], msg))
            else:
                bad.append((entry, f"{_where(loc)}: {msg}"))
    return bad


def _check(p: PolicyFile) -> list[tuple[list[int | str], str]]:
    """Cross-reference checks the field validators cannot see."""
    bad: list[tuple[list[int | str], str]] = []
    for name, cal in p.calendars.items():
        if not cal.always_open and not cal.hours:
            bad.append(
                (["calendars", name, "hours"], "a calendar needs hours or always_open: true")
            )
    known_events = set(EVENT_TYPES)
    for ev in p.stop_all_on:
        if ev not in known_events:
            bad.append((["stop_all_on"], f"unknown event type {ev!r}"))
    bad.extend(
        (["lifecycle_status", ev], f"unknown event type {ev!r}")
        for ev in p.lifecycle_status
        if ev not in known_events
    )
    bad.extend(
        (["notify", k], f"unknown alert level {k!r}; known: {', '.join(NOTIFY_KEYS)}")
        for k in p.notify
        if k not in NOTIFY_KEYS
    )
    for cname, clock in p.clocks.items():
        base: list[int | str] = ["clocks", cname]
        for field in ("start", "stop", "resume"):
            triggers: list[TriggerSpec] = getattr(clock, field)
            for i, trig in enumerate(triggers):
                if trig.type not in known_events:
                    bad.append(([*base, field, i], f"unknown event type {trig.type!r}"))
    bad.extend(_check_kpis(p))
    return bad


def _check_kpis(p: PolicyFile) -> list[tuple[list[int | str], str]]:
    bad: list[tuple[list[int | str], str]] = []
    k = p.kpis
    if k.business_calendar is not None and k.business_calendar not in p.calendars:
        bad.append(
            (
                ["kpis", "business_calendar"],
                f"unknown calendar {k.business_calendar!r}; "
                f"defined: {', '.join(sorted(p.calendars))}",
            )
        )
    known = set(KPI_TARGETABLE) | {f"sla.{c}.attainment" for c in p.clocks}
    for name, value in k.targets.items():
        if name not in known:
            bad.append(
                (
                    ["kpis", "targets", name],
                    f"no target can be set for {name!r}; known: {', '.join(sorted(known))}",
                )
            )
        elif not 0 < value <= 1:
            bad.append((["kpis", "targets", name], "a target is a share in (0, 1]"))
    return bad


def _seconds(blocks: list[str]) -> tuple[tuple[int, int], ...]:
    """Blocks as (start, end) seconds from local midnight."""
    return tuple((a * 60, b * 60) for a, b in map(block_minutes, blocks))


def _calendar(name: str, p: PolicyFile) -> Calendar:
    spec = p.calendars[name]
    week: tuple[tuple[tuple[int, int], ...], ...] = ()
    if isinstance(spec.hours, dict):
        by_day = {WEEKDAYS.index(d): _seconds(b) for d, b in spec.hours.items()}
        week = tuple(by_day.get(i, ()) for i in range(7))
        # make-up and extra working days: the first weekday's hours that has some
        hours = next((b for b in week if b), ())
    else:
        hours = _seconds(spec.hours)
    return Calendar(
        name=name,
        tz=spec.timezone,
        always_open=spec.always_open,
        hours=hours,
        weekdays=frozenset(WEEKDAYS.index(d) for d in spec.weekdays),
        country=spec.public_holidays,
        extra_holidays=frozenset(spec.extra_holidays),
        extra_workdays=frozenset(spec.extra_workdays),
        week=week,
        dates=tuple((d, _seconds(b)) for d, b in spec.dates.items()),
        breaks=tuple((d, _seconds(b)) for d, b in spec.breaks.items()),
    )


def _thresholds(target_us: int, limit_us: int, grading: Grading) -> tuple[Threshold, ...]:
    steps = [Threshold("warning", None, target_us)]
    steps.append(
        Threshold("breach", grading.breach.level, round(limit_us * grading.breach.of_limit))
    )
    steps += [
        Threshold("escalation", s.level, round(limit_us * s.of_limit)) for s in grading.escalations
    ]
    return tuple(sorted(steps, key=lambda t: t.at_us))


def _when(spec: dict[str, list[str]]) -> dict[str, frozenset[str]]:
    return {k: frozenset(v) for k, v in spec.items()}


def _clock(
    name: str, spec: ClockSpec, p: PolicyFile, calendars: dict[str, Calendar], version: str
) -> ClockRule:
    grading = spec.grading or p.grading
    targets = tuple(
        Target(
            rule=f"clocks.{name}.targets[{i}]",
            when=_when(t.when),
            thresholds=(
                ()
                if t.untracked or t.target is None or t.limit is None
                else _thresholds(t.target, t.limit, grading)
            ),
        )
        for i, t in enumerate(spec.targets)
    )
    choices: tuple[CalendarChoice, ...] = ()
    if isinstance(spec.calendar, str):
        default = calendars[spec.calendar]
    else:
        default = calendars[spec.calendar[-1].calendar]
        choices = tuple(
            CalendarChoice(_when(c.when), calendars[c.calendar]) for c in spec.calendar if c.when
        )
    return ClockRule(
        name=name,
        calendar=default,
        calendars=choices,
        version=version,
        start=tuple(Trigger(t.type, _when(t.when)) for t in spec.start),
        stop=tuple(Trigger(t.type, _when(t.when)) for t in spec.stop),
        resume=tuple(Trigger(t.type, _when(t.when)) for t in spec.resume),
        pause_statuses=frozenset(spec.pause_statuses),
        targets=targets,
    )


def _kpis(model: PolicyFile, calendars: dict[str, Calendar]) -> KpiRules:
    k = model.kpis
    name = k.business_calendar
    if name is None:
        clock = model.clocks.get("resolution")
        if clock is not None:
            cal = clock.calendar
            name = cal if isinstance(cal, str) else cal[-1].calendar  # the default
        else:
            name = next((n for n, c in model.calendars.items() if not c.always_open), None)
    return KpiRules(
        timezone=model.reporting_timezone,
        units=tuple(k.windows),
        dimensions=tuple(k.dimensions),
        grace_us=k.grace,
        targets=dict(k.targets),
        business_calendar=calendars[name] if name is not None else None,
        complaint_category=k.complaints.category,
        complaint_within_us=k.complaints.answered_within,
        backlog_bands_us=tuple(k.backlog_age_bands),
        include_flagged_surveys=k.surveys.include_flagged,
        invalid_reasons=frozenset(r.strip().lower() for r in k.surveys.invalid_reasons),
        team_csat_below=k.team_csat_flag.below_mean,
        team_csat_mode=k.team_csat_flag.mode,
        team_csat_min_surveys=k.team_csat_flag.min_surveys,
    )


def _compile_one(
    model: PolicyFile, later: tuple[tuple[int, RuntimePolicy], ...] = ()
) -> RuntimePolicy:
    calendars = {name: _calendar(name, model) for name in model.calendars}
    version = version_of(model)
    return RuntimePolicy(
        version=version,
        clocks=tuple(_clock(n, c, model, calendars, version) for n, c in model.clocks.items()),
        notify={k: tuple(v) for k, v in model.notify.items()},
        stop_all_on=frozenset(model.stop_all_on),
        status_on=dict(model.lifecycle_status),
        kpis=_kpis(model, calendars),
        later=later,
    )


def compile_policy(model: PolicyFile) -> RuntimePolicy:
    """The engine's runtime form of a validated policy: its first version, carrying the later
    ones (`RuntimePolicy.later`) with their effective_from instants."""
    versions = version_models(model)
    later = tuple(
        (to_us(v.spec.effective_from), _compile_one(v.model))
        for v in versions[1:]
        if v.spec is not None
    )
    return _compile_one(versions[0].model, later)


def load(path: str | Path | None = None) -> RuntimePolicy:
    """Read, validate and compile a policy file (the default policy when `path` is None)."""
    p = Path(path) if path is not None else DEFAULT_POLICY
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise PolicyError([f"{p}: cannot read the policy file: {e.strerror}"]) from None
    return compile_policy(parse(text, str(p)))

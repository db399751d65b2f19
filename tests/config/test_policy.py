"""The policy file: the default policy has the issue's numbers; its version is a content hash;
a bad file fails at start with the file, the line and what is wrong (also from the CLI)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from cli.main import main
from config.loader import DEFAULT_POLICY, PolicyError, load, parse
from engine.instant import US_PER_S
from engine.rules import RuntimePolicy

H = 3600
MIN = 60
DEFAULT_TEXT = DEFAULT_POLICY.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def policy() -> RuntimePolicy:
    return load()


def ladder_s(
    policy: RuntimePolicy, clock: str, **attrs: str
) -> list[tuple[str, str | None, float]]:
    """(kind, level, seconds) of the thresholds a ticket with `attrs` gets on `clock`."""
    target = policy.clock(clock).target_for(attrs)
    assert target is not None, (clock, attrs)
    return [(t.kind, t.level, t.at_us / US_PER_S) for t in target.thresholds]


def graded(warn: float, limit: float) -> list[tuple[str, str | None, float]]:
    """The issue's grading: warning at the target, minor at the limit, moderate at 150 % and
    severe at 200 % of the limit."""
    return [
        ("warning", None, warn),
        ("breach", "minor", limit),
        ("escalation", "moderate", limit * 1.5),
        ("escalation", "severe", limit * 2),
    ]


# --------------------------------------------------------------------------------------------
# the default policy


def test_default_clock_names(policy: RuntimePolicy) -> None:
    assert [c.name for c in policy.clocks] == [
        "first_response",
        "onsite_arrival",
        "resolution",
        "first_solution",
        "urgent_response",
        "complaint_response",
        "survey_dispatch",
    ]


@pytest.mark.parametrize(
    ("priority", "warn", "limit"), [("A", 60, 120), ("B", 180, 300), ("C", 300, 600)]
)
def test_default_first_response(
    policy: RuntimePolicy, priority: str, warn: int, limit: int
) -> None:
    assert ladder_s(policy, "first_response", priority=priority) == graded(warn, limit)


@pytest.mark.parametrize(
    ("priority", "warn", "limit"),
    [("A", 15 * MIN, 30 * MIN), ("B", 30 * MIN, 60 * MIN), ("C", 60 * MIN, 120 * MIN)],
)
def test_default_onsite_arrival(
    policy: RuntimePolicy, priority: str, warn: int, limit: int
) -> None:
    assert ladder_s(policy, "onsite_arrival", priority=priority) == graded(warn, limit)


@pytest.mark.parametrize(
    ("category", "warn", "limit"),
    [
        ("simple", 4 * H, 8 * H),
        ("complex", 24 * H, 40 * H),
        ("urgent", 24 * H, 40 * H),
        ("complaint", 24 * H, 40 * H),
    ],
)
def test_default_resolution(policy: RuntimePolicy, category: str, warn: int, limit: int) -> None:
    assert ladder_s(policy, "resolution", category=category, priority="A") == graded(warn, limit)


@pytest.mark.parametrize(
    ("clock", "warn", "limit"),
    [
        ("first_solution", 24 * H, 48 * H),
        ("urgent_response", 2 * H, 4 * H),
        ("complaint_response", 12 * H, 24 * H),
        ("survey_dispatch", 12 * H, 24 * H),
    ],
)
def test_default_single_target_clocks(
    policy: RuntimePolicy, clock: str, warn: int, limit: int
) -> None:
    assert ladder_s(policy, clock, priority="B", category="complex") == graded(warn, limit)


@pytest.mark.parametrize(
    ("clock", "calendar", "starts", "stops", "resumes", "pauses"),
    [
        ("first_response", "24x7", [("created", {})], ["responded"], [], set()),
        ("onsite_arrival", "24x7", [("onsite_requested", {})], ["onsite_arrived"], [], set()),
        (
            "resolution",
            "business-cn",
            [("created", {})],
            ["resolved"],
            ["reopened"],
            {"pending_customer"},
        ),
        (
            "first_solution",
            "business-cn",
            [("created", {"category": {"complex"}})],
            ["updated", "resolved"],
            [],
            {"pending_customer"},
        ),
        (
            "urgent_response",
            "business-cn",
            [("created", {"category": {"urgent"}})],
            ["responded"],
            [],
            set(),
        ),
        (
            "complaint_response",
            "24x7",
            [("created", {"category": {"complaint"}})],
            ["responded"],
            [],
            set(),
        ),
        ("survey_dispatch", "24x7", [("resolved", {})], ["survey_sent", "reopened"], [], set()),
    ],
)
def test_default_clock_rules(
    policy: RuntimePolicy,
    clock: str,
    calendar: str,
    starts: list[tuple[str, dict[str, set[str]]]],
    stops: list[str],
    resumes: list[str],
    pauses: set[str],
) -> None:
    rule = policy.clock(clock)
    assert rule.calendar.name == calendar
    assert [(t.type, {k: set(v) for k, v in t.when.items()}) for t in rule.start] == starts
    assert [t.type for t in rule.stop] == stops
    assert all(not t.when for t in rule.stop)
    assert [t.type for t in rule.resume] == resumes
    assert set(rule.pause_statuses) == pauses


def test_default_calendars(policy: RuntimePolicy) -> None:
    cal = policy.clock("resolution").calendar
    assert cal.tz == "Asia/Shanghai"
    assert cal.hours == ((9 * H, 12 * H), (13 * H, 18 * H))
    assert cal.weekdays == frozenset({0, 1, 2, 3, 4})
    assert cal.country == "CN"
    assert not cal.always_open
    always = policy.clock("first_response").calendar
    assert always.always_open


def test_default_notify_and_stop_all(policy: RuntimePolicy) -> None:
    assert dict(policy.notify) == {
        "warning": ("agent",),
        "minor": ("agent",),
        "moderate": ("agent", "supervisor"),
        "severe": ("agent", "supervisor", "department_manager"),
    }
    assert policy.stop_all_on == frozenset({"closed"})


def test_policy_extra_holidays_and_workdays(tmp_path: Path) -> None:
    text = DEFAULT_TEXT.replace("extra_holidays: []", "extra_holidays: [2027-01-04]", 1).replace(
        "extra_workdays: []", "extra_workdays: [2027-01-09]", 1
    )
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    cal = load(path).clock("resolution").calendar
    assert cal.extra_holidays == frozenset({date(2027, 1, 4)})
    assert cal.extra_workdays == frozenset({date(2027, 1, 9)})


def test_clock_grading_override(tmp_path: Path) -> None:
    text = DEFAULT_TEXT.replace(
        "    targets:\n      - {target: 2h, limit: 4h}",
        "    targets:\n      - {target: 2h, limit: 4h}\n"
        "    grading:\n"
        "      breach: {level: minor, of_limit: 1.0}\n"
        "      escalations: [{level: severe, of_limit: 3.0}]",
        1,
    )
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    p = load(path)
    assert ladder_s(p, "urgent_response") == [
        ("warning", None, 2 * H),
        ("breach", "minor", 4 * H),
        ("escalation", "severe", 12 * H),
    ]
    assert ladder_s(p, "first_response", priority="A") == graded(60, 120)


# --------------------------------------------------------------------------------------------
# the version: a content hash


def version_of_text(text: str) -> str:
    from config.loader import compile_policy

    return compile_policy(parse(text)).version


def test_version_is_stable(policy: RuntimePolicy) -> None:
    assert policy.version == load().version == load(DEFAULT_POLICY).version
    assert policy.version.startswith("sha256:")
    assert len(policy.version) > len("sha256:") + 8
    assert version_of_text(DEFAULT_TEXT) == policy.version


def test_version_changes_when_a_number_changes(policy: RuntimePolicy) -> None:
    changed = DEFAULT_TEXT.replace("target: 60s, limit: 120s", "target: 60s, limit: 121s", 1)
    assert changed != DEFAULT_TEXT
    assert version_of_text(changed) != policy.version
    holiday = DEFAULT_TEXT.replace("extra_holidays: []", "extra_holidays: [2027-01-04]", 1)
    assert version_of_text(holiday) != policy.version


def test_version_ignores_comments_and_layout(policy: RuntimePolicy) -> None:
    commented = "# a new comment at the top\n" + DEFAULT_TEXT.replace(
        "# Events that stop every clock still running.", "# Reworded comment."
    )
    assert version_of_text(commented) == policy.version
    # the same number written another way (4h = 240m) and a flow list written as a block
    respelled = DEFAULT_TEXT.replace("target: 4h, limit: 8h", "target: 240m, limit: 8h", 1)
    respelled = respelled.replace("stop_all_on: [closed]", "stop_all_on:\n  - closed")
    assert version_of_text(respelled) == policy.version


# --------------------------------------------------------------------------------------------
# bad files: path, line, what


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the nth line containing `needle`."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) >= nth, needle
    return hits[nth - 1]


def edit(old: str, new: str) -> str:
    assert DEFAULT_TEXT.count(old) == 1, old
    return DEFAULT_TEXT.replace(old, new)


BAD = {
    "yaml syntax": (
        edit("  24x7:\n    timezone", "  24x7: bad: value\n    timezone"),
        "24x7: bad: value",
        ["YAML", "mapping values are not allowed"],
    ),
    "duplicate clock": (
        edit("  onsite_arrival:\n", "  first_response:\n"),
        ("  first_response:", 2),
        ["duplicate key 'first_response'"],
    ),
    "duplicate field": (
        edit("    always_open: true\n", "    always_open: true\n    always_open: false\n"),
        "always_open: false",
        ["duplicate key 'always_open'"],
    ),
    "unknown calendar": (
        edit("  first_response:\n    calendar: 24x7", "  first_response:\n    calendar: 24x8"),
        "calendar: 24x8",
        ["clocks.first_response.calendar", "unknown calendar '24x8'"],
    ),
    "bad duration": (
        edit("target: 4h, limit: 8h", "target: 4 hours, limit: 8h"),
        "4 hours",
        ["clocks.resolution.targets[0].target", "'4 hours' is not a duration"],
    ),
    "target above limit": (
        edit("target: 60s, limit: 120s", "target: 180s, limit: 120s"),
        "target: 180s",
        ["clocks.first_response.targets[0].target", "must not exceed the limit"],
    ),
    "unknown event in a trigger": (
        edit(
            "stop: [responded]\n    targets:\n      - {when: {priority: A}, target: 60s",
            "stop: [replied]\n    targets:\n      - {when: {priority: A}, target: 60s",
        ),
        "stop: [replied]",
        ["clocks.first_response.stop[0]", "unknown event type 'replied'"],
    ),
    "unknown event in a conditional trigger": (
        edit(
            "start: [{type: created, when: {category: urgent}}]",
            "start: [{type: opened, when: {category: urgent}}]",
        ),
        "type: opened",
        ["clocks.urgent_response.start[0]", "unknown event type 'opened'"],
    ),
    "unknown field": (
        edit(
            "    pause_statuses: [pending_customer]\n    targets:\n"
            "      - {when: {category: simple}",
            "    pause_statuses: [pending_customer]\n    colour: red\n    targets:\n"
            "      - {when: {category: simple}",
        ),
        "colour: red",
        ["clocks.resolution.colour", "Extra inputs are not permitted"],
    ),
    "unknown top-level field": (
        edit("stop_all_on: [closed]", "stop_all_on: [closed]\nclock: {}"),
        "clock: {}",
        ["clock", "Extra inputs are not permitted"],
    ),
    "bad time zone": (
        edit(
            "  business-cn:\n    timezone: Asia/Shanghai",
            "  business-cn:\n    timezone: Asia/Shangai",
        ),
        "Asia/Shangai",
        ["calendars.business-cn.timezone", "unknown IANA time zone 'Asia/Shangai'"],
    ),
    "bad reporting time zone": (
        edit("reporting_timezone: Asia/Shanghai", "reporting_timezone: Mars/Olympus"),
        "Mars/Olympus",
        ["reporting_timezone", "unknown IANA time zone"],
    ),
    "malformed hours block": (
        edit('"09:00-12:00", "13:00-18:00"', '"9-12", "13:00-18:00"'),
        '"9-12"',
        ["calendars.business-cn.hours", "'9-12' is not a block like 09:00-12:00"],
    ),
    "hours block ending before it starts": (
        edit('"09:00-12:00", "13:00-18:00"', '"12:00-09:00"'),
        '"12:00-09:00"',
        ["calendars.business-cn.hours", "must start before it ends"],
    ),
    "overlapping hours blocks": (
        edit('"09:00-12:00", "13:00-18:00"', '"09:00-14:00", "13:00-18:00"'),
        '"09:00-14:00"',
        ["calendars.business-cn.hours", "overlaps"],
    ),
    "hours not a list": (
        edit('hours: ["09:00-12:00", "13:00-18:00"]', "hours: 09:00-18:00"),
        "hours: 09:00-18:00",
        ["calendars.business-cn.hours", "list"],
    ),
    "no hours": (
        # reported at the calendar's mapping (its first line: there is no hours line to name)
        edit('    hours: ["09:00-12:00", "13:00-18:00"]\n', ""),
        ("    timezone: Asia/Shanghai", 1),
        ["calendars.business-cn.hours", "needs hours or always_open"],
    ),
    "bad weekday": (
        edit("weekdays: [mon, tue, wed, thu, fri]", "weekdays: [mon, tue, wed, thu, fry]"),
        "fry",
        ["calendars.business-cn.weekdays[4]"],
    ),
    "impossible date": (
        edit("extra_holidays: []", "extra_holidays: [2026-02-30]"),
        "2026-02-30",
        ["2026-02-30", "not a valid date"],
    ),
    "unknown country": (
        edit("public_holidays: CN", "public_holidays: XX"),
        "public_holidays: XX",
        ["calendars.business-cn.public_holidays", "'XX'"],
    ),
    "unknown ticket attribute": (
        edit("{when: {priority: A}, target: 60s", "{when: {prio: A}, target: 60s"),
        "prio: A",
        ["clocks.first_response.targets[0].when.prio", "unknown ticket attribute"],
    ),
    "bad grading level": (
        edit("{level: moderate, of_limit: 1.5}", "{level: medium, of_limit: 1.5}"),
        "level: medium",
        ["grading.escalations[0].level"],
    ),
    "unknown event in stop_all_on": (
        edit("stop_all_on: [closed]", "stop_all_on: [close]"),
        "stop_all_on: [close]",
        ["stop_all_on", "unknown event type 'close'"],
    ),
    "unknown event in lifecycle_status": (
        edit("  closed: closed\n", "  closd: closed\n"),
        "closd: closed",
        ["lifecycle_status.closd", "unknown event type"],
    ),
    "unknown notify level": (
        edit("  warning: [agent]\n", "  warnin: [agent]\n"),
        "warnin:",
        ["notify.warnin", "unknown alert level"],
    ),
    "empty targets": (
        edit("    targets:\n      - {target: 2h, limit: 4h}\n", "    targets: []\n"),
        ("targets: []", 1),
        ["clocks.urgent_response.targets", "at least 1"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_policy_names_file_line_and_problem(tmp_path: Path, case: str) -> None:
    text, where, words = BAD[case]
    needle, nth = where if isinstance(where, tuple) else (where, 1)
    line = line_of(text, needle, nth)
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: "), message
    for w in words:
        assert w in message, (w, message)


def test_unclosed_bracket_names_both_lines(tmp_path: Path) -> None:
    # The parser notices on the next line; the message also names the line the list started.
    text = edit('hours: ["09:00-12:00", "13:00-18:00"]', 'hours: ["09:00-12:00", "13:00-18:00"')
    opened = line_of(text, 'hours: ["09:00-12:00", "13:00-18:00"')
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{opened + 1}: YAML: "), message
    assert f"flow sequence at line {opened}" in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = DEFAULT_TEXT.replace("target: 60s, limit: 120s", "target: 180s, limit: 120s", 1)
    text = text.replace("stop: [onsite_arrived]", "stop: [onsite_arived]", 1)
    path = tmp_path / "two.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load(path)
    assert len(info.value.problems) == 2
    lines = sorted(int(p.split(":")[1]) for p in info.value.problems)
    assert lines == sorted(
        [line_of(text, "target: 180s, limit: 120s"), line_of(text, "onsite_arived")]
    )


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n"])
def test_not_a_mapping(tmp_path: Path, text: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match=r":1: the policy must be a YAML mapping"):
        load(path)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(PolicyError, match=r"nope\.yaml: cannot read the policy file"):
        load(path)


# --------------------------------------------------------------------------------------------
# the CLI refuses a bad policy, with the same message


def _bad_policy(tmp_path: Path) -> tuple[Path, int]:
    text = edit("target: 4h, limit: 8h", "target: 4 hours, limit: 8h")
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    return path, line_of(text, "4 hours")


def test_cli_replay_rejects_a_bad_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad, line = _bad_policy(tmp_path)
    events = tmp_path / "x.jsonl"
    events.write_text("", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    code = main(["replay", "--input", str(events), "--policy", str(bad), "--output", str(out)])
    assert code != 0
    err = capsys.readouterr().err
    assert f"{bad}:{line}: clocks.resolution.targets[0].target" in err
    assert "'4 hours' is not a duration" in err
    assert not out.exists()  # nothing was replayed


def test_cli_subprocess_exits_non_zero_on_a_bad_policy(tmp_path: Path) -> None:
    bad, line = _bad_policy(tmp_path)
    events = tmp_path / "x.jsonl"
    events.write_text("", encoding="utf-8")
    script = Path(sys.executable).with_name("sla-engine")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "cli.main"]
    proc = subprocess.run(
        [*cmd, "replay", "--input", str(events), "--policy", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert f"{bad}:{line}:" in proc.stderr
    assert "4 hours" in proc.stderr
    assert "Traceback" not in proc.stderr

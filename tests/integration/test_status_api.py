"""`sla.status` and the query API against a real broker and real workers: one message per
ticket, the same content as `engine.status` on the same events, answers validated against the
OpenAPI file, bounded inputs, the API fuzzed from its OpenAPI description (schemathesis), and
two workers that each answer for the tickets of both."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from cli.main import main
from config.loader import load
from engine.history import from_model
from engine.instant import to_us
from engine.status import ticket_status, upcoming
from engine.ticket import Ticket
from schemas.generate import JSON_DIR
from schemas.openapi import document
from schemas.parse import parse_event
from tests.integration.conftest import BrokerHandle
from tests.integration.harness import Topics, WorkerProcess, consume, keyed, produce

TICKETS = 24


def _events(tag: str) -> list[dict[str, Any]]:
    """Tickets created a moment ago (priority C: first response warning at 5 min, breach at
    10, escalations at 15 and 20), every third one answered; two teams."""
    now = datetime.now(UTC) - timedelta(seconds=5)
    out: list[dict[str, Any]] = []
    for i in range(TICKETS):
        ticket = f"{tag}-{i:03d}"
        at = now + timedelta(milliseconds=10 * i)
        out.append(
            {
                "event_id": f"{ticket}-1",
                "ticket_id": ticket,
                "type": "created",
                "occurred_at": at.isoformat(),
                "priority": "C",
                "category": "simple",
                "channel": "phone",
                "team": f"team-{i % 2 + 1}",
                "agent": f"a-{i % 5}",
                "supervisor": "s-1",
                "department": "after-sales",
                "customer": {"id": "c-1", "name": "Li Lei", "phone": "+86 139 0000 0000"},
            }
        )
        if i % 3 == 0:
            out.append(
                {
                    "event_id": f"{ticket}-2",
                    "ticket_id": ticket,
                    "type": "responded",
                    "occurred_at": (at + timedelta(seconds=1)).isoformat(),
                }
            )
    return out


def _tickets(events: list[dict[str, Any]]) -> dict[str, Ticket]:
    """The same events folded here, as the worker folds them."""
    policy = load(None)
    tickets: dict[str, Ticket] = {}
    for e in events:
        ev = from_model(parse_event(orjson.dumps(e)))
        t = tickets.setdefault(e["ticket_id"], Ticket.new(e["ticket_id"], policy))
        t.step(ev, ev.at, ev.at)
    return tickets


def get(base: str, path: str, **params: str) -> tuple[int, Any]:
    url = base + path + ("?" + urllib.parse.urlencode(params) if params else "")
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
    except urllib.error.URLError as e:  # not serving yet
        return 0, str(e)


def wait_for(check: Any, timeout: float = 90, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


@dataclass
class Live:
    topics: Topics
    workers: list[WorkerProcess]
    events: list[dict[str, Any]]
    tickets: dict[str, Ticket]

    def api(self, i: int = 0) -> str:
        return f"http://127.0.0.1:{self.workers[i].api_port}"


def _start(broker: BrokerHandle, tmp: Path, n: int, tag: str) -> Live:
    topics = Topics.unique(broker.bootstrap)
    workers = [
        WorkerProcess(broker.bootstrap, topics, tmp / f"w{i}", tmp / f"w{i}.log").start()
        for i in range(n)
    ]
    events = _events(tag)
    produce(broker.bootstrap, topics.events, keyed(events))
    return Live(topics, workers, events, _tickets(events))


def _stop(live: Live) -> None:
    for w in live.workers:
        w.stop()


@pytest.fixture(scope="module")
def one(broker: BrokerHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    live = _start(broker, tmp_path_factory.mktemp("status1"), 1, "S1")
    try:
        last = f"{live.events[-1]['ticket_id']}"
        wait_for(lambda: get(live.api(), f"/tickets/{last}")[0] == 200, what="the last ticket")
        yield live
    finally:
        _stop(live)


def _schema(name: str) -> dict[str, Any]:
    doc = document()
    return {**doc["components"]["schemas"][name], "components": doc["components"]}


def test_get_ticket_is_the_engine_status_at_the_answer_instant(one: Live) -> None:
    ref = _schema("TicketStatus")
    ref_doc = json.loads((JSON_DIR / "status-api.openapi.json").read_text())
    assert ref_doc == document()
    for ticket_id, ticket in one.tickets.items():
        status, body = get(one.api(), f"/tickets/{ticket_id}")
        assert status == 200, body
        jsonschema.validate(body, ref)
        at = to_us(datetime.fromisoformat(body["as_of"]))
        assert body == ticket_status(ticket, at)  # same content as replay, to the µs
        assert "Li Lei" not in json.dumps(body) and "c-1" not in json.dumps(body)


def test_sla_status_topic_has_one_status_per_ticket(one: Live) -> None:
    schema = json.loads((JSON_DIR / "ticket-status.schema.json").read_text())
    msgs = consume(
        one.workers[0].bootstrap,
        one.topics.status,
        until=lambda ms: {m.key() for m in ms} >= {t.encode() for t in one.tickets},
        idle=1.0,
    )
    latest: dict[bytes, Any] = {}
    for m in msgs:
        latest[m.key()] = orjson.loads(m.value())
        jsonschema.validate(latest[m.key()], schema)
        assert b"Li Lei" not in m.value()
    assert set(latest) == {t.encode() for t in one.tickets}
    # published once per ticket per batch: far fewer messages than one per event per ticket
    assert len(msgs) <= len(one.events) + TICKETS
    for key, body in latest.items():
        at = to_us(datetime.fromisoformat(body["as_of"]))
        assert body == ticket_status(one.tickets[key.decode()], at)


def test_at_risk_lists_the_open_clocks_due_in_the_window_soonest_first(one: Live) -> None:
    status, body = get(one.api(), "/at-risk", within="15m")
    assert status == 200, body
    jsonschema.validate(body, _schema("AtRiskList"))
    at = to_us(datetime.fromisoformat(body["as_of"]))
    until = to_us(datetime.fromisoformat(body["until"]))
    expected = sorted(
        (due, e["ticket_id"], e["clock"])
        for t in one.tickets.values()
        for due, e in upcoming(t, at, until)
    )
    got = [
        (to_us(datetime.fromisoformat(e["due_at"])), e["ticket_id"], e["clock"])
        for e in body["items"]
    ]
    assert got == expected
    assert {c for _, _, c in got} == {"first_response"}  # business hours are far off or near
    assert len(got) == TICKETS - len(range(0, TICKETS, 3)) and not body["truncated"]
    status, team = get(one.api(), "/at-risk", within="15m", team="team-1", limit="3")
    assert status == 200
    assert [e["team"] for e in team["items"]] == ["team-1"] * 3 and team["truncated"]
    assert [e["ticket_id"] for e in team["items"]] == [
        t for _, t, _ in got if int(t[-3:]) % 2 == 0
    ][:3]


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("/tickets/no-such-ticket", {}, 404),
        ("/tickets/%01bad", {}, 400),
        ("/tickets/" + "x" * 201, {}, 400),
        ("/at-risk", {"within": "forever"}, 400),
        ("/at-risk", {"within": "400d"}, 400),
        ("/at-risk", {"limit": "100000"}, 400),
        ("/at-risk", {"limit": "0"}, 400),
        ("/at-risk", {"clock": "coffee_break"}, 400),
        ("/at-risk", {"local": "maybe"}, 400),
    ],
)
def test_bounded_inputs_get_a_reason(
    one: Live, path: str, params: dict[str, str], code: int
) -> None:
    status, body = get(one.api(), path, **params)
    assert status == code and body["error"], body


def test_status_and_at_risk_commands_print_tables(
    one: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    answered, waiting = one.events[0]["ticket_id"], one.events[2]["ticket_id"]
    assert main(["status", waiting, "--api", one.api()]) == 0
    out = capsys.readouterr().out
    assert waiting in out and "first_response" in out and "running" in out and "team-2" in out
    assert (
        main(
            ["status", answered, "--broker", one.workers[0].bootstrap, "--topic", one.topics.status]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert answered in out and "met" in out
    assert main(["at-risk", "--api", one.api(), "--team", "team-1", "--within", "15m"]) == 0
    out = capsys.readouterr().out
    assert "team-1" in out and "team-2" not in out and "first_response" in out
    assert main(["status", "no-such-ticket", "--api", one.api()]) == 1
    assert "unknown ticket" in capsys.readouterr().err
    assert main(["at-risk", "--api", one.api(), "--within", "400d"]) == 2
    assert "within" in capsys.readouterr().err
    assert main(["status", waiting, "--api", "http://127.0.0.1:1"]) == 2
    assert "no status API at" in capsys.readouterr().err


def test_the_api_fuzzed_from_its_openapi_description(one: Live) -> None:
    """Every operation, positive and negative inputs generated from the OpenAPI file: no 5xx,
    every answer as documented (status code, content type, schema). Run through hypothesis
    directly: schemathesis' pytest plugin does not load under pytest 9."""
    status, served = get(one.api(), "/openapi.json")
    assert status == 200 and served == document(tuple(r.name for r in load(None).clocks))
    schema = schemathesis.openapi.from_dict(served)
    schema.config.update(base_url=one.api())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} == {"/tickets/{ticket_id}", "/at-risk"}
    calls: list[int] = []
    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=op.as_strategy(generation_mode=mode))
            @settings(
                max_examples=60,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
            def check(case: Any) -> None:
                response = case.call_and_validate()
                calls.append(response.status_code)

            check()
    assert len(calls) >= 100 and all(code < 500 for code in calls)
    assert {200, 400} <= set(calls)


@pytest.fixture(scope="module")
def two(broker: BrokerHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    live = _start(broker, tmp_path_factory.mktemp("status2"), 2, "S2")
    try:
        yield live
    finally:
        _stop(live)


def _local(live: Live, i: int) -> set[str]:
    return {t for t in live.tickets if get(live.api(i), f"/tickets/{t}", local="true")[0] == 200}


def test_two_workers_each_answer_for_the_tickets_of_both(two: Live) -> None:
    def split() -> tuple[set[str], set[str]] | None:
        a, b = _local(two, 0), _local(two, 1)
        return (a, b) if a and b and not a & b and a | b == set(two.tickets) else None

    a, b = wait_for(split, timeout=120, what="both workers owning tickets")
    for i in (0, 1):
        for ticket_id, ticket in two.tickets.items():
            status, body = get(two.api(i), f"/tickets/{ticket_id}")
            assert status == 200, (i, ticket_id, body)
            at = to_us(datetime.fromisoformat(body["as_of"]))
            assert body == ticket_status(ticket, at)
    lists = []
    for i in (0, 1):
        status, body = get(two.api(i), "/at-risk", within="1h", limit="1000")
        assert status == 200 and body["workers"] == 2 and not body["missing"], body
        lists.append([(e["ticket_id"], e["clock"], e["due_at"]) for e in body["items"]])
    assert lists[0] == lists[1]
    assert {t for t, _, _ in lists[0]} & a and {t for t, _, _ in lists[0]} & b


def test_a_ticket_leaving_retention_gets_a_status_tombstone(
    broker: BrokerHandle, tmp_path: Path
) -> None:
    topics = Topics.unique(broker.bootstrap)
    worker = WorkerProcess(
        broker.bootstrap,
        topics,
        tmp_path / "d",
        tmp_path / "w.log",
        extra=["--retention-days", str(15.0 / 86400)],
    ).start()
    try:
        worker.wait_recovered()  # the events are read at once: stamped now, not before a slow start
        now = datetime.now(UTC)
        events = [
            # inside the retention horizon when they arrive: older events are refused (`too_old`)
            {**e, "occurred_at": (now - timedelta(seconds=3 - i)).isoformat()}
            for i, e in enumerate(
                [
                    {"event_id": "R-1-1", "type": "created", "priority": "A", "team": "team-1"},
                    {"event_id": "R-1-2", "type": "responded"},
                    {"event_id": "R-1-3", "type": "closed"},
                ]
            )
        ]
        events = [{**e, "ticket_id": "R-1"} for e in events]
        produce(broker.bootstrap, topics.events, keyed(events))

        def tombstoned(msgs: list[Any]) -> bool:
            return any(m.key() == b"R-1" and m.value() is None for m in msgs)

        msgs = consume(broker.bootstrap, topics.status, until=tombstoned, timeout=60, idle=0)
        assert tombstoned(msgs), worker.log_tail()
        last = [orjson.loads(m.value()) for m in msgs if m.value() is not None][-1]
        assert last["status"] == "closed"
        assert [c["state"] for c in last["clocks"]] == ["met", "stopped"]
        assert get(f"http://127.0.0.1:{worker.api_port}", "/tickets/R-1")[0] == 404
    finally:
        worker.stop()

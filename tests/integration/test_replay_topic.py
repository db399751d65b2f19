"""`sla-engine replay --topic`: a time range of the events topic, read by offset lookup by
timestamp on a real embedded broker; the same bytes as the file replay of the same records; the
look-back that gives tickets started before --from their history; errors a person can act on."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

import workload
from cli.main import main
from cli.replay_topic import TopicReplay, replay_range
from config.loader import load
from engine.instant import iso, to_us
from kafka_io.process import free_port
from kafka_io.producer import make_producer
from offline.file import replay
from offline.records import Emit
from schemas.outputs import Reject
from tests.integration.conftest import BrokerHandle
from tests.integration.harness import effective

pytestmark = pytest.mark.integration

CST = timezone(timedelta(hours=8))
START = datetime(2026, 10, 1, tzinfo=CST)
DAY_US = 86_400 * 1_000_000
SINCE = to_us(START + timedelta(days=10))
UNTIL = to_us(START + timedelta(days=11))
LOOKBACK = 3 * DAY_US


@dataclass(frozen=True)
class Published:
    partition: int
    offset: int
    timestamp_ms: int
    value: bytes


def publish(
    bootstrap: str, topic: str, stamped: Iterable[tuple[int, dict[str, Any]]]
) -> list[Published]:
    """Produce events keyed by ticket_id with the given record timestamps (ms), in that order;
    returns where each landed."""
    # idempotent (the one producer configuration): a retried first batch of a just-created topic
    # would otherwise land after later ones, and the partition would not be in timestamp order
    p = make_producer(bootstrap, linger_ms=10)
    out: list[Published] = []

    def delivered(err: Any, msg: Any) -> None:
        assert err is None, err
        out.append(Published(msg.partition(), msg.offset(), msg.timestamp()[1], msg.value()))

    for ts, e in stamped:
        p.produce(
            topic,
            key=e["ticket_id"].encode(),
            value=orjson.dumps(e),
            timestamp=ts,
            on_delivery=delivered,
        )
    assert p.flush(30) == 0
    return out


def at_ms(e: dict[str, Any]) -> int:
    """An event's occurred_at in ms: a live source publishes a change when it happens."""
    return to_us(datetime.fromisoformat(e["occurred_at"])) // 1000


@dataclass(frozen=True)
class Recorded:
    bootstrap: str
    topic: str
    events: list[dict[str, Any]]
    published: list[Published]


@pytest.fixture(scope="module")
def recorded(broker: BrokerHandle) -> Recorded:
    """400 tickets over 20 days on a 4-partition topic, record timestamp = occurred_at."""
    # published as a live source does, each change when it happens: in occurred_at order (the
    # generator interleaves tickets up to seconds out of order; a stable sort keeps each ticket's
    # own events in order)
    generated = workload.generate(400, seed=11, start=START, span=timedelta(days=20))
    events = sorted(generated, key=at_ms)
    topic = f"replay-topic-{free_port()}"
    broker.create_topics({topic: 4})
    published = publish(broker.bootstrap, topic, ((at_ms(e), e) for e in events))
    assert len(published) == len(events)
    for part in {r.partition for r in published}:  # what the range's definition relies on
        stamps = [r.timestamp_ms for r in sorted(published, key=lambda r: r.offset)
                  if r.partition == part]  # fmt: skip
        assert stamps == sorted(stamps), f"partition {part}: timestamps out of offset order"
    return Recorded(broker.bootstrap, topic, events, published)


def replay_window(recorded: Recorded, keep: Emit) -> TopicReplay:
    """[SINCE, UNTIL) with a 3-day look-back."""
    return replay_range(
        recorded.bootstrap, recorded.topic, load(None), SINCE, UNTIL, LOOKBACK, keep
    )


def test_time_range_reads_only_the_needed_offsets(recorded: Recorded) -> None:
    done = replay_window(recorded, lambda alert, arrived: True)
    first_ms, end_ms = (SINCE - LOOKBACK) // 1000, UNTIL // 1000
    stats = done.stats
    assert len(stats.partitions) == 4
    assert stats.total == len(recorded.published)
    in_range = 0
    for part in stats.partitions:
        mine = sorted(
            (r for r in recorded.published if r.partition == part.partition),
            key=lambda r: r.offset,
        )
        wanted = [r for r in mine if first_ms <= r.timestamp_ms < end_ms]
        assert wanted, "every partition has records in the range"
        in_range += len(wanted)
        # the range starts at the first record of the look-back and nothing before it is read
        assert part.start == wanted[0].offset
        assert all(r.timestamp_ms < first_ms for r in mine if r.offset < part.start)
        # read: the records in the range and the one record that shows the range has ended
        after = [r for r in mine if r.offset > wanted[-1].offset]
        assert part.read == len(wanted) + (1 if after else 0)
        assert part.stop == (after[0].offset if after else None)
        # locating the start: O(log n) single records, not a scan
        assert part.probes <= math.ceil(math.log2(len(mine))) + 3
        assert part.located_by in ("broker", "search")
    assert done.result.events == in_range
    # measured (README): 531 records read + ~42 to locate, of 2,509 in the topic
    assert stats.read + stats.probes < len(recorded.published) / 3


def _window_and_history(alerts: list[dict[str, Any]], headless: set[str]) -> list[dict[str, Any]]:
    return [
        a
        for a in alerts
        if a["ticket_id"] not in headless
        and SINCE <= to_us(datetime.fromisoformat(a["due_at"])) < UNTIL
    ]


def test_topic_replay_is_the_file_replay_of_the_same_records(
    recorded: Recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "alerts.jsonl"
    code = main(
        [
            "replay",
            "--topic",
            recorded.topic,
            "--broker",
            recorded.bootstrap,
            "--from",
            iso(SINCE),
            "--to",
            iso(UNTIL),
            "--lookback",
            "3d",
            "--output",
            str(out),
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert f"of {len(recorded.published)} in 4 partitions" in err
    # The same records, merged by (timestamp, partition, offset), as a file.
    first_ms, end_ms = (SINCE - LOOKBACK) // 1000, UNTIL // 1000
    chosen = sorted(
        (r for r in recorded.published if first_ms <= r.timestamp_ms < end_ms),
        key=lambda r: (r.timestamp_ms, r.partition, r.offset),
    )
    seen: set[str] = set()
    headless: set[str] = set()
    for r in chosen:
        e = orjson.loads(r.value)
        if e["ticket_id"] not in seen and e["type"] != "created":
            headless.add(e["ticket_id"])
        seen.add(e["ticket_id"])
    file_out = io.BytesIO()
    replay(io.BytesIO(b"".join(r.value + b"\n" for r in chosen)), load(None), UNTIL, file_out, None)
    from_file = [orjson.loads(line) for line in file_out.getvalue().splitlines()]
    expected = b"".join(orjson.dumps(a) + b"\n" for a in _window_and_history(from_file, headless))
    assert out.read_bytes() == expected, err  # byte for byte, detected_at included
    assert len(expected.splitlines()) > 20
    assert headless, "some tickets started before the look-back"
    assert f"{len(headless)} tickets started before the look-back" in err
    held = re.search(r"replayed \d+ events of (\d+) tickets \(at most (\d+) in memory", err)
    assert held is not None, err  # what sizes the replay's memory, beside the tickets seen
    assert 0 < int(held.group(2)) <= int(held.group(1))


def _effective(alerts: list[dict[str, Any]]) -> set[bytes]:
    """The effective alerts (`harness.effective`) without detected_at, canonical JSON."""
    return {
        orjson.dumps(
            {k: v for k, v in a.items() if k != "detected_at"}, option=orjson.OPT_SORT_KEYS
        )
        for a in effective(alerts).values()
    }


def test_lookback_gives_tickets_started_before_from_their_history(recorded: Recorded) -> None:
    got: list[dict[str, Any]] = []
    done = replay_window(recorded, lambda alert, arrived: got.append(alert) is None)
    created = {e["ticket_id"]: at_ms(e) * 1000 for e in recorded.events if e["type"] == "created"}
    # tickets left out did start before the look-back; the others were read from `created`
    assert done.result.headless
    assert all(created[t] < SINCE - LOOKBACK for t in done.result.headless)
    # alerts in the window of tickets created before --from: only the look-back provides them
    assert any(created[a["ticket_id"]] < SINCE for a in got)
    # the whole topic replayed from a file: same decisions for every ticket read in full
    full = io.BytesIO()
    replay(
        io.BytesIO(b"".join(orjson.dumps(e) + b"\n" for e in recorded.events)),
        load(None),
        UNTIL,
        full,
        None,
    )
    everything = [orjson.loads(line) for line in full.getvalue().splitlines()]
    assert _effective(got) == _effective(_window_and_history(everything, done.result.headless)), (
        done.stats.partitions  # where each partition's read started and stopped, if it differs
    )


def _replay_topic(*extra: str) -> int:
    return main(["replay", "--output", "/dev/null", *extra])


def test_errors_say_what_to_do(recorded: Recorded, capsys: pytest.CaptureFixture[str]) -> None:
    window = ["--from", iso(SINCE), "--to", iso(UNTIL)]
    bs = recorded.bootstrap
    misspelt = recorded.topic.replace("replay-topic", "replay-topik")
    assert _replay_topic("--topic", misspelt, "--broker", bs, *window) == 2
    err = capsys.readouterr().err
    assert f"{misspelt!r} does not exist" in err
    assert err.split("topics there: ")[1].startswith(recorded.topic)  # the likely one first
    dead = f"127.0.0.1:{free_port()}"
    assert _replay_topic("--topic", recorded.topic, "--broker", dead, *window) == 2
    assert f"no Kafka broker answers at {dead}" in capsys.readouterr().err
    backwards = ["--from", iso(UNTIL), "--to", iso(SINCE)]
    assert _replay_topic("--topic", recorded.topic, "--broker", bs, *backwards) == 2
    assert "must be before --to" in capsys.readouterr().err
    assert _replay_topic("--topic", recorded.topic, "--broker", bs, "--from", iso(SINCE)) == 2
    assert "--from and --to are both required" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        _replay_topic("--topic", recorded.topic, "--broker", bs, "--from", "yesterday")
    assert info.value.code == 2
    assert "not an ISO 8601 instant" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        _replay_topic("--topic", recorded.topic, "--broker", bs, *window, "--lookback", "a week")
    assert info.value.code == 2
    assert "not a duration" in capsys.readouterr().err


def test_invalid_records_of_the_topic_go_to_rejects_with_their_offset(
    broker: BrokerHandle,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    topic = f"replay-rejects-{free_port()}"
    broker.create_topics({topic: 1})
    t0 = START + timedelta(days=1)
    good = {
        "event_id": "R-1-1",
        "ticket_id": "R-1",
        "type": "created",
        "occurred_at": t0.isoformat(),
        "priority": "A",
        "category": "simple",
        "channel": "phone",
    }
    bad = good | {"event_id": "R-1-2", "type": "teleported"}
    placed = publish(broker.bootstrap, topic, [(at_ms(good), good), (at_ms(good) + 1, bad)])
    out, rejects = tmp_path / "alerts.jsonl", tmp_path / "rejects.jsonl"
    window = ["--from", t0.isoformat(), "--to", (t0 + timedelta(hours=1)).isoformat()]
    args = ["replay", "--topic", topic, "--broker", broker.bootstrap, *window]
    assert main([*args, "--output", str(out), "--rejects", str(rejects)]) == 0
    [reject] = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    Reject.model_validate(reject)
    assert (reject["topic"], reject["partition"], reject["offset"]) == (
        topic,
        placed[1].partition,
        placed[1].offset,
    )
    assert "teleported" in reject["reason"] and orjson.loads(reject["raw"]) == bad
    # the valid ticket's first-response clock ran: priority A breaches within the hour
    assert {a["kind"] for a in map(orjson.loads, out.read_bytes().splitlines())} >= {"breach"}
    assert "1 rejected" in capsys.readouterr().err
    assert main([*args, "--until", t0.isoformat()]) == 2
    assert "drop --until" in capsys.readouterr().err


def test_an_event_far_ahead_of_its_record_timestamp_is_rejected(
    broker: BrokerHandle, tmp_path: Path
) -> None:
    """Issue 11, 5: one event stamped a year ahead would move the stream clock and fire every
    open ticket's timers; more than --max-skew ahead of its record timestamp it is rejected."""
    topic = f"replay-skew-{free_port()}"
    broker.create_topics({topic: 1})
    t0 = START + timedelta(days=1)
    created = {
        "event_id": "S-1-1", "ticket_id": "S-1", "type": "created",
        "occurred_at": t0.isoformat(), "priority": "A", "category": "simple", "channel": "phone",
    }  # fmt: skip
    year = (t0 + timedelta(days=365)).isoformat()
    ahead = created | {"event_id": "S-2-1", "ticket_id": "S-2", "occurred_at": year}
    answered = {"event_id": "S-1-2", "ticket_id": "S-1", "type": "responded",
                "occurred_at": (t0 + timedelta(seconds=30)).isoformat()}  # fmt: skip
    stamped = [(at_ms(created), created), (at_ms(created) + 1000, ahead)]
    publish(broker.bootstrap, topic, [*stamped, (at_ms(answered), answered)])
    out, rejects = tmp_path / "alerts.jsonl", tmp_path / "rejects.jsonl"
    window = ["--from", t0.isoformat(), "--to", (t0 + timedelta(minutes=5)).isoformat()]
    args = ["replay", "--topic", topic, "--broker", broker.bootstrap, *window]
    assert main([*args, "--output", str(out), "--rejects", str(rejects)]) == 0
    [reject] = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert "ahead of its record timestamp" in reject["reason"]
    assert not out.read_bytes()  # answered within 30 s: nothing to announce
    assert main([*args, "--output", str(out), "--max-skew", "0"]) == 0
    kinds = {a["kind"] for a in map(orjson.loads, out.read_bytes().splitlines())}
    assert "retraction" in kinds  # without the bound: paged a year early, then retracted


def test_explain_from_the_topic_equals_explain_from_the_same_records_as_a_file(
    recorded: Recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "alerts.jsonl"
    window = ["--from", iso(SINCE), "--to", iso(UNTIL), "--lookback", "3d"]
    base = ["--broker", recorded.bootstrap, *window]
    assert main(["replay", "--topic", recorded.topic, *base, "--output", str(out)]) == 0
    breach = next(
        a for a in map(orjson.loads, out.read_bytes().splitlines()) if a["kind"] == "breach"
    )
    capsys.readouterr()
    assert main(["explain", breach["alert_id"], "--topic", recorded.topic, *base, "--json"]) == 0
    from_topic = orjson.loads(capsys.readouterr().out)

    first_ms, end_ms = (SINCE - LOOKBACK) // 1000, UNTIL // 1000
    chosen = sorted(
        (r for r in recorded.published if first_ms <= r.timestamp_ms < end_ms),
        key=lambda r: (r.timestamp_ms, r.partition, r.offset),
    )
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(r.value + b"\n" for r in chosen))
    args = ["explain", breach["alert_id"], "--input", str(events), "--until", iso(UNTIL)]
    assert main([*args, "--json"]) == 0
    from_file = orjson.loads(capsys.readouterr().out)
    assert from_topic == from_file
    assert breach["alert_id"] in orjson.dumps(from_topic).decode()
    assert breach["due_at"] in orjson.dumps(from_topic).decode()

    assert main(["explain", "no-such-id", "--topic", recorded.topic, *base]) == 1
    assert (
        main(
            [
                "explain",
                breach["alert_id"],
                "--topic",
                recorded.topic,
                "--broker",
                recorded.bootstrap,
                "--from",
                iso(UNTIL),
                "--to",
                iso(SINCE),
            ]
        )
        == 2
    )


def test_streaming_in_tiny_chunks_gives_the_same_records(recorded: Recorded) -> None:
    """A chunk of 3 records a partition: the reader reads each partition in many small chunks
    as the merge takes its records: the same records in the same merged order, each read
    once."""
    from kafka_io.range_reader import TopicRecord, merged, stream_range

    first_ms, end_ms = (SINCE - LOOKBACK) // 1000, UNTIL // 1000
    by_partition: dict[int, list[TopicRecord]] = {}
    for r in sorted(recorded.published, key=lambda r: (r.partition, r.offset)):
        if first_ms <= r.timestamp_ms < end_ms:
            rec = TopicRecord(r.partition, r.offset, r.timestamp_ms, None, r.value)
            by_partition.setdefault(r.partition, []).append(rec)
    expected = list(merged(by_partition[p] for p in sorted(by_partition)))
    records, stats = stream_range(recorded.bootstrap, recorded.topic, first_ms, end_ms, chunk=3)
    assert stats.read == 0  # located, nothing read yet: the records come as they are taken
    got = [(r.partition, r.offset, r.timestamp_ms, r.value) for r in records]
    want = [(r.partition, r.offset, r.timestamp_ms, r.value) for r in expected]
    assert len(got) == len(want), (stats.partitions, {p: len(v) for p, v in by_partition.items()})
    assert got == want
    whole, _ = stream_range(recorded.bootstrap, recorded.topic, first_ms, end_ms)
    assert stats.read == sum(1 for _ in whole) + sum(p.stop is not None for p in stats.partitions)

"""Issue 16 (and issue 11 §8), against a real broker: the embedded `run` on a terminal as a
person starts it, and `tail` as a person reads it: from the true end, one record a line, text
printed as text, dead letters readable, a misspelt topic named, a broker that goes away."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from kafka_io.embedded import EmbeddedBroker
from kafka_io.process import free_port
from kafka_io.producer import make_producer
from tests.integration.conftest import BrokerHandle, TopicFactory

ROOT = Path(__file__).resolve().parents[2]
SLA = str(Path(sys.executable).with_name("sla-engine"))


def env(**extra: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SLA_")} | extra


def alert(n: int, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "alert_id": f"{n:032x}",
        "ticket_id": f"T{n:07d}",
        "clock": "first_response",
        "cycle": 1,
        "kind": "breach",
        "level": "minor",
        "priority": "A",
        "due_at": "2026-12-01T10:00:00+00:00",
        "responsible": {"team": "team-1", "agent": "a-1"},
        "notify": ["agent"],
    }
    return base | over


def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = make_producer(bootstrap, linger_ms=50)
    for i, v in enumerate(values):
        producer.produce(topic, key=f"k{i}".encode(), value=v)
    assert producer.flush(30) == 0


class Tail:
    """`sla-engine tail` as a subprocess writing to a pipe (not a terminal)."""

    def __init__(self, bootstrap: str, topic: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [SLA, "tail", "--broker", bootstrap, "--topic", topic, *args],
            env=env(COLUMNS="80"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stderr is not None
        self.started = self.proc.stderr.readline().decode()  # "following …": assigned

    def finish(self, timeout: float = 60) -> tuple[list[str], str, int]:
        out, err = self.proc.communicate(timeout=timeout)
        return out.decode().splitlines(), self.started + err.decode(), self.proc.returncode


def test_tail_starts_at_the_true_end(broker: BrokerHandle, make_topic: TopicFactory) -> None:
    topic = make_topic(partitions=2)
    # Batched by the producer: tansu then lists an end offset short of the true one.
    produce(broker.bootstrap, topic, [orjson.dumps(alert(i)) for i in range(200)])
    tail = Tail(broker.bootstrap, topic, "--max", "1", "--json")
    assert "from its end (200 records before)" in tail.started, tail.started
    produce(broker.bootstrap, topic, [orjson.dumps(alert(999, ticket_id="NEW"))])
    lines, err, code = tail.finish()
    assert code == 0, err
    assert [orjson.loads(x)["ticket_id"] for x in lines] == ["NEW"]


def test_tail_prints_text_as_text_one_alert_a_line(
    broker: BrokerHandle, make_topic: TopicFactory
) -> None:
    topic = make_topic(partitions=1)
    hostile = [
        alert(1, responsible={"team": "[/]", "agent": "a-1"}),
        alert(2, responsible={"team": "t", "agent": "[link=https://evil.example]x[/link]"}),
        alert(3, responsible={"team": "t\x1b[31mred", "agent": "a\x1b]8;;http://e\x07b\nnext"}),
        alert(4, kind="retraction", retracts="ab" * 16, reason="late_event", level=None),
    ]
    produce(broker.bootstrap, topic, [orjson.dumps(a) for a in hostile])
    lines, err, code = Tail(broker.bootstrap, topic, "--from-beginning", "--max", "4").finish()
    assert code == 0 and "Traceback" not in err, err
    assert len(lines) == 4, lines  # one alert a line, never wrapped at 80 columns
    assert "team=[/]" in lines[0]
    assert "agent=[link=https://evil.example]x[/link]" in lines[1]
    text = "\n".join(lines)
    assert "\x1b" not in text and "\x07" not in text  # no colour, no hyperlink, no raw ESC
    assert "team=t\\x1b[31mred" in lines[2] and "b\\nnext" in lines[2]
    assert lines[3].startswith("retraction") and "retracts abababababab (late_event)" in lines[3]


def test_tail_shows_dead_letters(broker: BrokerHandle, make_topic: TopicFactory) -> None:
    topic = make_topic(partitions=1, suffix="dlq")
    dead = {
        "reason": "not JSON: unexpected character",
        "raw": "x" * 500,
        "topic": "tickets.events",
        "partition": 3,
        "offset": 1234,
        "detected_at": "2026-12-01T10:00:00+00:00",
    }
    produce(broker.bootstrap, topic, [orjson.dumps(dead), b"\xff not json"])
    lines, err, code = Tail(broker.bootstrap, topic, "--from-beginning", "--max", "2").finish()
    assert code == 0 and "Traceback" not in err, err
    assert lines[0].startswith("dead-letter tickets.events[3]@1234 reason=not JSON")
    assert "x" * 120 + "… (500 chars)" in lines[0] and "x" * 121 not in lines[0]
    assert lines[1].startswith("unreadable record:")


def test_tail_names_the_likely_topic(broker: BrokerHandle, make_topic: TopicFactory) -> None:
    topic = make_topic(partitions=1)
    done = subprocess.run(
        [SLA, "tail", "--broker", broker.bootstrap, "--topic", topic[:-1]],
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"topic {topic[:-1]!r} does not exist" in done.stderr
    assert f"topics there: {topic}" in done.stderr  # the likely one first


def test_tail_json_into_head_ends_quietly(broker: BrokerHandle, make_topic: TopicFactory) -> None:
    topic = make_topic(partitions=1)
    # More than a pipe's buffer (64 KiB): tail writes after head has gone, and must notice.
    produce(broker.bootstrap, topic, [orjson.dumps(alert(i)) for i in range(1000)])
    done = subprocess.run(
        [
            "bash",
            "-o",
            "pipefail",
            "-c",
            f"{SLA} tail --broker {broker.bootstrap} --topic {topic} --from-beginning --json "
            "--idle-timeout 20 | head -1",
        ],
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert len(done.stdout.splitlines()) == 1
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.returncode == 141


def test_tail_says_once_the_broker_went_away_and_gives_up(tmp_path: Path) -> None:
    own = EmbeddedBroker(log_dir=tmp_path).start()
    try:
        own.create_topics({"sla.alerts": 1})
        tail = Tail(own.bootstrap, "sla.alerts", "--connect-timeout", "3")
        assert "following sla.alerts" in tail.started
        own.stop()
        _, err, code = tail.finish(timeout=60)
    finally:
        own.close()
    assert code == 2, err
    said = [x for x in err.splitlines() if x.strip()]
    assert said[1:] == [
        f"sla-engine tail: the broker at {own.bootstrap} does not answer; giving up after 3 s "
        "(--connect-timeout)",
        f"sla-engine tail: no Kafka broker answers at {own.bootstrap} for 3 s; giving up",
    ], err


def read_until(fd: int, pattern: str, seen: list[str], timeout: float) -> re.Match[str]:
    """Read the terminal until `pattern` shows (everything read goes to `seen`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(pattern, "".join(seen))
        if found:
            return found
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                seen.append(os.read(fd, 65536).decode(errors="replace"))
            except OSError:
                break
    raise AssertionError(f"no {pattern!r} within {timeout} s in:\n{''.join(seen)}")


def test_embedded_run_on_a_terminal(tmp_path: Path) -> None:
    """Started as `./scripts/run` starts it: the banner's tail command runs as printed, status
    lines come, Ctrl-C ends it at once and silently with 130, and nothing is left behind."""
    master, slave = pty.openpty()
    data = tmp_path / "data"
    (data / "embedded-999999999").mkdir(parents=True)  # left by a killed run: removed
    elsewhere = tmp_path / "home"  # the operator's shell is not in the repository
    elsewhere.mkdir()
    proc = subprocess.Popen(
        [ROOT / "scripts" / "run", "--metrics-port", str(free_port()), "--data-dir", str(data)],
        cwd=elsewhere,
        env=env(PATH="/usr/local/bin:/usr/bin:/bin"),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    seen: list[str] = []
    try:
        banner = read_until(master, r"alerts +(\S.*tail --broker \S+)\r?\n", seen, 90)
        command = banner.group(1).strip()
        run_dir = read_until(master, r"run state +(\S+)", seen, 5).group(1)
        assert Path(run_dir).parent == data
        assert not (data / "embedded-999999999").exists()
        metrics = read_until(master, r"metrics +http://127\.0\.0\.1:(\d+)/metrics", seen, 5)
        assert listening(int(metrics.group(1))) == ["127.0.0.1"]  # loopback, not 0.0.0.0
        assert [p.name for p in Path(run_dir).glob("tansu-*.log")]  # the broker's log is there
        assert command.startswith(os.path.relpath(ROOT, elsewhere)), command
        tail = subprocess.run(
            f"{command} --from-beginning --max 1 --json",
            shell=True,
            cwd=elsewhere,
            env=env(PATH="/usr/bin:/bin"),  # a fresh shell: no virtualenv on PATH
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert tail.returncode == 0, (command, tail.stderr)
        assert orjson.loads(tail.stdout)["kind"] in ("warning", "breach", "escalation")
        read_until(master, r"partitions of tickets\.events assigned: 0,1,2,3", seen, 60)
        status = r"\d+:\d+:\d+ [\d.,]+ events/s · \d+ open tickets · \d+ alerts emitted"
        read_until(master, status + r" · consumer lag \d+", seen, 60)
        before = len("".join(seen))
        os.kill(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=2)  # the bound: stopped within 2 s
        time.sleep(0.2)
        try:
            while select.select([master], [], [], 0.2)[0]:
                seen.append(os.read(master, 65536).decode(errors="replace"))
        except OSError:
            pass  # the terminal closed with the process
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
    assert code == 130
    after = "".join(seen)[before:]
    assert after.replace("^C", "").strip() == "", after  # silent: no librdkafka line
    assert list(data.iterdir()) == []  # the run's folder (state and broker log) is gone


def test_run_on_a_broker_says_where_and_exits_by_signal(
    broker: BrokerHandle, tmp_path: Path
) -> None:
    """`run --broker`: one start line, then (with --status-interval, as on a terminal) the
    assignment and status lines; 130 after SIGINT, 0 after SIGTERM; /metrics on loopback."""
    for sig, expected in ((signal.SIGINT, 130), (signal.SIGTERM, 0)):
        port = free_port()
        group = f"operator-{int(sig)}-{time.monotonic_ns()}"
        proc = subprocess.Popen(
            [
                SLA,
                "run",
                "--broker",
                broker.bootstrap,
                "--group",
                group,
                "--metrics-port",
                str(port),
                "--data-dir",
                str(tmp_path / group),
                "--status-interval",
                "1",
            ],
            env=env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert first.startswith(f"sla-engine run: worker of group {group} on {broker.bootstrap}")
        assert f"metrics http://127.0.0.1:{port}/metrics" in first
        lines = []
        while not any(" events/s · " in x for x in lines):
            lines.append(proc.stderr.readline())
            assert lines[-1], "".join(lines)
        assert any("partitions of tickets.events assigned:" in x for x in lines)
        assert listening(port) == ["127.0.0.1"]
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == expected
        proc.stderr.close()


def listening(port: int) -> list[str]:
    """Addresses a TCP socket listens on at `port` (from /proc/net/tcp and tcp6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            addr, _, hexport = local.partition(":")
            if state == "0A" and int(hexport, 16) == port:
                found.append(
                    ".".join(str(b) for b in reversed(bytes.fromhex(addr)))
                    if len(addr) == 8
                    else addr
                )
    return found


def consumed(port: int) -> float:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return -1
    found = re.search(r"^sla_events_consumed_total (\S+)$", text, re.M)
    return float(found.group(1)) if found else -1


# The embedded broker only (CI time): the newcomer's `sla-engine run` restores from it.
@pytest.mark.brokers("tansu")
def test_run_shows_the_restore_progress(broker: BrokerHandle, tmp_path: Path) -> None:
    """A worker started into an empty data dir restores its tables from the changelogs and
    shows it: `restoring state [###…] N % (done of total changelog records)`."""
    from workload import lines

    events = lines(3000, seed=16)
    (tmp_path / "events.jsonl").write_bytes(b"\n".join(events) + b"\n")
    topic = f"restore-events-{time.monotonic_ns()}"
    group = f"restore-{time.monotonic_ns()}"

    def start(state: str) -> tuple[subprocess.Popen[str], int]:
        port = free_port()
        proc = subprocess.Popen(
            [
                SLA,
                "run",
                "--broker",
                broker.bootstrap,
                "--group",
                group,
                "--events-topic",
                topic,
                "--metrics-port",
                str(port),
                "--data-dir",
                str(tmp_path / state),
                "--status-interval",
                "1",
            ],
            env=env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        return proc, port

    first, port = start("a")
    produce_cmd = [SLA, "produce", "--input", str(tmp_path / "events.jsonl"), "--topic", topic]
    subprocess.run([*produce_cmd, "--broker", broker.bootstrap], env=env(), check=True)
    deadline = time.monotonic() + 300
    while consumed(port) < len(events):
        assert time.monotonic() < deadline and first.poll() is None, "events not consumed"
        time.sleep(0.5)
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=60) == 0
    assert first.stderr is not None
    first.stderr.close()
    second, _ = start("b")  # empty: every table comes back from its changelog
    assert second.stderr is not None
    seen: list[str] = []
    try:
        while not any(" events/s · " in x for x in seen):
            seen.append(second.stderr.readline())
            assert seen[-1], "".join(seen)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=60)
        second.stderr.close()
    bars = [x for x in seen if "restoring state [" in x]
    assert bars, "".join(seen)
    assert re.search(r"\[[#.]{24}\] +\d+ % \([\d,]+ of [\d,]+ changelog records\)", bars[-1])


def test_produce_says_the_broker_went_away_and_what_was_lost(tmp_path: Path) -> None:
    own = EmbeddedBroker(log_dir=tmp_path).start()
    try:
        own.create_topics({"tickets.events": 4})
        proc = subprocess.Popen(
            [SLA, "produce", "--input", "-", "--broker", own.bootstrap, "--connect-timeout", "3"],
            env=env(),
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdin is not None and proc.stderr is not None
        first = [orjson.dumps(alert(i)) for i in range(500)]
        proc.stdin.write(b"\n".join(first) + b"\n")
        proc.stdin.flush()
        own.stop()
        proc.stdin.write(b"\n".join(orjson.dumps(alert(i)) for i in range(500, 1000)) + b"\n")
        proc.stdin.close()
        code = proc.wait(timeout=60)
        err = proc.stderr.read().decode()
    finally:
        own.close()
    assert code == 1, err
    said = err.strip().splitlines()
    assert said[0] == (
        f"sla-engine produce: the broker at {own.bootstrap} does not answer; giving up after "
        "3 s (--connect-timeout)"
    ), err
    assert re.fullmatch(
        rf"sla-engine produce: \d+ of 1000 messages not delivered to {own.bootstrap} \(.+\)",
        said[-1],
    ), err
    assert len(said) == 2 and "Traceback" not in err  # no librdkafka flood

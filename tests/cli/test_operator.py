"""Issue 16, offline: what an operator sees from the real command, before any broker answers.
Pipes that close early, choices checked, a dead broker as one clear line, defaults in --help,
the embedded run validating before it prints its banner, rejects reasons without --rejects."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from kafka_io.process import free_port

ROOT = Path(__file__).resolve().parents[2]
WEEK = "tests/data/worked-week/week-events.jsonl"
UNTIL = "2026-12-05T00:00:00+08:00"
SLA = str(Path(sys.executable).with_name("sla-engine"))


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    return out | extra


def sh(command: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess[str]:
    """`command` through bash with pipefail, from the repository root, as a person types it."""
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=ROOT,
        env=env(**extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_no_traceback(err: str) -> None:
    assert "Traceback" not in err and "Error:" not in err.replace("error: ", ""), err


@pytest.mark.parametrize(
    ("command", "lines"),
    [
        (f"{SLA} replay --input {WEEK} --until {UNTIL} 2>/dev/null | head -2", 2),
        (
            f"{SLA} whatif --input {WEEK} --policy tests/cli/data/policy-b-fast.yaml "
            f"--until {UNTIL} --json | head -3",
            3,
        ),
        (f"{SLA} accountability --input {WEEK} --period 2026-W48 --until {UNTIL} | head -2", 2),
    ],
    ids=["replay", "whatif-json", "accountability"],
)
def test_a_closed_pipe_ends_quietly(command: str, lines: int) -> None:
    done = sh(command)
    assert_no_traceback(done.stderr)
    assert "BrokenPipe" not in done.stderr
    assert "Exception" not in done.stderr, done.stderr
    assert len(done.stdout.splitlines()) == lines
    # 141 (128 + SIGPIPE) from sla-engine, or 0 when it finished before head closed the pipe.
    assert done.returncode in (0, 141), (done.returncode, done.stderr)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--kind", "breaches"], "invalid choice: 'breaches'"),
        (["--priority", "D"], "invalid choice: 'D'"),
        (["--clock", "first_respons"], "did you mean 'first_response'"),
    ],
)
def test_tail_rejects_a_typo_at_once(args: list[str], said: str) -> None:
    done = subprocess.run(
        [SLA, "tail", "--broker", "127.0.0.1:1", *args],
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert said in done.stderr
    assert_no_traceback(done.stderr)


def dead_address() -> str:
    return f"127.0.0.1:{free_port()}"


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--broker", "{addr}", "--metrics-port", "0"],
        ["tail", "--broker", "{addr}", "--connect-timeout", "2"],
        ["produce", "--input", WEEK, "--broker", "{addr}", "--connect-timeout", "2"],
    ],
    ids=["run", "tail", "produce"],
)
def test_a_dead_broker_is_one_clear_line(argv: list[str]) -> None:
    addr = dead_address()
    done = subprocess.run(
        [SLA, *(a.format(addr=addr) for a in argv)],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert f"no Kafka broker answers at {addr}" in done.stderr
    assert "check --broker / SLA_BROKER" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr  # no librdkafka flood
    assert_no_traceback(done.stderr)


def test_a_broker_without_a_port_is_named() -> None:
    done = subprocess.run(
        [SLA, "run", "--broker", "127.0.0.1", "--metrics-port", "0"],
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "no Kafka broker answers at 127.0.0.1 (127.0.0.1: not HOST:PORT" in done.stderr
    assert_no_traceback(done.stderr)


def test_run_reads_the_broker_from_sla_broker() -> None:
    addr = dead_address()
    done = subprocess.run(
        [SLA, "run", "--metrics-port", "0"],
        env=env(SLA_BROKER=addr),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"sla-engine run: no Kafka broker answers at {addr}" in done.stderr


def test_embedded_run_checks_the_policy_before_its_banner(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("clocks: [\n", encoding="utf-8")
    done = subprocess.run(
        [SLA, "run", "--policy", str(bad), "--data-dir", str(tmp_path / "d")],
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "the policy cannot be used" in done.stderr
    assert "embedded broker" not in done.stdout and "first alerts" not in done.stdout
    assert not (tmp_path / "d").exists()  # nothing started, nothing left


def test_embedded_run_checks_the_metrics_port_before_its_banner(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [SLA, "run", "--metrics-port", str(port), "--data-dir", str(tmp_path / "d")],
            env=env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0
    assert f"cannot serve metrics on 127.0.0.1:{port}" in done.stderr
    assert "first alerts" not in done.stdout
    assert_no_traceback(done.stderr)


def test_run_help_shows_the_defaults() -> None:
    done = subprocess.run(
        [SLA, "run", "--help"], env=env(COLUMNS="200"), capture_output=True, text=True
    )
    out = " ".join(done.stdout.split())
    for shown in (
        "(default: data)",
        "(default: 9108)",
        "(default: 4)",
        "(default: 127.0.0.1)",
        "SLA_METRICS_HOST",
    ):
        assert shown in out, shown
    for command in ("produce", "tail", "demo-stream"):
        text = subprocess.run(
            [SLA, command, "--help"], env=env(COLUMNS="200"), capture_output=True, text=True
        ).stdout
        topic_help = " ".join(text.split()).rsplit("--topic TOPIC", 1)[1]
        assert topic_help.lstrip().startswith("topic to"), (command, topic_help[:80])


def test_replay_names_the_first_reject_reasons(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    good = (ROOT / WEEK).read_bytes().splitlines()[:5]
    bad = [b"not json", b'{"type": "created"}', b"[1, 2]", b"{also not json", b'"x"']
    events.write_bytes(b"\n".join(good[:2] + bad + good[2:]) + b"\n")
    done = subprocess.run(
        [SLA, "replay", "--input", str(events), "--output", str(tmp_path / "a.jsonl")],
        env=env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0
    err = done.stderr
    assert "5 rejected" in err
    assert "line 3: not JSON" in err
    assert "line 4:" in err and "line 5:" in err
    assert "and 2 more" in err
    assert "--rejects FILE" in err
    with_file = subprocess.run(
        [SLA, "replay", "--input", str(events), "--rejects", str(tmp_path / "r.jsonl")],
        env=env(),
        capture_output=True,
        text=True,
    )
    assert "line 3:" not in with_file.stderr  # the file has them all
    rejects = [orjson.loads(x) for x in (tmp_path / "r.jsonl").read_bytes().splitlines()]
    assert [r["line"] for r in rejects] == [3, 4, 5, 6, 7]


def test_report_marks_empty_weeks_lists_missing_fields_and_rates_teams_with_enough_surveys(
    tmp_path: Path,
) -> None:
    """The worked week's November report: W49 (one day of the month, 0 tickets accepted) is
    marked and not plotted; record completeness says which fields are missing how often; a
    team with 3 surveys is not flagged (default `min_surveys` 5) and says why."""
    import base64
    import re

    kpis, page = tmp_path / "kpis.jsonl", tmp_path / "r.html"
    replay = [SLA, "replay", "--input", WEEK, "--until", UNTIL, "--output", os.devnull]
    subprocess.run([*replay, "--kpis", str(kpis)], cwd=ROOT, env=env(), check=True)
    done = subprocess.run(
        [SLA, "report", "--input", str(kpis), "--period", "2026-11", "--html", str(page)],
        env=env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    rows = {line.split("│")[1].strip(): line for line in done.stdout.splitlines() if "│" in line}
    assert "2026-W49 * †" in rows
    assert "† no ticket accepted in it: rates from older tickets, not plotted" in done.stdout
    assert "Missing record fields (93 closed tickets)" in done.stdout
    assert re.search(r"│ customer_confirmed\s+│\s+93 │\s+100\.0 % │", done.stdout)
    assert "teams with at least 5 surveys" in done.stdout
    assert "too few surveys" in rows["team-3"] and "FLAGGED" not in rows["team-3"]
    assert "FLAGGED" in rows["team-1"]
    html = page.read_text(encoding="utf-8")
    assert "<td>2026-W49 * †</td>" in html and "<td>too few surveys</td>" in html
    assert "<h3>Missing record fields (93 closed tickets)</h3>" in html
    pattern = r'<img alt="(Line chart[^"]+)" src="data:image/svg\+xml;base64,([^"]+)"'
    ((_, svg),) = re.findall(pattern, html)
    line = base64.b64decode(svg).decode().split('id="trend-csat"', 1)[1].split("</g>", 1)[0]
    assert line.count("<use") == 1  # W48 only: the empty W49 has no point

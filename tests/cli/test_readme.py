"""Issue 16 §1 and §14: the README's examples are real runs. The 30-second example runs as
written from a fresh shell (no virtualenv on PATH); its summary, comparison and sample alert
line are what that run prints; the whatif rows are rows of the real table.

After a change of the engine's output: `.venv/bin/python -m tests.cli.test_readme --write`
rewrites the generated parts from a real run (then review the diff)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SAMPLE_TICKET, SAMPLE_CLOCK, SAMPLE_KIND = "W0000001", "survey_dispatch", "breach"
WIDTH = 96


def fenced(text: str, after: str, lang: str) -> tuple[int, int]:
    """Character span of the body of the first ```lang block after the line `after`."""
    start = text.index(f"```{lang}\n", text.index(after)) + len(f"```{lang}\n")
    return start, text.index("```", start)


def commands(block: str) -> list[tuple[str, str]]:
    """(command, the comment lines after it) of a shell block, continuations joined."""
    out: list[tuple[str, str]] = []
    for line in block.replace("\\\n", " ").splitlines():
        if line.startswith("# ") and out:
            out[-1] = (out[-1][0], (out[-1][1] + "\n" + line[2:]).strip())
        elif line.strip():
            out.append((" ".join(line.split()), ""))
    return out


def wrap_json(line: str, width: int = WIDTH) -> str:
    """A compact JSON object over lines of at most `width` characters, broken between
    members (`,"` boundaries): still the same JSON."""
    parts = re.split(r'(?<=,)(?=")', line)
    lines, current = [], ""
    for part in parts:
        if current and len(current) + len(part) > width:
            lines.append(current)
            current = ""
        current += part
    lines.append(current)
    return "\n".join(lines) + "\n"


def run_example(block: str) -> dict[str, str]:
    """Run each command of the block as written, in a fresh directory beside the clone's
    `tests` and `.venv`; what each printed (stdout + stderr), and the alerts it wrote."""
    printed: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("tests", ".venv"):
            os.symlink(ROOT / name, Path(tmp) / name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
        env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
        for command, _ in commands(block):
            done = subprocess.run(
                command, shell=True, cwd=tmp, env=env, capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, (command, done.stderr)
            printed[command] = (done.stdout + done.stderr).strip()
        printed["alerts.jsonl"] = (Path(tmp) / "alerts.jsonl").read_text(encoding="utf-8")
    return printed


def sample_alert(alerts: str) -> str:
    for line in alerts.splitlines():
        a = orjson.loads(line)
        if (a["ticket_id"], a["clock"], a["kind"]) == (SAMPLE_TICKET, SAMPLE_CLOCK, SAMPLE_KIND):
            return line
    raise AssertionError("the sample alert is not in the replay")


def generated(text: str) -> str:
    """The README with its generated parts taken from a real run."""
    a, b = fenced(text, "## A 30-second example", "bash")
    block = text[a:b]
    printed = run_example(block)
    for command, comment in commands(block):  # the commands keep their layout as written
        if comment:
            block = block.replace(
                "".join(f"# {x}\n" for x in comment.splitlines()),
                "".join(f"# {x}\n" for x in printed[command].splitlines()),
            )
    text = text[:a] + block + text[b:]
    c, d = fenced(text, "One line of `alerts.jsonl`", "json")
    return text[:c] + wrap_json(sample_alert(printed["alerts.jsonl"])) + text[d:]


def test_the_30_second_example_is_a_real_run() -> None:
    text = README.read_text(encoding="utf-8")
    a, b = fenced(text, "## A 30-second example", "bash")
    block = text[a:b]
    assert all(c.startswith((".venv/bin/", "python3 ")) for c, _ in commands(block))
    printed = run_example(block)
    for command, comment in commands(block):
        assert comment == printed[command], command
    c, d = fenced(text, "One line of `alerts.jsonl`", "json")
    shown = text[c:d]
    real = sample_alert(printed["alerts.jsonl"])
    assert orjson.loads(shown) == orjson.loads(real)
    assert shown == wrap_json(real)  # byte for byte: `--write` regenerates it


def test_the_whatif_rows_are_real() -> None:
    text = README.read_text(encoding="utf-8")
    a, b = fenced(text, "Example, B's first response shortened", "")
    lines = [x.strip() for x in text[a:b].splitlines() if x.strip()]
    command = " ".join(" ".join(lines[:2]).replace("\\", " ").split()).removeprefix("$ ")
    assert command.startswith(".venv/bin/sla-engine whatif")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    done = subprocess.run(
        command,
        shell=True,
        cwd=ROOT,
        env=env | {"COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    real = {" ".join(x.split()) for x in done.stdout.splitlines()}
    for row in lines[2:]:
        assert " ".join(row.split()) in real, row


def test_every_documented_command_names_a_runnable_program() -> None:
    """Shell blocks run `.venv/bin/sla-engine` (or `./scripts/…`); prose says how the bare
    `sla-engine …` of the command list runs."""
    text = README.read_text(encoding="utf-8")
    for block in re.findall(r"```(?:bash|)\n(.*?)```", text, re.S):
        for line in block.splitlines():
            stripped = line.strip().removeprefix("$ ")
            assert not stripped.startswith("sla-engine "), line
    assert "`. .venv/bin/activate`" in text


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.cli.test_readme --write")
    README.write_text(generated(README.read_text(encoding="utf-8")), encoding="utf-8")

"""`cli.process_exit`: the console script leaves at once when a command held its state, with
everything written flushed and the exit status kept; in-process nothing is held."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cli import process_exit
from tests.cli.test_replay import UNTIL, cli_cmd
from tests.worked_week import WEEK


def test_in_process_nothing_is_held() -> None:
    process_exit.hold(object())
    assert process_exit._held == []  # `main()` in the tests frees as usual


def test_leaving_at_once_flushes_and_keeps_the_status(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    script = (
        "import logging, sys\n"
        "from cli import process_exit as p\n"
        f"logging.basicConfig(filename={str(log)!r}, level=logging.INFO)\n"
        "p.enable(); p.hold(list(range(10)))\n"
        "print('out', end=''); sys.stderr.write('err'); logging.info('logged')\n"
        "p.leave(3)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, b"out", b"err")
    assert "logged" in log.read_text()


def test_the_console_script_replay_writes_every_alert(tmp_path: Path) -> None:
    """The replay holds its tickets to the exit: the file and stdout are still complete."""
    out = tmp_path / "a.jsonl"
    args = ["replay", "--input", str(WEEK), "--until", UNTIL]
    to_file = subprocess.run([*cli_cmd(), *args, "--output", str(out)], capture_output=True)
    to_stdout = subprocess.run([*cli_cmd(), *args, "--output", "-"], capture_output=True)
    assert to_file.returncode == to_stdout.returncode == 0, to_file.stderr + to_stdout.stderr
    assert out.read_bytes() == to_stdout.stdout
    assert len(to_stdout.stdout.splitlines()) > 100
    assert b"695 events of 120 tickets" in to_file.stderr

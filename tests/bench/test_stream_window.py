"""`bench stream` refuses a due window whose last tickets would be created further in the future
than the worker accepts (`--max-skew`): their events would go to the dead-letter topic and the
run would count missing warnings that were never the worker's to give."""

from __future__ import annotations

import pytest

from cli.main import main


def test_a_due_window_past_the_workers_max_skew_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "stream", "--phases", "timers", "--due-window", "600"]) == 2
    err = capsys.readouterr().err
    assert "at most 360 s" in err and "555 s in the future" in err and "--max-skew" in err

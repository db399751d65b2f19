"""`sla-engine run --role`: a bad role and a split role without a broker are one clear line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cli.test_operator import ROOT, SLA, assert_no_traceback, env


@pytest.mark.parametrize(
    ("argv", "extra", "code", "message"),
    [  # a bad value of any setting exits 1 (`topologies.settings.resolve`), a refused run 2
        (["--role", "kpi"], {}, 1, "sla-engine: --role: bad value 'kpi' (one of all, sla, kpis)"),
        ([], {"SLA_ROLE": "sla"}, 2, "sla-engine run: --role sla needs --broker"),
        (["--role", "kpis"], {}, 2, "sla-engine run: --role kpis needs --broker"),
    ],
    ids=["unknown", "sla-from-env", "kpis"],
)
def test_a_role_the_run_cannot_take_is_one_clear_line(
    argv: list[str], extra: dict[str, str], code: int, message: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [SLA, "run", "--metrics-port", "0", "--data-dir", str(tmp_path), *argv],
        cwd=ROOT,
        env=env(**extra),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert_no_traceback(done.stderr)
    assert list(tmp_path.iterdir()) == []  # nothing started

"""A smoke run of `sla-engine bench restore` with tiny sizes (issue 14: each benchmark's smoke run
is in CI): the pre-loaded tickets are the restoring worker's, the figures are reported."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.integration.harness import REPO

ARGS = ["--open-tickets", "300", "--partitions", "2", "--modes", "bulk", "--timeout", "120"]


def test_bench_restore_smoke_run_restores_every_preloaded_ticket() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "cli.main", "bench", "restore", *ARGS],
        cwd=REPO,
        capture_output=True,
        timeout=300,
        check=True,
    )
    result = json.loads(out.stdout)
    assert result["config"]["preloaded_tickets"] == 300
    assert result["config"]["broker"] == "embedded tansu"
    (run,) = result["runs"]
    assert run["mode"] == "bulk" and run["open_tickets"] == 300
    assert run["recovery_s"] is not None and run["recovery_s"] > 0
    assert run["rocksdb_bytes_per_open_ticket"] > 0
    assert b"restore 300 open tickets (bulk): serving after" in out.stderr

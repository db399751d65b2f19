"""Shared helpers of the docker/ tests: paths and the `promtool` binary."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
PROMETHEUS = DOCKER / "prometheus"
INSTALL_HINT = (
    "promtool not found: install Debian's `prometheus` package "
    "(`sudo apt-get install prometheus`; scripts/bootstrap does it when run as root), "
    "or set PROMTOOL to the binary"
)


def find_prometheus() -> str | None:
    """The Prometheus server binary (PROMETHEUS_BIN, else on PATH)."""
    explicit = os.environ.get("PROMETHEUS_BIN")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    return shutil.which("prometheus")


def find_promtool() -> str | None:
    explicit = os.environ.get("PROMTOOL")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    return shutil.which("promtool")


@pytest.fixture(scope="session")
def promtool() -> str:
    """The promtool binary; skipped with an install hint when it is missing, except on CI
    (CI=true), where scripts/bootstrap installs it and its absence is an error."""
    path = find_promtool()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(INSTALL_HINT)
        pytest.skip(INSTALL_HINT)
    return path


def run_promtool(promtool: str, *args: str | Path) -> str:
    """Run promtool; its output, or a test failure that shows it."""
    proc = subprocess.run(
        [promtool, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        pytest.fail(f"promtool {' '.join(map(str, args))} failed ({proc.returncode}):\n{out}")
    return out

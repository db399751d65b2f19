"""The launchers' child processes: a free loopback port, a process group stopped as a whole."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

from kafka_io.process import _ephemeral_low, free_port, stop_group


def test_free_port_can_be_bound_on_loopback() -> None:
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))


def test_stop_group_stops_the_child_and_what_it_started() -> None:
    """A child that ignores SIGTERM and has a child of its own: both are gone afterwards."""
    script = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, start_new_session=True
    )
    assert proc.stdout is not None
    grandchild = int(proc.stdout.readline())
    stop_group(proc, timeout=1.0, sig=signal.SIGTERM)  # ignored: SIGKILL after 1 s
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 10  # SIGKILL is delivered at once; dying takes a moment
    while (state := _state(grandchild)) not in ("gone", "Z") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert state in ("gone", "Z")  # killed with its group (a zombie until its reaper runs)


def _state(pid: int) -> str:
    """The process's state letter (`R`, `S`, `Z`, ...), `gone` once it no longer exists."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1].split()[0]
    except FileNotFoundError:
        return "gone"


def test_free_ports_are_distinct_and_below_the_ephemeral_range() -> None:
    """No outgoing connection can take a port picked below the range the kernel draws from."""
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(p < _ephemeral_low() for p in ports)

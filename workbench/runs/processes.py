"""The process that writes a run, known by its pid and host (from the run's events):
is it still there, and asking it to stop. One place for both, so a viewer and the
stop key agree on which runs they can see into."""

from __future__ import annotations

import os
import signal
import socket
from typing import Any


def _local_pid(pid: Any, host: Any) -> int | None:
    """``pid`` when it is a process of this machine, else None (another host's
    process cannot be looked at or signalled from here)."""
    return pid if host == socket.gethostname() and isinstance(pid, int) else None


def process_alive(pid: Any, host: Any) -> bool:
    """Is the process still there? One on another host (or unknown) counts as alive:
    nothing here can tell it has gone."""
    local = _local_pid(pid, host)
    if local is None:
        return True
    import psutil  # os.kill(pid, 0) would end the process on Windows

    return psutil.pid_exists(local)


def interrupt_process(pid: Any, host: Any) -> bool:
    """Send Ctrl-C (SIGINT) to a process of this machine; False when that cannot be
    done (another host, no such process, not ours)."""
    local = _local_pid(pid, host)
    if local is None:
        return False
    try:
        os.kill(local, signal.SIGINT)
    except (ProcessLookupError, PermissionError):
        return False
    return True

"""Summaries of run folders, for `workbench runs` and the TUI."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.runs.folder import EVENTS, read_events


@dataclass
class RunSummary:
    """One line about a run, read from its events."""

    path: Path
    name: str
    recipe: str
    task: str
    status: str  # running, completed, stopped, failed, died
    metric: str | None
    best_value: float | None
    steps: int
    total_steps: int | None
    started: float | None
    duration_s: float | None
    error: str | None


def _alive(pid: Any, host: Any) -> bool:
    """Is the process that writes a run still there? Unknown hosts count as alive."""
    if host != socket.gethostname() or not isinstance(pid, int):
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def summarize(run_dir: str | Path) -> RunSummary:
    """Summarise one run folder from its events (tolerates a half-written last line)."""
    run_dir = Path(run_dir)
    created: dict = {}
    start: dict = {}
    end: dict | None = None
    steps = 0
    best = None
    last_time = None
    for event in read_events(run_dir):
        kind = event.get("type")
        last_time = event.get("time", last_time)
        if kind == "created":
            created = event
        elif kind == "start":
            start = event
        elif kind == "step":
            steps = event.get("step", steps)
        elif kind == "eval" and event.get("split") == "validation":
            best = event.get("best_value", best)
        elif kind == "end":
            end = event
    if end is not None:
        status = end.get("status", "failed")
        steps = end.get("steps") or steps
        best = end.get("best_value", best)
    else:
        status = "running" if _alive(created.get("pid"), created.get("host")) else "died"
    started = created.get("time")
    duration = end.get("duration_s") if end else (
        (last_time - started) if (last_time and started) else None)
    return RunSummary(
        path=run_dir, name=run_dir.name,
        recipe=start.get("recipe") or (created.get("recipe_values") or {}).get("name") or "",
        task=start.get("task") or (created.get("recipe_values") or {}).get("task", ""),
        status=status, metric=start.get("metric") or (end or {}).get("metric"),
        best_value=best, steps=steps, total_steps=start.get("total_steps"),
        started=started, duration_s=duration, error=(end or {}).get("error"))


def list_runs(runs_dir: str | Path) -> list[RunSummary]:
    """Every run folder under ``runs_dir``, newest first."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    folders = [p for p in runs_dir.iterdir() if p.is_dir() and (p / EVENTS).is_file()]
    return [summarize(p) for p in sorted(folders, key=lambda p: p.name, reverse=True)]

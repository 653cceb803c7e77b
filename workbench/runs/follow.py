"""Following a run folder while another process writes it, and folding its
events into the state a viewer draws: loss and metric curves, the latest
report and the one before it, progress, and the end.

Pure Python and no Textual: the TUI polls a ``RunState`` a few times a second,
a script or a test can do the same.
"""

from __future__ import annotations

import math
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.runs.folder import EventFollower

# A curve keeps at most this many points; older ones are merged pairwise so the
# whole run stays visible at bounded memory, however long it trains.
MAX_POINTS = 4000
SMOOTHING = 0.6  # EMA weight of the smoothed loss (TensorBoard's default)


def writer_alive(pid: Any, host: Any) -> bool:
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


@dataclass
class Curve:
    """``(x, y)`` points with bounded length: past ``MAX_POINTS`` neighbours merge."""

    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)

    def add(self, x: float, y: float) -> None:
        self.xs.append(x)
        self.ys.append(y)
        if len(self.xs) > MAX_POINTS:
            # Neighbours merge into their mean, at the later x; an odd last point stays.
            tail = ([self.xs[-1]], [self.ys[-1]]) if len(self.xs) % 2 else ([], [])
            self.xs = self.xs[1::2] + tail[0]
            self.ys = [(a + b) / 2 for a, b in zip(self.ys[0::2], self.ys[1::2])] + tail[1]

    def __len__(self) -> int:
        return len(self.xs)


@dataclass
class RunState:
    """Everything a viewer shows about one run, built from its events."""

    run_dir: Path
    created: dict[str, Any] = field(default_factory=dict)
    start: dict[str, Any] = field(default_factory=dict)
    last_step: dict[str, Any] = field(default_factory=dict)
    end: dict[str, Any] | None = None
    loss: Curve = field(default_factory=Curve)
    smoothed: Curve = field(default_factory=Curve)
    metric: Curve = field(default_factory=Curve)  # validation metric at each eval
    report: dict[str, Any] | None = None  # latest validation report
    previous_report: dict[str, Any] | None = None
    best_report: dict[str, Any] | None = None
    test_report: dict[str, Any] | None = None
    evals: list[dict[str, Any]] = field(default_factory=list)  # eval events without reports
    version: int = 0  # bumped on every event: viewers redraw only when it moved
    _ema: float | None = None

    def apply(self, event: dict[str, Any]) -> None:
        """Fold one event into the state."""
        kind = event.get("type")
        self.version += 1
        if kind == "created":
            self.created = event
        elif kind == "start":
            self.start = event
        elif kind == "step":
            self.last_step = event
            loss, step = event.get("loss"), event.get("step", 0)
            if isinstance(loss, (int, float)) and math.isfinite(loss):
                self._ema = loss if self._ema is None else (
                    SMOOTHING * self._ema + (1 - SMOOTHING) * loss)
                self.loss.add(step, loss)
                self.smoothed.add(step, self._ema)
        elif kind == "eval":
            summary = {k: v for k, v in event.items() if k != "report"}
            if event.get("split") == "test":
                self.test_report = event.get("report")
            else:
                self.evals.append(summary)
                value = event.get("value")
                if isinstance(value, (int, float)):
                    self.metric.add(event.get("step", 0), value)
                self.previous_report, self.report = self.report, event.get("report")
                if event.get("best"):
                    self.best_report = event.get("report")
        elif kind == "end":
            self.end = event

    def extend(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.apply(event)

    @property
    def name(self) -> str:
        return Path(self.run_dir).name

    @property
    def status(self) -> str:
        """completed / stopped / failed from the end event; otherwise running,
        or died when the writing process is gone."""
        if self.end is not None:
            return self.end.get("status", "failed")
        if not self.created:
            return "starting"
        return "running" if writer_alive(self.created.get("pid"), self.created.get("host")) else "died"

    @property
    def metric_name(self) -> str | None:
        return self.start.get("metric") or (self.end or {}).get("metric")

    @property
    def total_steps(self) -> int | None:
        return self.start.get("total_steps")

    @property
    def step(self) -> int:
        if self.end and self.end.get("steps"):
            return self.end["steps"]
        return self.last_step.get("step", 0)

    @property
    def recipe_values(self) -> dict[str, Any]:
        return self.created.get("recipe_values") or {}


def load_state(run_dir: str | Path) -> RunState:
    """The state of a run folder as it is now (finished or not)."""
    state = RunState(Path(run_dir))
    state.extend(EventFollower(run_dir).poll())
    return state

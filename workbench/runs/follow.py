"""Following a run folder while another process writes it, and folding its
events into the state a viewer draws: loss and metric curves, the latest
report and the one before it, progress, and the end.

Pure Python and no Textual: the TUI polls a ``RunState`` a few times a second,
a script or a test can do the same.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.runs.events import (
    BatchAdjusted,
    Checkpoint,
    Created,
    End,
    Eval,
    Event,
    ModelSaved,
    Resumed,
    Start,
    Status,
    Step,
)
from workbench.runs.folder import EVENTS, REPORT_JSON, EventFollower
from workbench.runs.processes import process_alive

# A curve keeps at most this many points; older ones are merged pairwise so the
# whole run stays visible at bounded memory, however long it trains.
MAX_POINTS = 4000
SMOOTHING = 0.6  # EMA weight of the smoothed loss (TensorBoard's default)


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

    def truncate(self, x_max: float) -> None:
        """Drop the points after ``x_max``."""
        keep = sum(1 for x in self.xs if x <= x_max)
        del self.xs[keep:], self.ys[keep:]

    def __len__(self) -> int:
        return len(self.xs)


@dataclass
class RunState:
    """Everything a viewer shows about one run, built from its events."""

    run_dir: Path
    created: Created | None = None
    start: Start | None = None  # the latest start, or resume (a Resumed is a Start)
    resumes: list[Resumed] = field(default_factory=list)
    last_step: Step | None = None
    end: End | None = None
    loss: Curve = field(default_factory=Curve)
    smoothed: Curve = field(default_factory=Curve)
    metric: Curve = field(default_factory=Curve)  # validation metric at each eval
    evals: list[Eval] = field(default_factory=list)  # validation evaluations, in order
    test: Eval | None = None
    model: ModelSaved | None = None  # the latest best model saved
    checkpoint: Checkpoint | None = None  # the latest resumable checkpoint
    adjustments: list[BatchAdjusted] = field(default_factory=list)
    version: int = 0  # bumped on every event: viewers redraw only when it moved
    log_pending: bool = False  # the log ends in a line without its newline
    log_skipped: int = 0  # lines of the log that were not events
    _ema: float | None = None
    _saved: dict | None = None  # report.json, read once the writer is found gone

    def apply(self, event: Event) -> None:
        """Fold one event into the state."""
        self.version += 1
        if isinstance(event, Created):
            self.created = event
        elif isinstance(event, Resumed):
            self._resume(event)
        elif isinstance(event, Start):
            self.start = event
        elif isinstance(event, Step):
            self.last_step = event
            if isinstance(event.loss, (int, float)) and math.isfinite(event.loss):
                self._ema = (
                    event.loss
                    if self._ema is None
                    else (SMOOTHING * self._ema + (1 - SMOOTHING) * event.loss)
                )
                self.loss.add(event.step, event.loss)
                self.smoothed.add(event.step, self._ema)
        elif isinstance(event, Eval):
            if event.split == "test":
                self.test = event
            else:
                self.evals.append(event)
                if isinstance(event.value, (int, float)):
                    self.metric.add(event.step, event.value)
        elif isinstance(event, ModelSaved):
            self.model = event
        elif isinstance(event, Checkpoint):
            self.checkpoint = event
        elif isinstance(event, BatchAdjusted):
            self.adjustments.append(event)
        elif isinstance(event, End):
            self.end = event

    def _resume(self, event: Resumed) -> None:
        """Training went on from ``event.from_step``: what an earlier process logged
        after that step is superseded (the resumed process logs it again)."""
        self.start = event
        self.resumes.append(event)
        self.end = None
        self.test = None
        self._saved = None  # the resumed process writes its own report.json, or none
        cut = event.from_step
        for curve in (self.loss, self.smoothed, self.metric):
            curve.truncate(cut)
        self._ema = self.smoothed.ys[-1] if self.smoothed.ys else None
        self.evals = [e for e in self.evals if e.step <= cut]
        self.adjustments = [e for e in self.adjustments if e.step <= cut]
        if self.last_step is not None and self.last_step.step > cut:
            # Where training stands until the resumed process logs its first step.
            self.last_step = Step(
                step=cut,
                time=event.time,
                total_steps=event.total_steps,
                epoch=cut / event.steps_per_epoch if event.steps_per_epoch else 0.0,
            )

    def extend(self, events: list[Event]) -> None:
        for event in events:
            self.apply(event)

    def follow(self, follower: EventFollower) -> list[Event]:
        """Fold in what ``follower`` finds appended to the log; returns those events."""
        events = follower.poll()
        self.extend(events)
        if (follower.pending, follower.skipped) != (self.log_pending, self.log_skipped):
            self.log_pending, self.log_skipped = follower.pending, follower.skipped
            self.version += 1
        return events

    @property
    def saved_report(self) -> dict[str, Any]:
        """``report.json``, for a run whose log lost its end: written just before the
        end event, it tells a finished run from a dead one."""
        if self._saved is None:
            path = Path(self.run_dir) / REPORT_JSON
            try:
                saved = json.loads(path.read_text("utf-8"))
                # one from before the latest resume tells how an earlier attempt ended
                if self.resumes and path.stat().st_mtime < (self.resumes[-1].time or 0):
                    saved = {}
            except (OSError, ValueError):
                saved = {}
            if not isinstance(saved, dict) or not isinstance(saved.get("reports", {}), dict):
                saved = {}
            self._saved = saved
        return self._saved

    @property
    def damaged(self) -> bool:
        """The log lost lines (torn by a crash or a full disk, or edited), and its
        writer is gone: what it says may be incomplete."""
        return (
            bool(self.log_skipped or self.log_pending)
            and self.end is None
            and self.created is not None
            and not process_alive(*self.writer)
        )

    @property
    def name(self) -> str:
        return Path(self.run_dir).name

    @property
    def writer(self) -> tuple[int | None, str | None]:
        """(pid, host) of the process that writes the run now: the latest resume's,
        else the creator's."""
        source = self.resumes[-1] if self.resumes else self.created
        return (source.pid, source.host) if source is not None else (None, None)

    @property
    def damage_note(self) -> str | None:
        """What a reader is told about a damaged log, or None."""
        if not self.damaged:
            return None
        how = (
            "its last line is cut short"
            if self.log_pending
            else f"{self.log_skipped} line(s) are not events"
        )
        told = (
            "its status is from report.json"
            if self.saved_report
            else "no report.json to tell how it ended"
        )
        return f"{EVENTS} is damaged ({how}); {told}"

    @property
    def status(self) -> Status:
        """From the end event; otherwise running, or, when the writing process is
        gone, what its ``report.json`` says (a log that lost its end), else died."""
        if self.end is not None:
            return Status.of(self.end.status)
        if self.created is None:
            return Status.STARTING
        if process_alive(*self.writer):
            return Status.RUNNING
        saved = self.saved_report
        if saved.get("status") in {s.value for s in Status}:
            return Status.of(saved["status"])
        if "test" in (saved.get("reports") or {}):  # the last thing a completed run does
            return Status.COMPLETED
        return Status.DIED

    @property
    def report(self) -> dict[str, Any] | None:
        """The latest validation report."""
        return self.evals[-1].report if self.evals else None

    @property
    def previous_report(self) -> dict[str, Any] | None:
        return self.evals[-2].report if len(self.evals) > 1 else None

    @property
    def best_report(self) -> dict[str, Any] | None:
        best = [e for e in self.evals if e.best]
        return best[-1].report if best else None

    @property
    def test_report(self) -> dict[str, Any] | None:
        if self.test is not None:
            return self.test.report
        if self.end is None and self.status == Status.COMPLETED:  # its log lost the end
            return (self.saved_report.get("reports") or {}).get("test")
        return None

    @property
    def best_value(self) -> float | None:
        if self.end is not None:
            return self.end.best_value
        if self.status == Status.COMPLETED and self.saved_report.get("best_value") is not None:
            return self.saved_report["best_value"]
        return self.evals[-1].best_value if self.evals else None

    @property
    def metric_name(self) -> str | None:
        return (self.start.metric if self.start else None) or (
            self.end.metric if self.end else None
        )

    @property
    def total_steps(self) -> int | None:
        return self.start.total_steps if self.start else None

    @property
    def step(self) -> int:
        if self.end is not None and self.end.steps:
            return self.end.steps
        return self.last_step.step if self.last_step else 0

    @property
    def recipe_values(self) -> dict[str, Any]:
        return (self.created.recipe_values if self.created else None) or {}

    @property
    def recipe_name(self) -> str:
        values = self.recipe_values
        return (self.start.recipe if self.start else "") or values.get("name") or ""

    @property
    def task(self) -> str:
        return (self.start.task if self.start else "") or self.recipe_values.get("task", "")


def load_state(run_dir: str | Path) -> RunState:
    """The state of a run folder as it is now (finished or not)."""
    state = RunState(Path(run_dir))
    state.follow(EventFollower(run_dir))
    return state

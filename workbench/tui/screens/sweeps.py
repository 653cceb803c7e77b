"""Sweeps and the queue: the sweeps under the runs folder, the chosen one's trials
best first with its best-so-far curve, each trial one key from its Run screen;
below, what the queue runs where and what waits."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from rich.markup import escape
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from workbench.errors import WorkbenchError
from workbench.sweeps.present import (
    STATE_STYLE,
    done_count,
    last_value,
    short_name,
    sort_trials,
    state_text,
    value_text,
)
from workbench.sweeps.study import Sweep, TrialRow, open_sweep, sweep_folders
from workbench.tui.format import axis_limits, duration_text, metric_text
from workbench.tui.widgets.chart import CurveChart, Series

REFRESH_S = 3.0
QUEUE_STYLE = {
    "waiting": "dim",
    "running": "cyan",
    "completed": "green",
    "failed": "red",
    "stopped": "yellow",
    "removed": "dim",
}
RETRY_S = 30.0  # a sweep whose study could not be read is tried again after this


def best_so_far(sweep: Sweep, rows: list[TrialRow]) -> tuple[list[float], list[float]]:
    """Trial numbers and the best value reached by then (completed trials)."""
    pick = min if sweep.spec.direction == "minimize" else max
    xs, ys, best = [], [], None
    for row in sorted(rows, key=lambda r: r.number):
        if row.state == "completed" and row.value is not None:
            best = row.value if best is None else pick(best, row.value)
        if best is not None:
            xs.append(float(row.number))
            ys.append(best)
    return xs, ys


class SweepsScreen(Screen):
    """The sweeps under ``<runs>/sweeps`` and the queue."""

    BINDINGS = [
        Binding("enter", "open", "Open trial"),
        Binding("b", "best", "Best recipe"),
    ]

    def __init__(self):
        super().__init__()
        self.sweeps: list[Sweep] = []
        self.rows: list[TrialRow] = []
        self.chosen: Path | None = None
        self._studies: dict[Path, object] = {}  # one open study a sweep, kept
        self._failed: dict[Path, tuple[float, str]] = {}  # when and why a study failed

    def compose(self) -> ComposeResult:
        yield Static("", id="sweeps-title")
        with Horizontal(id="sweeps-main"):
            yield DataTable(id="sweep-list", cursor_type="row", zebra_stripes=True)
            with Vertical(id="sweep-detail"):
                yield DataTable(id="trial-table", cursor_type="row", zebra_stripes=True)
                yield CurveChart(xlabel="trial", id="sweep-chart")
        yield Static("", id="queue-title")
        yield DataTable(id="queue-table", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        # Trials and best first: a narrow terminal cuts the sweep's name, not its figures.
        self.query_one("#sweep-list", DataTable).add_columns("trials", "best", "sweep")
        self.query_one("#queue-table", DataTable).add_columns("#", "status", "slots", "job", "for")
        self.action_refresh()
        self.set_interval(REFRESH_S, self.action_refresh)
        self.query_one("#sweep-list", DataTable).focus()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    @property
    def sweeps_dir(self) -> Path:
        return Path(self.app.runs_dir) / "sweeps"  # type: ignore[attr-defined]

    def _trials(self, sweep: Sweep) -> list[TrialRow]:
        """Its trials; a study that cannot be read is said in place and left alone for
        a while (a database out of reach must not stall every refresh)."""
        failed = self._failed.get(sweep.folder)
        if failed is not None and time.monotonic() - failed[0] < RETRY_S:
            sweep.error = failed[1]
            return []
        try:
            if sweep.folder not in self._studies:
                self._studies[sweep.folder] = sweep.study()
            return sweep.trials(self._studies[sweep.folder])
        except Exception as exc:  # noqa: BLE001 - one broken sweep must not break the screen
            sweep.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self._failed[sweep.folder] = (time.monotonic(), sweep.error)
            self._studies.pop(sweep.folder, None)
            return []

    def action_refresh(self) -> None:
        self.sweeps = []
        for folder in sweep_folders(self.sweeps_dir):
            with contextlib.suppress(WorkbenchError):  # a damaged sweep.json: not listed
                self.sweeps.append(open_sweep(folder))
        table = self.query_one("#sweep-list", DataTable)
        cursor = table.cursor_row
        table.clear()
        for sweep in self.sweeps:
            rows = self._trials(sweep)
            done = done_count(rows)
            best = sweep.best(rows)
            table.add_row(
                Text(f"{done}/{sweep.spec.trials}", justify="right"),
                metric_text(sweep.spec.metric, best.value) if best else "-",
                escape(sweep.folder.name),
                key=str(sweep.folder),
            )
        if self.sweeps:
            table.move_cursor(row=min(max(cursor, 0), len(self.sweeps) - 1))
        self.query_one("#sweeps-title", Static).update(
            f"[b]sweeps[/b] in {escape(str(self.sweeps_dir))} · {len(self.sweeps)} "
            f"sweep{'' if len(self.sweeps) == 1 else 's'}"
            + (
                ""
                if self.sweeps
                else " · none yet: w on a recipe with a [sweep] table, or workbench sweep"
            )
        )
        self._show_sweep()
        self._show_queue()

    def _current_sweep(self) -> Sweep | None:
        table = self.query_one("#sweep-list", DataTable)
        if not self.sweeps or not 0 <= table.cursor_row < len(self.sweeps):
            return None
        return self.sweeps[table.cursor_row]

    def _show_sweep(self) -> None:
        sweep = self._current_sweep()
        table = self.query_one("#trial-table", DataTable)
        chart = self.query_one("#sweep-chart", CurveChart)
        cursor = table.cursor_row
        table.clear(columns=True)
        if sweep is None:
            self.rows = []
            chart.show([], title="best so far", empty="no sweep chosen")
            return
        names = [p.rpartition("=")[0] for p in sweep.spec.params]
        table.add_columns("#", "state", sweep.spec.metric, *map(short_name, names), "steps")
        self.rows = sort_trials(sweep, self._trials(sweep))
        metric = sweep.spec.metric
        for row in self.rows:
            state = state_text(row)
            # A pruned or running trial shows the last value it reported, dimmed.
            value = (
                Text(metric_text(metric, row.value), justify="right")
                if row.value is not None
                else Text(metric_text(metric, last_value(row)), justify="right", style="dim")
            )
            table.add_row(
                Text(str(row.number), justify="right"),
                Text(state, style=STATE_STYLE.get(row.state, "")),
                value,
                *(Text(value_text(row.params.get(n, "-")), justify="right") for n in names),
                Text(str(row.steps) if row.steps is not None else "-", justify="right"),
                key=str(row.number),
            )
        if self.rows:
            table.move_cursor(row=min(max(cursor, 0), len(self.rows) - 1))
        xs, ys = best_so_far(sweep, self.rows)
        scale = 1.0 if metric == "loss" else 100.0
        done = [r for r in self.rows if r.state == "completed" and r.value is not None]
        chart.show(
            [
                Series("best so far", xs, [scale * y for y in ys], limits=axis_limits(metric)),
                Series(
                    "trials",
                    [float(r.number) for r in done],
                    [scale * (r.value or 0.0) for r in done],
                    scatter=True,
                    limits=axis_limits(metric),
                ),
            ],
            title=f"{metric} by trial",
            empty=sweep.error or "no trial has completed yet",
        )

    def _show_queue(self) -> None:
        from workbench.runs.queue import Queue

        table = self.query_one("#queue-table", DataTable)
        title = self.query_one("#queue-title", Static)
        try:
            queue = Queue.open()
            jobs = queue.jobs(include_ended=True)
            scheduler = queue.scheduler_pid()
        except (WorkbenchError, OSError) as exc:
            title.update(f"[b]queue[/b] · [red]{escape(str(exc))}[/]")
            return
        table.clear()
        # What runs and waits, then the last few that ended.
        shown = [j for j in jobs if not j.is_ended] + [j for j in jobs if j.is_ended][-5:]
        now = time.time()
        for job in shown:
            since = job.ended or now
            took = since - (job.started or job.added)
            table.add_row(
                Text(str(job.id), justify="right"),
                Text(job.status, style=QUEUE_STYLE.get(job.status, "")),
                job.slots or "-",
                escape(job.label),
                duration_text(took),
                key=str(job.id),
            )
        waiting = sum(j.status == "waiting" for j in jobs)
        running = sum(j.status == "running" for j in jobs)
        runner = (
            f"scheduler pid {scheduler}"
            if scheduler
            else "[yellow]no scheduler: workbench queue run --detach[/]"
        )
        title.update(f"[b]queue[/b] · {running} running · {waiting} waiting · {runner}")

    @on(DataTable.RowHighlighted, "#sweep-list")
    def _sweep_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_sweep()

    @on(DataTable.RowSelected, "#trial-table")
    def _trial_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        """The highlighted trial's Run screen (the trials table), or its first trial."""
        table = self.query_one("#trial-table", DataTable)
        if not self.rows:
            return
        row = self.rows[min(table.cursor_row, len(self.rows) - 1)]
        if not row.run_dir or not Path(row.run_dir).is_dir():
            self.notify(f"Trial {row.number} has no run folder here.", severity="warning")
            return
        self.app.open_run(Path(row.run_dir))  # type: ignore[attr-defined]

    def action_best(self) -> None:
        """Write the best trial's recipe beside the sweep and say where."""
        sweep = self._current_sweep()
        best = sweep.best(self.rows) if sweep else None
        if sweep is None or best is None:
            self.notify("No trial has completed yet.", severity="warning")
            return
        path = sweep.folder / "best.toml"
        path.write_text(sweep.best_recipe(best), encoding="utf-8")
        self.notify(f"Trial {best.number}'s recipe: {path}\nworkbench run {path}", timeout=10)

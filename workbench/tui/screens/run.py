"""One run, live or finished: progress, the loss and metric chart, the latest
report with its changes, the log, and Stop.

The screen polls the run folder's events a few times a second (the run itself
trains in another process), so drawing never slows training; the chart is
redrawn at most once a second.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

from rich.console import Console, Group
from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, ProgressBar, RichLog, Static

from workbench.console import ConsoleView
from workbench.models.vocabulary import short_warning
from workbench.reports import metrics_line, parameters_text, precision_name, report_renderable
from workbench.runs.events import Status
from workbench.runs.follow import EventFollower, RunState
from workbench.runs.launch import LaunchedRun
from workbench.runs.processes import interrupt_process
from workbench.tui.format import (
    as_shown,
    axis_limits,
    best_text,
    duration_text,
    memory_text,
    status_markup,
)
from workbench.tui.screens.confirm import ConfirmScreen
from workbench.tui.widgets.chart import CurveChart, Series

POLL_S = 0.5


def eta_clock() -> float:
    """The clock the ETA counts down by (a name of its own: tests stop it)."""
    return time.monotonic()


CHART_EVERY_S = 1.0


def run_curves(state: RunState) -> list[Series]:
    """The series a run's chart shows: raw and smoothed loss, and the validation
    metric at each evaluation (right axis)."""
    series = [
        Series("loss", state.loss.xs, state.loss.ys, color="gray", marker="dot", scatter=True),
        Series("smoothed", state.smoothed.xs, state.smoothed.ys, color="cyan", marker="braille"),
    ]
    if len(state.metric):
        series.append(
            Series(
                f"{state.metric_name or 'metric'}",
                state.metric.xs,
                as_shown(state.metric_name, state.metric.ys),
                scatter=True,
                right=True,
                color="orange",
                marker="●",
                limits=axis_limits(state.metric_name),
            )
        )
    return series


class RunScreen(Screen):
    """Follows one run folder; ``launched`` is the child process when this app
    started the run."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("s", "stop", "Stop"),
        Binding("p", "predict", "Predict"),
        Binding("r", "resume", "Resume"),
        Binding("v", "toggle_report", "Reports"),
        Binding("l", "toggle_log", "Log", show=False),
    ]

    def __init__(self, run_dir: str | Path | None = None, launched: LaunchedRun | None = None):
        super().__init__()
        self.launched = launched
        self.state: RunState | None = None
        self.follower: EventFollower | None = None
        self._shown_version = -1
        self._report_key: tuple = ()
        self._chart_version = -1
        self._chart_time = 0.0
        self._log_view: ConsoleView | None = None
        self._log_buffer = io.StringIO()
        self._stop_requested = False
        self._error_shown = False
        self._resumable_shown: int | None = None
        self._exited_shown = False
        self._validation_first = False  # a finished run: best validation report above test
        self._eta_step, self._eta_read = None, 0.0
        self._text_time = 0.0
        self._keys_for: tuple = ()  # what the footer's keys were last worked out from
        if run_dir is not None:
            self._follow_folder(Path(run_dir))

    def compose(self) -> ComposeResult:
        yield Static("", id="run-title")
        with Horizontal(id="progress-row"):
            yield ProgressBar(id="progress", show_eta=False)
            yield Static("", id="progress-text")
        yield Static("", id="device-line")
        with Horizontal(id="run-body"):
            yield CurveChart("training loss", id="loss-chart")
            with VerticalScroll(id="report-pane"):
                yield Static("no evaluation yet", id="report")
        yield RichLog(id="log", max_lines=1000, wrap=True, markup=False)
        yield Footer(compact=True, show_command_palette=False)  # Ctrl+P still opens it

    def on_mount(self) -> None:
        if self.launched is not None:
            self.query_one("#run-title", Static).update(
                f"[b]{escape(self.launched.label)}[/b] · starting `workbench run` "
                f"(pid {self.launched.pid})…"
            )
        self.poll()
        self.set_interval(POLL_S, self.poll)

    # -- following ------------------------------------------------------------------
    def _follow_folder(self, run_dir: Path) -> None:
        self.state = RunState(run_dir)
        self.follower = EventFollower(run_dir)
        if self.launched is None:
            # Not our child: the log is the console view's lines, made from events.
            console = Console(
                file=self._log_buffer, width=200, color_system=None, force_terminal=False
            )
            self._log_view = ConsoleView(console, live=False, show_reports=False)

    def poll(self) -> None:
        """Read what the run wrote since the last poll and redraw what changed."""
        log = self.query_one("#log", RichLog)
        if self.launched is not None:
            for line in self.launched.read_output():
                if line.strip():
                    log.write(line)
            if self.state is None and self.launched.run_dir is not None:
                self._follow_folder(self.launched.run_dir)
            if self.state is None and self.launched.returncode is not None:
                self._show_launch_error()
                return
            if self.launched.returncode == 2 and not self._error_shown:
                # Refused before writing anything (a resume whose data changed...).
                self._error_shown = True
                self.notify(
                    self.launched.error() or "workbench run refused to start",
                    severity="error",
                    timeout=15,
                )
        state = self.state
        if state is None or self.follower is None:
            return
        events = state.follow(self.follower)
        if events and self._log_view is not None:
            for event in events:
                self._log_view(event)
            text = self._log_buffer.getvalue()
            self._log_buffer.seek(0)
            self._log_buffer.truncate()
            for line in text.splitlines():
                if line.strip():
                    log.write(line)
        resumable = self._resumable_from()
        exited = self.launched is not None and self.launched.returncode is not None
        if (
            state.version != self._shown_version
            or resumable != self._resumable_shown
            or exited != self._exited_shown
        ):
            self._resumable_shown, self._exited_shown = resumable, exited
            keys = (
                state.status,
                resumable,
                exited,
                state.test_report is not None,
                state.best_report is not None,
            )
            if keys != self._keys_for:  # Stop may no longer apply; Resume, Reports may
                self._keys_for = keys
                self.refresh_bindings()
            self._shown_version = state.version
            self._draw_text(state)
            self._draw_report(state)
        elif state.status == Status.RUNNING and eta_clock() - self._text_time >= 1.0:
            self._draw_text(state)  # the ETA counts down between step events
        now = time.monotonic()
        finished = state.end is not None
        if self._chart_version != state.version and (
            finished or now - self._chart_time >= CHART_EVERY_S
        ):
            self._chart_version, self._chart_time = state.version, now
            self._draw_chart(state)

    def _show_launch_error(self) -> None:
        launched = self.launched
        if launched is None:
            return
        self.query_one("#run-title", Static).update(
            Text.assemble(
                (launched.label, "bold"),
                " · ",
                ("✖ could not start: ", "red bold"),
                launched.error() or "unknown error",
            )
        )
        self.query_one("#report", Static).update(
            "The run did not start; nothing was written. Fix the recipe or data and launch "
            "again (Escape goes back)."
        )
        self.query_one("#progress", ProgressBar).update(total=1, progress=0)
        self.query_one("#device-line", Static).update("")
        self.query_one("#loss-chart", CurveChart).show([], empty="the run did not start")

    # -- drawing ----------------------------------------------------------------------
    def _draw_text(self, state: RunState) -> None:
        self._text_time = eta_clock()
        start, step = state.start, state.last_step
        model = (start.model if start else "") or state.recipe_values.get("model", {}).get(
            "name", ""
        )
        title = f"[b]{state.name}[/b] · {state.task} on {model} · {status_markup(state.status)}"
        if state.resumes and state.end is None:
            title += f" · resumed from step {state.resumes[-1].from_step}"
        resumable = self._resumable_from()
        if resumable is not None:
            title += f" · ↻ can resume from step {resumable} (r)"
        if state.end and state.end.error:
            title += f" · {Text(state.end.error).markup}"
        if state.damage_note:
            title += f" · [yellow]⚠ {escape(state.damage_note)}[/]"
        blind = short_warning(start.coverage, start.vocabulary_added > 0) if start else None
        if blind:
            title += f" · [yellow]⚠ {escape(blind)}[/]"
        if self._stop_requested and state.end is None:
            title += " · stopping after this step…"
        self.query_one("#run-title", Static).update(title)

        total = state.total_steps
        bar = self.query_one("#progress", ProgressBar)
        if total:
            bar.update(total=total, progress=state.step)
        # Most telling first: a narrow terminal cuts the end of these lines.
        parts = [f"step {state.step}/{total}" if total else f"step {state.step}"]
        if step and state.end is None and state.status == Status.RUNNING:
            parts.append(f"ETA {duration_text(self._eta(step))}")
            parts.append(f"{step.samples_per_s or 0:.1f} samples/s")
        if state.end is not None:
            parts.append(f"took {duration_text(state.end.duration_s)}")
        if step:
            epochs = start.epochs if start else None
            parts.append(f"epoch {step.epoch:.2f}" + (f"/{epochs:.2f}" if epochs else ""))
        self.query_one("#progress-text", Static).update(" · ".join(parts))

        device = start.device if start else ""
        line = []
        if state.evals and state.evals[-1].best_value is not None:
            last = state.evals[-1]
            line.append(f"best {best_text(last.metric, last.best_value)} @ step {last.best_step}")
        if step:
            if step.loss is not None:
                line.append(f"loss {step.loss:.4f}")
            if state.smoothed.ys:
                line.append(f"smoothed {state.smoothed.ys[-1]:.4f}")
        if start is not None and device:
            line.append(f"{device} {precision_name(start.precision)}")
        params = start and parameters_text(
            start.tuning, start.trainable_params, start.total_params, short=True
        )
        if params:
            line.append(params)
        if step:
            line.append(memory_text(step.memory_mb, device))
            line.append(f"lr {step.learning_rate or 0:.2e}")
        self.query_one("#device-line", Static).update(
            " · ".join(line) or "waiting for the run to start…"
        )

    def _eta(self, step) -> float | None:
        """The step event's estimate, counted down in whole seconds since this screen
        read it (step events come every log_every steps)."""
        if step is not self._eta_step:
            self._eta_step, self._eta_read = step, eta_clock()
        if step.eta_s is None:
            return None
        return max(0.0, step.eta_s - int(eta_clock() - self._eta_read))

    def _draw_report(self, state: RunState) -> None:
        key = (
            len(state.evals),
            len(state.resumes),
            state.test_report is not None,
            state.end is not None,
            self._validation_first,
        )
        if key == self._report_key:
            return
        self._report_key = key
        parts: list = []
        if state.end is not None and state.end.traceback:
            parts += [Text(state.end.traceback.strip().splitlines()[-1], style="red"), ""]
        finished = state.end is not None or state.status == Status.COMPLETED
        if finished and (state.test_report or state.best_report):
            # a log that lost its end: report.json knows the step
            best_step = state.end.best_step if state.end else state.saved_report.get("best_step")
            at = f"step {best_step}" if best_step is not None else "step ?"
            titled = [
                (f"test · best model ({at})", state.test_report),
                (f"best validation · {at}", state.best_report),
            ]
            if self._validation_first:
                titled.reverse()
            reports = [(title, report) for title, report in titled if report is not None]
            for number, (title, report) in enumerate(reports):
                # the one below the fold is a key away, and the footer says which
                other = " · v swaps" if len(reports) > 1 and not number else ""
                parts += [
                    Text.assemble((title, "bold"), (other, "dim")),
                    Text(metrics_line(report["metrics"]), style="dim"),
                    report_renderable(report, compact=True),
                    "",
                ]
        elif state.report:
            last = state.evals[-1]
            marker = " · ★ best so far" if last.best else ""
            sub = (
                f"Δ F1 since step {state.evals[-2].step}"
                if len(state.evals) > 1
                else "Δ F1 shows from the next evaluation"
            )
            parts += [
                Text(f"validation · step {last.step}{marker}", style="bold"),
                Text(f"{metrics_line(state.report['metrics'])} · {sub}", style="dim"),
                report_renderable(state.report, previous=state.previous_report, compact=True),
            ]
        else:
            parts.append("no evaluation yet")
        self.query_one("#report", Static).update(Group(*parts))

    def _draw_chart(self, state: RunState) -> None:
        empty = (
            "the run ended before its first logged step"
            if state.end
            else "waiting for the first logged step"
        )
        self.query_one("#loss-chart", CurveChart).show(
            run_curves(state), title="training loss", empty=empty
        )

    # -- actions ------------------------------------------------------------------------
    def _resumable_from(self) -> int | None:
        state = self.state
        if state is None or state.checkpoint is None or not state.status.resumable:
            return None
        if self.launched is not None and self.launched.returncode is None:
            return None  # its process is still finishing
        return state.checkpoint.step

    def action_resume(self) -> None:
        step = self._resumable_from()
        if step is None or self.state is None:
            self.notify(
                "Only a stopped, failed or died run with a checkpoint can resume.",
                severity="warning",
            )
            return
        self.app.pop_screen()
        self.app.confirm_resume(self.state.run_dir, step)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """Stop is offered only while the run trains, Resume once it can resume."""
        if action == "resume":
            return self._resumable_from() is not None
        if action == "toggle_report":
            state = self.state
            return (
                state is not None
                and state.test_report is not None
                and state.best_report is not None
            )
        if action == "stop":
            running = (
                self.state is not None and self.state.status in (Status.RUNNING, Status.STARTING)
            ) or (self.launched is not None and self.launched.returncode is None)
            return running
        return True

    def action_stop(self) -> None:
        state = self.state
        if self.launched is not None and state is None and self.launched.returncode is None:
            self.launched.stop()
            return
        if state is None or state.status != Status.RUNNING:
            self.notify("This run is not running.", severity="warning")
            return

        def answer(yes: bool | None) -> None:
            if not yes:
                return
            if self.launched is not None and self.launched.returncode is None:
                self.launched.stop()
            elif not interrupt_process(*state.writer):
                self.notify("Cannot stop a run that another machine is writing.", severity="error")
                return
            self._stop_requested = True
            self._shown_version = -1
            self.notify("Stopping after the current step.")

        self.app.push_screen(
            ConfirmScreen(
                f"Stop [b]{state.name}[/b]?\nIt ends as stopped after the current step and keeps "
                + (
                    "its best checkpoint so far."
                    if state.evals
                    else "its model as it is (no evaluation has run yet)."
                ),
                yes="Stop",
            ),
            answer,
        )

    def action_predict(self) -> None:
        if self.state is None:
            return
        self.app.open_predict(self.state.run_dir)

    def action_toggle_report(self) -> None:
        """A finished run: best validation report first, or the test report."""
        self._validation_first = not self._validation_first
        if self.state is not None:
            self._draw_report(self.state)
        self.query_one("#report-pane", VerticalScroll).scroll_home(animate=False)

    def action_toggle_log(self) -> None:
        log = self.query_one("#log", RichLog)
        log.display = not log.display

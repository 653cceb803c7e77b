"""The headless view: Rich live progress in a terminal, one plain line per event
when stdout is not a terminal (CI logs, nohup), so logs are never flooded."""

from __future__ import annotations

import datetime as _dt
import os
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from workbench.reports import (
    metrics_line,
    parameters_text,
    precision_name,
    report_renderable,
)
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
from workbench.runs.folder import RUN_FOLDER_PREFIX


def silence_stdout() -> None:
    """Point stdout at /dev/null: what is still buffered for a pipe whose reader
    has gone (`| head`) is dropped instead of failing on the way out."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no stdout at all (pythonw)
        pass


class PipeSafeConsole(Console):
    """A Console that goes quiet when the reader of its pipe goes away, where Rich's
    own exits with status 1: `workbench runs | head` ends well, and a training run
    whose log reader went away trains on (its run folder is its output)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        silence_stdout()


class BuildBar:
    """``kg build``'s progress events drawn as a bar, in a terminal only (the core
    emits them and prints nothing). A context manager: the bar goes on exit."""

    def __init__(self, console: Console):
        self.progress = Progress(
            TextColumn("[bold]building[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("documents · {task.fields[rate]} docs/s"),
            TimeElapsedColumn(),
            console=console,
            disable=not console.is_terminal,
        )
        self.task = None

    def __enter__(self) -> BuildBar:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def __call__(self, event) -> None:
        """One ``BuildProgress``: ``done`` of ``total`` documents after ``seconds``."""
        rate = f"{event.documents_per_s:.1f}"
        if self.task is None:
            self.task = self.progress.add_task("build", total=event.total, rate=rate)
        self.progress.update(self.task, completed=event.done, rate=rate)


def status_markup(status: str, resumable_from: int | None = None, damaged: bool = False) -> str:
    """``[green]✔ completed[/]``: a symbol and a word, readable without colour;
    ``↻300`` after it when the run can resume from a checkpoint at step 300, and
    ``⚠`` when its log is damaged (the CLI's runs table and the TUI alike)."""
    status = Status.of(status)
    resume = f" ↻{resumable_from}" if resumable_from is not None else ""
    warning = " [yellow]⚠[/]" if damaged else ""
    return f"[{status.color}]{status.symbol} {status}[/]{resume}{warning}"


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return str(_dt.timedelta(seconds=int(seconds)))


class ConsoleView:
    """An event sink that draws a run in the terminal."""

    def __init__(
        self, console: Console | None = None, live: bool | None = None, show_reports: bool = True
    ):
        self.console = console or Console()
        self.live = self.console.is_terminal if live is None else live
        self.show_reports = show_reports
        self.progress: Progress | None = None
        self.task_id = None
        self.total = 0

    def __call__(self, event: Event) -> None:
        handler = getattr(self, f"on_{event.type}", None)
        if handler is not None:
            handler(event)

    def _line(self, text: str, **style) -> None:
        self.console.print(text, highlight=False, soft_wrap=True, **style)

    def on_created(self, event: Created) -> None:
        # One line whatever the width: other processes read the path back from it.
        self._line(f"{RUN_FOLDER_PREFIX}{event.path}")

    def on_start(self, event: Start) -> None:
        self.total = event.total_steps or 0
        examples = ", ".join(f"{k} {v}" for k, v in event.examples.items())
        processes = f" x {event.processes} processes" if event.processes > 1 else ""
        accumulation = (
            f" ({event.gradient_accumulation} micro-batches of {event.micro_batch_size}{processes})"
            if (event.gradient_accumulation or 1) > 1 or processes
            else ""
        )
        packed = ", examples packed into shared rows" if event.packed else ""
        params = parameters_text(event.tuning, event.trainable_params, event.total_params)
        self._line(
            f"{event.recipe}: {event.task} on {event.model}"
            f"{f' ({params})' if params else ''} | {event.device}, "
            f"precision {precision_name(event.precision)} | {examples} | {self.total} steps "
            f"({event.epochs:.2f} epochs of {event.steps_per_epoch}), batch "
            f"{event.batch_size}{accumulation}{packed} | best by {event.metric}"
        )
        if event.compile_s is not None:
            self._line(f"compiled in {event.compile_s:.1f} s (torch.compile)", style="dim")
        if event.vocabulary_added:
            self._line(f"{event.vocabulary_added:,} tokens added to the vocabulary", style="dim")
        for line in event.coverage_warnings:
            self._line(f"warning: {line}", style="yellow")
        if event.cached_features:
            self._line(
                f"tokenised features of {', '.join(event.cached_features)} read from the cache "
                "(WORKBENCH_CACHE)",
                style="dim",
            )
        if self.live:
            self._start_progress()

    def on_resumed(self, event: Resumed) -> None:
        self._line(f"resuming from {event.checkpoint} (step {event.from_step})", style="cyan")
        self.on_start(event)
        if self.progress is not None:
            self.progress.update(self.task_id, completed=event.from_step)

    def _start_progress(self) -> None:
        if self.progress is not None:
            self.progress.stop()
        self.progress = Progress(
            TextColumn("epoch {task.fields[epoch]:.2f}"),
            BarColumn(),
            TextColumn("step {task.completed}/{task.total}"),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("lr {task.fields[lr]}"),
            # The engine's estimate (whole steps, evaluations included), from the first
            # logged step; Rich's own waits for enough updates to time its bar.
            TextColumn("{task.fields[speed]} samples/s"),
            TextColumn("eta {task.fields[eta]}"),
            console=self.console,
            transient=False,
        )
        self.task_id = self.progress.add_task(
            "train", total=self.total, epoch=0.0, loss="-", lr="-", speed="-", eta="-"
        )
        self.progress.start()

    def on_step(self, event: Step) -> None:
        loss = f"{event.loss:.4f}" if event.loss is not None else "nan"
        lr = f"{event.learning_rate:.2e}" if event.learning_rate is not None else "-"
        speed = f"{event.samples_per_s:.1f}" if event.samples_per_s is not None else "-"
        if self.progress is not None:
            self.progress.update(
                self.task_id,
                completed=event.step,
                epoch=event.epoch,
                loss=loss,
                lr=lr,
                speed=speed,
                eta=duration_text(event.eta_s),
            )
        else:
            self._line(
                f"step {event.step}/{event.total_steps}  epoch {event.epoch:.2f}  "
                f"loss {loss}  lr {lr}  {speed} samples/s  "
                f"eta {duration_text(event.eta_s)}"
            )

    def on_eval(self, event: Eval) -> None:
        marker = " (best)" if event.best else ""
        took = f" in {event.seconds:.1f} s" if event.seconds is not None else ""
        self._line(
            f"eval {event.split} at step {event.step}{took}: {metrics_line(event.metrics)}{marker}"
        )
        if self.show_reports and event.report:
            self.console.print(report_renderable(event.report))

    def on_model(self, event: ModelSaved) -> None:
        what = "best model" if event.value is not None else "model (not evaluated)"
        self._line(f"saved {what} (step {event.step}) to {event.path}/")

    def on_checkpoint(self, event: Checkpoint) -> None:
        self._line(f"checkpoint at step {event.step}: {event.path}/", style="dim")

    def on_batch(self, event: BatchAdjusted) -> None:
        self._line(
            f"{event.reason}: micro-batch {event.batch_size} x "
            f"{event.gradient_accumulation} accumulated from step {event.step} (same "
            f"effective batch), evaluation batch {event.eval_batch_size}",
            style="yellow",
        )

    def on_end(self, event: End) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        status = Status.of(event.status)
        line = f"run {status} after {duration_text(event.duration_s)}"
        if event.best_value is not None:
            line += f"; best {event.metric} {event.best_value:.4f} at step {event.best_step}"
        if event.error:
            line += f": {event.error}"
        if status.resumable and event.checkpoint:
            line += f" (resumable from {event.checkpoint})"
        self._line(line, style=status.color)

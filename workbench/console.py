"""The headless view: Rich live progress in a terminal, one plain line per event
when stdout is not a terminal (CI logs, nohup), so logs are never flooded."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from workbench.reports import metrics_line, precision_name, report_renderable


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return str(_dt.timedelta(seconds=int(seconds)))


class ConsoleView:
    """An event sink that draws a run in the terminal."""

    def __init__(self, console: Console | None = None, live: bool | None = None,
                 show_reports: bool = True):
        self.console = console or Console()
        self.live = self.console.is_terminal if live is None else live
        self.show_reports = show_reports
        self.progress: Progress | None = None
        self.task_id = None
        self.total = 0

    def __call__(self, event: dict[str, Any]) -> None:
        handler = getattr(self, f"on_{event.get('type')}", None)
        if handler is not None:
            handler(event)

    def on_created(self, event: dict) -> None:
        # One line whatever the width: other processes read the path back from it.
        self.console.print(f"run folder: {event['path']}", soft_wrap=True, highlight=False)

    def on_start(self, event: dict) -> None:
        self.total = event["total_steps"]
        examples = ", ".join(f"{k} {v}" for k, v in event["examples"].items())
        self.console.print(
            f"{event['recipe']}: {event['task']} on {event['model']} | {event['device']}, "
            f"precision {precision_name(event['precision'])} | {examples} | {self.total} steps "
            f"({event['epochs']:.2f} epochs of {event['steps_per_epoch']}), batch "
            f"{event['batch_size']} | best by {event['metric']}", highlight=False, soft_wrap=True)
        if self.live:
            self.progress = Progress(
                TextColumn("epoch {task.fields[epoch]:.2f}"), BarColumn(),
                TextColumn("step {task.completed}/{task.total}"),
                TextColumn("loss {task.fields[loss]}"), TextColumn("lr {task.fields[lr]}"),
                TextColumn("{task.fields[speed]} samples/s"), TimeRemainingColumn(),
                console=self.console, transient=False)
            self.task_id = self.progress.add_task("train", total=self.total, epoch=0.0,
                                                  loss="-", lr="-", speed="-")
            self.progress.start()

    def on_step(self, event: dict) -> None:
        loss = f"{event['loss']:.4f}" if event["loss"] is not None else "nan"
        if self.progress is not None:
            self.progress.update(self.task_id, completed=event["step"], epoch=event["epoch"],
                                 loss=loss, lr=f"{event['learning_rate']:.2e}",
                                 speed=f"{event['samples_per_s']:.1f}")
        else:
            self.console.print(
                f"step {event['step']}/{event['total_steps']}  epoch {event['epoch']:.2f}  "
                f"loss {loss}  lr {event['learning_rate']:.2e}  "
                f"{event['samples_per_s']:.1f} samples/s  eta {duration_text(event['eta_s'])}",
                highlight=False, soft_wrap=True)

    def on_eval(self, event: dict) -> None:
        marker = " (best)" if event.get("best") else ""
        self.console.print(f"eval {event['split']} at step {event['step']}: "
                           f"{metrics_line(event['metrics'])}{marker}", highlight=False,
                           soft_wrap=True)
        if self.show_reports:
            self.console.print(report_renderable(event["report"]))

    def on_checkpoint(self, event: dict) -> None:
        what = "best model" if event.get("value") is not None else "model (not evaluated)"
        self.console.print(f"saved {what} (step {event['step']}) to {event['path']}/",
                           highlight=False)

    def on_end(self, event: dict) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        status = event["status"]
        line = f"run {status} after {duration_text(event.get('duration_s'))}"
        if event.get("best_value") is not None:
            line += f"; best {event['metric']} {event['best_value']:.4f} at step {event['best_step']}"
        if event.get("error"):
            line += f": {event['error']}"
        style = {"completed": "green", "stopped": "yellow"}.get(status, "red")
        self.console.print(line, style=style, highlight=False, soft_wrap=True)

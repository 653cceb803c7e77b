"""Summaries of run folders, for `workbench runs` and the TUI."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.runs.events import Status
from workbench.runs.folder import EVENTS, slug


@dataclass
class RunSummary:
    """One line about a run, read from its events."""

    path: Path
    name: str
    recipe: str
    task: str
    status: Status
    metric: str | None
    best_value: float | None
    steps: int
    total_steps: int | None
    started: float | None
    duration_s: float | None
    error: str | None
    checkpoint_step: int | None = None  # the latest resumable checkpoint
    warning: str | None = None  # its log is damaged: what a reader should know

    @property
    def steps_text(self) -> str:
        """``120/153``, or ``120`` when the total is not known yet."""
        return f"{self.steps}/{self.total_steps}" if self.total_steps else str(self.steps)

    @property
    def resumable_from(self) -> int | None:
        """The step ``workbench run --resume`` would go on from, if it can."""
        return self.checkpoint_step if self.status.resumable else None


def summarize(run_dir: str | Path) -> RunSummary:
    """Summarise one run folder from its events (tolerates a half-written last line)."""
    from workbench.runs.follow import load_state

    return summary_of(load_state(run_dir))


def summary_of(state) -> RunSummary:
    """The one-line summary of a ``RunState`` (a viewer that follows runs keeps
    their states and re-summarises without reading the files again)."""
    end = state.end
    started = state.created.time if state.created else None
    if end is not None:
        duration = end.duration_s
    else:
        last_time = (state.last_step.time if state.last_step else None) or started
        duration = (last_time - started) if (last_time and started) else None
    return RunSummary(
        path=state.run_dir,
        name=state.name,
        recipe=state.recipe_name,
        task=state.task,
        status=state.status,
        metric=state.metric_name,
        best_value=state.best_value,
        steps=state.step,
        total_steps=state.total_steps,
        started=started,
        duration_s=duration,
        error=end.error if end else None,
        checkpoint_step=state.checkpoint.step if state.checkpoint else None,
        warning=state.damage_note,
    )


def run_folders(runs_dir: str | Path) -> list[Path]:
    """The run folders (those with an events file) under ``runs_dir``, newest first."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    folders = [p for p in runs_dir.iterdir() if p.is_dir() and (p / EVENTS).is_file()]
    return sorted(folders, key=lambda p: p.name, reverse=True)


def list_runs(runs_dir: str | Path) -> list[RunSummary]:
    """Every run folder under ``runs_dir``, newest first."""
    return [summarize(p) for p in run_folders(runs_dir)]


def _names(folders: list[Path], most: int = 5) -> str:
    shown = ", ".join(p.name for p in folders[:most])
    return shown + (f" and {len(folders) - most} more" if len(folders) > most else "")


def find_run(
    reference: str | Path,
    runs_dir: str | Path = "runs",
    usable: Callable[[RunSummary], bool] | None = None,
    wanted: str = "completed run",
    newest_only: bool = False,
) -> tuple[Path, str | None]:
    """What a command's RUN argument names: a path (a run or model folder), else,
    under ``runs_dir``, a run folder's name or a unique start of one, else a recipe
    name meaning its newest run that is ``usable`` (default: completed; with
    ``newest_only``, its newest run, which must be usable). Returns the folder and,
    when it was looked up rather than given, a line saying which run was taken; a
    reference that fits no run, or several, is a ``WorkbenchError`` naming them."""
    text = str(reference)
    path = Path(text).expanduser()
    if path.exists():
        return path, None
    usable = usable or (lambda run: run.status == Status.COMPLETED)
    runs_dir = Path(runs_dir)
    folders = run_folders(runs_dir)
    if text in {p.name for p in folders}:  # whole, though "...-ner-1" also starts so
        return runs_dir / text, None
    starting = [p for p in folders if p.name.startswith(text)]
    if len(starting) == 1:
        return starting[0], f"{text}: using {starting[0]}"
    if len(starting) > 1:
        raise WorkbenchError(
            f"{text}: {len(starting)} runs in {runs_dir}/ start so "
            f"({_names(starting)}); give more of the name"
        )
    # A recipe's runs end in its slug (and -N for a second run in the same second);
    # the summary says whose they really are (the slug "ner" also ends "...-demo-ner").
    tail = re.compile(rf"-{re.escape(slug(text))}(-\d+)?$")
    # Summarised one at a time, newest first: the first usable one ends the search.
    of_recipe = (
        run
        for run in (summarize(p) for p in folders if tail.search(p.name))
        if run.recipe == text or slug(run.recipe) == slug(text)
    )
    seen = []
    for run in of_recipe:
        if usable(run):
            return run.path, f"{text}: using {run.path} (the recipe's latest {wanted})"
        seen.append(run)
        if newest_only:
            break
    if seen:
        seen += islice(of_recipe, max(0, 5 - len(seen)))  # for the message
        states = ", ".join(f"{run.name} {run.status}" for run in seen[:5])
        what = (
            f"the newest run of this recipe in {runs_dir}/ is not a {wanted}"
            if newest_only
            else f"no {wanted} of this recipe in {runs_dir}/"
        )
        raise WorkbenchError(f"{text}: {what} ({states}); name a run folder to use another")
    raise WorkbenchError(
        f"{text}: no such file, and no run folder or recipe's run of that "
        f"name in {runs_dir}/ (names are looked up there; give a path "
        f"otherwise)"
    )

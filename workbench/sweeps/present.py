"""Sweeps as Rich tables: the trials of one (best first), the parameters'
importance, and the list of sweeps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table

from workbench.sweeps.study import Sweep, TrialRow

STATE_STYLE = {
    "completed": "green",
    "running": "cyan",
    "pruned": "yellow",
    "failed": "red",
    "waiting": "dim",
}
_ORDER = {"completed": 0, "running": 1, "pruned": 2, "waiting": 3, "failed": 4}


def done_count(rows: list[TrialRow]) -> int:
    """Trials that ended and count towards the total (a failure run again does not)."""
    retried = {r.retry_of for r in rows if r.retry_of is not None}
    return sum(
        r.state in ("completed", "pruned") or (r.state == "failed" and r.number not in retried)
        for r in rows
    )


def sort_trials(sweep: Sweep, rows: list[TrialRow]) -> list[TrialRow]:
    """Completed trials best first, then running, pruned (furthest first), waiting, failed."""
    sign = 1 if sweep.spec.direction == "minimize" else -1

    def key(row: TrialRow) -> tuple:
        if row.state == "completed" and row.value is not None:
            return (0, sign * row.value, row.number)
        if row.state == "pruned":
            return (2, -(row.pruned_at or 0), row.number)
        return (_ORDER.get(row.state, 5), 0, row.number)

    return sorted(rows, key=key)


def state_text(row: TrialRow) -> str:
    """``pruned @40``, ``completed (again: #3)``, or the state."""
    if row.state == "pruned" and row.pruned_at is not None:
        return f"pruned @{row.pruned_at}"
    if row.retry_of is not None:
        return f"{row.state} (again: #{row.retry_of})"
    return row.state


def value_text(value: Any) -> str:
    """A parameter's value, short."""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def short_name(name: str) -> str:
    """``train.learning_rate`` -> ``learning_rate``."""
    return name.rpartition(".")[2]


def trials_table(sweep: Sweep, rows: list[TrialRow]) -> Table:
    """Every trial of ``sweep``, best first."""
    names = [p.rpartition("=")[0] for p in sweep.spec.params]
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("#", justify="right")
    table.add_column("state")
    table.add_column(sweep.spec.metric or "value", justify="right")
    for name in names:
        table.add_column(short_name(name), justify="right", no_wrap=True)
    table.add_column("steps", justify="right")
    table.add_column("time", justify="right")
    table.add_column("run", no_wrap=True, overflow="ellipsis")
    for row in sort_trials(sweep, rows):
        state = state_text(row)
        value = row.value if row.value is not None else last_value(row)
        table.add_row(
            str(row.number),
            f"[{STATE_STYLE.get(row.state, '')}]{state}[/]",
            f"{value:.4f}" if value is not None else "-",
            *(value_text(row.params[n]) if n in row.params else "-" for n in names),
            str(row.steps) if row.steps is not None else "-",
            _seconds(row.seconds),
            _where(row),
        )
    if sweep.spec.keep is not None:  # the other rows' folders have no model: say why
        from workbench.sweeps.keep import keeping

        table.caption = f"keep = {sweep.spec.keep}: {keeping(sweep.spec.keep)}"
    return table


def _where(row: TrialRow) -> str:
    """The run folder's name; for a failed trial, why (and the folder)."""
    name = Path(row.run_dir).name if row.run_dir else ""
    if row.state == "failed" and row.error:
        return f"{row.error} ({name})" if name else row.error
    return name or "-"


def last_value(row: TrialRow) -> float | None:
    """The last value a trial reported (a pruned or running one's)."""
    if not row.intermediate:
        return None
    return row.intermediate[max(row.intermediate)]


def _seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}"


def importance_table(importances: dict[str, float]) -> Table:
    """Each parameter's share of the objective's variance, as bars."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title="importance (fANOVA)")
    table.add_column("parameter")
    table.add_column("share", justify="right")
    table.add_column("")
    for name, share in sorted(importances.items(), key=lambda kv: -kv[1]):
        table.add_row(name, f"{share:.2f}", "█" * max(1, round(share * 20)))
    return table


def sweeps_table(summaries: list[tuple[Sweep, list[TrialRow]]]) -> Table:
    """One line a sweep: trials done of the total, the best value, what runs now."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("sweep", "sampler", "trials", "running", "pruned", "best"):
        table.add_column(column, justify="right" if column != "sweep" else "left")
    for sweep, rows in summaries:
        done = done_count(rows)
        best = sweep.best(rows)
        error = sweep.error
        table.add_row(
            sweep.folder.name,
            sweep.spec.sampler,
            f"{done}/{sweep.spec.trials}",
            str(sum(r.state == "running" for r in rows)),
            str(sum(r.state == "pruned" for r in rows)),
            f"{sweep.spec.metric} {best.value:.4f}"
            if best and best.value is not None
            else (error or "-"),
        )
    return table

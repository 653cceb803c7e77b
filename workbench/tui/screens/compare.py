"""Two or more runs side by side: overlaid curves, their metrics, per-label
F1, and the recipe keys in which they differ."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from workbench.recipe import flatten
from workbench.reports import BOX, METRIC_ORDER
from workbench.runs.follow import RunState, load_state
from workbench.tui.format import as_shown, duration_text, metric_text, status_markup
from workbench.tui.widgets.chart import COLORS, MARKERS, CurveChart, Series


def differing_keys(states: list[RunState]) -> dict[str, list[Any]]:
    """Recipe keys whose values are not the same in every run (missing counts)."""
    flat = [flatten(s.recipe_values) for s in states]
    keys = sorted(set().union(*flat))
    return {k: [f.get(k) for f in flat] for k in keys if len({repr(f.get(k)) for f in flat}) > 1}


def _value_text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str) and ("/" in value or "\\" in value) and not value.startswith("hf:"):
        return Path(value).name  # paths: the file name is what tells runs apart
    return str(value)


def final_metrics(state: RunState, split: str) -> dict[str, float]:
    report = state.test_report if split == "test" else state.best_report
    return (report or {}).get("metrics", {})


def short_names(states: list[RunState]) -> list[str]:
    """``A demo-ner``, ``B demo-ner``...: a letter keeps runs of one recipe apart
    where full folder names would not fit."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return [f"{letters[i % 26]} {s.recipe_name or s.name}" for i, s in enumerate(states)]


def comparison_tables(states: list[RunState]) -> Group:
    """Metrics per run, per-label F1 per run and the differing recipe keys."""
    names = short_names(states)
    metrics = Table(
        title="metrics (best validation · test)",
        title_justify="left",
        show_edge=False,
        pad_edge=False,
        box=BOX,
    )
    metrics.add_column("run", no_wrap=True)
    keys = [k for k in METRIC_ORDER if any(k in final_metrics(s, "validation") for s in states)]
    for key in keys:
        metrics.add_column(key, justify="right")
    metrics.add_column("steps", justify="right")
    metrics.add_column("time", justify="right")
    for name, s in zip(names, states):
        for split in ("validation", "test"):
            scores = final_metrics(s, split)
            if split == "test" and not scores:
                continue
            cells = [metric_text(k, scores.get(k)) for k in keys]
            first = split == "validation"
            metrics.add_row(
                name if first else "  test",
                *cells,
                str(s.step) if first else "",
                duration_text(s.end.duration_s if s.end else None) if first else "",
            )
    parts: list = [metrics, ""]

    labels: list[str] = []
    for s in states:
        for label in (s.best_report or {}).get("per_label", {}):
            if label not in labels:
                labels.append(label)
    if labels:
        per_label = Table(
            title="per-label F1, best validation (★ highest)",
            title_justify="left",
            show_edge=False,
            pad_edge=False,
            box=BOX,
        )
        per_label.add_column("label")
        for name in names:
            per_label.add_column(name, justify="right")
        for label in labels:
            values = [
                (s.best_report or {}).get("per_label", {}).get(label, {}).get("f1") for s in states
            ]
            present = [v for v in values if v is not None]
            # A star only where runs really differ: two or more scores, not all equal.
            top = max(present) if len(present) > 1 and len(set(present)) > 1 else None
            per_label.add_row(
                label,
                *[
                    "-" if v is None else (f"★ {100 * v:.2f}" if v == top else f"{100 * v:.2f}")
                    for v in values
                ],
            )
        parts += [per_label, ""]

    diff = differing_keys(states)
    recipe = Table(
        title="recipe keys that differ",
        title_justify="left",
        show_edge=False,
        pad_edge=False,
        box=BOX,
    )
    recipe.add_column("key")
    for name in names:
        recipe.add_column(name)
    for key, values in diff.items():
        recipe.add_row(key, *[_value_text(v) for v in values])
    if not diff:
        recipe.add_row("(the recipes are the same)", *[""] * len(names))
    parts.append(recipe)
    return Group(*parts)


class CompareScreen(Screen):
    """Runs compared; the chart overlays each run's smoothed loss and its
    validation metric points."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("r", "reload", "Reload")]

    def __init__(self, run_dirs: list[Path]):
        super().__init__()
        self.run_dirs = list(run_dirs)
        self.states: list[RunState] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="compare-title")
        yield CurveChart("smoothed training loss · validation metric", id="compare-chart")
        with VerticalScroll(id="compare-tables"):
            yield Static("", id="compare-body")
        yield Footer(compact=True, show_command_palette=False)  # Ctrl+P still opens it

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        self.states = [load_state(d) for d in self.run_dirs]
        series = []
        names = short_names(self.states)
        for i, (name, s) in enumerate(zip(names, self.states)):
            color, marker = COLORS[i % len(COLORS)], MARKERS[i % len(MARKERS)]
            series.append(
                Series(f"{name} loss", s.smoothed.xs, s.smoothed.ys, color=color, marker=marker)
            )
            if len(s.metric):
                series.append(
                    Series(
                        f"{name} {s.metric_name}",
                        s.metric.xs,
                        as_shown(s.metric_name, s.metric.ys),
                        scatter=True,
                        right=True,
                        color=color,
                        marker="●+x*o#"[i % 6],
                    )
                )
        self.query_one("#compare-chart", CurveChart).show(series)
        self.query_one("#compare-title", Static).update(
            f"[b]comparing {len(self.states)} runs[/b]\n"
            + "\n".join(
                f"{name.split()[0]} = {escape(s.name)} {status_markup(s.status)}"
                for name, s in zip(names, self.states)
            )
        )
        self.query_one("#compare-body", Static).update(comparison_tables(self.states))

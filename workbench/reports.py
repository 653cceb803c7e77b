"""Reports as Rich tables: the same tables in the console, in report.txt and
(as data) in the TUI."""

from __future__ import annotations

import io
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.table import Table

# No vertical rules: the tables fit narrow terminal panes.
BOX = box.SIMPLE_HEAD

METRIC_ORDER = (
    "micro_f1",
    "f1",
    "precision",
    "recall",
    "accuracy",
    "macro_f1",
    "weighted_f1",
    "loss",
)


def _pct(value: float, digits: int = 2) -> str:
    return f"{100 * value:{4 + digits}.{digits}f}"


def metrics_line(metrics: dict[str, float]) -> str:
    """``f1 91.20  precision 90.10 ...`` (loss as a plain number)."""
    parts = []
    for key in METRIC_ORDER:
        if key in metrics and metrics[key] is not None:
            value = metrics[key]
            parts.append(f"{key} {value:.4f}" if key == "loss" else f"{key} {100 * value:.2f}")
    return "  ".join(parts)


def precision_name(precision: str | None) -> str:
    """Accelerate's mixed-precision setting as people say it (``no`` is fp32)."""
    if precision is None:
        return "-"
    return "fp32" if precision == "no" else precision


TUNING_NAMES = {"lora": "LoRA", "bitfit": "BitFit", "freeze": "frozen layers"}


def count_text(n: int) -> str:
    """A parameter count as people say it: ``22.7M``, ``77.2k``, ``512``."""
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def parameters_text(
    tuning: str | None, trainable: int | None, total: int | None, short: bool = False
) -> str | None:
    """What trains, for a start event: ``22.7M params`` or ``LoRA 77.2k/22.6M
    params train (0.34%)`` (``short``: without the share); None for runs from
    before the fields existed."""
    if total is None:
        return None
    if tuning in (None, "full") or trainable is None:
        return f"{count_text(total)} params"
    text = f"{TUNING_NAMES.get(tuning, tuning)} {count_text(trainable)}/{count_text(total)} params"
    return text if short else f"{text} train ({100 * trainable / max(1, total):.2f}%)"


def change_text(new: float | None, old: float | None, digits: int = 2) -> tuple[str, str]:
    """A change in percentage points as text with an arrow (so it reads without
    colour) and a style: ``('▲ +2.31', 'green')``."""
    if new is None or old is None:
        return "", ""
    delta = 100 * (new - old)
    if abs(delta) < 0.5 * 10**-digits:
        return f"= {0:.{digits}f}", "dim"
    return (f"▲ +{delta:.{digits}f}", "green") if delta > 0 else (f"▼ {delta:.{digits}f}", "red")


def per_label_table(
    report: dict[str, Any],
    title: str | None = None,
    previous: dict[str, Any] | None = None,
    compact: bool = False,
) -> Table:
    """Per-label precision / recall / F1 / support, then the averages; with
    ``previous``, a column of F1 changes since that report. ``compact`` heads
    the columns P / R / F1 / n, for narrow panes."""
    kind = {"ner": "entity type", "relation": "relation"}.get(str(report.get("task")), "class")
    heads = (
        ("P", "R", "F1", "Δ F1", "n")
        if compact
        else ("precision", "recall", "f1", "Δ f1", "support")
    )
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False, box=BOX)
    table.add_column("type" if compact and kind == "entity type" else kind, no_wrap=True)
    for name in heads[:3]:
        table.add_column(name, justify="right")
    if previous is not None:
        table.add_column(heads[3], justify="right", no_wrap=True)
    table.add_column(heads[4], justify="right")
    before = (previous or {}).get("per_label", {})
    digits = 1 if compact else 2

    def pct(value: float) -> str:
        return _pct(value, digits)

    def change(new, old):
        if previous is None:
            return []
        text, style = change_text(new, old, digits)
        return [f"[{style}]{text}[/]" if style else text]

    for label, row in report["per_label"].items():
        table.add_row(
            label,
            pct(row["precision"]),
            pct(row["recall"]),
            pct(row["f1"]),
            *change(row["f1"], before.get(label, {}).get("f1")),
            str(row["support"]),
        )
    metrics = report["metrics"]
    old = (previous or {}).get("metrics", {})
    support = sum(r["support"] for r in report["per_label"].values())
    table.add_section()
    micro = {"ner": "f1", "relation": "micro_f1"}.get(str(report.get("task")))
    if micro:
        table.add_row(
            "micro avg",
            pct(metrics["precision"]),
            pct(metrics["recall"]),
            pct(metrics[micro]),
            *change(metrics[micro], old.get(micro)),
            str(support),
            style="bold",
        )
        table.add_row(
            "macro avg",
            "",
            "",
            pct(metrics["macro_f1"]),
            *change(metrics["macro_f1"], old.get("macro_f1")),
            str(support),
        )
    else:
        table.add_row(
            "accuracy",
            "",
            "",
            pct(metrics["accuracy"]),
            *change(metrics["accuracy"], old.get("accuracy")),
            str(support),
            style="bold",
        )
        table.add_row(
            "macro avg",
            "",
            "",
            pct(metrics["macro_f1"]),
            *change(metrics["macro_f1"], old.get("macro_f1")),
            str(support),
        )
    return table


def confusion_table(report: dict[str, Any]) -> Table | None:
    """Rows are gold classes, columns predicted ones."""
    confusion = report.get("confusion")
    if not confusion:
        return None
    table = Table(
        title="confusion (rows: gold, columns: predicted)",
        title_justify="left",
        show_edge=False,
        pad_edge=False,
        box=BOX,
    )
    table.add_column("gold \\ pred")
    for label in confusion["labels"]:
        table.add_column(label, justify="right")
    for label, row in zip(confusion["labels"], confusion["matrix"]):
        table.add_row(label, *[str(v) for v in row])
    return table


def report_renderable(
    report: dict[str, Any],
    title: str | None = None,
    previous: dict[str, Any] | None = None,
    compact: bool = False,
):
    """The per-label table (with F1 changes since ``previous`` when given) and
    the confusion matrix where there is one."""
    parts: list[Any] = [per_label_table(report, title, previous, compact)]
    confusion = confusion_table(report)
    if confusion is not None:
        parts += ["", confusion]
    return Group(*parts)


def reports_text(reports: dict[str, dict], header: str = "") -> str:
    """All split reports as plain text, as report.txt holds them."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=100, color_system=None, force_terminal=False)
    if header:
        console.print(header)
    for split, report in reports.items():
        console.print()
        console.print(f"{split}: {metrics_line(report['metrics'])}")
        console.print(report_renderable(report))
    return buffer.getvalue()

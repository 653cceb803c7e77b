"""Small text helpers shared by the screens (status words, numbers)."""

from __future__ import annotations

from workbench.console import duration_text, status_markup


def metric_text(key: str | None, value: float | None) -> str:
    """Loss as a number, other metrics in percent (as reports show them); ``-``
    when missing."""
    if value is None:
        return "-"
    return f"{value:.4f}" if key == "loss" else f"{100 * value:.2f}"


def best_text(metric: str | None, value: float | None) -> str:
    """``f1 98.61``, or ``-`` when there is none yet."""
    if value is None or metric is None:
        return "-"
    return f"{metric} {metric_text(metric, value)}"


def axis_limits(metric: str | None) -> tuple[float, float] | None:
    """Percent metrics stay on 0-100; the loss has no fixed range."""
    return None if metric == "loss" else (0.0, 100.0)


def as_shown(metric: str | None, values) -> list[float]:
    """Metric values on the scale reports use: percent, except the loss."""
    return list(values) if metric == "loss" else [100 * v for v in values]


def memory_text(mb: float | None, device: str) -> str:
    if mb is None:
        return "-"
    kind = "GPU peak" if device.startswith("cuda") else "RSS"
    return f"{kind} {mb / 1024:.2f} GB" if mb >= 1024 else f"{kind} {mb:.0f} MB"


__all__ = [
    "as_shown",
    "axis_limits",
    "best_text",
    "duration_text",
    "memory_text",
    "metric_text",
    "status_markup",
]

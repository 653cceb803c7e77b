"""Small text helpers shared by the screens (status words, numbers)."""

from __future__ import annotations

from workbench.console import duration_text

# A symbol and a word for each status: readable without colour.
STATUS = {"running": ("●", "cyan"), "starting": ("○", "cyan"), "completed": ("✔", "green"),
          "stopped": ("■", "yellow"), "failed": ("✖", "red"), "died": ("✖", "red")}


def status_markup(status: str) -> str:
    """``[green]✔ completed[/]``."""
    symbol, color = STATUS.get(status, ("?", ""))
    return f"[{color}]{symbol} {status}[/]" if color else f"{symbol} {status}"


def best_text(metric: str | None, value: float | None) -> str:
    """``f1 0.9861``, or ``-`` when there is none yet."""
    if value is None or metric is None:
        return "-"
    return f"{metric} {value:.4f}"


def memory_text(mb: float | None, device: str) -> str:
    if mb is None:
        return "-"
    kind = "GPU memory (peak)" if device.startswith("cuda") else "memory (RSS)"
    return f"{kind} {mb / 1024:.2f} GB" if mb >= 1024 else f"{kind} {mb:.0f} MB"


__all__ = ["STATUS", "best_text", "duration_text", "memory_text", "status_markup"]

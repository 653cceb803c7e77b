"""Line charts of training curves, drawn by plotext inside Textual.

Series are thinned to about two points a column before plotting, so a long run
costs no more to draw than a short one. Each series has its own marker as well
as its own colour, and the legend names them: the chart reads without colour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual_plotext import PlotextPlot

COLORS = ("cyan", "orange", "green", "magenta", "blue", "red", "yellow")
MARKERS = ("braille", "dot", "+", "x", "*", "o", "#")
GLYPHS = {"braille": "⣿", "dot": "•", "hd": "▞", "fhd": "▞"}  # plotext marker -> legend glyph


@dataclass
class Series:
    """One curve: a label, its points, and how to draw them."""

    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    scatter: bool = False  # points (evaluations) rather than a line
    right: bool = False  # on the right-hand axis (metrics beside a loss)
    color: str | None = None
    marker: str | None = None
    limits: tuple[float, float] | None = None  # the axis never goes past these (percentages)


def thin(xs: Sequence[float], ys: Sequence[float], limit: int) -> tuple[list, list]:
    """At most ``limit`` points, evenly spread, keeping the last one."""
    n = len(xs)
    if n <= limit or limit < 2:
        return list(xs), list(ys)
    stride = (n - 1) / (limit - 1)
    keep = [round(i * stride) for i in range(limit)]
    return [xs[i] for i in keep], [ys[i] for i in keep]


class CurveChart(PlotextPlot):
    """A chart of ``Series``; ``show`` replaces what it draws."""

    DEFAULT_CSS = "CurveChart { min-height: 8; }"

    def __init__(self, title: str = "", xlabel: str = "step", **kwargs):
        super().__init__(**kwargs)
        self._xlabel = xlabel
        self._title = title
        self._series: list[Series] = []
        self._empty = "waiting for the first logged step"

    def show(
        self, series: list[Series], title: str | None = None, empty: str | None = None
    ) -> None:
        """Draw ``series`` (replacing the previous drawing)."""
        self._series = [s for s in series if len(s.xs)]
        if title is not None:
            self._title = title
        if empty is not None:
            self._empty = empty
        self.refresh()

    def render(self):
        # Drawn here, at the size the widget really has (not before layout).
        self._draw()
        return super().render()

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self._title)
        if not self._series:
            plt.title(f"{self._title}: {self._empty}" if self._title else self._empty)
            return
        limit = max(20, 2 * max(10, self.size.width - 12))
        legend = []
        for i, s in enumerate(self._series):
            xs, ys = thin(s.xs, s.ys, limit)
            color = s.color or COLORS[i % len(COLORS)]
            marker = s.marker or ("o" if s.scatter else MARKERS[i % len(MARKERS)])
            side = "right" if s.right else "left"
            draw = plt.scatter if s.scatter else plt.plot
            draw(xs, ys, color=color, marker=marker, yside=side)
            legend.append(f"{GLYPHS.get(marker, marker)} {s.label}" + (" →" if s.right else ""))
        # The legend goes in the title, not over the curves; → marks the right axis.
        title = "  ".join(legend)
        width = max(10, self.size.width - 2)
        plt.title(title if len(title) <= width else title[: width - 1] + "…")
        plt.xlabel(self._xlabel)
        xs = [x for s in self._series for x in s.xs]
        lo, hi = min(xs), max(xs)
        plt.xticks(sorted({round(lo + i * (hi - lo) / 4) for i in range(5)}))
        for side in ("left", "right"):
            limits = [s.limits for s in self._series if s.limits and (s.right == (side == "right"))]
            if limits:
                ys = [y for s in self._series if s.right == (side == "right") for y in s.ys]
                low, high = limits[0]
                pad = max(0.5, (max(ys) - min(ys)) * 0.1)
                plt.ylim(max(low, min(ys) - pad), min(high, max(ys) + pad), yside=side)

"""What the Graph screen's panes share: the settings, the graph file and its hint
when missing, and ``GraphPane``, the base of a pane that queries the graph in
worker threads and hands results back to the UI as messages.

Every query runs in a worker thread on a Graph of its own, opened for it and
closed after (a Graph serves one thread at a time, searches, entity loads and
path finding may overlap, and opening a SQLite file is cheap); the newest
request of a kind wins, so typing never waits for the database or the encoder.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.message import Message
from textual.widget import Widget
from textual.worker import get_current_worker

from workbench.errors import WorkbenchError

DEBOUNCE_S = 0.25
WATCH_S = 1.0  # how often the graph file is checked for a build
SEARCH_LIMIT = 50
MAX_HOPS = 4
BUILD_HINT = "workbench kg build --ner RUN --relations RUN --corpus PATH"
# A fast tokenizer refuses to be used by two threads at once ("Already borrowed"),
# and an older search may still be running when a newer one starts.
ENCODE_LOCK = threading.Lock()


def graph_file(app: Any) -> Path:
    """The graph file the app shows (``--graph``; graph.sqlite by default)."""
    return Path(getattr(app, "graph_path", "graph.sqlite"))


def missing_hint(path: Path) -> str | None:
    """The hint to show when there is no graph file, else None."""
    if path.is_file():
        return None
    return (
        f"No graph at {path}. Build one with: {BUILD_HINT} "
        f"(--graph FILE for another file; workbench tui --graph FILE opens it)."
    )


class GraphPane(Widget):
    """A part of the Graph screen, mixed in after the pane's Textual widget class
    (``class StatsPane(VerticalScroll, GraphPane)``: Textual takes a widget's CSS and
    component classes from its first base). Its workers post their results as
    messages to the pane itself, so they are handled on the UI thread and bubble on
    up to the screen; what the status line should say goes as a ``Status``."""

    class Status(Message):
        """A line for the screen's status line (plain text, never Rich markup)."""

        def __init__(self, text: str | Text, error: bool = False) -> None:
            super().__init__()
            self.text = text
            self.error = error

    class EncoderLoaded(Message):
        """An encoder loaded by a pane (ready after ``seconds``): the screen keeps it
        for search by meaning and questions alike."""

        def __init__(self, embedder: Any, seconds: float) -> None:
            super().__init__()
            self.embedder = embedder
            self.seconds = seconds

    @property
    def graph_path(self) -> Path:
        return graph_file(self.app)

    def say(self, text: str | Text, error: bool = False) -> None:
        """Put ``text`` on the status line (from the UI thread or a worker)."""
        self.post_message(self.Status(text, error))

    def graph_query(self, fn: Callable[[Any], Any]) -> Any:
        """``fn(graph)`` on a connection opened in this (worker) thread, closed after."""
        from workbench.kg.store import Graph

        with Graph.open(self.graph_path, create=False) as graph:
            return fn(graph)

    def run_query(
        self, fn: Callable[[Any], Any], done: Callable[[Any], Message], what: str
    ) -> None:
        """In a worker thread: post ``done(fn(graph))``, or the error as a status line;
        nothing once a newer request of the kind has started (this worker cancelled)."""
        try:
            result = self.graph_query(fn)
        except WorkbenchError as exc:
            message: Message = self.Status(str(exc), error=True)
        except Exception as exc:  # noqa: BLE001 - one line in place; the app goes on
            message = self.Status(f"{what} failed: {type(exc).__name__}: {exc}", error=True)
        else:
            message = done(result)
        if not get_current_worker().is_cancelled:
            self.post_message(message)

    def missing(self) -> bool:
        """True (and the hint on the status line) when there is no graph to query."""
        hint = missing_hint(self.graph_path)
        if hint:
            self.say(hint, error=True)
        return hint is not None

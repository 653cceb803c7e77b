"""The Graph screen's statistics pane: the counts, biggest types and entities and
the builds of the graph, or how to build one; read again when the graph file
changes (a build in another terminal, or the build pane's)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from workbench.kg.present import stats_view
from workbench.tui.screens.graph.common import WATCH_S, GraphPane, missing_hint


class StatsPane(VerticalScroll, GraphPane):
    """``kg stats`` in the detail area; posts ``Loaded`` with each reading."""

    class Loaded(Message):
        """The graph's statistics, as read by ``load``."""

        def __init__(self, stats: dict) -> None:
            super().__init__()
            self.stats = stats

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._seen: tuple | None = None  # the graph file as last read: (size, mtime)
        self._said_missing = False  # the status line says there is no graph

    def compose(self) -> ComposeResult:
        yield Static("", id="graph-stats")

    def on_mount(self) -> None:
        self._seen = self._file_state()
        self.set_interval(WATCH_S, self.check_file)

    def reload(self) -> None:
        """Read the statistics again, or say how to build a graph when there is none."""
        hint = missing_hint(self.graph_path)
        if hint:
            self.query_one("#graph-stats", Static).update(Text(hint, style="bold"))
            self.say("no graph yet", error=True)
            self._said_missing = True
            return
        self.load()

    @work(thread=True, exclusive=True, group="stats")
    def load(self) -> None:
        self.run_query(lambda graph: graph.queries.stats(), self.Loaded, "reading the graph")

    def on_stats_pane_loaded(self, message: StatsPane.Loaded) -> None:
        # Not stopped: the screen shows the counts in its title too.
        self.query_one("#graph-stats", Static).update(stats_view(message.stats, compact=True))
        if self._said_missing:  # a graph built since: "no graph yet" is no longer true
            self._said_missing = False
            self.say("")

    def _file_state(self) -> tuple | None:
        """The graph file and its write-ahead log as they are now (a build's commits
        sit in the -wal file until a checkpoint)."""
        path = self.graph_path
        state: list[tuple[int, int] | None] = []
        for file in (path, path.with_name(path.name + "-wal")):
            try:
                info = file.stat()
            except OSError:
                state.append(None)
                continue
            state.append((info.st_size, info.st_mtime_ns))
        return None if state[0] is None else tuple(state)

    def check_file(self) -> None:
        """A graph built (or rebuilt) while the screen is open: the statistics (and
        so the screen's title) are read again, so no panel contradicts a search."""
        seen = self._file_state()
        if seen == self._seen:
            return
        self._seen = seen
        if self.display:  # shown: the hint too, when the graph went away
            self.reload()
        elif seen is not None:
            self.load()

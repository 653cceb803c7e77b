"""The Graph screen: the search box, the status line, the results and a detail
area of panes (statistics, entity, path, ask, build, merges), one widget each.

The screen keeps what the panes share (the entity shown and the history for Back,
search by name or meaning and the encoder, the statistics) and routes the keys;
panes query the graph in worker threads and post their results as messages,
handled here as ``on_<pane>_<message>``.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Input, OptionList, Static, Tree

from workbench.tui.screens.graph.ask import AskPane
from workbench.tui.screens.graph.build import BuildPane
from workbench.tui.screens.graph.common import GraphPane, graph_file
from workbench.tui.screens.graph.entity import EntityPane
from workbench.tui.screens.graph.merges import MergePane
from workbench.tui.screens.graph.paths import PathPane
from workbench.tui.screens.graph.search import SearchResults
from workbench.tui.screens.graph.stats import StatsPane

PANES = ("path-pane", "ask-pane", "merge-pane", "build-pane")  # the ones Escape closes


class GraphScreen(Screen):
    """Search, entity detail (relations tree, mentions), paths, statistics."""

    BINDINGS = [
        Binding("ctrl+t", "toggle_meaning", "By meaning"),
        # Search and Back work but stay off the footer (the search box is in sight, and
        # Escape goes back too), so the footer keeps q Quit at 80 columns.
        Binding("slash", "focus_search", "Search", key_display="/", show=False),
        Binding("p", "path", "Path"),
        Binding("question_mark", "ask", "Ask", key_display="?"),
        Binding("m", "merges", "Merges"),
        Binding("b", "build", "Build"),
        Binding("s", "stats", "Stats"),
        Binding("a", "judge('accepted')", "Accept", show=False),
        Binding("x", "judge('rejected')", "Reject", show=False),
        Binding("backspace", "back", "Back", show=False),
        Binding("escape", "escape", "Back", show=False),
        Binding("down", "focus_results", show=False),
    ]

    embedder: var[Any] = var(None)  # the encoder, once loaded (search by meaning, ask)

    def __init__(self) -> None:
        super().__init__()
        self.current: int | None = None  # the entity shown
        self.current_name = ""
        self.history: list[int] = []  # the entities shown before it, for Back
        self.stats: dict | None = None

    @property
    def results(self) -> list[dict]:
        """The entities the results list shows."""
        return self.query_one(SearchResults).results

    @property
    def building(self) -> Any:
        """The kg build child process, while one runs."""
        return self.query_one(BuildPane).building

    def compose(self) -> ComposeResult:
        yield Static("", id="graph-title")
        yield Input(placeholder="", id="graph-search", compact=True)
        yield Static("", id="graph-status")
        with Horizontal(id="graph-main"):
            yield SearchResults(id="graph-results").data_bind(GraphScreen.embedder)
            with ContentSwitcher(id="graph-detail", initial="stats-pane"):
                yield StatsPane(id="stats-pane")
                yield EntityPane(id="entity-pane")
                yield PathPane(id="path-pane")
                yield AskPane(id="ask-pane").data_bind(GraphScreen.embedder)
                yield BuildPane(id="build-pane")
                yield MergePane(id="merge-pane").data_bind(GraphScreen.embedder)
        yield Footer(compact=True, show_command_palette=False)  # Ctrl+P still opens it

    def on_mount(self) -> None:
        self._update_title()
        self.query_one(SearchResults).show([], "")
        self._status("")
        self.action_stats()
        self.query_one("#graph-search", Input).focus()

    def on_screen_resume(self) -> None:
        self.query_one(StatsPane).check_file()

    # -- the status line and the title ------------------------------------------------------
    def _status(self, text: str | Text, error: bool = False) -> None:
        if error:
            text = Text(f"✖ {text}", style="red")
        elif isinstance(text, str):
            text = Text(text)  # messages quote what users typed: never Rich markup
        self.query_one("#graph-status", Static).update(text)

    def on_graph_pane_status(self, message: GraphPane.Status) -> None:
        self._status(message.text, message.error)

    def _update_title(self) -> None:
        semantic = self.query_one(SearchResults).semantic
        mode = "by meaning" if semantic else "by name"
        other = "name" if semantic else "meaning"
        stats = self.stats or {}
        counts = (
            f" · {stats['entities']} entities · {stats['relations']} relations" if stats else ""
        )
        title = Text("graph ", style="bold").append(str(graph_file(self.app)), style="not bold")
        title.append(f"{counts} · search {mode}")
        self.query_one("#graph-title", Static).update(title)
        self.query_one(
            "#graph-search", Input
        ).placeholder = f"search entities {mode} (^t: by {other}); Enter: to the results"

    # -- statistics and search ------------------------------------------------------------
    def action_stats(self) -> None:
        """Show the graph's statistics (read again: a rebuild shows up here)."""
        if self.current is not None:
            self.history.append(self.current)
            self.current = None
        self.query_one("#graph-detail", ContentSwitcher).current = "stats-pane"
        self.query_one(StatsPane).reload()

    def on_stats_pane_loaded(self, message: StatsPane.Loaded) -> None:
        self.stats = message.stats
        self._update_title()

    def on_build_pane_finished(self, message: BuildPane.Finished) -> None:
        if message.error is None:
            self.query_one(StatsPane).load()

    @on(Input.Changed, "#graph-search")
    def _typed(self, event: Input.Changed) -> None:
        if not self.query_one(SearchResults).search_soon(event.value):
            self._status("")  # an empty box: nothing searched, nothing to say

    @on(Input.Submitted, "#graph-search")
    def _submitted(self, event: Input.Submitted) -> None:
        self.query_one(SearchResults).search_now(event.value)
        self.action_focus_results()

    def action_toggle_meaning(self) -> None:
        """Switch the search between names and meaning (the encoder loads the first time)."""
        self._status("")
        self.query_one(SearchResults).toggle_meaning()
        self._update_title()

    def on_graph_pane_encoder_loaded(self, message: GraphPane.EncoderLoaded) -> None:
        self.embedder = message.embedder  # to every pane bound to it

    # -- entity detail ----------------------------------------------------------------------
    @on(OptionList.OptionSelected, "#graph-results")
    def _result_selected(self, event: OptionList.OptionSelected) -> None:
        self.show_entity(int(str(event.option_id)))

    def show_entity(self, entity_id: int, remember: bool = True) -> None:
        """Show an entity; ``remember``: the one shown now is where Back returns."""
        self.query_one(EntityPane).load(entity_id, remember)

    def on_entity_pane_loaded(self, message: EntityPane.Loaded) -> None:
        entity = message.entity  # the pane shows it (its own handler ran first)
        if message.remember and self.current is not None and self.current != entity["id"]:
            self.history.append(self.current)
        self.current, self.current_name = entity["id"], entity["name"]
        self.query_one("#graph-detail", ContentSwitcher).current = "entity-pane"
        if not isinstance(self.focused, Input):
            self.query_one("#entity-tree", Tree).focus()
        self._status(
            Text("Enter on a neighbour hops to it · p: a path from here · ⌫ back", style="dim")
        )

    def action_judge(self, verdict: str) -> None:
        """Accept or reject the inferred relation under the cursor (x on a merge
        candidate skips it)."""
        merges, entity = self.query_one(MergePane), self.query_one(EntityPane)
        on_tree = self.focused is self.query_one("#entity-tree", Tree)
        if self.focused is merges.listing and verdict == "rejected":
            merges.skip()
        elif not (on_tree and entity.judge_at_cursor(verdict)):
            self._status("a / x judge an inferred relation: move to one in the tree", True)

    # -- the other panes and moving around --------------------------------------------------
    def _open_pane(self, pane: str, keys: str | None = None) -> None:
        """Show a pane of the detail area; ``keys`` go to the status line."""
        self.query_one("#graph-detail", ContentSwitcher).current = pane
        if keys:
            self._status(Text(keys, style="dim"))

    def action_path(self) -> None:
        """Find chains between two entities; from the entity shown, when there is one."""
        here = (self.current_name, self.current) if self.current is not None else None
        self._open_pane("path-pane")
        self.query_one(PathPane).open(here)

    def action_ask(self) -> None:
        """Ask the graph a question in plain language."""
        self._open_pane("ask-pane", "Enter asks · Escape closes")
        self.query_one(AskPane).open()

    def action_merges(self) -> None:
        """Review pairs that may be one entity; Enter merges, x skips."""
        self._open_pane("merge-pane", "Enter merges · x skips · Escape closes")
        self.query_one(MergePane).open()

    def action_build(self) -> None:
        """Build (or update) this graph from a corpus in a child process, followed here;
        the fields start as the last build's."""
        last = (self.stats or {}).get("builds") or [{}]
        keys = None if self.building else "Enter builds · Escape closes (a build goes on)"
        self._open_pane("build-pane", keys)
        self.query_one(BuildPane).open(last[-1])

    def _close_pane(self) -> None:
        switcher = self.query_one("#graph-detail", ContentSwitcher)
        switcher.current = "entity-pane" if self.current is not None else "stats-pane"
        if self.current is not None:
            self.query_one("#entity-tree", Tree).focus()
        else:
            self.query_one("#graph-results", OptionList).focus()

    def action_back(self) -> None:
        """The previous entity (or the statistics when there is none)."""
        if self.query_one("#graph-detail", ContentSwitcher).current in PANES:
            self._close_pane()
        elif self.history:
            self.show_entity(self.history.pop(), remember=False)
        elif self.current is not None:
            self.current = None
            self.action_stats()

    def action_escape(self) -> None:
        """Out of a text field first (so keys are keys again), then back."""
        focused = self.focused
        if isinstance(focused, Input) and focused.id == "graph-search":
            self.action_focus_results()
        elif isinstance(focused, Input):
            self._close_pane()
        else:
            self.action_back()

    def action_focus_search(self) -> None:
        self.query_one("#graph-search", Input).focus()

    def action_focus_results(self) -> None:
        table = self.query_one("#graph-results", OptionList)
        if self.results or not self.query_one("#graph-search", Input).value.strip():
            table.focus()
        else:
            self.set_focus(None)

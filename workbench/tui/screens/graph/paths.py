"""The Graph screen's path pane: the shortest chains of relations between two
entities, given by name or ``#id``."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Static

from workbench.kg.present import chain_text
from workbench.tui.screens.graph.common import MAX_HOPS, GraphPane

INTRO = "Two entities (a name, or #id), Enter: the shortest chains between them. Escape closes."


class PathPane(Vertical, GraphPane):
    """Two fields (from, to) and the chains found; Enter in either searches."""

    class Found(Message):
        """The two ends as resolved, and the shortest chains between them."""

        def __init__(self, source: dict, target: dict, chains: list[list[dict]]) -> None:
            super().__init__()
            self.source = source
            self.target = target
            self.chains = chains

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._from_ref: tuple[str, int] | None = None  # the "from" field's entity, by name

    def compose(self) -> ComposeResult:
        with Horizontal(id="path-fields"):
            yield Input(placeholder="from: name or #id", id="path-from", compact=True)
            yield Static(" → ", id="path-arrow")
            yield Input(placeholder="to: name or #id", id="path-to", compact=True)
        with VerticalScroll(id="path-scroll"):
            yield Static("", id="paths")

    def open(self, entity: tuple[str, int] | None) -> None:
        """Focus the first field to fill: "to" when ``entity`` (name, id) is the "from"."""
        if entity is not None:
            self._from_ref = entity
            self.query_one("#path-from", Input).value = entity[0]
        self.query_one("#path-to" if entity is not None else "#path-from", Input).focus()
        paths = self.query_one("#paths", Static)
        if not str(paths.content):
            paths.update(Text(INTRO, style="dim"))

    def _ref(self, value: str) -> str:
        """What ``resolve`` gets: the id when the field still names the entity it was
        filled with (a name can be shared by two types)."""
        if self._from_ref and value.strip() == self._from_ref[0]:
            return f"#{self._from_ref[1]}"
        return value.strip()

    @on(Input.Submitted, "#path-from, #path-to")
    def _submitted(self, event: Input.Submitted) -> None:
        source = self.query_one("#path-from", Input).value
        target = self.query_one("#path-to", Input).value
        if not source.strip():
            self.query_one("#path-from", Input).focus()
        elif not target.strip():
            self.query_one("#path-to", Input).focus()
        else:
            self.find_paths(self._ref(source), self._ref(target))

    @work(thread=True, exclusive=True, group="path")
    def find_paths(self, source: str, target: str) -> None:
        """The shortest chains between ``source`` and ``target`` (names or ``#id``)."""
        if self.missing():
            return

        def find(graph):
            a, b = graph.queries.resolve(source), graph.queries.resolve(target)
            return a, b, graph.queries.paths(a["id"], b["id"], max_hops=MAX_HOPS)

        self.run_query(find, lambda found: self.Found(*found), "path")

    def on_path_pane_found(self, message: PathPane.Found) -> None:
        a, b, chains = message.source, message.target, message.chains
        ends = f"{a['name']} ({a['type']}) and {b['name']} ({b['type']})"
        if a["id"] == b["id"]:
            body = Text(f"{a['name']} is both ends: nothing to find", style="bold")
        elif not chains:
            body = Text(f"no chain of up to {MAX_HOPS} relations between {ends}", style="bold")
        else:
            hops = len(chains[0])
            body = Text(
                f"{len(chains)} shortest chain(s) between {ends}, {hops} relation(s) each:",
                style="bold",
            )
            for number, steps in enumerate(chains, 1):
                body.append(f"\n{number}. ", style="not bold")
                line = chain_text(steps)
                line.style = "not bold"  # the arrows keep their own bold
                body.append_text(line)
        self.query_one("#paths", Static).update(body)
        self.say(Text("—type→: the relation goes this way; ←type—: the other way", style="dim"))

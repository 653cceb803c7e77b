"""The Graph screen's merge pane: pairs of entities that may be one, to merge
(kept across rebuilds; ``kg undo`` takes it back) or skip for this session."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import var
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from workbench.tui.screens.graph.common import ENCODE_LOCK, GraphPane


class MergePane(Vertical, GraphPane):
    """The candidates, best first; Enter merges the left into the right, x skips.
    With the screen's encoder loaded (``embedder``), the kept entity is re-embedded."""

    embedder: var[Any] = var(None)

    class Loaded(Message):
        """The merge candidates, as ``merge_candidates`` gives them."""

        def __init__(self, candidates: list[dict]) -> None:
            super().__init__()
            self.candidates = candidates

    class Merged(Message):
        """One entity merged into another (``Graph.merge``'s summary)."""

        def __init__(self, result: dict) -> None:
            super().__init__()
            self.result = result

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._candidates: list[dict] = []  # merge candidates, as listed
        self._skipped: set[tuple[int, int]] = set()  # pairs skipped in this session

    def compose(self) -> ComposeResult:
        yield Static("", id="merge-head")
        yield OptionList(id="merge-list")

    @property
    def listing(self) -> OptionList:
        return self.query_one("#merge-list", OptionList)

    def open(self) -> None:
        """Focus the list and look for candidates (again: a merge changes them)."""
        self.listing.focus()
        self.query_one("#merge-head", Static).update(
            Text("looking for entities that may be one…", style="dim")
        )
        self.load()

    @work(thread=True, exclusive=True, group="merges")
    def load(self) -> None:
        if self.missing():
            return
        from workbench.kg.resolution import merge_candidates

        self.run_query(lambda graph: merge_candidates(graph, limit=100), self.Loaded, "merges")

    def on_merge_pane_loaded(self, message: MergePane.Loaded) -> None:
        self._show(message.candidates)

    def _show(self, candidates: list[dict]) -> None:
        candidates = [
            c for c in candidates if (c["from"]["id"], c["into"]["id"]) not in self._skipped
        ]
        self._candidates = candidates
        listing = self.listing
        at = listing.highlighted or 0  # the cursor stays where it was, not back at the top
        listing.clear_options()
        for n, c in enumerate(candidates):
            text = Text(f"{c['from']['name']} #{c['from']['id']}", style="bold")
            text.append(" → ").append(f"{c['into']['name']} #{c['into']['id']}", style="bold")
            text.append(f"  {c['into']['type']} · {c['score']:.2f}\n")
            text.append("  " + "; ".join(c["reasons"]), style="dim")
            listing.add_option(Option(text, id=str(n)))
        head = (
            f"{len(candidates)} pairs that may be one entity · Enter: merge the left into the "
            f"right (kept across rebuilds; kg undo takes it back) · x: skip"
            if candidates
            else "no pairs look like one entity"
        )
        self.query_one("#merge-head", Static).update(Text(head, style="dim"))
        if candidates:
            listing.highlighted = min(at, len(candidates) - 1)

    def skip(self) -> None:
        """Skip the highlighted pair for this session."""
        listing = self.listing
        if listing.highlighted is None or not self._candidates:
            return
        skipped = self._candidates[listing.highlighted]
        self._skipped.add((skipped["from"]["id"], skipped["into"]["id"]))
        self._show(self._candidates)
        self.say(f"skipped {skipped['from']['name']} → {skipped['into']['name']}")

    @on(OptionList.OptionSelected, "#merge-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.merge(self._candidates[int(str(event.option_id))])

    @work(thread=True, exclusive=True, group="merge")
    def merge(self, candidate: dict) -> None:
        embedder = self.embedder  # the screen's, once loaded: the kept entity re-embedded

        def merge(graph):
            with ENCODE_LOCK:
                return graph.decisions.merge(
                    candidate["from"]["id"], candidate["into"]["id"], embedder=embedder
                )

        self.run_query(merge, self.Merged, "merge")

    def on_merge_pane_merged(self, message: MergePane.Merged) -> None:
        result = message.result
        self.say(
            f"merged {result['from']['name']} #{result['from']['id']} into "
            f"{result['into']['name']} #{result['into']['id']} "
            f"({result['mentions']} mentions moved)"
        )
        self.load()

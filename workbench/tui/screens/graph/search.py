"""The Graph screen's results list: entities found by name (full-text) or by
meaning (the encoder's vectors) as the search box is typed in, searched in a worker
thread, and the encoder for search by meaning, loaded in another."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import work
from textual.message import Message
from textual.reactive import var
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from workbench.tui.screens.graph.common import DEBOUNCE_S, ENCODE_LOCK, SEARCH_LIMIT, GraphPane
from workbench.tui.screens.predict import LOAD_LOCK


def result_text(entity: dict) -> Text:
    """Two lines: the name (and the alias that matched, when another), then type,
    mentions, relations (and the score, by meaning)."""
    text = Text(entity["name"], style="bold")
    match = entity.get("match")
    if match and match.casefold() != entity["name"].casefold():
        text.append(f" ~ {match}", style="not bold dim")
    text.append(
        f"\n{entity['type']} · {entity.get('mentions', 0)} mentions · "
        f"{entity.get('relations', 0)} relations",
        style="not bold",
    )
    if "score" in entity:
        text.append(f" · score {entity['score']:.2f}", style="not bold")
    return text


class SearchResults(OptionList, GraphPane):
    """The entities matching the search box, by name or by meaning (``semantic``);
    Enter on one opens it (the screen does). The encoder is the screen's (bound to
    ``embedder``), loaded here the first time search by meaning is chosen."""

    embedder: var[Any] = var(None)

    class Found(Message):
        """A search's entities, with what was searched, how long it took and how."""

        def __init__(self, found: list[dict], text: str, seconds: float, semantic: bool) -> None:
            super().__init__()
            self.found = found
            self.text = text
            self.seconds = seconds
            self.semantic = semantic

    class EncoderFailed(Message):
        """The encoder could not be loaded (search by name still works)."""

        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.results: list[dict] = []  # the entities listed
        self.semantic = False
        self.loading_encoder = False
        self._text = ""  # the search box's text, searched again once the encoder is loaded
        self._pending: Any = None  # the debounce timer

    def search_soon(self, text: str) -> bool:
        """Search ``text`` once typing pauses; False (the list emptied) when blank."""
        self._text = text
        if self._pending is not None:
            self._pending.stop()
        if not text.strip():
            self.show([], "")
            return False
        self._pending = self.set_timer(DEBOUNCE_S, lambda: self.search(text))
        return True

    def search_now(self, text: str) -> None:
        """Enter in the search box: no waiting for the pause."""
        self._text = text
        if self._pending is not None:
            self._pending.stop()
        if text.strip():
            self.search(text)

    def toggle_meaning(self) -> None:
        """By meaning instead of by name, or back (the encoder loads the first time);
        the search box's text is searched again the new way."""
        self.semantic = not self.semantic
        self.show([], "")  # name hits have no score to show
        if self.semantic and self.embedder is None:
            if not self.loading_encoder:
                self.loading_encoder = True
                self.say(Text("loading encoder…", style="dim"))
                self.load_encoder()
            return
        if self._text.strip():
            self.search(self._text)

    def search(self, text: str) -> None:
        """Entities matching ``text``, the current way."""
        self._search(text, self.semantic, self.embedder)

    @work(thread=True, exclusive=True, group="search")
    def _search(self, text: str, semantic: bool, embedder: Any) -> None:
        if self.missing():
            return
        if semantic and embedder is None:  # searched again once the encoder has loaded
            return
        started = time.perf_counter()

        def find(graph):
            if not semantic:
                return graph.queries.search(text, limit=SEARCH_LIMIT)
            with ENCODE_LOCK:
                return graph.vectors.search_semantic(text, embedder, limit=SEARCH_LIMIT)

        self.run_query(
            find,
            lambda found: self.Found(found, text, time.perf_counter() - started, semantic),
            "search",
        )

    def on_search_results_found(self, message: SearchResults.Found) -> None:
        if message.semantic != self.semantic:  # the mode changed meanwhile
            return
        found, text = message.found, message.text
        self.show(found, text)
        how = "by meaning" if message.semantic else "by name"
        self.say(
            Text(
                f"{len(found)} entities for '{text}' {how} · "
                f"{1000 * message.seconds:.0f} ms" + (" · Enter opens one" if found else ""),
                style="dim",
            )
        )

    def show(self, found: list[dict], text: str) -> None:
        """List ``found`` (the first highlighted), or say why the list is empty."""
        self.results = found
        self.clear_options()
        self.add_options(Option(result_text(entity), id=str(entity["id"])) for entity in found)
        if found:
            self.highlighted = 0
            return
        hint = (
            f"no entity matches '{text}'"
            if text
            else "type a name above; matching entities are listed here"
        )
        self.add_option(Option(Text(hint, style="dim"), disabled=True))

    @work(thread=True, exclusive=True, group="encoder")
    def load_encoder(self) -> None:
        started = time.perf_counter()
        try:
            from workbench.kg.embed import Embedder

            with LOAD_LOCK:  # transformers' lazy imports are not thread-safe
                embedder = Embedder()
        except Exception as exc:  # noqa: BLE001 - shown in place; search by name still works
            self.post_message(self.EncoderFailed(f"cannot load the encoder: {exc}"))
            return
        self.post_message(self.EncoderLoaded(embedder, time.perf_counter() - started))

    def on_search_results_encoder_failed(self, message: SearchResults.EncoderFailed) -> None:
        self.loading_encoder = False
        self.say(message.error, error=True)

    def on_graph_pane_encoder_loaded(self, message: GraphPane.EncoderLoaded) -> None:
        # Not stopped: the screen keeps the encoder (for questions too).
        self.embedder, self.loading_encoder = message.embedder, False
        self.say(Text(f"encoder loaded in {message.seconds:.1f} s", style="dim"))
        if self.semantic and self._text.strip():
            self.search(self._text)

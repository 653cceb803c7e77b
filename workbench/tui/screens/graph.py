"""Browse a knowledge graph (``workbench kg build``): search entities by name or
by meaning, walk their relations, read their mentions, find chains between two,
ask questions, review what reasoning inferred (accept or reject it) and what
may be one entity twice (merge it).

Every query runs in a worker thread on a Graph of its own, opened for it and
closed after (a Graph serves one thread at a time, searches, entity loads and
path finding may overlap, and opening a SQLite file is cheap); the newest
request of a kind wins, so typing never waits for the database or the encoder.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import (
    ContentSwitcher,
    Footer,
    Input,
    OptionList,
    ProgressBar,
    Static,
    Tree,
)
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from workbench.errors import WorkbenchError
from workbench.kg.present import (
    answer_view,
    chain_text,
    explanation_lines,
    stats_view,
    step_arrow,
    triple_text,
)
from workbench.tui.screens.predict import LOAD_LOCK

DEBOUNCE_S = 0.25
WATCH_S = 1.0  # how often the graph file is checked for a build
SEARCH_LIMIT = 50
MAX_HOPS = 4
BUILD_HINT = "workbench kg build --ner RUN --relations RUN --corpus PATH"
# A fast tokenizer refuses to be used by two threads at once ("Already borrowed"),
# and an older search may still be running when a newer one starts.
ENCODE_LOCK = threading.Lock()


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


def mention_text(mention: dict) -> Text:
    """The mention's sentence with the entity marked (reverse and bold: readable
    without colour), after its document's name."""
    text = Text(f"{mention['document']}: ", style="dim")
    sentence, start, end = mention["sentence"], mention["start"], mention["end"]
    text.append(sentence[:start])
    text.append(sentence[start:end], style="bold reverse")
    text.append(sentence[end:])
    return text


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

    def __init__(self):
        super().__init__()
        self.current: int | None = None  # the entity shown
        self.current_name = ""
        self.history: list[int] = []  # the entities shown before it, for Back
        self.semantic = False
        self.embedder = None
        self.loading_encoder = False
        self.results: list[dict] = []
        self.stats: dict | None = None
        self._pending = None
        self._from_ref: tuple[str, int] | None = None  # the "from" field's entity, by name
        self._seen: tuple | None = None  # the graph file as last read: (size, mtime)
        self._inferred: dict[int, dict] = {}  # tree node id -> the proposal it shows
        self._candidates: list[dict] = []  # merge candidates, as listed
        self._skipped: set[tuple[int, int]] = set()  # pairs skipped in this session
        self._mentions_text: Text = Text("")  # the entity's mentions, shown again after a why
        self._mentions_title = "mentions"
        self.building = None  # the kg build child process, while one runs

    @property
    def path(self) -> Path:
        """The graph file this screen shows."""
        return Path(getattr(self.app, "graph_path", "graph.sqlite"))

    def compose(self) -> ComposeResult:
        yield Static("", id="graph-title")
        yield Input(placeholder="", id="graph-search", compact=True)
        yield Static("", id="graph-status")
        with Horizontal(id="graph-main"):
            yield OptionList(id="graph-results")
            with ContentSwitcher(id="graph-detail", initial="stats-pane"):
                with VerticalScroll(id="stats-pane"):
                    yield Static("", id="graph-stats")
                with Vertical(id="entity-pane"):
                    yield Static("", id="entity-head")
                    tree: Tree[int] = Tree("relations", id="entity-tree")
                    tree.show_root = False
                    tree.border_title = "relations (Enter hops)"
                    yield tree
                    with VerticalScroll(id="entity-mentions"):
                        yield Static("", id="mentions")
                with Vertical(id="path-pane"):
                    with Horizontal(id="path-fields"):
                        yield Input(placeholder="from: name or #id", id="path-from", compact=True)
                        yield Static(" → ", id="path-arrow")
                        yield Input(placeholder="to: name or #id", id="path-to", compact=True)
                    with VerticalScroll(id="path-scroll"):
                        yield Static("", id="paths")
                with Vertical(id="ask-pane"):
                    yield Input(
                        placeholder="ask a question, e.g. Where does … live?  (Enter asks)",
                        id="ask-input",
                        compact=True,
                    )
                    with VerticalScroll(id="ask-scroll"):
                        yield Static("", id="answer")
                with Vertical(id="build-pane"):
                    yield Input(placeholder="NER run or recipe (e.g. demo-ner)", id="build-ner")
                    yield Input(
                        placeholder="relation run or recipe (optional)", id="build-relations"
                    )
                    yield Input(
                        placeholder="corpus: a folder, text or JSONL file", id="build-corpus"
                    )
                    yield ProgressBar(id="build-progress", show_eta=False)
                    with VerticalScroll(id="build-scroll"):
                        yield Static("", id="build-log")
                with Vertical(id="merge-pane"):
                    yield Static("", id="merge-head")
                    yield OptionList(id="merge-list")
        yield Footer(compact=True, show_command_palette=False)  # Ctrl+P still opens it

    def on_mount(self) -> None:
        self.query_one("#entity-mentions").border_title = "mentions"
        self._update_title()
        self._show_results([], "", 0.0)
        self._seen = self._file_state()
        self.action_stats()
        self.query_one("#graph-search", Input).focus()
        self.set_interval(WATCH_S, self._watch_file)

    def on_screen_resume(self) -> None:
        self._watch_file()

    def _file_state(self) -> tuple | None:
        """The graph file and its write-ahead log as they are now (a build's commits
        sit in the -wal file until a checkpoint)."""
        state: list[tuple[int, int] | None] = []
        for path in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                info = path.stat()
            except OSError:
                state.append(None)
                continue
            state.append((info.st_size, info.st_mtime_ns))
        return None if state[0] is None else tuple(state)

    def _watch_file(self) -> None:
        """A graph built (or rebuilt) while the screen is open: the title and the
        statistics are read again, so no panel contradicts what a search finds."""
        seen = self._file_state()
        if seen == self._seen:
            return
        self._seen = seen
        if self.query_one("#graph-detail", ContentSwitcher).current == "stats-pane":
            self.action_stats()
        elif seen is not None:
            self.load_stats()

    # -- small helpers ----------------------------------------------------------------------
    def _status(self, text: str | Text, error: bool = False) -> None:
        if error:
            text = Text(f"✖ {text}", style="red")
        elif isinstance(text, str):
            text = Text(text)  # messages quote what users typed: never Rich markup
        self.query_one("#graph-status", Static).update(text)

    def _missing(self) -> str | None:
        """The hint to show when there is no graph file, else None."""
        if self.path.is_file():
            return None
        return (
            f"No graph at {self.path}. Build one with: {BUILD_HINT} "
            f"(--graph FILE for another file; workbench tui --graph FILE opens it)."
        )

    def _update_title(self) -> None:
        mode = "by meaning" if self.semantic else "by name"
        other = "name" if self.semantic else "meaning"
        stats = self.stats or {}
        counts = (
            f" · {stats['entities']} entities · {stats['relations']} relations" if stats else ""
        )
        title = Text("graph ", style="bold").append(str(self.path), style="not bold")
        title.append(f"{counts} · search {mode}")
        self.query_one("#graph-title", Static).update(title)
        self.query_one(
            "#graph-search", Input
        ).placeholder = f"search entities {mode} (^t: by {other}); Enter: to the results"

    def graph_query(self, fn):
        """``fn(graph)`` on a connection opened in this (worker) thread, closed after."""
        from workbench.kg.store import Graph

        with Graph.open(self.path, create=False) as graph:
            return fn(graph)

    def _run(self, fn, done, what: str) -> None:
        """In a worker thread: ``done(fn(graph))`` back on the UI thread, or the error
        in the status line; a stale result (a newer request started) is dropped."""
        try:
            result = self.graph_query(fn)
        except WorkbenchError as exc:
            message = str(exc)
        except Exception as exc:  # noqa: BLE001 - one line in place; the app goes on
            message = f"{what} failed: {type(exc).__name__}: {exc}"
        else:
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(done, result)
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._status, message, True)

    # -- statistics -------------------------------------------------------------------------
    def action_stats(self) -> None:
        """Show the graph's statistics (read again: a rebuild shows up here)."""
        if self.current is not None:
            self.history.append(self.current)
            self.current = None
        switcher = self.query_one("#graph-detail", ContentSwitcher)
        switcher.current = "stats-pane"
        hint = self._missing()
        if hint:
            self.query_one("#graph-stats", Static).update(Text(hint, style="bold"))
            self._status("no graph yet", error=True)
            return
        self.load_stats()

    @work(thread=True, exclusive=True, group="stats")
    def load_stats(self) -> None:
        self._run(lambda g: g.stats(), self._show_stats, "reading the graph")

    def _show_stats(self, stats: dict) -> None:
        self.stats = stats
        self._update_title()
        self.query_one("#graph-stats", Static).update(stats_view(stats, compact=True))

    # -- search -----------------------------------------------------------------------------
    @on(Input.Changed, "#graph-search")
    def _typed(self, event: Input.Changed) -> None:
        if self._pending is not None:
            self._pending.stop()
        if not event.value.strip():
            self._show_results([], "", 0.0, self.semantic)
            return
        self._pending = self.set_timer(DEBOUNCE_S, lambda: self.search(event.value))

    @on(Input.Submitted, "#graph-search")
    def _submitted(self, event: Input.Submitted) -> None:
        if self._pending is not None:
            self._pending.stop()
        if event.value.strip():
            self.search(event.value)
        self.action_focus_results()

    @work(thread=True, exclusive=True, group="search")
    def search(self, text: str) -> None:
        """Entities matching ``text`` (by name, or by meaning once the encoder is loaded)."""
        hint = self._missing()
        if hint:
            self.app.call_from_thread(self._status, hint, True)
            return
        semantic, embedder = self.semantic, self.embedder
        if semantic and embedder is None:  # searched again once the encoder has loaded
            return
        started = time.perf_counter()

        def find(graph):
            if not semantic:
                return graph.search(text, limit=SEARCH_LIMIT)
            with ENCODE_LOCK:
                return graph.search_semantic(text, embedder, limit=SEARCH_LIMIT)

        self._run(
            find,
            lambda found: self._show_results(found, text, time.perf_counter() - started, semantic),
            "search",
        )

    def _show_results(
        self, found: list[dict], text: str, seconds: float, semantic: bool = False
    ) -> None:
        if semantic != self.semantic:  # the mode changed meanwhile
            return
        self.results = found
        results = self.query_one("#graph-results", OptionList)
        results.clear_options()
        results.add_options(Option(result_text(entity), id=str(entity["id"])) for entity in found)
        if found:
            results.highlighted = 0
        else:  # say why the list is empty, in the list
            results.add_option(
                Option(
                    Text(
                        f"no entity matches '{text}'"
                        if text
                        else "type a name above; matching entities are listed here",
                        style="dim",
                    ),
                    disabled=True,
                )
            )
        if text:
            how = "by meaning" if semantic else "by name"
            self._status(
                Text(
                    f"{len(found)} entities for '{text}' {how} · "
                    f"{1000 * seconds:.0f} ms" + (" · Enter opens one" if found else ""),
                    style="dim",
                )
            )
        else:
            self._status("")

    def action_toggle_meaning(self) -> None:
        """Switch the search between names and meaning (the encoder loads the first time)."""
        self.semantic = not self.semantic
        self._show_results([], "", 0.0, self.semantic)  # name hits have no score to show
        self._update_title()
        text = self.query_one("#graph-search", Input).value
        if self.semantic and self.embedder is None:
            if not self.loading_encoder:
                self.loading_encoder = True
                self._status(Text("loading encoder…", style="dim"))
                self.load_encoder()
            return
        if text.strip():
            self.search(text)

    @work(thread=True, exclusive=True, group="encoder")
    def load_encoder(self) -> None:
        started = time.perf_counter()
        try:
            from workbench.kg.embed import Embedder

            with LOAD_LOCK:  # transformers' lazy imports are not thread-safe
                embedder = Embedder()
        except Exception as exc:  # noqa: BLE001 - shown in place; search by name still works
            self.app.call_from_thread(self._encoder_failed, f"cannot load the encoder: {exc}")
            return
        self.app.call_from_thread(self._encoder_loaded, embedder, time.perf_counter() - started)

    def _encoder_failed(self, message: str) -> None:
        self.loading_encoder = False
        self._status(message, error=True)

    def _encoder_loaded(self, embedder, seconds: float) -> None:
        self.embedder, self.loading_encoder = embedder, False
        self._status(Text(f"encoder loaded in {seconds:.1f} s", style="dim"))
        text = self.query_one("#graph-search", Input).value
        if self.semantic and text.strip():
            self.search(text)

    # -- entity detail ----------------------------------------------------------------------
    @on(OptionList.OptionSelected, "#graph-results")
    def _result_selected(self, event: OptionList.OptionSelected) -> None:
        self.show_entity(int(str(event.option_id)))

    @on(Tree.NodeSelected, "#entity-tree")
    def _node_selected(self, event: Tree.NodeSelected) -> None:
        if event.node.data is not None:  # a neighbour, not a relation group
            self.show_entity(event.node.data)

    def show_entity(self, entity_id: int, remember: bool = True) -> None:
        """Show an entity; ``remember``: the one shown now is where Back returns."""
        hint = self._missing()
        if hint:
            self._status(hint, error=True)
            return
        self.load_entity(entity_id, remember)

    @work(thread=True, exclusive=True, group="entity")
    def load_entity(self, entity_id: int, remember: bool) -> None:
        self._run(
            lambda g: g.entity(entity_id),
            lambda e: self._show_entity(e, remember),
            "reading the entity",
        )

    def _show_entity(self, entity: dict, remember: bool) -> None:
        if remember and self.current is not None and self.current != entity["id"]:
            self.history.append(self.current)
        self.current, self.current_name = entity["id"], entity["name"]
        degree = len(entity["outgoing"]) + len(entity["incoming"])
        head = Text(entity["name"], style="bold").append(
            f"  {entity['type']} · {entity['mentions_total']} mentions · {degree} relations",
            style="not bold",
        )
        aliases = [a for a in entity.get("aliases", []) if a["text"] != entity["name"]]
        if aliases:
            head.append(
                "\naliases: " + ", ".join(f"{a['text']} ({a['count']})" for a in aliases),
                style="dim",
            )
        self.query_one("#entity-head", Static).update(head)
        self._fill_tree(entity)
        mentions = entity.get("mentions", [])
        pane = self.query_one("#entity-mentions")
        self._mentions_title = f"mentions ({len(mentions)} of {entity['mentions_total']})"
        pane.border_title = self._mentions_title
        self._mentions_text = (
            Text("\n").join(mention_text(m) for m in mentions)
            if mentions
            else Text("no mentions", style="dim")
        )
        self.query_one("#mentions", Static).update(self._mentions_text)
        pane.scroll_home(animate=False)
        self.query_one("#graph-detail", ContentSwitcher).current = "entity-pane"
        if not isinstance(self.focused, Input):
            self.query_one("#entity-tree", Tree).focus()
        self._status(
            Text("Enter on a neighbour hops to it · p: a path from here · ⌫ back", style="dim")
        )

    def _fill_tree(self, entity: dict) -> None:
        """Relations grouped by direction and type, as in a chain: ``—type→`` goes out
        of this entity, ``←type—`` comes in."""
        tree = self.query_one("#entity-tree", Tree)
        tree.clear()
        first_leaf = None
        for forward, edges in ((True, entity["outgoing"]), (False, entity["incoming"])):
            groups: dict[str, list[dict]] = {}
            for edge in edges:
                groups.setdefault(edge["type"], []).append(edge)
            for kind, members in groups.items():
                arrow = step_arrow({"type": kind, "forward": forward})
                way = "out" if forward else "in"
                node = tree.root.add(
                    Text(f"{arrow} ({len(members)} {way})", style="bold"), expand=True
                )
                for edge in sorted(members, key=lambda e: (-e["score"], e["other"]["name"])):
                    other = edge["other"]
                    label = Text(other["name"]).append(
                        f" {other['type']} · {edge['score']:.2f} · {edge['count']}×", style="dim"
                    )
                    leaf = node.add_leaf(label, data=other["id"])
                    first_leaf = first_leaf or leaf
        self._inferred = {}
        this = entity["id"]
        for title, facts, inferred in (
            ("accepted by a person", entity.get("accepted", []), False),
            ("inferred (a: accept · x: reject)", entity.get("inferred", []), True),
        ):
            if not facts:
                continue
            node = tree.root.add(Text(f"{title} ({len(facts)})", style="bold"), expand=True)
            for fact in facts:
                forward = fact["head"]["id"] == this
                other = fact["tail"] if forward else fact["head"]
                label = Text("? " if inferred else "")
                label.append(step_arrow({"type": fact["type"], "forward": forward}) + " ")
                label.append(other["name"]).append(f" {other['type']}", style="dim")
                if inferred:
                    label.append(f" · {fact['score']:.2f}", style="dim")
                leaf = node.add_leaf(label, data=other["id"])
                if inferred:
                    self._inferred[leaf.id] = fact
                first_leaf = first_leaf or leaf
        if first_leaf is None:
            tree.root.add_leaf(Text("no relations", style="dim"))
        else:
            self.call_after_refresh(tree.move_cursor, first_leaf)

    @on(Tree.NodeHighlighted, "#entity-tree")
    def _node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        """On an inferred relation, the lower pane says why it was inferred."""
        proposal = self._inferred.get(event.node.id)
        pane = self.query_one("#entity-mentions")
        if proposal is None:
            if pane.border_title == "why it was inferred":
                pane.border_title = self._mentions_title
                self.query_one("#mentions", Static).update(self._mentions_text)
            return
        why = Text.assemble(
            triple_text(proposal["head"], proposal["type"], proposal["tail"]),
            f"  score {proposal['score']:.2f} · {proposal['method']}\n",
        )
        why.append_text(Text("\n").join(explanation_lines(proposal["explanation"])))
        why.append("\n\na: accept (a person states it) · x: reject (never proposed again)", "dim")
        pane.border_title = "why it was inferred"
        self.query_one("#mentions", Static).update(why)

    def action_judge(self, verdict: str) -> None:
        """Accept or reject the inferred relation under the cursor."""
        tree = self.query_one("#entity-tree", Tree)
        node = tree.cursor_node
        proposal = self._inferred.get(node.id) if node is not None else None
        merges = self.query_one("#merge-list", OptionList)
        if self.focused is merges and verdict == "rejected":
            self._skip_candidate()
            return
        if self.focused is not tree or proposal is None:
            self._status("a / x judge an inferred relation: move to one in the tree", True)
            return
        self.judge(proposal, verdict)

    @work(thread=True, exclusive=True, group="judge")
    def judge(self, proposal: dict, verdict: str) -> None:
        entity = self.current

        def done(result) -> None:
            self._status(
                Text.assemble(
                    f"{verdict}: ",
                    triple_text(proposal["head"], proposal["type"], proposal["tail"]),
                )
            )
            if entity is not None:
                self.show_entity(entity, remember=False)

        self._run(lambda g: g.judge(proposal["id"], verdict), done, verdict)

    def action_back(self) -> None:
        """The previous entity (or the statistics when there is none)."""
        switcher = self.query_one("#graph-detail", ContentSwitcher)
        if switcher.current in ("path-pane", "ask-pane", "merge-pane", "build-pane"):
            self._close_path()
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
            self._close_path()
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

    # -- paths ------------------------------------------------------------------------------
    def action_path(self) -> None:
        """Find chains between two entities; from the entity shown, when there is one."""
        source = self.query_one("#path-from", Input)
        if self.current is not None:
            self._from_ref = (self.current_name, self.current)
            source.value = self.current_name
        self._open_pane(
            "path-pane",
            "#path-to" if self.current is not None else "#path-from",
            intro=(
                "#paths",
                "Two entities (a name, or #id), Enter: the shortest chains between them. "
                "Escape closes.",
            ),
        )

    def _open_pane(
        self, pane: str, focus: str, keys: str | None = None, intro: tuple[str, str] | None = None
    ) -> None:
        """Show a pane of the detail area and focus ``focus``; ``keys`` go to the status
        line, ``intro`` (a Static's id and a text) fills that Static while it is empty."""
        self.query_one("#graph-detail", ContentSwitcher).current = pane
        self.query_one(focus).focus()
        if keys:
            self._status(Text(keys, style="dim"))
        if intro and not str(self.query_one(intro[0], Static).content):
            self.query_one(intro[0], Static).update(Text(intro[1], style="dim"))

    def _close_path(self) -> None:
        switcher = self.query_one("#graph-detail", ContentSwitcher)
        switcher.current = "entity-pane" if self.current is not None else "stats-pane"
        if self.current is not None:
            self.query_one("#entity-tree", Tree).focus()
        else:
            self.query_one("#graph-results", OptionList).focus()

    def _ref(self, value: str) -> str:
        """What ``resolve`` gets: the id when the field still names the entity it was
        filled with (a name can be shared by two types)."""
        if self._from_ref and value.strip() == self._from_ref[0]:
            return f"#{self._from_ref[1]}"
        return value.strip()

    @on(Input.Submitted, "#path-from, #path-to")
    def _path_submitted(self, event: Input.Submitted) -> None:
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
        hint = self._missing()
        if hint:
            self.app.call_from_thread(self._status, hint, True)
            return

        def find(graph):
            a, b = graph.resolve(source), graph.resolve(target)
            return a, b, graph.paths(a["id"], b["id"], max_hops=MAX_HOPS)

        self._run(find, lambda found: self._show_paths(*found), "path")

    def _show_paths(self, a: dict, b: dict, chains: list[list[dict]]) -> None:
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
        self._status(Text("—type→: the relation goes this way; ←type—: the other way", style="dim"))

    # -- questions --------------------------------------------------------------------------
    def action_ask(self) -> None:
        """Ask the graph a question in plain language."""
        self._open_pane(
            "ask-pane",
            "#ask-input",
            keys="Enter asks · Escape closes",
            intro=(
                "#answer",
                "Questions about the entities in the graph: Where does … live? Who founded …? "
                "Which company makes …? The answer comes with its evidence sentences, or "
                "“I don't know” and why. Escape closes.",
            ),
        )

    @on(Input.Submitted, "#ask-input")
    def _ask_submitted(self, event: Input.Submitted) -> None:
        from workbench.kg.ask import check_question

        try:
            question = check_question(event.value)
        except WorkbenchError as exc:
            self._status(str(exc), error=True)
            return
        self._status(Text("thinking…", style="dim"))
        self.ask(question)

    @work(thread=True, exclusive=True, group="ask")
    def ask(self, question: str) -> None:
        """Answer ``question`` (the encoder loads the first time)."""
        hint = self._missing()
        if hint:
            self.app.call_from_thread(self._status, hint, True)
            return
        from workbench.kg.ask import ask

        started = time.perf_counter()
        if self.embedder is None:
            try:
                from workbench.kg.embed import Embedder

                # The model the graph's vectors came from (the bundled MiniLM by default).
                models = self.graph_query(lambda g: g.embedding_models())
                with LOAD_LOCK:
                    self.embedder = Embedder(models[0] if models else "minilm")
            except Exception as exc:  # noqa: BLE001 - shown in place
                self.app.call_from_thread(self._status, f"cannot load the encoder: {exc}", True)
                return
        embedder = self.embedder

        def answer(graph):
            with ENCODE_LOCK:
                return ask(graph, question, embedder).to_dict()

        def show(reply: dict) -> None:
            self.query_one("#answer", Static).update(answer_view(reply))
            self.query_one("#ask-scroll").scroll_home(animate=False)
            self._status(Text(f"answered in {time.perf_counter() - started:.1f} s", style="dim"))

        self._run(answer, show, "asking")

    # -- merges -----------------------------------------------------------------------------
    def action_merges(self) -> None:
        """Review pairs that may be one entity; Enter merges, x skips."""
        self._open_pane("merge-pane", "#merge-list", keys="Enter merges · x skips · Escape closes")
        self.query_one("#merge-head", Static).update(
            Text("looking for entities that may be one…", style="dim")
        )
        self.load_candidates()

    @work(thread=True, exclusive=True, group="merges")
    def load_candidates(self) -> None:
        hint = self._missing()
        if hint:
            self.app.call_from_thread(self._status, hint, True)
            return
        from workbench.kg.resolution import merge_candidates

        self._run(lambda g: merge_candidates(g, limit=100), self._show_candidates, "merges")

    def _show_candidates(self, candidates: list[dict]) -> None:
        candidates = [
            c for c in candidates if (c["from"]["id"], c["into"]["id"]) not in self._skipped
        ]
        self._candidates = candidates
        listing = self.query_one("#merge-list", OptionList)
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
            f"right (kept across rebuilds; kg split undoes it) · x: skip"
            if candidates
            else "no pairs look like one entity"
        )
        self.query_one("#merge-head", Static).update(Text(head, style="dim"))
        if candidates:
            listing.highlighted = min(at, len(candidates) - 1)

    def _skip_candidate(self) -> None:
        listing = self.query_one("#merge-list", OptionList)
        if listing.highlighted is None or not self._candidates:
            return
        skipped = self._candidates[listing.highlighted]
        self._skipped.add((skipped["from"]["id"], skipped["into"]["id"]))
        self._show_candidates(self._candidates)
        self._status(f"skipped {skipped['from']['name']} → {skipped['into']['name']}")

    @on(OptionList.OptionSelected, "#merge-list")
    def _merge_selected(self, event: OptionList.OptionSelected) -> None:
        candidate = self._candidates[int(str(event.option_id))]
        self.merge(candidate)

    @work(thread=True, exclusive=True, group="merge")
    def merge(self, candidate: dict) -> None:
        def done(result: dict) -> None:
            self._status(
                f"merged {result['from']['name']} #{result['from']['id']} into "
                f"{result['into']['name']} #{result['into']['id']} "
                f"({result['mentions']} mentions moved)"
            )
            self.load_candidates()

        self._run(
            lambda g: g.merge(candidate["from"]["id"], candidate["into"]["id"]), done, "merge"
        )

    # -- building ---------------------------------------------------------------------------
    def action_build(self) -> None:
        """Build (or update) this graph from a corpus in a child process, followed here;
        the fields start as the last build's."""
        last = (self.stats or {}).get("builds") or [{}]
        for field, value in (
            ("#build-ner", last[-1].get("ner_run")),
            ("#build-relations", last[-1].get("relation_run")),
            ("#build-corpus", last[-1].get("corpus")),
        ):
            widget = self.query_one(field, Input)
            if value and not widget.value:
                widget.value = str(value)
        self._open_pane(
            "build-pane",
            "#build-ner",
            keys=None if self.building else "Enter builds · Escape closes (a build goes on)",
            intro=(
                "#build-log",
                "Enter in any field starts the build (documents already in the graph "
                "unchanged are skipped, changed ones replaced, deleted ones removed; "
                "people's merges and judgements stay). Escape closes; the build goes on.",
            ),
        )

    @on(Input.Submitted, "#build-ner, #build-relations, #build-corpus")
    def _build_submitted(self, event: Input.Submitted) -> None:
        from workbench.runs.launch import LaunchedProcess

        ner = self.query_one("#build-ner", Input).value.strip()
        relations = self.query_one("#build-relations", Input).value.strip()
        corpus = self.query_one("#build-corpus", Input).value.strip()
        if self.building is not None:
            self._status("a build is running already", error=True)
            return
        for value, field in ((ner, "#build-ner"), (corpus, "#build-corpus")):
            if not value:
                self.query_one(field, Input).focus()
                self._status(f"{field[7:]}: needed for a build", error=True)
                return
        argv = ["kg", "build", "--ner", ner, "--corpus", corpus, "--graph", str(self.path)]
        argv += ["--relations", relations] if relations else []
        try:
            self.building = LaunchedProcess([*argv, "--events"])
        except OSError as exc:
            self._status(f"cannot start the build: {exc}", error=True)
            return
        self.query_one("#build-progress", ProgressBar).update(total=None, progress=0)
        self.query_one("#build-log", Static).update(Text("workbench " + " ".join(argv)))
        self._status(Text("building… (loading the models)", style="dim"))
        self._build_timer = self.set_interval(0.5, self._follow_build)

    def _follow_build(self) -> None:
        from workbench.kg.build import BuildProgress, parse_build_event

        build = self.building
        if build is None:
            return
        bar = self.query_one("#build-progress", ProgressBar)
        for line in build.read_output():
            event = parse_build_event(line)
            if isinstance(event, BuildProgress):
                bar.update(total=max(event.total, 1), progress=event.done)
                self._status(
                    Text(
                        f"building: {event.done} of {event.total} documents · "
                        f"{event.documents_per_s:.1f} docs/s",
                        style="dim",
                    )
                )
            elif isinstance(event, dict):
                # "added" counts replaced documents too: new ones are the rest.
                counts = {
                    "new": event["added"] - event["replaced"],
                    "replaced": event["replaced"],
                    "unchanged": event["skipped"],
                    "removed": event["removed"],
                }
                summary = ", ".join(f"{n} {what}" for what, n in counts.items())
                self.query_one("#build-log", Static).update(
                    Text(f"built in {event['seconds']:.1f} s: {summary} documents")
                )
        if build.returncode is None:
            return
        self._build_timer.stop()
        self.building = None
        error = build.error()
        if error:
            self._status(f"the build failed: {error}", error=True)
        else:
            self._status("built; the statistics are read again")
            self.load_stats()

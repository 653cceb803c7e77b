"""The Graph screen's entity pane: an entity's name and aliases, its relations as
a tree (inferred ones apart, to accept or reject) and its mentions, or why an
inferred relation was inferred."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Static, Tree

from workbench.kg.present import explanation_lines, step_arrow, triple_text
from workbench.tui.screens.graph.common import GraphPane


def mention_text(mention: dict) -> Text:
    """The mention's sentence with the entity marked (reverse and bold: readable
    without colour), after its document's name."""
    text = Text(f"{mention['document']}: ", style="dim")
    sentence, start, end = mention["sentence"], mention["start"], mention["end"]
    text.append(sentence[:start])
    text.append(sentence[start:end], style="bold reverse")
    text.append(sentence[end:])
    return text


class EntityPane(Vertical, GraphPane):
    """One entity; the screen decides which (``load``) and keeps the history."""

    class Loaded(Message):
        """An entity read for showing; ``remember``: Back returns to the one before."""

        def __init__(self, entity: dict, remember: bool) -> None:
            super().__init__()
            self.entity = entity
            self.remember = remember

    class Judged(Message):
        """A person's ``verdict`` on an inferred relation, stored; ``entity_id``: the
        entity it was judged on (shown again)."""

        def __init__(self, proposal: dict, verdict: str, entity_id: int) -> None:
            super().__init__()
            self.proposal = proposal
            self.verdict = verdict
            self.entity_id = entity_id

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._inferred: dict[Any, dict] = {}  # tree node id -> the proposal it shows
        self._mentions_text: Text = Text("")  # the entity's mentions, shown again after a why
        self._mentions_title = "mentions"
        self.entity_id: int | None = None  # the entity shown

    def compose(self) -> ComposeResult:
        yield Static("", id="entity-head")
        tree: Tree[int] = Tree("relations", id="entity-tree")
        tree.show_root = False
        tree.border_title = "relations (Enter hops)"
        yield tree
        with VerticalScroll(id="entity-mentions"):
            yield Static("", id="mentions")

    def on_mount(self) -> None:
        self.query_one("#entity-mentions").border_title = "mentions"

    @work(thread=True, exclusive=True, group="entity")
    def load(self, entity_id: int, remember: bool = True) -> None:
        if self.missing():
            return
        self.run_query(
            lambda graph: graph.queries.entity(entity_id),
            lambda entity: self.Loaded(entity, remember),
            "reading the entity",
        )

    @on(Tree.NodeSelected, "#entity-tree")
    def _hop(self, event: Tree.NodeSelected) -> None:
        if event.node.data is not None:  # a neighbour, not a relation group
            self.load(event.node.data)

    def on_entity_pane_loaded(self, message: EntityPane.Loaded) -> None:
        # Not stopped: the screen keeps the history and moves the focus.
        self.entity_id = message.entity["id"]
        self.show(message.entity)

    def judge_at_cursor(self, verdict: str) -> bool:
        """Accept or reject the inferred relation under the tree's cursor; False when
        the cursor is not on one."""
        node = self.query_one("#entity-tree", Tree).cursor_node
        proposal = self._inferred.get(node.id) if node is not None else None
        if proposal is None or self.entity_id is None:
            return False
        self.judge(proposal, verdict, self.entity_id)
        return True

    @work(thread=True, exclusive=True, group="judge")
    def judge(self, proposal: dict, verdict: str, entity_id: int) -> None:
        self.run_query(
            lambda graph: graph.decisions.judge(proposal["id"], verdict),
            lambda _: self.Judged(proposal, verdict, entity_id),
            verdict,
        )

    def on_entity_pane_judged(self, message: EntityPane.Judged) -> None:
        proposal = message.proposal
        self.say(
            Text.assemble(
                f"{message.verdict}: ",
                triple_text(proposal["head"], proposal["type"], proposal["tail"]),
            )
        )
        self.load(message.entity_id, remember=False)

    def show(self, entity: dict) -> None:
        """The head, the relations tree and the mentions of ``entity``."""
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

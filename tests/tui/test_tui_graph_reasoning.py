"""The Graph screen's reasoning and people's parts, with Pilot: an inferred
relation shown apart, with why, and accepted; a question asked and answered
with its evidence (and "I don't know"); merge candidates reviewed and merged."""

from __future__ import annotations

import asyncio
import threading

import pytest
from textual.widgets import Input, OptionList, ProgressBar, Static, Tree

from helpers.files import write
from helpers.graph_screen import SIZE, open_entity, open_graph, tree_labels
from helpers.kg_graphs import WORLD, Letters, add, fact_documents
from helpers.runs import train_run
from helpers.tui import app_for, text_of, wait_for
from workbench.kg import question_model
from workbench.kg.infer import run_inference
from workbench.kg.store import Graph


def world(tmp_path, extra=(), infer: bool = True):
    path = tmp_path / "graph.sqlite"
    with Graph.open(path) as graph:
        add(graph, fact_documents(WORLD + list(extra)))
        if infer:
            run_inference(graph)
    return path


def test_an_inferred_relation_is_marked_explained_and_can_be_accepted(tmp_path):
    graph = world(tmp_path)

    async def scenario():
        async with app_for(tmp_path, graph_path=graph).run_test(size=SIZE) as pilot:
            screen = await open_graph(pilot)
            await open_entity(pilot, screen, "eve", "Eve")
            labels = tree_labels(screen)
            assert "inferred (a: accept · x: reject) (1)" in labels
            assert "  ? —lives_in→ Rome LOC · 0.30" in labels
            tree = screen.query_one("#entity-tree", Tree)
            leaf = next(n for n in tree.root.children[-1].children)
            tree.move_cursor(leaf)
            await wait_for(
                pilot,
                lambda: screen.query_one("#entity-mentions").border_title == "why it was inferred",
                what="the explanation",
            )
            why = " ".join(text_of(screen.query_one("#mentions", Static)).split())
            assert "works_for(X, Z) ∧ based_in(Z, Y) ⇒ lives_in(X, Y)" in why
            assert "because Eve (PER) —works_for→ Bolt (ORG) and Bolt (ORG) —based_in→ Rome" in why
            await pilot.press("a")
            await wait_for(
                pilot,
                lambda: "accepted by a person (1)" in tree_labels(screen),
                what="the accepted fact",
            )
            assert not any(label.startswith("inferred") for label in tree_labels(screen))
        with Graph.open(graph) as g:
            assert [(a["head"]["name"], a["tail"]["name"]) for a in g.decisions.accepted()] == [
                ("Eve", "Rome")
            ]

    asyncio.run(scenario())


def test_ask_answers_with_evidence_or_says_it_does_not_know(tmp_path, monkeypatch):
    extra = [("Ann Berg", "lives_in", "Rome"), ("Bo Berg", "lives_in", "Oslo")]
    graph = world(tmp_path, extra=extra, infer=False)
    # The first question trains the graph's question model: held until the
    # status line has said so, as a slow machine would.
    trained = threading.Event()
    fit = question_model.fit

    def slow_fit(*args, **kwargs):
        assert trained.wait(60), "the status line never said it was learning"
        return fit(*args, **kwargs)

    monkeypatch.setattr(question_model, "_MEMORY", {})
    monkeypatch.setattr(question_model, "fit", slow_fit)

    async def scenario():
        async with app_for(tmp_path, graph_path=graph).run_test(size=SIZE) as pilot:
            screen = await open_graph(pilot)
            await pilot.press("escape", "question_mark")  # out of the search box, then ?
            await wait_for(pilot, lambda: screen.query_one("#graph-detail").current == "ask-pane")
            await pilot.press(*"Where does Ann live?", "enter")
            status = screen.query_one("#graph-status")
            await wait_for(
                pilot,
                lambda: "learning this graph's questions" in text_of(status),
                what="the learning status",
            )
            trained.set()
            answer = screen.query_one("#answer", Static)
            # Training takes seconds; minutes on a machine busy with other work.
            await wait_for(pilot, lambda: "Oslo" in text_of(answer), 300, what="the answer")
            assert "“Ann lives in Oslo.”" in text_of(answer)
            assert "read as: Ann —lives_in→ ?" in text_of(answer)  # the chain it followed
            field = screen.query_one("#ask-input")
            field.value = ""
            await pilot.press(*"Where does Berg live?", "enter")
            await wait_for(pilot, lambda: "Did you mean" in text_of(answer), what="candidates")
            assert "Ann Berg" in text_of(answer) and "Bo Berg" in text_of(answer)
            field.value = ""
            await pilot.press(*"Where does Zoltan live?", "enter")
            await wait_for(pilot, lambda: "I don't know" in text_of(answer), what="no answer")
            field.value = ""
            await pilot.press("enter")
            await wait_for(
                pilot, lambda: "empty" in text_of(screen.query_one("#graph-status")), what="error"
            )
            await pilot.press("escape")
            await wait_for(pilot, lambda: screen.query_one("#graph-detail").current == "stats-pane")

    asyncio.run(scenario())


def test_merge_candidates_are_reviewed_and_merged(tmp_path):
    graph = world(tmp_path, extra=[("Ben", "works_for", "Acme Group")], infer=False)
    sha = "SELECT text_sha FROM embeddings WHERE entity_id = ?"
    with Graph.open(graph) as g:
        g.vectors.refresh_embeddings(Letters())
        kept = g.queries.resolve("Acme Group")["id"]
        before = g.core.conn.execute(sha, (kept,)).fetchone()[0]

    async def scenario():
        async with app_for(tmp_path, graph_path=graph).run_test(size=SIZE) as pilot:
            screen = await open_graph(pilot)
            screen.embedder = Letters()  # as if loaded by a search or a question
            await pilot.press("escape", "m")
            listing = screen.query_one("#merge-list", OptionList)
            await wait_for(pilot, lambda: listing.option_count > 0, what="candidates")
            first = listing.get_option_at_index(0).prompt.plain
            # The shorter name goes into the fuller one, though it has more mentions.
            assert first.startswith("Acme #") and "→ Acme Group #" in first
            assert "every word of 'Acme' is in 'Acme Group'" in first
            await pilot.press("enter")
            await wait_for(
                pilot,
                lambda: "merged Acme #" in text_of(screen.query_one("#graph-status")),
                what="merged",
            )
        with Graph.open(graph) as g:
            merged = g.queries.resolve("Acme")
            assert g.queries.resolve("Acme Group")["id"] == merged["id"]
            assert merged["name"] == "Acme Group"  # the entity merged into keeps its name
            assert g.decisions.merges()[0]["from"] == "acme"
            # The kept entity's profile changed (Acme's relations joined it): re-embedded.
            assert g.core.conn.execute(sha, (merged["id"],)).fetchone()[0] != before

    asyncio.run(scenario())


@pytest.mark.slow
def test_a_build_started_on_the_screen_is_followed_to_the_end(tmp_path, ner_recipe):
    """A real (tiny) NER run; the screen launches `kg build --events` in a child
    process, shows its progress, and reads the statistics again when it ends."""
    run = train_run(ner_recipe)
    write(tmp_path / "corpus" / "a.txt", "Maria Rossi works for Kestrel Bank. She lives in Porto.")
    write(tmp_path / "corpus" / "b.txt", "Jon Berg visited Oslo.")
    graph = tmp_path / "graph.sqlite"

    async def scenario():
        async with app_for(tmp_path, graph_path=graph).run_test(size=SIZE) as pilot:
            screen = await open_graph(pilot, exists=False)
            await pilot.press("escape", "b")
            await wait_for(pilot, lambda: screen.query_one("#graph-detail").current == "build-pane")
            screen.query_one("#build-ner", Input).value = str(run)
            screen.query_one("#build-corpus", Input).value = str(tmp_path / "corpus")
            screen.query_one("#build-ner", Input).focus()
            await pilot.press("enter")
            await wait_for(pilot, lambda: screen.building is not None, what="the build started")
            await wait_for(pilot, lambda: screen.building is None, timeout=180, what="the build")
            # The pane says "built" through a message: it may land a tick after the end.
            await wait_for(
                pilot,
                lambda: "built" in text_of(screen.query_one("#graph-status")),
                what="the status to say it was built",
            )
            status = text_of(screen.query_one("#graph-status"))
            assert "built" in status, status
            assert "2 new, 0 replaced, 0 unchanged" in text_of(screen.query_one("#build-log"))
            bar = screen.query_one("#build-progress", ProgressBar)
            assert bar.progress == bar.total == 2
            await wait_for(pilot, lambda: (screen.stats or {}).get("documents") == 2, what="stats")
            # A second build of the same corpus: everything skipped, nothing lost.
            await pilot.press("escape", "b")  # out of the field, then b
            await wait_for(pilot, lambda: screen.query_one("#graph-detail").current == "build-pane")
            assert screen.query_one("#build-ner", Input).value == str(run)  # kept
            await pilot.press("enter")
            await wait_for(pilot, lambda: screen.building is None, timeout=180, what="again")
            assert "0 new, 0 replaced, 2 unchanged" in text_of(screen.query_one("#build-log"))

    asyncio.run(scenario())

"""The Graph screen in tests: a small graph to show (``build_graph``), and driving
the screen with Pilot (open it, open an entity, read its lists)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import OptionList, Tree

from helpers.tui import wait_for
from workbench.tui.screens.graph import GraphScreen

SIZE = (100, 30)

# (document, sentence, [(entity text, type)], [(head index, relation, tail index)])
SENTENCES = [
    (
        "news/a.txt",
        "Maria Lindqvist works for Kestrel Analytics.",
        [("Maria Lindqvist", "PER"), ("Kestrel Analytics", "ORG")],
        [(0, "works_for", 1)],
    ),
    (
        "news/a.txt",
        "Kestrel Analytics is based in Porto.",
        [("Kestrel Analytics", "ORG"), ("Porto", "LOC")],
        [(0, "based_in", 1)],
    ),
    (
        "news/b.txt",
        "Jon Berg works for Nordwind.",
        [("Jon Berg", "PER"), ("Nordwind", "ORG")],
        [(0, "works_for", 1)],
    ),
    (
        "news/b.txt",
        "Nordwind is based in Porto, like Kestrel Analytics.",
        [("Nordwind", "ORG"), ("Porto", "LOC"), ("Kestrel Analytics", "ORG")],
        [(0, "based_in", 1), (2, "based_in", 1)],
    ),
]


def build_graph(path: Path, embedder=None) -> Path:
    """A small graph of four sentences in two documents, built through the Graph API."""
    from workbench.kg.store import Graph

    with Graph.open(path) as graph:
        build = graph.ingest.begin_build("ner-run", "relation-run", "news", {})
        documents: dict[str, list[dict]] = {}
        for document, text, entities, relations in SENTENCES:
            sentences = documents.setdefault(document, [])
            offset = sum(len(s["text"]) + 1 for s in sentences)
            sentences.append(
                {
                    "text": text,
                    "start": offset,
                    "entities": [
                        {
                            "text": e,
                            "type": t,
                            "start": text.index(e),
                            "end": text.index(e) + len(e),
                            "score": 0.9,
                        }
                        for e, t in entities
                    ],
                    "relations": [
                        {"head": h, "tail": t, "type": r, "score": 0.8} for h, r, t in relations
                    ],
                }
            )
        for document, sentences in documents.items():
            graph.ingest.add_document(document, document, f"sha-{document}", sentences, build)
        graph.ingest.finish_build(build, len(documents), 0, len(SENTENCES))
        if embedder is not None:
            graph.vectors.refresh_embeddings(embedder)
    return path


def results(screen: GraphScreen) -> list[str]:
    """The results list as shown, one string an entry."""
    options = screen.query_one("#graph-results", OptionList).options
    return [option.prompt.plain for option in options]


def result_names(screen: GraphScreen) -> list[str]:
    return [result.split("\n")[0].split(" ~ ")[0] for result in results(screen)]


def tree_labels(screen: GraphScreen) -> list[str]:
    """Every node of the relations tree, groups before their leaves."""
    labels = []
    for group in screen.query_one("#entity-tree", Tree).root.children:
        labels.append(group.label.plain)
        labels += ["  " + leaf.label.plain for leaf in group.children]
    return labels


async def open_graph(pilot, exists: bool = True) -> GraphScreen:
    """The Graph screen, opened with F4 (which works wherever the focus is), once
    it shows the graph's statistics (when there is a graph to read)."""
    await pilot.press("f4")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, GraphScreen), what="graph")
    screen = pilot.app.screen
    if exists:
        await wait_for(pilot, lambda: screen.stats is not None, what="the statistics")
    return screen


async def open_entity(pilot, screen: GraphScreen, text: str, name: str) -> None:
    """Search ``text``, then Enter (to the results) and Enter (on the first one)."""
    await pilot.press(*text)
    await wait_for(pilot, lambda: name in result_names(screen), what=f"{name} found")
    await pilot.press("enter", "enter")
    await wait_for(pilot, lambda: screen.current_name == name, what=f"{name} shown")
    await pilot.pause()

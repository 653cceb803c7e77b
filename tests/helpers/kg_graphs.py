"""Hand-made sentence records and small graphs for the knowledge-graph tests
(what kg/build.py would hand graph.ingest.add_document, without any model)."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from workbench.kg.store import Graph


def sentence(text: str, entities, relations=(), start: int = 0) -> dict:
    """``sentence("Ana works for Beta.", [("Ana", "PER"), ("Beta", "ORG")],
    [(0, "works_for", 1)])``; entities are listed in the order they appear."""
    found, pos = [], 0
    for surface, etype in entities:
        at = text.index(surface, pos)
        found.append(
            {"text": surface, "type": etype, "start": at, "end": at + len(surface), "score": 0.9}
        )
        pos = at + len(surface)
    return {
        "text": text,
        "start": start,
        "entities": found,
        "relations": [
            {"head": h, "tail": t, "type": rtype, "score": 0.8} for h, rtype, t in relations
        ],
    }


def sha(sentences: list[dict]) -> str:
    return hashlib.sha1(json.dumps(sentences, sort_keys=True).encode()).hexdigest()


def add(graph: Graph, documents: dict[str, list[dict]], build_id: int | None = None) -> int:
    """Add documents in one build; returns how many were stored."""
    if build_id is None:
        build_id = graph.ingest.begin_build("runs/ner", "runs/rel", "corpus/", {"threshold": 0.5})
    added = sum(
        graph.ingest.add_document(key, f"corpus/{key}", sha(sents), sents, build_id)
        for key, sents in documents.items()
    )
    graph.ingest.finish_build(
        build_id, added, len(documents) - added, sum(len(s) for s in documents.values())
    )
    return added


KESTREL = {
    "a.txt": [
        sentence(
            "Maria Rossi works for The Kestrel Group.",
            [("Maria Rossi", "PER"), ("The Kestrel Group", "ORG")],
            [(0, "works_for", 1)],
        ),
        sentence(
            "Kestrel Group's office is in Lisbon.",
            [("Kestrel Group's", "ORG"), ("Lisbon", "LOC")],
            [(0, "based_in", 1)],
            start=41,
        ),
    ],
    "b.txt": [
        sentence(
            "Jon Berg founded kestrel group in Lisbon.",
            [("Jon Berg", "PER"), ("kestrel group", "ORG"), ("Lisbon", "LOC")],
            [(0, "founded", 1), (1, "based_in", 2)],
        ),
        sentence(
            "Jordan met Jon Berg in Jordan.",
            [("Jordan", "PER"), ("Jon Berg", "PER"), ("Jordan", "LOC")],
            [(0, "met", 1)],
            start=42,
        ),
        sentence(
            "Jordan called Maria Rossi.", [("Jordan", "PER"), ("Maria Rossi", "PER")], start=73
        ),
    ],
}

NORDWIND = {
    "c.txt": [
        sentence(
            "Nordwind opened an office in Lisbon.",
            [("Nordwind", "ORG"), ("Lisbon", "LOC")],
            [(0, "based_in", 1)],
        ),
    ],
}

# Ana -works_for-> Beta -based_in-> Cora; Ana -studied_at-> Eton -located_in-> Cora;
# Dax -lives_in-> Cora; Fay -owns-> Gala (apart from the rest).
CHAIN = {
    "chain.txt": [
        sentence("Ana works for Beta.", [("Ana", "PER"), ("Beta", "ORG")], [(0, "works_for", 1)]),
        sentence(
            "Beta is based in Cora.", [("Beta", "ORG"), ("Cora", "LOC")], [(0, "based_in", 1)]
        ),
        sentence("Dax lives in Cora.", [("Dax", "PER"), ("Cora", "LOC")], [(0, "lives_in", 1)]),
        sentence("Ana studied at Eton.", [("Ana", "PER"), ("Eton", "ORG")], [(0, "studied_at", 1)]),
        sentence("Eton is in Cora.", [("Eton", "ORG"), ("Cora", "LOC")], [(0, "located_in", 1)]),
        sentence("Fay owns Gala.", [("Fay", "PER"), ("Gala", "ORG")], [(0, "owns", 1)]),
    ],
}


def kestrel_graph(path) -> Graph:
    """The Kestrel documents in a fresh graph file (left open)."""
    graph = Graph.open(path)
    add(graph, KESTREL)
    return graph


TYPES = {
    "works_for": ("PER", "ORG"),
    "based_in": ("ORG", "LOC"),
    "lives_in": ("PER", "LOC"),
    "founded": ("PER", "ORG"),
    "located_in": ("LOC", "LOC"),
    "makes": ("ORG", "PRODUCT"),
    "studied_at": ("PER", "ORG"),
}


def fact_documents(facts: list[tuple[str, str, str]], prefix: str = "f") -> dict:
    """One document a fact: ``("Ann", "works_for", "Acme")`` -> "Ann works for Acme."."""
    docs = {}
    for n, (head, relation, tail) in enumerate(facts):
        head_type, tail_type = TYPES[relation]
        words = relation.replace("_", " ")
        docs[f"{prefix}{n:02d}.txt"] = [
            sentence(
                f"{head} {words} {tail}.",
                [(head, head_type), (tail, tail_type)],
                [(0, relation, 1)],
            )
        ]
    return docs


# Employees mostly live where their employer is based: works_for(X, Z) ∧
# based_in(Z, Y) ⇒ lives_in(X, Y) holds for Ann, Ben and Dan, not for Cid
# (Paris), and Eve's home is not stated — the rule should propose Rome.
WORLD = [
    ("Ann", "works_for", "Acme"),
    ("Ben", "works_for", "Acme"),
    ("Cid", "works_for", "Acme"),
    ("Dan", "works_for", "Bolt"),
    ("Eve", "works_for", "Bolt"),
    ("Acme", "based_in", "Oslo"),
    ("Bolt", "based_in", "Rome"),
    ("Ann", "lives_in", "Oslo"),
    ("Ben", "lives_in", "Oslo"),
    ("Cid", "lives_in", "Paris"),
    ("Dan", "lives_in", "Rome"),
]


def proposal_about(graph: Graph, head: str) -> dict:
    """The first inferred triple whose head is named ``head``."""
    return next(p for p in graph.decisions.inferred() if p["head"]["name"] == head)


class Letters:
    """A stand-in encoder: letter counts (fast, deterministic, unit rows)."""

    name = "letters"

    def encode(self, texts, batch_size=64):
        rows = np.array(
            [[t.lower().count(c) for c in "abcdefghijklmnopqrstuvwxyz"] + [1] for t in texts],
            dtype=np.float32,
        )
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

"""What ``kg ask`` (kg/ask.py) reads from the graph, and nothing else does: the
pairings of types each relation joins, the words the documents put between a
relation's two entities, and the walk along a chain of relations to its answers.

Functions over a store.Graph rather than methods of one of its parts: they read
across parts (the extracted relations, and people's and reasoning's triples).
"""

from __future__ import annotations

import re
from collections import Counter

from workbench.kg.store import Graph

_WORDS = re.compile(r"\w+")


def relation_signatures(graph: Graph, min_share: float = 0.1) -> list[tuple[str, str, str]]:
    """(relation, head type, tail type) for the pairings that hold at least
    ``min_share`` of a relation's triples (a mistyped entity or two do not
    make "a company lives in a city" a pairing of the graph)."""
    counts: dict[str, list[tuple[str, str, int]]] = {}
    for r in graph.core.q(
        "SELECT r.type, h.type, t.type, count(*) FROM relations r "
        "JOIN entities h ON h.id = r.head_id JOIN entities t ON t.id = r.tail_id "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    ):
        counts.setdefault(r[0], []).append((r[1], r[2], r[3]))
    return [
        (relation, h, t)
        for relation, pairs in counts.items()
        for h, t, n in pairs
        if n >= min_share * sum(p[2] for p in pairs)
    ]


def relation_phrasings(graph: Graph, per_relation: int = 6) -> dict[tuple[str, bool], list[str]]:
    """How the documents word each relation: the text between its two
    mentions in evidence sentences, most frequent first, keyed by
    (relation, True) when the head comes first, (relation, False) when the tail does."""
    counts: dict[tuple[str, bool], Counter[str]] = {}
    for r in graph.core.q(
        "SELECT rel.type, s.text, hm.start AS hs, hm.end AS he, tm.start AS ts, tm.end AS te "
        "FROM evidence ev JOIN relations rel ON rel.id = ev.relation_id "
        "JOIN sentences s ON s.id = ev.sentence_id "
        "JOIN mentions hm ON hm.id = ev.head_mention_id "
        "JOIN mentions tm ON tm.id = ev.tail_mention_id"
    ):
        forward = r["he"] <= r["ts"]
        middle = r["text"][r["he"] : r["ts"]] if forward else r["text"][r["te"] : r["hs"]]
        words = _WORDS.findall(middle)
        if 0 < len(words) <= 6:
            counts.setdefault((r["type"], forward), Counter())[" ".join(words).lower()] += 1
    return {k: [p for p, _ in c.most_common(per_relation)] for k, c in counts.items()}


def follow(
    graph: Graph, entity_id: int, chain: list[tuple[str, bool]], limit: int = 20
) -> list[dict]:
    """The entities at the end of ``chain`` (relation, forward) from
    ``entity_id``, most confident first: {"entity","confidence","kind",
    "steps": [{"from","type","to","forward","kind","evidence"|"explanation"}]}.
    A step uses the graph's extracted relations and the triples people
    accepted; where a node has neither, reasoning's proposals (kind "inferred")."""
    start = graph.core.entity_row(entity_id)
    # Once, not once a node: each resolves names through merges.
    accepted = graph.decisions.accepted()
    frontier: dict[int, tuple[float, list[dict]]] = {entity_id: (1.0, [])}
    for relation, forward in chain:
        reached: dict[int, tuple[float, list[dict]]] = {}
        for node, (confidence, steps) in frontier.items():
            for edge in _edges_from(graph, node, relation, forward, accepted):
                if edge["other"] == entity_id:
                    continue
                value = confidence * edge["confidence"]
                if edge["other"] not in reached or value > reached[edge["other"]][0]:
                    reached[edge["other"]] = (value, steps + [edge])
        frontier = reached
    best = sorted(frontier.items(), key=lambda item: (-item[1][0], item[0]))[:limit]
    briefs = graph.queries.briefs(
        [start["id"]] + [e for e, _ in best] + [s["other"] for _, (_, steps) in best for s in steps]
    )
    evidence = graph.queries.evidence(
        [s["relation_id"] for _, (_, steps) in best for s in steps if s.get("relation_id")]
    )
    answers = []
    for other, (confidence, steps) in best:
        shown, here = [], start["id"]
        for s in steps:
            step = {
                "from": briefs[here],
                "type": s["type"],
                "to": briefs[s["other"]],
                "forward": s["forward"],
                "kind": s["kind"],
            }
            if s["kind"] == "extracted":
                step["evidence"] = evidence.get(s["relation_id"], [])[:2]
            else:
                step["explanation"] = s.get("explanation", [])
            shown.append(step)
            here = s["other"]
        kinds = {s["kind"] for s in steps}
        answers.append(
            {
                "entity": briefs[other],
                "confidence": round(confidence, 4),
                "kind": "inferred"
                if "inferred" in kinds
                else "accepted"
                if "accepted" in kinds
                else "extracted",
                "steps": shown,
            }
        )
    return answers


def _edges_from(
    graph: Graph, node: int, relation: str, forward: bool, accepted: list[dict]
) -> list[dict]:
    """``node``'s edges of ``relation`` one way: extracted ones and those of the
    ``accepted`` triples; reasoning's proposals only where there are neither."""
    this, other = ("head_id", "tail_id") if forward else ("tail_id", "head_id")
    near, far = ("head", "tail") if forward else ("tail", "head")
    edges = [
        {"other": r[0], "relation_id": r[1], "confidence": r[2], "kind": "extracted"}
        for r in graph.core.q(
            f"SELECT {other}, id, score FROM relations WHERE {this} = ? AND type = ?",
            (node, relation),
        )
    ]

    def edges_of(facts: list[dict], kind: str) -> list[dict]:
        return [
            {
                "other": f[far]["id"],
                "confidence": f.get("score", 1.0),  # a person's accepted triple: 1
                "kind": kind,
                "explanation": f["explanation"],
            }
            for f in facts
            if f["type"] == relation and f[near]["id"] == node
        ]

    edges += edges_of(accepted, "accepted")
    if not edges:
        edges = edges_of(graph.decisions.inferred(entity_id=node), "inferred")
    return [{**e, "type": relation, "forward": forward} for e in edges]


def chain_exists(graph: Graph, steps: list[tuple[str, bool]]) -> bool:
    """Whether some entity of the graph starts a walk along ``steps`` (relation,
    forward) to its end, over the extracted relations (one indexed query)."""
    joins, where, args = [], [], []
    for i, (relation, forward) in enumerate(steps):
        near, far = ("head_id", "tail_id") if forward else ("tail_id", "head_id")
        joins.append(f"relations r{i}")
        where.append(f"r{i}.type = ?")
        args.append(relation)
        if i:
            prev_far = "tail_id" if steps[i - 1][1] else "head_id"
            where.append(f"r{i}.{near} = r{i - 1}.{prev_far}")
            # Not straight back to where the walk was a step ago.
            prev_near = "head_id" if steps[i - 1][1] else "tail_id"
            where.append(f"r{i}.{far} != r{i - 1}.{prev_near}")
    sql = f"SELECT 1 FROM {', '.join(joins)} WHERE {' AND '.join(where)} LIMIT 1"
    return bool(graph.core.q(sql, args))

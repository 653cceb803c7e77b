"""``workbench kg infer``: propose triples the text never stated.

Candidates come from rules mined from the graph's extracted relations (and the
triples people accepted; kg/rules.py), each with the rules that fired and the
chains of facts that fired them, and from pairs of entities a sentence or a
document names together whose types fit a relation, each with that sentence
(kg/proposals.py). A scorer learned from the graph itself ranks them (hide some
of its facts, learn to find them back; kg/proposals.py); a graph too small to
learn from keeps the rules' scores. With ``method`` set to ``embeddings`` or
``both``, a PyKEEN embedding model (kg/linkpredict.py) ranks candidates too:
alone, or as a second opinion that reorders the proposals and adds pairs
nothing else reaches. Proposals go to the graph's ``inferred`` table, apart from
the evidence (store/decisions.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.errors import WorkbenchError
from workbench.kg import proposals as kg_proposals
from workbench.kg import rules as kg_rules
from workbench.kg.comention import Text

METHODS = ("rules", "embeddings", "both")
CHAINS_SHOWN = 3  # grounded chains kept per rule in an explanation
RULES_SHOWN = 3  # rules kept per proposal
EMBEDDING_BATCH = 1024  # heads scored at once against every entity


@dataclass
class InferSettings:
    """What a reasoning pass mines and keeps."""

    method: str = "rules"
    min_support: int = 2
    min_confidence: float = 0.1
    min_score: float = 0.2
    limit: int = 500
    embedding_weight: float = 0.2  # how much the embedding model's probability counts in "both"
    epochs: int = 100
    seed: int = 0
    learn: bool = True  # rank with a scorer learned from the graph, when it is large enough


def functionality(index: kg_rules.TripleIndex) -> dict[str, float]:
    """relation -> distinct heads / facts: 1.0 when each head has one tail
    (lives_in), lower when heads have many (makes)."""
    return {
        r: (np.count_nonzero(m.getnnz(axis=1)) / m.nnz if m.nnz else 0.0)
        for r, m in index.matrix.items()
    }


def run_inference(graph, settings: InferSettings | None = None) -> dict[str, Any]:
    """Mine, propose, rank and store; returns {"rules": [Rule], "proposed": n,
    "facts": n, "method": ..., "scorer": {...} or None}. Replaces the graph's
    previous proposals."""
    s = settings or InferSettings()
    if s.method not in METHODS:
        raise WorkbenchError(f"--method {s.method}: choose one of {', '.join(METHODS)}")
    triples = graph.decisions.triples()
    if not triples:
        raise WorkbenchError(f"{graph.path}: the graph holds no relations to reason from")
    index = kg_rules.TripleIndex(triples)
    mined = kg_rules.mine_rules(index, s.min_support, s.min_confidence)
    types = {r[0]: r[1] for r in graph.core.q("SELECT id, type FROM entities")}
    proposals: dict[tuple[int, str, int], dict] = {}
    scorer, pool = None, None
    if s.method in ("rules", "both"):
        text = Text(graph, types)
        predictions = kg_rules.predict(index, mined, count=True)
        facts = set(triples)
        pool = kg_proposals.Pool(facts, text, types, predictions)
        if s.learn:
            scorer = kg_proposals.learn(
                facts,
                graph.decisions.triples(accepted=False),
                text,
                types,
                s.min_support,
                s.min_confidence,
                s.seed,
            )
        proposals = _from_pool(pool, scorer)
    if s.method in ("embeddings", "both"):
        _from_embeddings(types, triples, proposals, s)
    _keep_signatures(types, triples, proposals)
    _penalise_second_values(index, proposals)
    kept = sorted(
        (p for p in proposals.values() if p["score"] >= s.min_score),
        key=lambda p: (-p["score"], p["type"], p["head"], p["tail"]),
    )[: s.limit]
    _explain(index, mined, kept)
    if pool is not None:
        _explain_text(pool, scorer, kept)
    _name_chains(graph, kept)
    stored = graph.decisions.replace_inferred(kept)
    summary = None
    if scorer is not None:
        summary = {"hidden": scorer.hidden, "found": scorer.found, "draws": scorer.draws}
    return {
        "rules": mined,
        "proposed": stored,
        "facts": len(triples),
        "method": s.method,
        "scorer": summary,
    }


def _from_pool(pool: kg_proposals.Pool, scorer: kg_proposals.Scorer | None) -> dict:
    """The candidates as proposals, scored by ``scorer`` (or by the rules' own
    scores and a fixed prior without one); explained later, once kept."""
    keys, x = pool.matrix()
    scores = scorer.probability(x) if scorer is not None and len(keys) else None
    found = {}
    for n, key in enumerate(keys):
        c = pool.candidates[key]
        share = pool.share_of(c.head, c.relation, c.tail)
        named = c.sentences or c.documents
        method = "rules+co-mention" if c.rule and named else "rules" if c.rule else "co-mention"
        found[key] = {
            "head": c.head,
            "type": c.relation,
            "tail": c.tail,
            "score": float(scores[n]) if scores is not None else kg_proposals.prior(c, share),
            "method": method,
            "explanation": [],
            "support": [],
            "candidate": c,
        }
    return found


def _explain_text(
    pool: kg_proposals.Pool, scorer: kg_proposals.Scorer | None, kept: list[dict]
) -> None:
    """The sentences that name both ends of each kept proposal, and what the
    learned scorer weighed most; the candidate itself leaves the proposal."""
    for p in kept:
        c = p.pop("candidate", None)
        if c is None:
            continue
        p["explanation"] += kg_proposals.notes(c, pool)
        if scorer is not None:
            reasons = scorer.reasons(c.features)
            if reasons:
                p["explanation"].append(
                    {"kind": "scorer", "note": f"ranked up by: {', '.join(reasons)}"}
                )


def _explain(index: kg_rules.TripleIndex, mined: list[kg_rules.Rule], kept: list[dict]) -> None:
    """The rules that fired for each kept proposal and the chains that fired them
    (first in its explanation); its support: one chain of every rule that fired."""
    for p in kept:
        if "rules" not in p["method"]:
            continue
        prediction = kg_rules.Prediction(p["head"], p["type"], p["tail"], p["score"])
        notes, support = [], []
        for n, rule in enumerate(kg_rules.fired(index, mined, prediction)):
            chains = kg_rules.groundings(
                index, rule, p["head"], p["tail"], CHAINS_SHOWN if n < RULES_SHOWN else 1
            )
            support += [[list(step) for step in chain] for chain in chains]
            if n < RULES_SHOWN:
                notes.append(
                    {
                        "kind": "rule",
                        "rule": rule.text(),
                        "confidence": round(rule.confidence, 4),
                        "pca_confidence": round(rule.pca_confidence, 4),
                        "support": rule.support,
                        "chains": [[list(step) for step in chain] for chain in chains],
                    }
                )
        p["explanation"] = notes + p["explanation"]
        p["support"] = support


def _from_embeddings(types: dict[int, str], triples, proposals: dict, s: InferSettings) -> None:
    """Score candidates of each relation's head and tail types with an
    embedding model; fold its probability into rule proposals ("both") or add
    its best candidates as proposals of their own."""
    from workbench.kg.linkpredict import Embeddings, EmbeddingSettings

    model = Embeddings(triples, EmbeddingSettings(epochs=s.epochs, seed=s.seed))
    columns = np.asarray(model.entities)
    ends: dict[str, tuple[set, set]] = defaultdict(lambda: (set(), set()))
    for h, r, t in triples:
        ends[r][0].add(types.get(h))
        ends[r][1].add(types.get(t))
    known = set(triples)
    for relation, (head_types, tail_types) in ends.items():
        heads = [e for e in model.entities if types.get(e) in head_types]
        allowed = np.array([types.get(e) in tail_types for e in model.entities])
        if not heads or not allowed.any():
            continue
        column_of = {e: i for i, e in enumerate(model.entities)}
        of = int(allowed.sum())
        ruled: dict[int, list[tuple[int, str, int]]] = defaultdict(list)
        for key in proposals:
            if key[1] == relation and key[2] in column_of:
                ruled[key[0]].append(key)
        for start in range(0, len(heads), EMBEDDING_BATCH):  # memory: a batch × entities
            batch = heads[start : start + EMBEDDING_BATCH]
            scores = model.tail_scores(batch, relation)
            scores[:, ~allowed] = -np.inf
            probs = np.exp(scores - scores.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            for row, head in enumerate(batch):
                line = probs[row]

                def note(p: float, line=line, of=of) -> dict:
                    return {
                        "kind": "embedding",
                        "model": model.settings.model,
                        "probability": round(p, 4),
                        "rank": int((line > p).sum()) + 1,
                        "of": of,
                    }

                # The rules' proposals get the model's opinion of exactly their pair.
                for key in ruled.get(head, ()):
                    p = float(line[column_of[key[2]]])
                    proposals[key]["score"] += s.embedding_weight * p
                    proposals[key]["method"] = "rules+embeddings"
                    proposals[key]["explanation"].append(note(p))
                # And the model's own best candidates (its top one, when rules lead).
                top = 3 if s.method == "embeddings" else 1
                best = np.argpartition(-line, min(top, len(line) - 1))[:top]
                for col in best[np.argsort(-line[best])]:
                    tail = int(columns[col])
                    key = (head, relation, tail)
                    if key in known or key in proposals or head == tail or not allowed[col]:
                        continue
                    p = float(line[col])
                    weight = 1.0 if s.method == "embeddings" else s.embedding_weight
                    proposals[key] = {
                        "head": head,
                        "type": relation,
                        "tail": tail,
                        "score": weight * p,
                        "method": "embeddings",
                        "explanation": [note(p)],
                        "support": [],
                    }


def _keep_signatures(types: dict[int, str], triples, proposals: dict) -> None:
    """Drop proposals whose pair of types the relation never joins in the graph
    (a rule through lives_in may chain a city to a person; lives_in goes the other way)."""
    seen = {(r, types[h], types[t]) for h, r, t in triples}
    for key in [k for k in proposals if (k[1], types[k[0]], types[k[2]]) not in seen]:
        del proposals[key]


def _penalise_second_values(index: kg_rules.TripleIndex, proposals: dict) -> None:
    """A relation nearly every head has once (lives_in) makes a second value
    for a head that has one unlikely: scale by 1 - functionality, and say so."""
    func = functionality(index)
    values = {r: m.getnnz(axis=1) for r, m in index.matrix.items()}  # per head, per relation
    for p in proposals.values():
        f = func.get(p["type"], 0.0)
        at = index.position.get(p["head"])  # a head named in the text may hold no fact
        if f > 0.5 and at is not None and values[p["type"]][at]:
            p["score"] *= 1.0 - f
            p["explanation"].append(
                {
                    "kind": "functional",
                    "note": f"{p['type']} holds once for {f:.0%} of its heads, "
                    f"and this head has one already",
                }
            )


def _name_chains(graph, proposals: list[dict]) -> None:
    """Chains as names, as they were when inferred (ids alone go stale)."""
    ids = {
        e
        for p in proposals
        for note in p["explanation"]
        for chain in note.get("chains", ())
        for h, _, t in chain
        for e in (h, t)
    }
    briefs = graph.queries.briefs(sorted(ids))
    extracted = set(graph.decisions.triples(accepted=False))
    for p in proposals:
        for note in p["explanation"]:
            if "chains" in note:
                # A step a person accepted (not extracted) says so, wherever it is shown.
                note["chains"] = [
                    [
                        {"head": briefs[h], "type": r, "tail": briefs[t]}
                        | ({} if (h, r, t) in extracted else {"accepted": True})
                        for h, r, t in chain
                    ]
                    for chain in note["chains"]
                ]

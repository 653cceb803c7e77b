"""Merge candidates: pairs of entities of one type that may be one thing.

Three signals, each said in the candidate's reason so a person can judge it:

- **names**: every word of one name is in the other ("Kestrel" and "Kestrel
  Bank", "Dr. Karimi" and "Aiko Karimi"; titles ignored). A short name that
  fits several longer ones is ambiguous and ranks lower.
- **spelling**: the two names differ by a letter or two (difflib ratio).
- **meaning**: their profile embeddings (what the graph says about each) are
  close, when the graph has embeddings.

A name inside another is proposed to merge into the fuller name; otherwise the
entity with fewer mentions into the one with more.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from itertools import combinations

import numpy as np

TITLES = {"dr", "mr", "mrs", "ms", "prof", "sir", "dame", "lord", "lady", "st"}
_WORDS = re.compile(r"\w+")
MAX_BLOCK = 200  # a word shared by more entities than this is no evidence of identity


def name_words(key: str) -> frozenset[str]:
    """The words of a normalised name, titles dropped."""
    return frozenset(w for w in _WORDS.findall(key) if w not in TITLES)


def merge_candidates(graph, limit: int = 50, min_score: float = 0.5) -> list[dict]:
    """Candidate pairs, best first: {"from","into" (entity summaries),"score",
    "reasons": [str]}; ``from`` would merge into ``into``."""
    entities = list(graph.queries.iter_entities())
    keys = graph.queries.entity_keys()
    by_id = {e["id"]: e for e in entities}
    words = {i: name_words(k) for i, k in keys.items()}
    blocks: dict[tuple[str, str], list[int]] = defaultdict(list)
    for e in entities:
        for w in words[e["id"]]:
            blocks[(e["type"], w)].append(e["id"])
    pairs: set[tuple[int, int]] = set()
    for ids in blocks.values():
        if len(ids) <= MAX_BLOCK:
            pairs.update(combinations(sorted(ids), 2))
    # Near spellings share no word ("Kestrell" / "Kestrel"): compare within a type by first letter.
    initials: dict[tuple[str, str], list[int]] = defaultdict(list)
    for e in entities:
        if keys[e["id"]]:
            initials[(e["type"], keys[e["id"]][0])].append(e["id"])
    for ids in initials.values():
        if len(ids) <= MAX_BLOCK:
            pairs.update(combinations(sorted(ids), 2))
    vectors = _vectors(graph, [e["id"] for e in entities])
    supersets: dict[int, int] = defaultdict(int)
    for a, b in pairs:
        wa, wb = words[a], words[b]
        if wa and wb and (wa < wb or wb < wa):
            supersets[a if wa < wb else b] += 1
    found = []
    for a, b in pairs:
        # A name inside another goes into the fuller one ("One" is not what "Atlas One"
        # should become); otherwise the entity with fewer mentions goes.
        if words[a] and words[b] and (words[a] < words[b] or words[b] < words[a]):
            small, large = (a, b) if words[a] < words[b] else (b, a)
        else:
            small, large = sorted((a, b), key=lambda i: (by_id[i]["mentions"], len(keys[i]), -i))
        reasons, score = [], 0.0
        ws, wl = words[small], words[large]
        if ws and ws < wl:
            short, long = small, large
            ambiguous = supersets[short] > 1
            score = max(score, 0.6 if ambiguous else 0.9)
            reasons.append(
                f"every word of '{by_id[short]['name']}' is in '{by_id[long]['name']}'"
                + (f" (and in {supersets[short] - 1} other names)" if ambiguous else "")
            )
        ratio = difflib.SequenceMatcher(None, keys[small], keys[large]).ratio()
        if ratio >= 0.85 and ws != wl:
            score = max(score, ratio)
            reasons.append(f"spelled alike ({ratio:.0%})")
        if ws == wl and keys[small] != keys[large]:
            score = max(score, 0.95)
            reasons.append("the same name but for a title or punctuation")
        if vectors is not None and small in vectors and large in vectors:
            cosine = float(vectors[small] @ vectors[large])
            if cosine >= 0.8:
                score = max(score, cosine) if reasons else max(score, cosine - 0.2)
                reasons.append(f"described alike (cosine {cosine:.2f})")
        if reasons and score >= min_score:
            found.append(
                {
                    "from": by_id[small],
                    "into": by_id[large],
                    "score": round(score, 4),
                    "reasons": reasons,
                }
            )
    found.sort(key=lambda c: (-c["score"], -c["into"]["mentions"], c["from"]["id"]))
    return found[:limit]


def _vectors(graph, ids: list[int]) -> dict[int, np.ndarray] | None:
    models = graph.vectors.embedding_models()
    if not models:
        return None
    return graph.vectors.entity_vectors(models[0], ids)

"""The question -> relation-chain model ``kg ask`` reads questions with.

Trained per graph state from the questions kg/question_forms.py writes from the
graph's schema: a linear softmax layer over the graph's own sentence encoder
(the vectors ``kg ask`` computes anyway), not a fine-tuned encoder. Why: it
trains in seconds on a CPU when a graph's schema changes (8.6 s against 366 s
for the classification task fine-tuned for 15 epochs on the same questions),
the one encoder in memory serves names, search and questions, and on the dev
questions it answered more (36/37 and 84/90 against 35/37 and 79/90:
``python benchmarks/kg_question_model.py``).

Cached twice: in the process (the TUI and a benchmark ask many questions) and
beside the graph file (``graph.sqlite.ask/<key>.npz``: plain arrays, loaded
without pickle), keyed by everything the questions were written from, so a
rebuild that adds documents but no new relation or wording reuses it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.kg import ask_support
from workbench.kg import question_forms as forms
from workbench.kg.normalize import normalize_name

VERSION = 2  # of the question forms: a change retrains every cached model
PER_CHAIN = 30
C = 10.0  # inverse regularisation (chosen on the dev questions)
_MEMORY: dict[str, QuestionModel] = {}
_SCHEMAS: dict[str, tuple[tuple, forms.Schema, str]] = {}  # graph path -> the latest


@dataclass
class QuestionModel:
    """Softmax over chain labels (``question_forms.Chain.label``, or ``none``)."""

    labels: list[str]
    weights: np.ndarray  # (labels, dim)
    bias: np.ndarray  # (labels,)

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """(n, labels) probabilities for (n, dim) question vectors."""
        logits = vectors @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, labels=np.array(self.labels), weights=self.weights, bias=self.bias)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> QuestionModel:
        with np.load(path, allow_pickle=False) as data:
            return cls([str(x) for x in data["labels"]], data["weights"], data["bias"])


def fit(pairs: list[tuple[str, str]], embedder, c: float = C) -> QuestionModel:
    """Train on (question, label) pairs: the encoder's vectors, a multinomial
    logistic regression (scikit-learn, already installed for the reports)."""
    from sklearn.linear_model import LogisticRegression

    texts = [t for t, _ in pairs]
    labels = sorted({label for _, label in pairs})
    index = {label: i for i, label in enumerate(labels)}
    y = np.array([index[label] for _, label in pairs])
    x = embedder.encode(texts, batch_size=128)
    if len(labels) == 1:  # nothing to choose between
        return QuestionModel(labels, np.zeros((1, x.shape[1]), np.float32), np.zeros(1, np.float32))
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit(x, y)
    return QuestionModel(
        labels, model.coef_.astype(np.float32), model.intercept_.astype(np.float32)
    )


def schema_of(graph) -> forms.Schema:
    """The graph's relations, their types and wordings, and where each step's
    places sit in a containment relation (a city in a country)."""
    # A pairing must hold a fifth of a relation's triples to be asked about:
    # a few mistyped entities do not make "the person lives in a company".
    signatures = ask_support.relation_signatures(graph, min_share=0.2)
    phrasings = ask_support.relation_phrasings(graph)
    name_words = {
        w
        for (name,) in graph.core.q("SELECT key FROM entities")
        for w in normalize_name(name).split()
        if len(w) > 2
    }
    phrases = {
        r: forms.relation_phrases(r, phrasings, name_words)
        for r in sorted({s[0] for s in signatures})
    }
    taken = {p.words for ps in phrases.values() for p in ps}
    synonyms: dict[str, list[forms.Phrase]] = {}
    roles: dict[tuple[str, bool], list[tuple[str, str]]] = {}
    for relation in phrases:
        synonyms[relation], nouns = forms.common_phrases(relation, taken)
        for forward, found in nouns.items():
            if found:
                roles[(relation, forward)] = found
    containers = [r for r, h, t in signatures if h == t and forms.kind_of(h) == "place"]
    levels: dict[tuple[str, bool], str] = {}
    if containers:

        def ids(column: str, relations: list[str]) -> set[int]:
            marks = ",".join("?" * len(relations))
            sql = f"SELECT {column} FROM relations WHERE type IN ({marks})"
            return {r[0] for r in graph.core.q(sql, relations)}

        heads, tails = ids("head_id", containers), ids("tail_id", containers)
        for relation, head_type, tail_type in signatures:
            for forward in (True, False):
                if forms.kind_of(tail_type if forward else head_type) != "place":
                    continue
                if relation in containers:
                    levels[(relation, forward)] = "upper" if forward else "lower"
                    continue
                end = "tail_id" if forward else "head_id"
                reached = ids(end, [relation])
                if not reached:
                    continue
                low, high = len(reached & heads - tails), len(reached & tails - heads)
                if low > 0.5 * len(reached):
                    levels[(relation, forward)] = "lower"
                elif high > 0.5 * len(reached):
                    levels[(relation, forward)] = "upper"
    walked = [c for c in forms.chains(signatures) if ask_support.chain_exists(graph, list(c.steps))]
    return forms.Schema(signatures, phrases, levels, walked, containers, synonyms, roles)


def state_key(schema: forms.Schema, encoder: str) -> str:
    """What the model depends on, hashed."""
    state = {
        "version": VERSION,
        "encoder": encoder,
        "per_chain": PER_CHAIN,
        "c": C,
        "signatures": sorted(schema.signatures),
        "phrases": {
            r: [(p.words, p.subject_is_head) for p in ps] for r, ps in schema.phrases.items()
        },
        "levels": sorted((r, f, lv) for (r, f), lv in schema.levels.items()),
        "walked": sorted(c.label for c in schema.walked),
        "synonyms": {
            r: [(p.words, p.subject_is_head) for p in ps] for r, ps in schema.synonyms.items()
        },
        "roles": sorted((r, f, sorted(ns)) for (r, f), ns in schema.roles.items()),
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]


def _fingerprint(graph, encoder: str) -> tuple:
    """Cheap to read, changes whenever the relations or their evidence do."""
    counts = graph.core.q(
        "SELECT (SELECT max(id) FROM relations), (SELECT count(*) FROM relations), "
        "(SELECT max(id) FROM evidence), (SELECT count(*) FROM evidence), "
        "(SELECT count(*) FROM merges)"
    )[0]
    return (encoder, *tuple(counts))


def _state(graph, embedder) -> tuple[forms.Schema, str, Path]:
    """The graph's schema, its model's key and where the model is kept."""
    fingerprint = _fingerprint(graph, embedder.name)
    known = _SCHEMAS.get(str(graph.path))
    if known is not None and known[0] == fingerprint:
        _, schema, key = known
    else:
        schema = schema_of(graph)
        key = state_key(schema, embedder.name)
        _SCHEMAS[str(graph.path)] = (fingerprint, schema, key)
    return schema, key, Path(f"{graph.path}.ask") / f"{key}.npz"


def ready(graph, embedder) -> bool:
    """Whether ``for_graph`` has the model without training it (in memory, or
    beside the graph file): a view can say "learning..." when it has not."""
    _, key, path = _state(graph, embedder)
    return key in _MEMORY or path.exists()


def for_graph(graph, embedder) -> tuple[QuestionModel, forms.Schema]:
    """The model for this graph's schema, and the schema: from memory (while
    the graph's relations are unchanged), from beside the graph file, or
    trained now (seconds) and kept in both."""
    schema, key, path = _state(graph, embedder)
    if key in _MEMORY:
        return _MEMORY[key], schema
    model = None
    if path.exists():
        try:
            model = QuestionModel.load(path)
        except (OSError, ValueError, KeyError):
            model = None  # a torn or foreign file: train again
    if model is None:
        model = fit(forms.questions(schema, PER_CHAIN), embedder)
        with contextlib.suppress(OSError):  # a read-only folder: the process keeps it
            model.save(path)
    _MEMORY[key] = model
    return model, schema

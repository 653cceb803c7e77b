"""What ``kg infer`` proposes beyond the rules, and the scorer that ranks it all.

A fact a graph built from text lacks is most often one the relation model
missed in a sentence that names both entities, or one that follows from the
graph's structure. So candidates come from

- the mined rules (kg/rules.py: chains of facts), and
- pairs the text names together (one sentence, or one document) whose two
  types fit one of a relation's signatures in the graph,

and a logistic regression ranks them on features a person can read (FEATURES:
the best rule, how many fire, the sentences and documents naming both, how a
sentence words the pair next to how the graph's evidence words each relation,
the signature's share, whether the head holds the value a functional relation
allows already, ...). It learns from the graph itself: a share of the
extracted facts is hidden, candidates are made from the rest, and the hidden
facts among them are its positives (self-supervision, over a few draws; no
labels needed). A graph too small for that (fewer than MIN_FACTS extracted
facts, or MIN_POSITIVES hidden ones found among the candidates) keeps the
rules' own scores, and pairs named together get a fixed prior.

Every proposal keeps an explanation a person can check: the rule chains
(kg/infer.py), or the sentence that names both entities.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from workbench.kg import rules as kg_rules
from workbench.kg.comention import Occurrence, Text, Wording

Triple = tuple[int, str, int]

FAR = 20  # the gap of a pair no sentence names together
SIGNATURE_FLOOR = 0.05  # a signature under this share of its relation proposes nothing
HIDE_SHARE = 0.2  # facts hidden in each self-supervised draw
UNSAID_SHARE = 0.5  # of them, the share whose evidence sentences are hidden too
DRAWS = 10  # draws, fewer on large graphs (POSITIVES_WANTED)
POSITIVES_WANTED = 400
MIN_FACTS = 50  # fewer extracted facts: too few to hide some and learn (no scorer)
MIN_POSITIVES = 20  # fewer hidden facts found among the candidates: no scorer
L2 = 1.0  # ridge penalty on the standardised features
NEGATIVES = 10_000  # candidates not hidden a draw learns from, at most (a sample)
SENTENCE_PRIOR = 0.3  # without a scorer: a pair named in one sentence, times its share
DOCUMENT_PRIOR = 0.1  # ... named in one document only
WORDING_SHOWN = 0.5  # an evidence sentence worded this alike (Jaccard) is shown
EXAMPLES = 500  # wordings of a relation looked through for one to show

FEATURES = (
    "rule score",  # the strongest rule's weight (kg/rules.py score)
    "rules firing",  # log(1 + how many)
    "sentences naming both",  # log(1 + how many)
    "documents naming both",  # log(1 + how many)
    "wording",  # words between the two: log-odds of the relation against no relation
    "same wording as a fact",  # log(1 + evidence sentences of the relation worded the same)
    "same wording, no fact",  # log(1 + pairs worded the same that hold no relation)
    "words apart",  # log(1 + fewest words between the two)
    "signature share",  # of the relation's facts, the share with these two types
    "head has one",  # the head has this relation already, times its functionality
    "tail has one",  # the tail is this relation's tail already, times inverse functionality
    "head lacks one",  # the head has none while most of its type have one
    "related otherwise",  # the pair holds another relation, either way
    "rival tails",  # log(1 + other candidates of the same head and relation)
    "wording margin",  # wording, less the best of the other relations these types fit
    "rarer end named",  # log(1 + sentences naming the end named in fewer)
    "rule share",  # rule score over the rule scores of all the head's tails of the relation
)
# Features whose direction is known: a learned weight of the other sign is dropped.
SIGNS = {"rule score": 1, "rules firing": 1, "head has one": -1, "tail has one": -1}


@dataclass
class Candidate:
    """A triple proposed, what proposed it and its features."""

    head: int
    relation: str
    tail: int
    rule: kg_rules.Prediction | None = None
    features: np.ndarray | None = None  # FEATURES, once Pool.matrix asked for them
    best: Occurrence | None = None  # the sentence that words it most like the relation
    sentences: int = 0
    documents: int = 0


class Pool:
    """Every candidate of one set of facts (the graph's, or the graph's minus a
    hidden share) with its features."""

    def __init__(
        self,
        facts: set[Triple],
        text: Text,
        types: dict[int, str],
        predictions: Iterable[kg_rules.Prediction],
    ):
        self.facts, self.text, self.types = facts, text, types
        self._examples: dict[str, list[tuple[frozenset[str], int]]] = {}
        signature: Counter[tuple[str, str, str]] = Counter()
        per_relation: Counter[str] = Counter()
        heads: dict[str, set[int]] = defaultdict(set)
        tails: dict[str, set[int]] = defaultdict(set)
        related: set[tuple[int, int]] = set()
        typed: dict[str, set[int]] = defaultdict(set)  # entities with any fact, by type
        for h, r, t in facts:
            signature[(r, types.get(h, "?"), types.get(t, "?"))] += 1
            per_relation[r] += 1
            heads[r].add(h)
            tails[r].add(t)
            related.add((min(h, t), max(h, t)))
            typed[types.get(h, "?")].add(h)
            typed[types.get(t, "?")].add(t)
        self.share = {k: n / per_relation[k[0]] for k, n in signature.items()}
        self.by_types: dict[tuple[str, str], list[str]] = defaultdict(list)
        for (r, a, b), share in sorted(self.share.items()):
            if share >= SIGNATURE_FLOOR:
                self.by_types[(a, b)].append(r)
        self.heads, self.tails, self.related = heads, tails, related
        self.functional = {r: len(heads[r]) / per_relation[r] for r in per_relation}
        self.inverse = {r: len(tails[r]) / per_relation[r] for r in per_relation}
        self.coverage = {
            (r, a): len({h for h in heads[r] if types.get(h) == a}) / max(len(typed[a]), 1)
            for (r, a, _) in signature
        }
        self.wording = Wording(text, facts, related, self._fits_any)
        found: dict[Triple, Candidate] = {}
        shares = self.share
        for p in predictions:
            if (p.relation, types.get(p.head, "?"), types.get(p.tail, "?")) in shares:
                found[(p.head, p.relation, p.tail)] = Candidate(p.head, p.relation, p.tail, rule=p)
        pairs = set(text.occurrences) | set(text.documents)
        for x, y in pairs:
            for h, t in ((x, y), (y, x)):
                for r in self.by_types.get((types.get(h, "?"), types.get(t, "?")), ()):
                    if (h, r, t) not in facts and (h, r, t) not in found:
                        found[(h, r, t)] = Candidate(h, r, t)
        self.candidates = found
        self._rivals = Counter((c.head, c.relation) for c in found.values())
        self._mass: dict[tuple[int, str], float] = defaultdict(float)
        for c in found.values():
            self._mass[(c.head, c.relation)] += c.rule.score if c.rule else 0.0

    def examples(self, relation: str) -> list[tuple[frozenset[str], int]]:
        """The EXAMPLES most common wordings of ``relation`` in the evidence of
        these facts, each with a sentence that words it so."""
        if relation not in self._examples:
            first: dict[frozenset[str], int] = {}
            for (s, h, r, t), pattern in self.text.evidence.items():
                if r == relation and (h, r, t) in self.facts:
                    first.setdefault(pattern, s)
            common = self.wording.exact.get(relation, Counter()).most_common(EXAMPLES)
            self._examples[relation] = [(p, first[p]) for p, _ in common if p in first]
        return self._examples[relation]

    def share_of(self, head: int, relation: str, tail: int) -> float:
        """The share of ``relation``'s facts whose two ends have these two's types."""
        key = (relation, self.types.get(head, "?"), self.types.get(tail, "?"))
        return self.share.get(key, 0.0)

    def _fits_any(self, head: int, tail: int) -> bool:
        return (self.types.get(head, "?"), self.types.get(tail, "?")) in self.by_types

    def _describe(self, c: Candidate) -> None:
        h, r, t = c.head, c.relation, c.tail
        rivals, mass = self._rivals[(h, r)] - 1, self._mass[(h, r)]
        occurrences = self.text.named_in(h, t)
        unrelated = (min(h, t), max(h, t)) not in self.related
        odds, exact, none, gap, margin = 0.0, 0, 0, FAR, 0.0
        others = [
            o
            for o in self.by_types.get((self.types.get(h, "?"), self.types.get(t, "?")), ())
            if o != r
        ]
        for occ in occurrences:
            pattern = occ.pattern(h)
            o, e, n = self.wording.score(pattern, r, own=unrelated)
            if c.best is None or o > odds:
                c.best, odds, exact, none = occ, o, e, n
                rivals_say = [self.wording.score(pattern, x, unrelated)[0] for x in others]
                margin = o - max(rivals_say + [0.0])
            gap = min(gap, len(occ.words))
        c.sentences = len(occurrences)
        c.documents = self.text.documents_naming(h, t)
        head_has = h in self.heads.get(r, ())
        head_type, tail_type = self.types.get(h, "?"), self.types.get(t, "?")
        rule = c.rule
        c.features = np.array(
            [
                rule.score if rule else 0.0,
                math.log1p(rule.rules) if rule else 0.0,
                math.log1p(c.sentences),
                math.log1p(c.documents),
                odds,
                math.log1p(exact),
                math.log1p(none),
                math.log1p(gap),
                self.share.get((r, head_type, tail_type), 0.0),
                self.functional.get(r, 0.0) if head_has else 0.0,
                self.inverse.get(r, 0.0) if t in self.tails.get(r, ()) else 0.0,
                0.0 if head_has else self.coverage.get((r, head_type), 0.0),
                0.0 if unrelated else 1.0,
                math.log1p(rivals),
                margin,
                math.log1p(min(len(self.text.sentences_of.get(e, ())) for e in (h, t))),
                rule.score / mass if rule and mass else 0.0,
            ]
        )

    def matrix(self, keys: list[Triple] | None = None) -> tuple[list[Triple], np.ndarray]:
        """The FEATURES of ``keys`` (every candidate, in order, when None), a row each."""
        keys = sorted(self.candidates) if keys is None else keys
        rows = []
        for k in keys:
            c = self.candidates[k]
            if c.features is None:
                self._describe(c)
            rows.append(c.features)
        return keys, np.vstack(rows) if rows else np.zeros((0, len(FEATURES)))


def pool_of(
    facts: set[Triple], text: Text, types: dict[int, str], min_support: int, min_confidence: float
) -> Pool:
    """Mine the rules of ``facts`` and make their pool of candidates."""
    index = kg_rules.TripleIndex(sorted(facts))
    mined = kg_rules.mine_rules(index, min_support, min_confidence)
    return Pool(facts, text, types, kg_rules.predict(index, mined, count=True))


@dataclass
class Scorer:
    """A logistic regression over standardised FEATURES."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    hidden: int  # facts hidden over all draws
    found: int  # of them, how many were candidates (the positives it learned from)
    draws: int

    def probability(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mean) / self.scale @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def reasons(self, x: np.ndarray, shown: int = 3) -> list[str]:
        """The features that raised this candidate's score the most, against the
        same candidate without them."""
        part = x / self.scale * self.weights
        order = np.argsort(-part)
        return [FEATURES[i] for i in order[:shown] if part[i] > 0.25]


def fit(
    x: np.ndarray,
    y: np.ndarray,
    counts: np.ndarray | None = None,
    l2: float = L2,
) -> tuple:
    """Ridge-penalised logistic regression (scikit-learn, lbfgs) on standardised
    features: (mean, scale, weights, bias); ``counts``: how many examples each
    row stands for (1 when None); features of SIGNS learned the other way round
    are dropped and the rest fitted again."""
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    free = np.ones(z.shape[1], bool)
    for _ in range(len(SIGNS) + 1):
        # C = 1 / l2: the penalty l2 * |w|^2 / 2 against the summed log-loss.
        model = LogisticRegression(C=1.0 / l2, max_iter=1000, tol=1e-8)
        model.fit(z[:, free], y, sample_weight=counts)
        w = np.zeros(z.shape[1])
        w[free] = model.coef_[0]
        wrong = [
            FEATURES.index(name)
            for name, sign in SIGNS.items()
            if free[FEATURES.index(name)] and w[FEATURES.index(name)] * sign < 0
        ]
        if not wrong:
            break
        free[wrong] = False
    return mean, scale, w, float(model.intercept_[0])


def learn(
    facts: set[Triple],
    extracted: list[Triple],
    text: Text,
    types: dict[int, str],
    min_support: int,
    min_confidence: float,
    seed: int = 0,
) -> Scorer | None:
    """Hide HIDE_SHARE of the extracted facts, make candidates from the rest, learn
    to find the hidden ones among them; over DRAWS draws (fewer when one draw
    hides POSITIVES_WANTED). None when too few were found to learn from."""
    if len(extracted) < MIN_FACTS:
        return None
    per_draw = max(1, round(HIDE_SHARE * len(extracted)))
    draws = max(1, min(DRAWS, math.ceil(POSITIVES_WANTED / per_draw)))
    rng = np.random.default_rng(seed)
    xs, ys, counts, hidden_n = [], [], [], 0
    ordered = sorted(extracted)
    said = text.said_in()
    for _ in range(draws):
        picked = rng.choice(len(ordered), size=per_draw, replace=False)
        hidden = {ordered[i] for i in picked}
        # Some facts a graph lacks were never stated in a sentence it read: those
        # hidden facts lose their sentences too.
        unsaid = [ordered[i] for i in picked if rng.random() < UNSAID_SHARE]
        seen = text.without({s for fact in unsaid for s in said.get(fact, ())})
        pool = pool_of(facts - hidden, seen, types, min_support, min_confidence)
        keys = sorted(pool.candidates)
        positives = [k for k in keys if k in hidden]
        negatives = [k for k in keys if k not in hidden]
        if len(negatives) > NEGATIVES:  # a large graph: a sample stands for the rest
            negatives = [negatives[i] for i in sorted(rng.choice(len(negatives), NEGATIVES, False))]
        each = (len(keys) - len(positives)) / max(len(negatives), 1)
        _, x = pool.matrix(positives + negatives)
        xs.append(x)
        ys.append(np.r_[np.ones(len(positives)), np.zeros(len(negatives))])
        counts.append(np.r_[np.ones(len(positives)), np.full(len(negatives), each)])
        hidden_n += len(hidden)
    x, y = np.vstack(xs), np.concatenate(ys)
    found = int(y.sum())
    if found < MIN_POSITIVES or found == len(y):
        return None
    mean, scale, weights, bias = fit(x, y, np.concatenate(counts))
    return Scorer(mean, scale, weights, bias, hidden_n, found, draws)


def prior(c: Candidate, share: float) -> float:
    """The score without a scorer: the rules' own, or a fixed prior for a pair
    named together (times its signature's share)."""
    if c.rule is not None:
        return c.rule.score
    return (SENTENCE_PRIOR if c.sentences else DOCUMENT_PRIOR) * share


def notes(c: Candidate, pool: Pool) -> list[dict]:
    """The sentence (or document) that names both, and an evidence sentence of
    the relation worded alike, for a person to check."""
    text = pool.text
    if c.best is not None:
        more = f"; and in {c.sentences - 1} more" if c.sentences > 1 else ""
        found = [
            {
                "kind": "co-mention",
                "sentence": text.text[c.best.sentence],
                "document": text.document_key[text.document_of[c.best.sentence]],
                "note": f"named together in {text.quote(c.best.sentence)}{more}",
            }
        ]
        pattern = c.best.pattern(c.head)
        alike = max(
            (
                (len(pattern & p) / len(pattern | p), -s, s)
                for p, s in pool.examples(c.relation)
                if s != c.best.sentence and len(pattern & p) > 1  # a word, not only the order
            ),
            default=None,
        )
        if alike is not None and alike[0] >= WORDING_SHOWN:
            found.append(
                {
                    "kind": "wording",
                    "note": f"worded as this {c.relation} fact of the graph: "
                    f"{text.quote(alike[2])}",
                }
            )
        return found
    if c.documents:
        for document in sorted({text.document_of[s] for s in text.sentences_of.get(c.head, ())}):
            a, b = text.first_sentence(c.head, document), text.first_sentence(c.tail, document)
            if a is not None and b is not None:
                return [
                    {
                        "kind": "co-mention",
                        "document": text.document_key[document],
                        "note": f"named in one document: {text.quote(a)} … “{text.sentence(b)}”",
                    }
                ]
    return []

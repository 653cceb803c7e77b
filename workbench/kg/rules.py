"""Rules mined from a graph's own triples, and the triples they predict.

A rule predicts ``r(X, Y)`` from a chain of one or two relations from X to Y,
each walked either way::

    works_for(X, Z) ∧ based_in(Z, Y) ⇒ lives_in(X, Y)

Measured as AMIE does (Galárraga et al., 2013): *support* is how many (X, Y)
pairs satisfy the chain and the head; *confidence* is support over the pairs
that satisfy the chain; *PCA confidence* counts only chain pairs whose X has
some ``r`` fact at all (the partial-completeness assumption: a graph that says
nothing of X's r has not said it is false). Predictions are scored by the
strongest rule that fires (ties broken by how many agree; see score_matrices),
each rule counting with a confidence shrunk towards zero when its support is
small (AnyBURL's pessimistic confidence).

Pure numbers over integer ids (scipy sparse matrices); kg/infer.py puts names,
evidence and the graph file around it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

# Rules whose chain holds for more pairs than this are skipped: a chain
# through a hub (everyone -- country -- everyone) predicts everything.
MAX_BODY_PAIRS = 2_000_000
DENSE_ENTITIES = 500  # up to this many entities, chains are dense products (1 MB a step)


@dataclass(frozen=True)
class Atom:
    """One step of a chain: relation ``relation`` walked from its head to its
    tail (``forward``) or back."""

    relation: str
    forward: bool = True


@dataclass(frozen=True)
class Rule:
    """``body`` (a chain of one or two atoms from X to Y) ⇒ ``head``(X, Y)."""

    head: str
    body: tuple[Atom, ...]
    support: int
    body_pairs: int
    pca_pairs: int

    @property
    def confidence(self) -> float:
        return self.support / self.body_pairs if self.body_pairs else 0.0

    @property
    def pca_confidence(self) -> float:
        return self.support / self.pca_pairs if self.pca_pairs else 0.0

    def weight(self, shrink: float) -> float:
        """The confidence a prediction counts with: support over chain pairs plus
        ``shrink`` unseen ones, so a rule seen twice does not count as certain."""
        return self.support / (self.body_pairs + shrink)

    def text(self) -> str:
        """``works_for(X, Z) ∧ based_in(Z, Y) ⇒ lives_in(X, Y)``."""
        names = ["X", "Z", "Y"] if len(self.body) == 2 else ["X", "Y"]
        atoms = []
        for step, atom in enumerate(self.body):
            a, b = names[step], names[step + 1]
            atoms.append(
                f"{atom.relation}({a}, {b})" if atom.forward else f"{atom.relation}({b}, {a})"
            )
        return f"{' ∧ '.join(atoms)} ⇒ {self.head}(X, Y)"


class TripleIndex:
    """Triples (head id, relation, tail id) as one sparse 0/1 matrix per relation."""

    def __init__(self, triples: Iterable[tuple[int, str, int]]):
        triples = list(triples)
        self.entities = sorted({h for h, _, _ in triples} | {t for _, _, t in triples})
        self.position = {e: i for i, e in enumerate(self.entities)}
        self.relations = sorted({r for _, r, _ in triples})
        n = len(self.entities)
        by_relation: dict[str, set[tuple[int, int]]] = {r: set() for r in self.relations}
        for h, r, t in triples:
            by_relation[r].add((self.position[h], self.position[t]))
        self.matrix: dict[str, sp.csr_matrix] = {}
        for relation, pairs in by_relation.items():
            rows, cols = zip(*sorted(pairs)) if pairs else ((), ())
            m = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n))
            self.matrix[relation] = m
        self._transposed: dict[str, sp.csr_matrix] = {}
        self._dense_steps: dict[Atom, np.ndarray] = {}

    def step(self, atom: Atom) -> sp.csr_matrix:
        if atom.forward:
            return self.matrix[atom.relation]
        if atom.relation not in self._transposed:
            self._transposed[atom.relation] = self.matrix[atom.relation].T.tocsr()
        return self._transposed[atom.relation]

    def _dense(self, atom: Atom) -> np.ndarray:
        if atom not in self._dense_steps:
            self._dense_steps[atom] = self.step(atom).toarray()
        return self._dense_steps[atom]

    def chain_size(self, body: tuple[Atom, ...]) -> int:
        """An upper bound of the pairs the chain joins, without building it (for a
        two-step chain: Σ over middle entities of in-degree × out-degree)."""
        if len(body) == 1:
            return int(self.step(body[0]).nnz)
        first, second = self.step(body[0]), self.step(body[1])
        return int(first.getnnz(axis=0).astype(np.int64) @ second.getnnz(axis=1).astype(np.int64))

    def chain_pairs(self, body: tuple[Atom, ...]) -> tuple[np.ndarray, np.ndarray]:
        """The (X, Y) pairs the chain joins, X ≠ Y, as two arrays of positions."""
        if len(self.entities) <= DENSE_ENTITIES:  # a small graph: dense products are quicker
            d = self._dense(body[0])
            for atom in body[1:]:
                d = d @ self._dense(atom)
            rows, cols = np.nonzero(d)
            keep = rows != cols
            return rows[keep], cols[keep]
        m = self.step(body[0])
        for atom in body[1:]:
            m = m @ self.step(atom)
        coo = m.tocoo()  # a product of csr matrices: no duplicate cells
        off = coo.row != coo.col
        return coo.row[off], coo.col[off]

    def chain(self, body: tuple[Atom, ...]) -> sp.csr_matrix:
        """0/1 matrix of the (X, Y) pairs the chain joins, X ≠ Y."""
        rows, cols = self.chain_pairs(body)
        n = len(self.entities)
        ones: np.ndarray = np.ones(len(rows), dtype=np.float32)
        return sp.csr_matrix((ones, (rows, cols)), shape=(n, n))


def _bodies(relations: list[str], max_length: int) -> Iterator[tuple[Atom, ...]]:
    atoms = [Atom(r, f) for r in relations for f in (True, False)]
    for a in atoms:
        yield (a,)
    if max_length >= 2:
        for a in atoms:
            for b in atoms:
                yield (a, b)


def mine_rules(
    index: TripleIndex,
    min_support: int = 2,
    min_confidence: float = 0.1,
    max_length: int = 2,
) -> list[Rule]:
    """Every rule with a chain of up to ``max_length`` atoms whose support and
    confidence reach the minimums, best (PCA confidence, then support) first."""
    if not index.relations:
        return []
    n = len(index.entities)
    heads = index.relations
    # Every head fact as one number (x * n + y), sorted, with its relation: a chain's
    # pairs are matched against them by binary search (memory: the facts, not n²).
    flat_parts, rel_parts = [], []
    for j, r in enumerate(heads):
        coo = index.matrix[r].tocoo()
        flat_parts.append(coo.row.astype(np.int64) * n + coo.col)
        rel_parts.append(np.full(coo.nnz, j))
    flat_all = np.concatenate(flat_parts)
    order = np.argsort(flat_all, kind="stable")
    flat_sorted, rel_sorted = flat_all[order], np.concatenate(rel_parts)[order]
    has_out = np.vstack([index.matrix[r].getnnz(axis=1) > 0 for r in heads]).astype(np.int64)
    rules = []
    for body in _bodies(heads, max_length):
        if index.chain_size(body) > MAX_BODY_PAIRS:
            continue  # through a hub: everything predicts everything
        rows, cols = index.chain_pairs(body)
        if len(rows) == 0:
            continue
        flat = rows.astype(np.int64) * n + cols
        lo = np.asarray(np.searchsorted(flat_sorted, flat, side="left"))
        hi = np.asarray(np.searchsorted(flat_sorted, flat, side="right"))
        hits = hi > lo
        counts = (hi - lo)[hits]
        starts = lo[hits]
        # Every matched (pair, relation): start + 0..count-1 for each matched pair.
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        support = np.bincount(rel_sorted[np.repeat(starts, counts) + offsets], minlength=len(heads))
        per_x = np.bincount(rows, minlength=n)
        pca = has_out @ per_x
        for j, head in enumerate(heads):
            if body == (Atom(head, True),) or support[j] < min_support:
                continue  # r(X, Y) ⇒ r(X, Y) says nothing
            rule = Rule(head, body, int(support[j]), len(rows), int(pca[j]))
            if rule.confidence >= min_confidence:
                rules.append(rule)
    rules.sort(key=lambda r: (-r.pca_confidence, -r.support, r.text()))
    return rules


@dataclass
class Prediction:
    """A triple the rules propose and its score (``fired`` finds the rules behind
    it); ``rules``: how many rules fire for it (0 when not counted)."""

    head: int
    relation: str
    tail: int
    score: float
    rules: int = 0


DENSE_CELLS = 20_000_000  # relations x entities²: below this, scores are dense arrays


def score_matrices(index: TripleIndex, rules: list[Rule], shrink: float = 5.0) -> dict[str, Any]:
    """relation -> (X, Y) scores (a dense array, or sparse for large graphs):
    the strongest rule that fires for the pair (its weight), plus a hundredth
    of the noisy-or 1 - Π(1 - weight) over all of them, so that among pairs
    the best rule ties, more agreeing rules rank higher (AnyBURL ranks by the
    best rule and breaks ties by the next; max-then-noisy-or is its smooth form,
    and unlike a pure noisy-or it does not saturate when a dense graph fires
    hundreds of correlated rules). Existing triples are included; callers filter."""
    return _scores(index, rules, shrink, count=False)[0]


def _scores(
    index: TripleIndex, rules: list[Rule], shrink: float, count: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """score_matrices' scores and, when ``count``, relation -> how many rules fire
    for each (X, Y) pair (same shapes)."""
    by_body: dict[tuple[Atom, ...], list[Rule]] = {}
    for rule in rules:
        if rule.weight(shrink) > 0:
            by_body.setdefault(rule.body, []).append(rule)
    heads = sorted({r.head for rs in by_body.values() for r in rs})
    n = len(index.entities)
    dense = len(heads) * n * n <= DENSE_CELLS
    best: dict[str, Any] = {}
    logs: dict[str, Any] = {}
    counts: dict[str, Any] = {}
    for body, group in by_body.items():
        chain = index.chain(body)
        if dense:
            chain = chain.toarray()
        for rule in group:
            w = min(rule.weight(shrink), 0.999999)
            if rule.head in best:
                best[rule.head] = (
                    np.maximum(best[rule.head], chain * w)
                    if dense
                    else best[rule.head].maximum(chain * w)
                )
                logs[rule.head] = logs[rule.head] + chain * float(np.log1p(-w))
                if count:
                    counts[rule.head] = counts[rule.head] + chain
            else:
                best[rule.head] = chain * w
                logs[rule.head] = chain * float(np.log1p(-w))
                if count:
                    counts[rule.head] = chain
    scores: dict[str, Any] = {}
    for relation in best:
        if dense:
            scores[relation] = best[relation] + 0.01 * -np.expm1(logs[relation])
        else:
            noisy = logs[relation].tocsr()
            noisy.data = -np.expm1(noisy.data)  # 1 - exp(Σ log(1 - w))
            scores[relation] = (best[relation] + noisy * 0.01).tocsr()
            if count:
                counts[relation] = counts[relation].tocsr()
    return scores, counts


def predict(
    index: TripleIndex,
    rules: list[Rule],
    shrink: float = 5.0,
    min_score: float = 0.0,
    count: bool = False,
) -> list[Prediction]:
    """Triples the rules predict that the index does not hold, best first; with
    ``count``, each says how many rules fire for it."""
    found = []
    scores, counts = _scores(index, rules, shrink, count)
    for relation, matrix in scores.items():
        coo = sp.coo_matrix(matrix)
        known = index.matrix[relation]
        keep = coo.data > max(min_score, 0.0)
        rows, cols, data = coo.row[keep], coo.col[keep], coo.data[keep]
        held = np.asarray(known[rows, cols]).ravel() > 0 if len(rows) else np.zeros(0, bool)
        rows, cols, data = rows[~held], cols[~held], data[~held]
        fired_n = (
            np.asarray(counts[relation][rows, cols]).ravel().astype(int)
            if count and len(rows)
            else np.zeros(len(rows), int)
        )
        found += [
            Prediction(index.entities[x], relation, index.entities[y], float(v), int(c))
            for x, y, v, c in zip(rows, cols, data, fired_n)
        ]
    found.sort(key=lambda p: (-p.score, p.relation, p.head, p.tail))
    return found


def fired(
    index: TripleIndex, rules: list[Rule], prediction: Prediction, shrink: float = 5.0
) -> list[Rule]:
    """The rules that predict ``prediction``, strongest first (asked only for the
    predictions kept: a chain is walked per rule, not a matrix built)."""
    found = [
        r
        for r in rules
        if r.head == prediction.relation
        and groundings(index, r, prediction.head, prediction.tail, limit=1)
    ]
    return sorted(found, key=lambda r: -r.weight(shrink))


def groundings(
    index: TripleIndex, rule: Rule, head: int, tail: int, limit: int = 3
) -> list[list[tuple[int, str, int]]]:
    """The chains of facts that fire ``rule`` for (head, tail): each a list of
    triples (head id, relation, tail id) as stored, at most ``limit``."""
    x, y = index.position[head], index.position[tail]

    def fact(atom: Atom, a: int, b: int) -> tuple[int, str, int]:
        h, t = (a, b) if atom.forward else (b, a)
        return index.entities[h], atom.relation, index.entities[t]

    if len(rule.body) == 1:
        return [[fact(rule.body[0], x, y)]] if index.step(rule.body[0])[x, y] else []
    first, back = rule.body[0], rule.body[1]
    # Column y of the second step is row y of the step walked the other way.
    into_y = index.step(Atom(back.relation, not back.forward))
    middles = np.intersect1d(index.step(first)[x].indices, into_y[y].indices)
    return [
        [fact(rule.body[0], x, int(z)), fact(rule.body[1], int(z), y)]
        for z in middles[:limit]
        if z != x and z != y
    ]

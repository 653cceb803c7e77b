"""Link prediction on the small benchmark graphs that ship inside PyKEEN
(Nations, Kinships, UMLS): the rules of `kg infer` alone, the embeddings alone,
and the two combined, scored as the field scores them.

For each test triple (h, r, t) both (h, r, ?) and (?, r, t) are asked; every
entity is ranked, the other true answers (train, valid and test) are filtered
out, ties count half (the "realistic" rank). MRR and Hits@1/10 over all
queries. Rules are mined on train; the embedding model (RotatE, LCWA,
softmax cross-entropy) trains on train; the combination's weight is picked on
valid, and only test is reported.

    pip install -e ".[reason]"
    python benchmarks/link_prediction.py [--datasets nations kinships umls] [--epochs 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from workbench.kg import rules as kg_rules
from workbench.kg.linkpredict import Embeddings, EmbeddingSettings

# Published test figures for comparison (filtered): ConvE, Dettmers et al. 2018
# (Table 4); AnyBURL rules, Meilicke et al. 2019 where reported.
PUBLISHED = {
    "umls": "ConvE MRR 0.94, Hits@1 0.92, Hits@10 0.99",
    "kinships": "ConvE MRR 0.83, Hits@1 0.73, Hits@10 0.98",
    "nations": "ConvE MRR 0.80 (Dettmers et al.; others report 0.71-0.83), Hits@10 1.00",
}
WEIGHTS = (0.0, 0.05, 0.2, 0.5, 1.0, 2.0, 5.0, 20.0, 100.0)


def load(name: str):
    from pykeen.datasets import UMLS, Kinships, Nations

    dataset = {"nations": Nations, "kinships": Kinships, "umls": UMLS}[name]()
    entities = dataset.training.entity_to_id
    relations = {v: k for k, v in dataset.training.relation_to_id.items()}

    def triples(factory):
        return [(int(h), relations[int(r)], int(t)) for h, r, t in factory.mapped_triples.tolist()]

    return (
        triples(dataset.training),
        triples(dataset.validation),
        triples(dataset.testing),
        len(entities),
    )


def realistic_rank(scores: np.ndarray, answer: int, filtered: set[int]) -> float:
    s = scores.copy()
    if filtered:
        s[list(filtered - {answer})] = -np.inf
    target = s[answer]
    higher = np.sum(s > target)
    ties = np.sum(s == target) - 1
    return 1 + higher + ties / 2


def queries(test, known):
    """((entity, relation, direction), answer, other true answers) for every test triple."""
    tails, heads = {}, {}
    for h, r, t in known:
        tails.setdefault((h, r), set()).add(t)
        heads.setdefault((r, t), set()).add(h)
    for h, r, t in test:
        yield (h, r, "tail"), t, tails[(h, r)]
        yield (t, r, "head"), h, heads[(r, t)]


class RuleScorer:
    def __init__(self, train, n):
        # Entities 0..n-1 all present, so positions equal PyKEEN's ids.
        self.index = kg_rules.TripleIndex(train + [(i, "__all__", i) for i in range(n)])
        self.index.relations.remove("__all__")
        del self.index.matrix["__all__"]
        start = time.perf_counter()
        self.rules = kg_rules.mine_rules(self.index, min_support=2, min_confidence=0.05)
        self.mined_seconds = time.perf_counter() - start
        self.scores = kg_rules.score_matrices(self.index, self.rules)
        self.n = n

    def row(self, entity, relation, direction):
        m = self.scores.get(relation)
        if m is None:
            return np.zeros(self.n)
        line = m[entity] if direction == "tail" else m[:, entity]
        return np.asarray(line.todense() if hasattr(line, "todense") else line).ravel()


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def evaluate(name, epochs, seed):
    train, valid, test, n = load(name)
    known = train + valid + test
    rules = RuleScorer(train, n)
    start = time.perf_counter()
    emb = Embeddings(train, EmbeddingSettings(epochs=epochs, seed=seed, dim=200))
    trained = time.perf_counter() - start

    def emb_row(entity, relation, direction):
        row = np.full(n, -np.inf)
        if direction == "tail":
            row[emb.entities] = emb.tail_scores([entity], relation)[0]
        else:
            row[emb.entities] = emb.head_scores(relation, [entity])[0]
        return row

    def ranks(split, weight_options):
        out = {w: [] for w in weight_options}
        out["rules"], out["embeddings"] = [], []
        for (entity, relation, direction), answer, others in queries(split, known):
            r = rules.row(entity, relation, direction)
            e = emb_row(entity, relation, direction)
            out["rules"].append(realistic_rank(r, answer, others))
            out["embeddings"].append(realistic_rank(e, answer, others))
            p = softmax(e)
            for w in weight_options:
                out[w].append(realistic_rank(r + w * p, answer, others))
        return out

    def mrr(values):
        return float(np.mean(1.0 / np.asarray(values)))

    valid_ranks = ranks(valid, WEIGHTS)
    best = max(WEIGHTS, key=lambda w: mrr(valid_ranks[w]))
    test_ranks = ranks(test, [best])
    print(
        f"\n{name}: {n} entities, {len(train)} train / {len(valid)} valid / {len(test)} test "
        f"triples; {len(rules.rules)} rules mined in {rules.mined_seconds:.1f} s; "
        f"embeddings trained in {trained:.0f} s ({epochs} epochs); combined weight {best} "
        f"(picked on valid)"
    )
    print(f"  {'':<28} {'MRR':>6} {'Hits@1':>7} {'Hits@10':>8}")
    rows = {}
    for label, key in (
        ("rules alone", "rules"),
        ("embeddings alone", "embeddings"),
        ("rules + embeddings", best),
    ):
        values = np.asarray(test_ranks[key])
        rows[label] = (mrr(values), float(np.mean(values <= 1)), float(np.mean(values <= 10)))
        print(f"  {label:<28} {rows[label][0]:6.3f} {rows[label][1]:7.3f} {rows[label][2]:8.3f}")
    print(f"  published: {PUBLISHED[name]}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["nations", "kinships", "umls"])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for name in args.datasets:
        evaluate(name, args.epochs, args.seed)


if __name__ == "__main__":
    main()

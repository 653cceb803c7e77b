"""Relation scores: micro and macro P/R/F1 over relation triples, on gold entities
(``RelationScorer``, the task's scorer) or end to end with an NER model's
entities (``end_to_end``: strict triples, both spans, both types and the relation
type right)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from workbench.tasks.base import argmax_decode


def triple_report(gold: list[set], pred: list[set], types: list[str]) -> dict[str, Any]:
    """Micro and macro P/R/F1 over relation triples; each set holds hashable
    triples whose last item is the relation type."""
    counts: dict[str, Counter] = {t: Counter() for t in types}
    for gold_set, pred_set in zip(gold, pred):
        for triple in pred_set:
            counts.setdefault(triple[-1], Counter())["tp" if triple in gold_set else "fp"] += 1
        for triple in gold_set - pred_set:
            counts.setdefault(triple[-1], Counter())["fn"] += 1

    def prf(c: Counter) -> tuple[float, float, float]:
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
        r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)

    per_label = {}
    for kind in sorted(counts):
        p, r, f = prf(counts[kind])
        per_label[kind] = {
            "precision": p,
            "recall": r,
            "f1": f,
            "support": counts[kind]["tp"] + counts[kind]["fn"],
        }
    total = sum(counts.values(), Counter())
    p, r, f = prf(total)
    macro = sum(v["f1"] for v in per_label.values()) / len(per_label) if per_label else 0.0
    return {
        "task": "relation",
        "metrics": {"micro_f1": f, "precision": p, "recall": r, "macro_f1": macro},
        "per_label": per_label,
        "examples": len(gold),
        "relations": total["tp"] + total["fn"],
    }


class RelationScorer:
    """Collects the predicted label of every candidate pair; scores relation
    triples (head, tail, type) against every gold relation, so a gold relation
    the candidate filter ruled out counts as missed."""

    def __init__(self, task: Any, examples: list[dict], id2label: dict[int, str]):
        self.task = task
        self.examples = examples
        self.id2label = id2label
        self.predicted: dict[tuple[int, int], int] = {}

    decode = staticmethod(argmax_decode)

    def add(self, preds, labels, examples, windows) -> None:
        if preds.dim() == 1:  # a pair per row: give it the pairs dimension
            preds, windows = preds[:, None], windows[:, None]
        for row, places, example in zip(preds.tolist(), windows.tolist(), examples.tolist()):
            for pred, window in zip(row, places):
                if window >= 0:  # -1: a padded place in a shared row
                    self.predicted[(int(example), int(window))] = int(pred)

    def result(self) -> dict[str, Any]:
        gold, pred = [], []
        for index, example in enumerate(self.examples):
            gold.append({(r["head"], r["tail"], r["type"]) for r in example["relations"]})
            found = set()
            for window, (h, t) in enumerate(self.task.candidates(example)):
                label = self.id2label.get(self.predicted.get((index, window), -1))
                if label and label != self.task.none_label:
                    found.add((h, t, label))
            pred.append(found)
        types = [v for _, v in sorted(self.id2label.items()) if v != self.task.none_label]
        return triple_report(gold, pred, types)


def end_to_end(
    ner, relation, examples: list[dict], max_length: tuple[int, int], batch_size: int = 32
) -> dict[str, Any]:
    """Strict triple scores of an NER model and a relation model together: a
    predicted relation counts when both entity spans, both entity types and the
    relation type are right. ``ner`` and ``relation`` are ``(task, model,
    tokenizer)`` triples; ``max_length`` is theirs, in that order."""
    ner_task, ner_model, ner_tokenizer = ner
    rel_task, rel_model, rel_tokenizer = relation
    found = ner_task.predict_tokens(
        ner_model, ner_tokenizer, [e["tokens"] for e in examples], max_length[0], batch_size
    )
    items = [{"tokens": e["tokens"], "entities": entities} for e, entities in zip(examples, found)]
    predicted = rel_task.predict_pairs(rel_model, rel_tokenizer, items, max_length[1], batch_size)

    def triple(entities, relation):
        head, tail = entities[relation["head"]], entities[relation["tail"]]
        return (
            (head["start"], head["end"], head["type"]),
            (tail["start"], tail["end"], tail["type"]),
            relation["type"],
        )

    gold = [{triple(e["entities"], r) for r in e["relations"]} for e in examples]
    pred = [{triple(item["entities"], r) for r in rels} for item, rels in zip(items, predicted)]
    id2label = rel_model.config.id2label
    types = [
        v for _, v in sorted((int(k), v) for k, v in id2label.items()) if v != rel_task.none_label
    ]
    report = triple_report(gold, pred, types)
    entity_gold = [{(x["start"], x["end"], x["type"]) for x in e["entities"]} for e in examples]
    entity_pred = [{(x["start"], x["end"], x["type"]) for x in f} for f in found]
    entities = triple_report(entity_gold, entity_pred, [])
    report["entity_metrics"] = {
        k: entities["metrics"][k] for k in ("micro_f1", "precision", "recall")
    }
    report["strict"] = True
    return report

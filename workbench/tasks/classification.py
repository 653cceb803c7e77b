"""Text classification: one text or a text pair, one label.

Texts longer than the model's window are truncated (the head of a document);
reports give accuracy, macro F1, a per-class table and the confusion matrix.
"""

from __future__ import annotations

from typing import Any

from workbench.tasks.base import Task, argmax_decode, batched_probabilities
from workbench.tasks.words import split_words


def _sort_key(label: str):
    # Numeric labels ("0", "1", "10") sort as numbers, others alphabetically.
    return (0, int(label), "") if label.lstrip("-").isdigit() else (1, 0, label)


class ClassificationTask(Task):
    """Sequence classification scored with scikit-learn."""

    name = "classification"
    kind = "text"
    default_metric = "accuracy"
    metrics = ("accuracy", "macro_f1", "weighted_f1", "loss")
    packing = "first_token"

    def labels_from(self, examples: list[dict], given: list[str] | None) -> list[str]:
        """The class list: ``data.labels`` as given, or the training labels sorted."""
        if given:
            return list(dict.fromkeys(given))
        return sorted({e["label"] for e in examples}, key=_sort_key)

    def example_labels(self, example: dict):
        return [example["label"]]

    def words(self, example: dict) -> list[str]:
        """The words of the text (and its pair), cut as raw text is."""
        return [
            word
            for text in (example.get("text"), example.get("text_pair"))
            if text
            for word, _start, _end in split_words(text)
        ]

    def encode(
        self,
        examples: list[dict],
        tokenizer,
        label2id: dict[str, int],
        max_length: int,
        train: bool = False,
    ) -> list[dict]:
        """Tokenize texts (and pairs), truncated to ``max_length`` tokens."""
        texts = [e["text"] for e in examples]
        pairs = [e.get("text_pair") for e in examples]
        has_pairs = any(p is not None for p in pairs)
        encoded = tokenizer(
            texts,
            [p or "" for p in pairs] if has_pairs else None,
            truncation=True,
            max_length=max_length,
        )
        features = []
        for index, example in enumerate(examples):
            feature = {key: encoded[key][index] for key in encoded}
            label = example.get("label")  # None: an unlabelled text (predict)
            feature["labels"] = label2id.get(label, -100) if label is not None else -100
            feature["example"] = index
            feature["window"] = 0
            features.append(feature)
        return features

    def model_class(self):
        import transformers

        return transformers.AutoModelForSequenceClassification

    def scorer(self, examples: list[dict], id2label: dict[int, str]) -> ClassificationScorer:
        return ClassificationScorer(examples, id2label)

    def predict(
        self, model, tokenizer, texts: list[str], max_length: int, batch_size: int = 32
    ) -> list[dict]:
        """Class probabilities for each text; a tab separates a text pair."""
        examples = []
        for text in texts:
            first, sep, second = text.partition("\t")
            examples.append({"text": first, "text_pair": second if sep else None})
        features = self.encode(examples, tokenizer, {}, max_length)
        id2label = model.config.id2label
        results: list[dict] = [{} for _ in features]
        for indices, _batch, probs in batched_probabilities(model, tokenizer, features, batch_size):
            for index, row in zip(indices, probs):
                best = int(row.argmax())
                results[index] = {
                    "text": texts[features[index]["example"]],
                    "label": id2label[best],
                    "score": round(float(row[best]), 4),
                    "probabilities": {
                        id2label[i]: round(float(p), 4) for i, p in enumerate(row.tolist())
                    },
                }
        return results


class ClassificationScorer:
    """Collects predicted class ids; reports accuracy, F1 and the confusion matrix."""

    def __init__(self, examples: list[dict], id2label: dict[int, str]):
        self.examples = examples
        self.id2label = id2label
        self.predicted: dict[int, int] = {}

    decode = staticmethod(argmax_decode)

    def add(self, preds, labels, examples, windows=None) -> None:
        for pred, example in zip(preds.tolist(), examples.tolist()):
            self.predicted[int(example)] = int(pred)

    def result(self) -> dict[str, Any]:
        from sklearn.metrics import (
            accuracy_score,
            confusion_matrix,
            precision_recall_fscore_support,
        )

        names = [self.id2label[i] for i in range(len(self.id2label))]
        label2id = {n: i for i, n in enumerate(names)}
        gold = [label2id[e["label"]] for e in self.examples]
        pred = [self.predicted.get(i, 0) for i in range(len(self.examples))]
        ids = list(range(len(names)))
        p, r, f, s = precision_recall_fscore_support(gold, pred, labels=ids, zero_division=0)
        per_label = {
            names[i]: {
                "precision": float(p[i]),
                "recall": float(r[i]),
                "f1": float(f[i]),
                "support": int(s[i]),
            }
            for i in ids
        }
        _, _, macro_f1, _ = precision_recall_fscore_support(
            gold, pred, labels=ids, average="macro", zero_division=0
        )
        _, _, weighted_f1, _ = precision_recall_fscore_support(
            gold, pred, labels=ids, average="weighted", zero_division=0
        )
        return {
            "task": "classification",
            "metrics": {
                "accuracy": float(accuracy_score(gold, pred)),
                "macro_f1": float(macro_f1),
                "weighted_f1": float(weighted_f1),
            },
            "per_label": per_label,
            "examples": len(gold),
            "confusion": {
                "labels": names,
                "matrix": confusion_matrix(gold, pred, labels=ids).tolist(),
            },
        }

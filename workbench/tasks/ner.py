"""Named-entity recognition as token classification.

Labels go on the first sub-token of each word and -100 on the rest, so the
model is scored word by word (labelling every sub-token skews seqeval's entity
counts). Sentences longer than the model's window are split into consecutive
windows at word boundaries rather than truncated.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from typing import Any

from workbench.tasks.base import Task, batched_probabilities
from workbench.tasks.bio_decoding import best_paths, decode_tokens, transitions


def char_spans(
    text: str, words: list[tuple[str, int, int]], entities: list[dict], label_key: str = "type"
) -> list[dict]:
    """Entities over word indices (``start``/``end``, end exclusive) as character
    spans of ``text``, whose ``words`` came from ``split_words``: ``{"text", label_key,
    "start", "end", "score"}`` (``predict`` says "label", the graph "type")."""
    spans = []
    for entity in entities:
        begin, finish = words[entity["start"]][1], words[entity["end"] - 1][2]
        spans.append(
            {
                "text": text[begin:finish],
                label_key: entity["type"],
                "start": begin,
                "end": finish,
                "score": entity["score"],
            }
        )
    return spans


def entity_types(labels: list[str]) -> list[str]:
    """Entity types in a BIO label list, in order of first appearance."""
    seen: dict[str, None] = {}
    for label in labels:
        if label != "O":
            seen.setdefault(label.split("-", 1)[1], None)
    return list(seen)


def bio_labels(types: list[str]) -> list[str]:
    """``['LOC', 'PER']`` -> ``['O', 'B-LOC', 'I-LOC', 'B-PER', 'I-PER']``."""
    return ["O"] + [f"{p}-{t}" for t in types for p in ("B", "I")]


def spans(tags: list[str]) -> list[tuple[str, int, int]]:
    """BIO tags -> ``(type, first word, last word + 1)``; a stray I- starts an entity."""
    out: list[tuple[str, int, int]] = []
    kind, start = None, 0
    for i, tag in enumerate(tags + ["O"]):
        prefix, _, t = tag.partition("-")
        if kind is not None and (prefix != "I" or t != kind):
            out.append((kind, start, i))
            kind = None
        if prefix == "B" or (prefix == "I" and kind is None):
            kind, start = t, i
    return out


@lru_cache(maxsize=8)
def _rules(labels: tuple[str, ...]):
    return transitions(list(labels))


def label_rules(id2label: dict) -> tuple | None:
    """The BIO transition rules for a model's labels (None when not BIO)."""
    return _rules(tuple(id2label[i] for i in range(len(id2label))))


def special_tokens_template(tokenizer) -> tuple[list[int], list[int]]:
    """The special tokens the tokenizer puts before and after one sequence
    (``[CLS]`` / ``[SEP]`` for BERT, ``<s>`` / ``</s>`` for RoBERTa)."""
    encoded = tokenizer(["x"], is_split_into_words=True)
    words = encoded.word_ids()
    first = words.index(0)
    last = len(words) - 1 - words[::-1].index(0)
    ids = encoded["input_ids"]
    return ids[:first], ids[last + 1 :]


def in_order(windows: dict[int, list]) -> list:
    """Concatenate a sentence's per-window word predictions in window order."""
    return [item for _, part in sorted(windows.items()) for item in part]


class NerTask(Task):
    """Token classification with BIO tags, scored by seqeval at entity level."""

    name = "ner"
    kind = "tokens"
    default_metric = "f1"
    metrics = ("f1", "precision", "recall", "macro_f1", "accuracy", "loss")
    packing = "tokens"

    def labels_from(self, examples: list[dict], given: list[str] | None) -> list[str]:
        """The BIO label list: from ``data.labels`` (types or full tags) or the data."""
        if given:
            types = [g.split("-", 1)[1] if g[:2] in ("B-", "I-") else g for g in given if g != "O"]
            return bio_labels(list(dict.fromkeys(types)))
        tags = sorted({t for e in examples for t in e["tags"]})
        return bio_labels(sorted(entity_types(tags)))

    def example_labels(self, example: dict):
        return example["tags"]

    def configure(self, recipe, splits: dict[str, list[dict]]) -> None:
        self.learn_level(splits.get("train", []))
        self.casing = recipe.model.casing

    def encode(
        self,
        examples: list[dict],
        tokenizer,
        label2id: dict[str, int],
        max_length: int,
        train: bool = False,
    ) -> list[dict]:
        """Tokenize words, label first sub-tokens, and cut long sentences into windows.

        Each feature holds ``input_ids``, ``attention_mask``, ``labels``,
        ``example`` (the index of its sentence) and ``window`` (its place in the
        sentence); the windows of a sentence label every word exactly once.
        """
        template = special_tokens_template(tokenizer)
        budget = max(1, max_length - len(template[0]) - len(template[1]))
        encoded = tokenizer(
            [e["tokens"] for e in examples], is_split_into_words=True, add_special_tokens=False
        )
        features: list[dict] = []
        for index, example in enumerate(examples):
            pieces: list[list[int]] = [[] for _ in example["tokens"]]
            for token_id, word in zip(encoded["input_ids"][index], encoded.word_ids(index)):
                if word is not None:
                    pieces[word].append(token_id)
            window_ids: list[int] = []
            window_labels: list[int] = []
            capitals = self.capitals(example["tokens"])
            window_case: list[int] | None = [] if capitals is not None else None
            window = 0
            for word, word_pieces in enumerate(pieces):
                # A word the tokenizer drops (e.g. a zero-width space) still needs a slot.
                word_pieces = (word_pieces or [tokenizer.unk_token_id])[:budget]
                if window_ids and len(window_ids) + len(word_pieces) > budget:
                    features.append(
                        self._feature(
                            template, window_ids, window_labels, index, window, window_case
                        )
                    )
                    window_ids, window_labels = [], []
                    window_case = [] if capitals is not None else None
                    window += 1
                window_ids.extend(word_pieces)
                if capitals is not None and window_case is not None:
                    window_case.extend([capitals[word]] * len(word_pieces))
                window_labels.append(label2id[example["tags"][word]])
                window_labels.extend([-100] * (len(word_pieces) - 1))
            features.append(
                self._feature(template, window_ids, window_labels, index, window, window_case)
            )
        return features

    @staticmethod
    def _feature(
        template: tuple[list[int], list[int]],
        ids: list[int],
        labels: list[int],
        index: int,
        window: int,
        case: list[int] | None = None,
    ) -> dict:
        prefix, suffix = template
        input_ids = prefix + ids + suffix
        feature = {
            "input_ids": input_ids,
            "attention_mask": [1] * len(input_ids),
            "labels": [-100] * len(prefix) + labels + [-100] * len(suffix),
            "example": index,
            "window": window,
        }
        if case is not None:  # model.casing: capitalised words read as token type 1
            feature["token_type_ids"] = [0] * len(prefix) + case + [0] * len(suffix)
        return feature

    def model_class(self):
        import transformers

        return transformers.AutoModelForTokenClassification

    def scorer(self, examples: list[dict], id2label: dict[int, str]) -> NerScorer:
        return NerScorer(examples, id2label)

    def word_probabilities(
        self, model, tokenizer, sentences: list[list[str]], max_length: int, batch_size: int = 32
    ) -> list[list]:
        """Per pre-split sentence, one row of label probabilities (a CPU tensor over
        ``model.config.id2label``) per word, read from the word's first sub-token."""
        examples = [
            {"tokens": words or [""], "tags": ["O"] * max(1, len(words))} for words in sentences
        ]
        features = self.encode(examples, tokenizer, {"O": 0}, max_length)
        windows: dict[int, dict[int, list]] = defaultdict(dict)
        for _chunk, batch, probs in batched_probabilities(model, tokenizer, features, batch_size):
            for row in range(probs.shape[0]):
                mask = batch["labels"][row] != -100
                windows[int(batch["example"][row])][int(batch["window"][row])] = list(
                    probs[row][mask]
                )
        return [in_order(windows[index])[: len(words)] for index, words in enumerate(sentences)]

    @staticmethod
    def entities_in(probs: list, id2label: dict[int, str]) -> list[dict]:
        """The entities one sentence's word probabilities spell: ``[{"type", "start",
        "end", "score"}]`` with word offsets (end exclusive); the score is the mean top
        probability of its words. Tags are the best BIO sequence (``bio_decoding``)."""
        return NerTask.entities_of([probs], id2label)[0]

    @staticmethod
    def entities_of(sentences: list[list], id2label: dict[int, str]) -> list[list[dict]]:
        """``entities_in`` for many sentences, decoded together (one Viterbi pass over
        the padded batch rather than one a sentence)."""
        rules = label_rules(id2label)
        if rules is None or not any(sentences):
            tags = [[id2label[int(p.argmax())] for p in probs] for probs in sentences]
        else:
            import torch

            width = max(len(probs) for probs in sentences)
            log_probs = torch.zeros(len(sentences), width, len(id2label))
            valid = torch.zeros(len(sentences), width, dtype=torch.bool)
            for row, probs in enumerate(sentences):
                if probs:
                    log_probs[row, : len(probs)] = torch.stack(probs).float().clamp_min(1e-12).log()
                    valid[row, : len(probs)] = True
            best = best_paths(log_probs, valid, rules).tolist()
            tags = [[id2label[i] for i in ids[: len(probs)]] for ids, probs in zip(best, sentences)]
        return [
            [
                {
                    "type": kind,
                    "start": start,
                    "end": end,
                    "score": round(
                        sum(float(p.max()) for p in probs[start:end]) / (end - start), 4
                    ),
                }
                for kind, start, end in spans(sentence_tags)
            ]
            for probs, sentence_tags in zip(sentences, tags)
        ]

    def predict_tokens(
        self, model, tokenizer, sentences: list[list[str]], max_length: int, batch_size: int = 32
    ) -> list[list[dict]]:
        """Entities in pre-split sentences: ``[{"type", "start", "end", "score"}]``
        with word offsets (end exclusive); the score is the mean top probability."""
        probs = self.word_probabilities(model, tokenizer, sentences, max_length, batch_size)
        return self.entities_of(probs, model.config.id2label)

    def predict(
        self, model, tokenizer, texts: list[str], max_length: int, batch_size: int = 32
    ) -> list[dict]:
        """Entities with character spans, label and score for each raw text."""
        words = [self.split(text) for text in texts]
        found = self.predict_tokens(
            model, tokenizer, [[w for w, _, _ in ws] for ws in words], max_length, batch_size
        )
        return [
            {"text": text, "entities": char_spans(text, ws, entities, label_key="label")}
            for text, ws, entities in zip(texts, words, found)
        ]


class NerScorer:
    """Collects word-level predictions per sentence and scores them with seqeval."""

    def __init__(self, examples: list[dict], id2label: dict[int, str]):
        self.examples = examples
        self.id2label = id2label
        self.windows: dict[int, dict[int, list[str]]] = defaultdict(dict)

    def decode(self, logits, labels, windows):
        """Label ids per token: the best BIO sequence over each row's words."""
        return decode_tokens(logits, labels, label_rules(self.id2label), windows)

    def add(self, preds, labels, examples, windows) -> None:
        """Take one batch of argmax ids (on the CPU), in any order."""
        for row in range(preds.shape[0]):
            mask = labels[row] != -100
            ids = preds[row][mask].tolist()
            self.windows[int(examples[row])][int(windows[row])] = [self.id2label[i] for i in ids]

    def result(self) -> dict[str, Any]:
        from seqeval.metrics import accuracy_score, classification_report

        gold = [e["tags"] for e in self.examples]
        pred = [in_order(self.windows.get(i, {}))[: len(g)] for i, g in enumerate(gold)]
        pred = [p + ["O"] * (len(g) - len(p)) for p, g in zip(pred, gold)]
        report = classification_report(gold, pred, output_dict=True, zero_division=0)
        per_label = {}
        for kind in sorted(k for k in report if not k.endswith(" avg")):
            r = report[kind]
            per_label[kind] = {
                "precision": r["precision"],
                "recall": r["recall"],
                "f1": r["f1-score"],
                "support": int(r["support"]),
            }
        micro = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
        macro = report.get("macro avg", {"f1-score": 0.0})
        metrics = {
            "precision": micro["precision"],
            "recall": micro["recall"],
            "f1": micro["f1-score"],
            "macro_f1": macro["f1-score"],
            "accuracy": accuracy_score(gold, pred),
        }
        return {
            "task": "ner",
            "metrics": {k: float(v) for k, v in metrics.items()},
            "per_label": per_label,
            "examples": len(gold),
            "entities": sum(v["support"] for v in per_label.values()),
        }

"""Entities come from a tag sequence the scheme allows, not from word-by-word argmax."""

import torch

from workbench.tasks.bio_decoding import decode_tokens, transitions
from workbench.tasks.ner import NerScorer, NerTask, label_rules

LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG"]
ID2LABEL = dict(enumerate(LABELS))


def probs(*rows):
    """Word probability rows from {label: p} (the rest shared evenly)."""
    out = []
    for row in rows:
        rest = (1.0 - sum(row.values())) / (len(LABELS) - len(row))
        out.append(torch.tensor([row.get(name, rest) for name in LABELS]))
    return out


def test_a_continuation_with_no_start_becomes_a_whole_entity_or_none():
    # Argmax reads "Kestrel Bank" as O I-ORG: an ORG the model never began.
    words = probs({"O": 0.55, "B-ORG": 0.4}, {"I-ORG": 0.9})
    argmax = [LABELS[int(p.argmax())] for p in words]
    assert argmax == ["O", "I-ORG"]
    found = NerTask.entities_in(words, ID2LABEL)
    assert [(e["type"], e["start"], e["end"]) for e in found] == [("ORG", 0, 2)]


def test_a_type_switch_inside_an_entity_is_resolved_by_the_whole_path():
    words = probs({"B-PER": 0.9}, {"I-ORG": 0.5, "I-PER": 0.45}, {"O": 0.9})
    found = NerTask.entities_in(words, ID2LABEL)
    assert [(e["type"], e["start"], e["end"]) for e in found] == [("PER", 0, 2)]


def test_confident_consistent_tags_are_left_as_argmax():
    words = probs({"B-PER": 0.9}, {"I-PER": 0.9}, {"O": 0.9}, {"B-ORG": 0.9})
    found = NerTask.entities_in(words, ID2LABEL)
    assert [(e["type"], e["start"], e["end"]) for e in found] == [("PER", 0, 2), ("ORG", 3, 4)]


def test_labels_that_are_not_bio_decode_as_argmax():
    assert transitions(["NEG", "POS"]) is None
    logits = torch.tensor([[[0.1, 2.0], [3.0, 0.0]]])
    labels = torch.tensor([[0, 0]])
    assert decode_tokens(logits, labels, None).tolist() == [[1, 0]]


def batch_logits(rows):
    """[rows, tokens, labels] logits from lists of label-name -> logit dicts (None: a
    position with no label, e.g. a special token or a word's later piece)."""
    width = max(len(r) for r in rows)
    logits = torch.zeros(len(rows), width, len(LABELS))
    labels = torch.full((len(rows), width), -100)
    for r, row in enumerate(rows):
        for t, cell in enumerate(row):
            if cell is None:
                continue
            labels[r, t] = 0
            for name, value in cell.items():
                logits[r, t, LABELS.index(name)] = value
    return logits, labels


def test_evaluation_decodes_each_rows_words_and_skips_unlabelled_pieces():
    logits, labels = batch_logits(
        [
            # [CLS] O-ish word, a word read as I-ORG, its second piece, [SEP]
            [None, {"O": 2.0, "B-ORG": 1.5}, {"I-ORG": 4.0}, None, None],
            [None, {"B-PER": 3.0}, {"I-PER": 3.0}, None],
        ]
    )
    rules = label_rules(ID2LABEL)
    ids = decode_tokens(logits, labels, rules)
    words = [
        [LABELS[i] for i, lab in zip(row, lab_row) if lab != -100]
        for row, lab_row in zip(ids.tolist(), labels.tolist())
    ]
    assert words == [["B-ORG", "I-ORG"], ["B-PER", "I-PER"]]


def test_a_window_that_continues_a_sentence_may_start_inside_an_entity():
    logits, labels = batch_logits([[None, {"I-PER": 3.0}, {"O": 3.0}, None]])
    rules = label_rules(ID2LABEL)
    first = decode_tokens(logits, labels, rules, torch.tensor([0]))
    later = decode_tokens(logits, labels, rules, torch.tensor([1]))
    assert LABELS[int(first[0, 1])] != "I-PER"
    assert LABELS[int(later[0, 1])] == "I-PER"


def test_the_scorer_counts_the_decoded_entity():
    example = {"tokens": ["Kestrel", "Bank", "hired"], "tags": ["B-ORG", "I-ORG", "O"]}
    scorer = NerScorer([example], ID2LABEL)
    logits, labels = batch_logits(
        [[None, {"O": 2.0, "B-ORG": 1.5}, {"I-ORG": 4.0}, {"O": 4.0}, None]]
    )
    preds = scorer.decode(logits, labels, torch.tensor([0]))
    scorer.add(preds, labels, torch.tensor([0]), torch.tensor([0]))
    assert scorer.result()["metrics"]["f1"] == 1.0

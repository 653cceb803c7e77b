"""NER label alignment, windows for long sentences, decoding and scoring by hand."""

from __future__ import annotations

import pytest
import torch

from workbench.tasks.classification import ClassificationTask
from workbench.tasks.ner import NerTask, spans
from workbench.tasks.words import split_words

LABELS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
L2I = {label: i for i, label in enumerate(LABELS)}


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from workbench.models.pretrained import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model("minilm"))


def test_first_subtoken_carries_the_label(tokenizer):
    example = {"tokens": ["Zurich", "unbelievably", "rocks"], "tags": ["B-LOC", "O", "O"]}
    [feature] = NerTask().encode([example], tokenizer, L2I, max_length=32)
    pieces = tokenizer.convert_ids_to_tokens(feature["input_ids"])
    # Hand-worked: [CLS] zurich un ##bel ##ie ##va ##bly rocks [SEP] for this vocabulary.
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]"
    assert pieces[1] == "zurich"
    unbelievably = [i for i, p in enumerate(pieces) if p.startswith("##")]
    assert len(unbelievably) >= 1  # "unbelievably" splits into several pieces
    expected = [-100] * len(pieces)
    expected[1] = L2I["B-LOC"]
    expected[2] = L2I["O"]  # "un", the first piece of "unbelievably"
    expected[len(pieces) - 2] = L2I["O"]  # "rocks"
    assert feature["labels"] == expected
    assert feature["attention_mask"] == [1] * len(pieces)


def test_long_sentence_is_split_into_windows_that_label_every_word_once(tokenizer):
    words = [f"word{i}" for i in range(300)]
    tags = ["B-PER" if i % 7 == 0 else "O" for i in range(300)]
    features = NerTask().encode(
        [{"tokens": ["short"], "tags": ["O"]}, {"tokens": words, "tags": tags}],
        tokenizer,
        L2I,
        max_length=32,
    )
    long_windows = [f for f in features if f["example"] == 1]
    assert len(long_windows) > 10
    assert all(len(f["input_ids"]) <= 32 for f in features)
    assert [f["example"] for f in features] == sorted(f["example"] for f in features)
    labelled = [label for f in long_windows for label in f["labels"] if label != -100]
    assert labelled == [L2I[t] for t in tags]


def test_a_word_the_tokenizer_drops_still_gets_a_slot(tokenizer):
    example = {"tokens": ["a", "\u200b", "b"], "tags": ["O", "B-PER", "O"]}
    [feature] = NerTask().encode([example], tokenizer, L2I, max_length=16)
    assert [label for label in feature["labels"] if label != -100] == [0, L2I["B-PER"], 0]


def test_spans_from_bio():
    assert spans(["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-PER"]) == [
        ("PER", 0, 2),
        ("LOC", 3, 4),
        ("LOC", 4, 5),
        ("PER", 5, 6),
    ]


def test_split_words_offsets():
    text = "Dr. Ada Lovelace met O'Neil in New-York, 1843."
    words = split_words(text)
    assert [w for w, _, _ in words][:4] == ["Dr", ".", "Ada", "Lovelace"]
    assert "O'Neil" in [w for w, _, _ in words] and "New-York" in [w for w, _, _ in words]
    assert all(text[s:e] == w for w, s, e in words)


def test_split_words_keeps_initials_and_abbreviations_whole():
    # As CoNLL-2003 tokenizes them: an NER model trained there sees "S." and "U.S.".
    words = [w for w, _, _ in split_words("George P. S. Peterson joined the U.S. Army. A man.")]
    assert words == [
        "George",
        "P.",
        "S.",
        "Peterson",
        "joined",
        "the",
        "U.S.",
        "Army",
        ".",
        "A",
        "man",
        ".",
    ]


def test_split_words_gives_cjk_characters_one_by_one():
    text = "高勇：男，1966年出生，Acme公司"
    assert [w for w, _, _ in split_words(text)] == [
        "高",
        "勇",
        "：",
        "男",
        "，",
        "1966",
        "年",
        "出",
        "生",
        "，",
        "Acme",
        "公",
        "司",
    ]


def ner_scorer_result(gold, predicted):
    examples = [{"tokens": ["x"] * len(g), "tags": g} for g in gold]
    scorer = NerTask().scorer(examples, dict(enumerate(LABELS)))
    width = max(len(g) for g in gold) + 2
    preds = torch.zeros((len(gold), width), dtype=torch.long)
    labels = torch.full((len(gold), width), -100)
    for row, (g, p) in enumerate(zip(gold, predicted)):
        preds[row, 1 : 1 + len(p)] = torch.tensor([L2I[t] for t in p])
        labels[row, 1 : 1 + len(g)] = 0  # any non -100 marks a first sub-token
    scorer.add(preds, labels, torch.arange(len(gold)), torch.zeros(len(gold)))
    return scorer.result()


def test_ner_scores_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-LOC", "O"]]
    pred = [["B-PER", "I-PER", "O", "O"], ["B-LOC", "B-PER"]]
    # Gold: PER, LOC, LOC. Predicted: PER (right), LOC (right), PER (spurious).
    result = ner_scorer_result(gold, pred)
    assert result["metrics"]["precision"] == pytest.approx(2 / 3)
    assert result["metrics"]["recall"] == pytest.approx(2 / 3)
    assert result["metrics"]["f1"] == pytest.approx(2 / 3)
    assert result["per_label"]["LOC"] == {
        "precision": 1.0,
        "recall": 0.5,
        "f1": pytest.approx(2 / 3),
        "support": 2,
    }
    assert result["per_label"]["PER"]["precision"] == 0.5
    assert result["metrics"]["accuracy"] == pytest.approx(4 / 6)


def test_classification_scores_by_hand():
    examples = [{"text": "t", "label": label} for label in ["a", "a", "b", "c"]]
    scorer = ClassificationTask().scorer(examples, {0: "a", 1: "b", 2: "c"})
    # Predictions arrive out of order (eval batches are sorted by length).
    scorer.add(torch.tensor([2, 0]), torch.tensor([2, 0]), torch.tensor([3, 0]), None)
    scorer.add(torch.tensor([1, 1]), torch.tensor([0, 1]), torch.tensor([1, 2]), None)
    result = scorer.result()
    assert result["metrics"]["accuracy"] == 0.75
    assert result["confusion"]["matrix"] == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    # F1: a = 2/3 (P 1, R 1/2), b = 2/3 (P 1/2, R 1), c = 1.
    assert result["metrics"]["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)


def test_windows_arriving_out_of_order_are_put_back_in_order():
    gold = [["B-PER", "O", "B-LOC", "O", "B-PER", "I-PER"]]
    scorer = NerTask().scorer([{"tokens": ["x"] * 6, "tags": gold[0]}], dict(enumerate(LABELS)))
    # Three windows of two words each, the last first (eval batches are sorted by length).
    rows = {0: ["B-PER", "O"], 1: ["B-LOC", "O"], 2: ["B-PER", "I-PER"]}
    for window in (2, 0, 1):
        preds = torch.tensor([[0] + [L2I[t] for t in rows[window]] + [0]])
        labels = torch.tensor([[-100, 0, 0, -100]])
        scorer.add(preds, labels, torch.tensor([0]), torch.tensor([window]))
    assert scorer.result()["metrics"]["f1"] == 1.0


def test_marked_text_of_a_character_level_relation_model():
    from workbench.tasks.relation import parse_marked
    from workbench.tasks.words import split_characters

    item = parse_marked("[[王伟|PER]]在[[1998年|DATE]]加入", split_characters)
    assert item["tokens"] == list("王伟在1998年加入")
    assert [(e["type"], e["start"], e["end"]) for e in item["entities"]] == [
        ("PER", 0, 2),
        ("DATE", 3, 8),
    ]

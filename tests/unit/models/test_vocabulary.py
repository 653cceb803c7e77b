"""What a tokenizer can read of some data, and the vocabulary extension."""

from __future__ import annotations

import pytest

from workbench.models import vocabulary
from workbench.tasks.words import split_characters, word_level

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "高", "。", "##s"]


@pytest.fixture
def tokenizer():
    """A hand-made WordPiece tokenizer: a few English words and one CJK character."""
    from transformers import BertTokenizerFast

    return BertTokenizerFast(vocab={token: i for i, token in enumerate(VOCAB)})


def test_coverage_counts_occurrences_and_distinct_unknown_words(tokenizer):
    words = ["the", "cat", "dog", "高", "勇", "勇", "cats", "。"]
    cov = vocabulary.coverage(tokenizer, words)
    # "dog" (no piece for d) and "勇" (twice) are unknown; "cats" is cat + ##s.
    assert (cov.words, cov.unknown, cov.distinct) == (8, 3, 7)
    assert cov.share == pytest.approx(3 / 8)
    assert cov.examples == ["勇", "dog"]  # most frequent first
    assert cov.as_dict()["distinct_unknown"] == 2
    assert not cov.poor  # eight words are no evidence ("I love 🍕")
    assert vocabulary.coverage(tokenizer, words * 3).poor


def test_a_well_read_corpus_is_not_warned(tokenizer):
    cov = vocabulary.coverage(tokenizer, ["the", "cat", "sat"] * 40 + ["dog"])
    assert cov.share == pytest.approx(1 / 121)
    assert not cov.poor


def test_uncovered_characters_and_words(tokenizer):
    words = ["高", "勇", "勇", "敢", "dog", "the"]
    # Characters: each unknown on its own; "d", "o", "g" are too (no single letters).
    assert vocabulary.uncovered(tokenizer, words, "characters") == ["勇", "d", "g", "o", "敢"]
    assert vocabulary.uncovered(tokenizer, words, "characters", min_count=2) == ["勇"]
    assert vocabulary.uncovered(tokenizer, words, "words") == ["勇", "dog", "敢"]


def test_extension_makes_the_data_readable(tokenizer):
    words = list("高勇敢。") + ["the"]
    added = vocabulary.uncovered(tokenizer, words, "characters")
    assert vocabulary.extend(tokenizer, added) == 2
    assert vocabulary.coverage(tokenizer, words).unknown == 0
    # Raw text without spaces is cut at the new tokens too.
    ids = tokenizer("高勇敢。", add_special_tokens=False)["input_ids"]
    assert tokenizer.unk_token_id not in ids and len(ids) == 4


def test_warning_names_share_examples_and_the_remedy(tokenizer):
    cov = vocabulary.coverage(tokenizer, ["勇", "敢", "the"] * 10)
    line = vocabulary.warning(cov, "train", "characters")
    assert "train: 66.7% of the characters" in line and "勇" in line
    assert 'extend_vocabulary = "characters"' in line
    # Once extended, what is left is what the training data lacks: no advice to extend.
    left = vocabulary.warning(cov, "test", "characters", extended=True)
    assert "stay unknown" in left and "extend_vocabulary" not in left
    short = vocabulary.short_warning({"train": cov.as_dict(), "test": {"share": 0.0}})
    assert short == "train: 66.7% unknown to the tokenizer (model.extend_vocabulary)"
    extended = vocabulary.short_warning({"train": cov.as_dict()}, extended=True)
    assert extended == "train: 66.7% unknown to the tokenizer"


def test_character_level_data_is_recognised():
    assert word_level(list("高勇是华为的工程师。") + ["2"]) == "characters"
    assert word_level(["Maria", "works", "at", "Acme", "."]) == "words"
    assert [w for w, _, _ in split_characters("高勇 在 1963年")] == list("高勇在1963年")
    assert split_characters("a b")[1] == ("b", 2, 3)


def test_a_large_split_is_measured_on_a_seeded_sample(tokenizer):
    examples = [{"tokens": ["the", "cat"] if i % 4 else ["勇"]} for i in range(2500)]
    cov = vocabulary.split_coverage(tokenizer, examples, lambda e: e["tokens"], seed=7)
    assert cov.sampled == (2000, 2500)
    assert cov.share == pytest.approx(1 / 7, abs=0.03)  # 1 of 7 words is unknown
    assert cov == vocabulary.split_coverage(tokenizer, examples, lambda e: e["tokens"], seed=7)
    assert "(a sample of 2,000 of 2,500 examples)" in vocabulary.warning(cov, "train")
    small = vocabulary.split_coverage(tokenizer, examples[:100], lambda e: e["tokens"])
    assert small.sampled is None and small.words == 175

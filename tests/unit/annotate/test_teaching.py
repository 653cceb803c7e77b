"""The teaching loop's choices: the balanced order and what ``t`` trains on."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from helpers.files import write
from workbench.annotate import pool, retrain
from workbench.annotate.decisions import FIXED, REJECTED, DecisionLog, ner_record
from workbench.annotate.pool import Item, order
from workbench.annotate.retrain import REPLAY, taught_recipe
from workbench.experiment import prepare
from workbench.recipe import load_recipe
from workbench.tasks.words import split_words


def item(text: str, confidence: float) -> Item:
    return Item(source="doc.txt", sentence=0, text=text, words=split_words(text),
                confidence=confidence)  # fmt: skip


def two_kinds(news: int, tweets: int):
    """``news`` sentences the model is sure of, ``tweets`` it is not, with vectors
    that put each kind in a corner of its own."""
    rng = np.random.default_rng(0)
    items, vectors = [], []
    for n in range(news):
        items.append(item(f"The bank reported results for quarter {n} .", -0.01 - n / 1000))
        vectors.append([1.0, 0.0] + list(rng.normal(0, 0.01, 2)))
    for n in range(tweets):
        items.append(item(f"lol @user{n} new phone is wild", -1.0 - n / 100))
        vectors.append([0.0, 1.0] + list(rng.normal(0, 0.01, 2)))
    return items, np.array(vectors, dtype=np.float32)


def test_balanced_order_follows_the_corpus_and_takes_the_hardest_of_each_kind(monkeypatch):
    items, vectors = two_kinds(news=60, tweets=20)
    mixed = order(items, "balanced", seed=0, vectors=vectors)  # twenty clusters
    assert sorted(i.text for i in mixed) == sorted(i.text for i in items)  # each exactly once
    # Least confident first would give twenty tweets; the corpus is three quarters news.
    assert 12 <= Counter("bank" in i.text for i in mixed[:20])[True] <= 18
    monkeypatch.setattr(pool, "CLUSTERS", 2)  # one cluster a kind: the turns are exact
    queue = order(items, "balanced", seed=0, vectors=vectors)
    assert Counter("bank" in i.text for i in queue[:20]) == {True: 15, False: 5}
    # Inside a kind the least confident come first.
    for news in (True, False):
        shown = [i.confidence for i in queue if ("bank" in i.text) == news]
        assert shown == sorted(shown)
    assert "bank" not in order(items, "uncertain")[0].text


def test_balanced_order_needs_vectors_and_handles_tiny_queues():
    items, vectors = two_kinds(news=2, tweets=1)
    assert len(order(items, "balanced", vectors=vectors)) == 3  # one cluster: least sure first
    assert order([], "balanced", vectors=np.zeros((0, 4))) == []
    with pytest.raises(ValueError, match="vectors"):
        order(items, "balanced")


def run_folder(tmp_path, sentences: int, extra: str = "") -> tuple:
    train = write(
        tmp_path / "data" / "train.conll",
        "".join(f"Maria{n} B-PER\nvisited O\nPorto B-LOC\n\n" for n in range(sentences)),
    )
    run = tmp_path / "runs" / "20261130-120000-demo-ner"
    write(run / "model" / "config.json", "{}")
    write(
        run / "recipe.toml", f'task = "ner"\nname = "demo-ner"\n[data]\ntrain = "{train}"\n{extra}'
    )
    return run, train


def decide(path, count: int, rejected: int = 0) -> DecisionLog:
    log = DecisionLog(path)
    for n in range(count + rejected):
        text = f"Aiko{n} joined Kestrel ."
        sentence = Item(source="news.txt", sentence=n, text=text, words=split_words(text))
        spans = [{"type": "PER", "start": 0, "end": 1}]
        log.append(ner_record(sentence, spans, REJECTED if n >= count else FIXED))
    return log


def test_the_taught_recipe_replays_a_sample_of_the_runs_data(tmp_path, monkeypatch):
    monkeypatch.setattr(retrain, "MIN_REPLAY", 0)  # the per-decision share alone
    run, _ = run_folder(tmp_path, sentences=100)
    decisions = tmp_path / "annotations" / "d.jsonl"
    decide(decisions, count=5, rejected=2)  # rejected lines are not examples
    recipe = load_recipe(taught_recipe(run, decisions))
    assert recipe.data.max_train_samples == REPLAY * 5 and recipe.data.sample == "random"
    train = recipe["data"]["train"]
    assert (
        f"beside up to {REPLAY * 5} of its own training examples"
        in taught_recipe(run, decisions).read_text()
    )
    # What training reads: the sample of the run's data, then every decision.
    recipe.values["model"]["name"] = "minilm"  # the fake run has no model to read labels from
    examples = prepare(recipe).splits["train"]
    assert len(examples) == REPLAY * 5 + 5 and train


def test_a_first_small_batch_is_trained_beside_at_least_the_replay_floor(tmp_path, monkeypatch):
    """Five decisions would replay 20 of the run's 100 examples; the floor (30 here,
    1,000 shipped) keeps more, so a first batch does not pull the model off what
    it knew. A run with fewer examples than the floor gives them all."""
    monkeypatch.setattr(retrain, "MIN_REPLAY", 30)
    run, _ = run_folder(tmp_path, sentences=100)
    decisions = tmp_path / "annotations" / "d.jsonl"
    decide(decisions, count=5)
    recipe = load_recipe(taught_recipe(run, decisions))
    assert recipe.data.max_train_samples == 30
    recipe.values["model"]["name"] = "minilm"
    assert len(prepare(recipe).splits["train"]) == 30 + 5
    monkeypatch.setattr(retrain, "MIN_REPLAY", 1000)
    recipe = load_recipe(taught_recipe(run, decisions))
    recipe.values["model"]["name"] = "minilm"
    assert len(prepare(recipe).splits["train"]) == 100 + 5


def test_a_smaller_limit_the_user_set_is_kept_and_a_taught_one_grows(tmp_path, monkeypatch):
    monkeypatch.setattr(retrain, "MIN_REPLAY", 0)
    run, _ = run_folder(tmp_path, sentences=100, extra="max_train_samples = 12\n")
    decisions = tmp_path / "annotations" / "d.jsonl"
    decide(decisions, count=5)
    assert load_recipe(taught_recipe(run, decisions)).data.max_train_samples == 12
    # A second round from the taught run: its limit was ours, so it follows the decisions.
    taught = tmp_path / "runs" / "20261130-130000-demo-ner-taught"
    write(taught / "model" / "config.json", "{}")
    (taught / "recipe.toml").write_text(taught_recipe(run, decisions).read_text())
    more = tmp_path / "annotations" / "more.jsonl"
    decide(more, count=10)
    second = load_recipe(taught_recipe(taught, more))
    assert second.data.extra_train == [str(decisions.resolve()), str(more.resolve())]
    assert second.data.max_train_samples == REPLAY * 15

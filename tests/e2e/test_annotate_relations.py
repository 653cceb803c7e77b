"""Annotating a relation run with real (tiny) models: the proposals are the
model's, raw text goes through an NER run as `kg build` does, and training on
the decisions starts from the run that proposed them."""

from __future__ import annotations

import math

import pytest

from helpers.data import RELATION_LINES
from helpers.files import write
from helpers.models import save_tiny_bert
from helpers.runs import train_run as train
from workbench.annotate.decisions import DecisionLog
from workbench.annotate.pairs import build_pair_queue, propose_pairs, sentence_pairs
from workbench.annotate.pool import Item
from workbench.annotate.retrain import taught_recipe
from workbench.annotate.session import Session
from workbench.experiment import prepare
from workbench.models.saved import load_saved
from workbench.recipe import load_recipe
from workbench.runner import run_experiment

pytestmark = pytest.mark.slow


def test_relation_proposals_decisions_and_training_on_them(relation_recipe):
    folder = relation_recipe.parent
    run_dir = train(relation_recipe)
    corpus = folder / "data" / "rel.jsonl"
    loaded, _, queue = build_pair_queue(run_dir, corpus, how="uncertain")
    task = loaded.task
    labels = list(loaded.model.config.id2label.values())
    sentences = [{"tokens": t, "entities": e} for t, e in _examples(corpus)]
    candidates = sum(len(task.candidates(s)) for s in sentences)
    assert len(queue) == candidates > 0
    confidences = [i.confidence for i in queue]
    assert confidences[0] == min(confidences) and all(c <= 0 for c in confidences)
    # The proposals are the model's: the relations predict_pairs finds, no_relation elsewhere.
    found = task.predict_pairs(loaded.model, loaded.tokenizer, sentences, loaded.max_length)
    by_pair = {}
    for sentence, relations in zip(sentences, found):
        for r in relations:
            head, tail = sentence["entities"][r["head"]], sentence["entities"][r["tail"]]
            spans = (head["start"], head["end"], tail["start"], tail["end"])
            by_pair[(" ".join(sentence["tokens"]), spans)] = r
    for item in queue:
        assert math.isclose(sum(item.probabilities.values()), 1.0, abs_tol=1e-4)
        assert set(item.probabilities) == set(labels)
        predicted = by_pair.get((item.text, item.pair))
        if predicted is None:
            assert item.label == task.none_label
        else:
            assert item.label == predicted["type"]
            assert round(item.probabilities[item.label], 4) == predicted["score"]

    # Clusters of similar sentences taking turns: the same pairs, in another order.
    _, _, balanced = build_pair_queue(run_dir, corpus, how="balanced", loaded=loaded)
    assert sorted(i.key for i in balanced) == sorted(i.key for i in queue)

    decisions = folder / "annotations" / "pairs.jsonl"
    session = Session(
        queue,
        DecisionLog(decisions),
        "relation",
        labels,
        repropose=lambda items: propose_pairs(items, loaded),
        none_label=task.none_label,
    )
    session.mark("lives_in")
    session.accept()
    session.accept()
    session.reject()
    recipe_path = taught_recipe(run_dir, decisions)
    recipe = load_recipe(recipe_path, ["train.epochs=1"])
    experiment = prepare(recipe)
    assert experiment.labels == load_saved(run_dir).meta["labels"]  # the run's head, kept
    assert len(experiment.splits["train"]) == len(RELATION_LINES) + 2
    taught_dir, end = run_experiment(experiment)
    assert end.status == "completed", end.error
    assert load_saved(taught_dir).task.name == "relation"


def test_raw_text_is_read_with_an_ner_run(ner_recipe, relation_recipe):
    folder = relation_recipe.parent
    # Trained from seeded weights until it knows its own sentences (the corpus is
    # them): the same entities found in every session.
    seeded = save_tiny_bert(folder / "seeded-bert", seed=3)
    ner_dir = train(ner_recipe, f"model.name={seeded}", "train.epochs=40")
    rel_dir = train(relation_recipe)
    texts = [
        "Maria Lindqvist visited Porto.",
        "Kestrel Analytics hired Jon.",
        "Nordwind opened in Lisbon.",
    ]
    corpus = write(folder / "corpus" / "news.txt", " ".join(texts))
    loaded, ner, queue = build_pair_queue(rel_dir, corpus, ner=ner_dir)
    assert ner is not None and ner.task.name == "ner"
    words = [ner.task.split(text) for text in texts]
    found = ner.task.predict_tokens(
        ner.model, ner.tokenizer, [[w for w, _, _ in ws] for ws in words], ner.max_length
    )
    # The pairs are those of the entities the NER model finds, sentence by sentence.
    expected = [
        pair.key
        for number, (text, ws, entities) in enumerate(zip(texts, words, found))
        for pair in sentence_pairs(
            Item("news.txt", number, text, words=ws, entities=entities), loaded.task
        )
    ]
    assert sorted(i.key for i in queue) == sorted(expected) and expected
    assert all(i.label in loaded.model.config.id2label.values() for i in queue)


def _examples(path):
    import json

    for line in path.read_text().splitlines():
        record = json.loads(line)
        yield record["tokens"], record["entities"]

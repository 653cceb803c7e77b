"""Hub datasets (`hf:DATASET@SPLIT`), with `datasets.load_dataset` stood in for,
since tests never reach the network."""

from __future__ import annotations

import datasets
import pytest

from workbench.data import read_examples
from workbench.errors import WorkbenchError
from workbench.settings import SCHEMA

DEFAULTS = {key: spec.default for key, spec in SCHEMA["data"].items()}


def fake_conll(name, config=None, split=None):
    assert (name, split) == ("someone/conll-like", "validation")
    features = datasets.Features(
        {
            "tokens": datasets.Sequence(datasets.Value("string")),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=["O", "B-PER", "I-PER"])),
        }
    )
    return datasets.Dataset.from_dict(
        {"tokens": [["Ada", "Lovelace", "wrote"]], "ner_tags": [[1, 2, 0]]}, features=features
    )


def fake_sentiment(name, config=None, split=None):
    features = datasets.Features(
        {
            "sentence": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["negative", "positive"]),
        }
    )
    return datasets.Dataset.from_dict(
        {"sentence": ["fine", "bad"], "label": [1, 0]}, features=features
    )


def test_class_label_ids_become_tag_names(monkeypatch):
    monkeypatch.setattr(datasets, "load_dataset", fake_conll)
    examples = read_examples(
        "hf:someone/conll-like@validation", {**DEFAULTS, "tags_column": "ner_tags"}, "tokens"
    )
    assert examples[0]["tokens"] == ["Ada", "Lovelace", "wrote"]
    assert examples[0]["tags"] == ["B-PER", "I-PER", "O"]


def test_class_label_ids_become_class_names(monkeypatch):
    monkeypatch.setattr(datasets, "load_dataset", fake_sentiment)
    examples = read_examples(
        "hf:someone/sst@train", {**DEFAULTS, "text_column": "sentence"}, "text"
    )
    assert [(e["text"], e["label"]) for e in examples] == [
        ("fine", "positive"),
        ("bad", "negative"),
    ]


def test_offline_hub_load_is_a_clear_error(monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach the Hub\nmore detail")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(
        WorkbenchError,
        match=r"hf:x/y@train: cannot load hub dataset "
        r"\(Couldn't reach the Hub\); offline",
    ):
        read_examples("hf:x/y@train", DEFAULTS, "text")


def test_hub_spec_needs_a_split():
    with pytest.raises(WorkbenchError, match="hf:DATASET@SPLIT"):
        read_examples("hf:eriktks/conll2003", DEFAULTS, "tokens")


def test_unreachable_hub_fails_at_once(monkeypatch):
    import workbench.network

    def never(*args, **kwargs):
        raise AssertionError("load_dataset must not be called when the hub is out of reach")

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(workbench.network, "hub_reachable", lambda timeout=3.0: False)
    monkeypatch.setattr(datasets, "load_dataset", never)
    with pytest.raises(WorkbenchError, match="hf:x/y@train: the hub cannot be reached"):
        read_examples("hf:x/y@train", DEFAULTS, "text")

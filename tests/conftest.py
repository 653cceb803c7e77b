"""Shared fixtures: a tiny random BERT (2 layers) with the bundled MiniLM
tokenizer, and small data files written per test (their contents and every
other shared helper: tests/helpers/)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from helpers.data import RELATION_LINES, SENTIMENT_DEV, SENTIMENT_TRAIN
from helpers.files import write
from helpers.models import save_tiny_bert
from helpers.runs import write_ner_recipe

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tests never read or write the user's feature cache.
os.environ["WORKBENCH_CACHE"] = tempfile.mkdtemp(prefix="workbench-test-cache-")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-layer random BERT saved with the bundled MiniLM tokenizer."""
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture
def ner_recipe(tmp_path, tiny_model) -> Path:
    """A NER recipe on tiny data and the tiny model; returns its path."""
    return write_ner_recipe(tmp_path, tiny_model)


@pytest.fixture
def classification_recipe(tmp_path, tiny_model) -> Path:
    """A classification recipe on tiny CSV data; returns its path."""
    write(tmp_path / "data" / "train.csv", SENTIMENT_TRAIN)
    write(tmp_path / "data" / "dev.csv", SENTIMENT_DEV)
    return write(
        tmp_path / "cls.toml",
        f"""
task = "classification"

[model]
name = "{tiny_model}"
max_length = 32

[data]
train = "data/train.csv"
validation = "data/dev.csv"

[train]
epochs = 2
batch_size = 4
learning_rate = 1e-3
log_every = 1

[output]
dir = "runs"
""",
    )


@pytest.fixture
def relation_recipe(tmp_path, tiny_model) -> Path:
    """A relation recipe on four hand-made sentences and the tiny model."""
    write(tmp_path / "data" / "rel.jsonl", "\n".join(RELATION_LINES) + "\n")
    return write(
        tmp_path / "rel.toml",
        f"""
task = "relation"
name = "tiny-relations"

[model]
name = "{tiny_model}"
max_length = 32

[data]
train = "data/rel.jsonl"
validation = "data/rel.jsonl"
test = "data/rel.jsonl"

[train]
epochs = 2
batch_size = 4
learning_rate = 1e-3
log_every = 1

[output]
dir = "runs"
""",
    )

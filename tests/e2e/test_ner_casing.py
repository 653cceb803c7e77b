"""model.casing: an uncased encoder told each word's capitalisation can tell a
name from the same word in lower case; without it, it cannot."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from helpers.files import write
from helpers.models import save_tiny_bert
from workbench.errors import WorkbenchError
from workbench.experiment import prepare
from workbench.models.saved import load_saved
from workbench.recipe import load_recipe
from workbench.runner import run_experiment
from workbench.runs.folder import read_events
from workbench.tasks.ner import NerTask

SUBJECTS = ["the", "a", "our", "their", "that"]
VERBS = ["said", "agreed", "fell", "rose", "closed"]


def conll(rows: list[list[tuple[str, str]]]) -> str:
    return "\n\n".join("\n".join(f"{w} {t}" for w, t in row) for row in rows) + "\n"


def sentences(count: int, seed: int) -> str:
    """'the Apple said' (Apple: an ORG) and 'the apple said' (a fruit): the same
    word pieces to an uncased tokenizer, told apart only by the capital."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        word = rng.choice(["apple", "shell", "amazon", "target"])
        name = rng.random() < 0.5
        rows.append(
            [
                (rng.choice(SUBJECTS), "O"),
                (word.capitalize() if name else word, "B-ORG" if name else "O"),
                (rng.choice(VERBS), "O"),
            ]
        )
    return conll(rows)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("casing-bert"), seed=0)


def recipe(tmp_path: Path, model: Path, casing: bool) -> Path:
    data = tmp_path / "data"
    write(data / "train.conll", sentences(300, 1))
    write(data / "dev.conll", sentences(60, 2))
    return write(
        tmp_path / f"casing-{casing}.toml",
        f"""
task = "ner"
[model]
name = "{model}"
max_length = 32
casing = {str(casing).lower()}
[data]
train = "{data / "train.conll"}"
validation = "{data / "dev.conll"}"
[train]
max_steps = 60
batch_size = 16
learning_rate = 3e-3
seed = 3
[eval]
every = "steps"
steps = 60
[output]
dir = "{tmp_path / "runs"}"
""",
    )


def test_capitals_become_token_types_only_with_casing():
    from workbench.models.pretrained import load_tokenizer

    tokenizer = load_tokenizer("minilm")
    example = {"tokens": ["Kestrel", "bank", "IBM", "42"], "tags": ["B-ORG", "O", "B-ORG", "O"]}
    task = NerTask()
    (plain,) = task.encode([example], tokenizer, {"O": 0, "B-ORG": 1}, 64)
    assert "token_type_ids" not in plain
    task.casing = True
    (cased,) = task.encode([example], tokenizer, {"O": 0, "B-ORG": 1}, 64)
    assert cased["input_ids"] == plain["input_ids"]
    words = [tokenizer.tokenize(w) for w in example["tokens"]]
    expected = [0] + [c for w, c in zip(words, (1, 0, 1, 0)) for _ in w] + [0]
    assert cased["token_type_ids"] == expected


def test_a_model_trained_with_casing_reads_capitals_and_keeps_doing_so(tiny, tmp_path):
    scores = {}
    for casing in (False, True):
        run_dir, _ = run_experiment(prepare(load_recipe(recipe(tmp_path, tiny, casing))))
        (dev,) = [e for e in read_events(run_dir) if e.type == "eval" and e.split == "validation"]
        scores[casing] = (dev.value, run_dir)
    assert scores[True][0] >= 0.95
    assert scores[False][0] <= 0.8
    # Loaded again (predict, eval, kg build), the model is given capitals the same way.
    saved = load_saved(scores[True][1])
    assert saved.task.casing
    found = saved.task.predict_tokens(
        saved.model, saved.tokenizer, [["the", "Shell", "rose"], ["the", "shell", "rose"]], 32
    )
    assert [[(e["type"], e["start"]) for e in f] for f in found] == [[("ORG", 1)], []]


def test_casing_needs_a_second_token_type(tmp_path):
    folder = save_tiny_bert(tmp_path / "one-type", type_vocab_size=1)
    with pytest.raises(WorkbenchError, match="model.casing: .*no second token type"):
        prepare(load_recipe(recipe(tmp_path, folder, True)))

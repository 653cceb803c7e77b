"""Shared fixtures: a tiny random BERT (2 layers) with the bundled MiniLM
tokenizer, and small data files written per test."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tests never read or write the user's feature cache.
os.environ["WORKBENCH_CACHE"] = tempfile.mkdtemp(prefix="workbench-test-cache-")

NER_TRAIN = """\
-DOCSTART- -X- -X- O

Maria NNP B-NP B-PER
Lindqvist NNP I-NP I-PER
visited VBD B-VP O
Porto NNP B-NP B-LOC
. . O O

Kestrel NNP B-NP B-ORG
Analytics NNP I-NP I-ORG
hired VBD B-VP O
Jon NNP B-NP B-PER
. . O O

Nordwind NNP B-NP B-ORG
opened VBD B-VP O
in IN B-PP O
Lisbon NNP B-NP B-LOC
. . O O
"""

NER_DEV = """\
Jon NNP B-NP B-PER
visited VBD B-VP O
Lisbon NNP B-NP B-LOC
. . O O

Kestrel NNP B-NP B-ORG
opened VBD B-VP O
. . O O

"""

# A 49-word sentence: with max_length 32 it spans several windows.
NER_DEV += "\n" + "Jon NNP B-NP B-PER\nvisited VBD B-VP O\nLisbon NNP B-NP B-LOC\nand CC O O\n" * 12
NER_DEV += ". . O O\n"

SENTIMENT_TRAIN = """\
text,label
"great phone, love it",positive
terrible battery and slow,negative
"works fine, nothing special",neutral
"I love the screen",positive
awful support,negative
it is okay,neutral
"""

SENTIMENT_DEV = """\
text,label
love it,positive
awful and slow,negative
okay I guess,neutral
"""


def save_tiny_bert(folder: Path, seed: int | None = None, deberta: bool = False) -> Path:
    """A 2-layer random BERT saved with the bundled MiniLM tokenizer; with
    ``seed``, the same weights in every session (torch's RNG left as it was).
    With ``deberta``, a DeBERTa-v2 of the same size (relative attention)."""
    import torch
    import transformers

    from workbench.models.pretrained import quiet_transformers, resolve_model

    quiet_transformers()
    tokenizer = transformers.AutoTokenizer.from_pretrained(resolve_model("minilm"))
    size = dict(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    if deberta:
        config = transformers.DebertaV2Config(
            **size,
            relative_attention=True,
            position_biased_input=False,
            pos_att_type=["p2c", "c2p"],
        )
    else:
        config = transformers.BertConfig(**size)
    state = torch.random.get_rng_state()
    if seed is not None:
        torch.manual_seed(seed)
    transformers.AutoModel.from_config(config).save_pretrained(folder)
    torch.random.set_rng_state(state)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-layer random BERT saved with the bundled MiniLM tokenizer."""
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def ner_recipe(tmp_path, tiny_model) -> Path:
    """A NER recipe on tiny data and the tiny model; returns its path."""
    write(tmp_path / "data" / "train.conll", NER_TRAIN)
    write(tmp_path / "data" / "dev.conll", NER_DEV)
    return write(
        tmp_path / "ner.toml",
        f"""
task = "ner"
name = "tiny-ner"

[model]
name = "{tiny_model}"
max_length = 32

[data]
train = "data/train.conll"
validation = "data/dev.conll"
test = "data/dev.conll"

[train]
epochs = 2
batch_size = 2
learning_rate = 1e-3
log_every = 1

[output]
dir = "runs"
""",
    )


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


def relation_line(
    tokens: str, entities: list[tuple[str, int, int]], relations: list[tuple[str, int, int]]
) -> str:
    """One JSONL record: space-separated tokens, (type, start, end) entities and
    (type, head, tail) relations."""
    import json

    return json.dumps(
        {
            "tokens": tokens.split(),
            "entities": [{"type": t, "start": s, "end": e} for t, s, e in entities],
            "relations": [{"type": t, "head": h, "tail": tl} for t, h, tl in relations],
        }
    )


RELATION_LINES = [
    relation_line(
        "Maria Rossi works for Kestrel Bank in Porto .",
        [("PER", 0, 2), ("ORG", 4, 6), ("LOC", 7, 8)],
        [("works_for", 0, 1), ("based_in", 1, 2)],
    ),
    relation_line(
        "Jon Berg founded Nordwind Labs .", [("PER", 0, 2), ("ORG", 3, 5)], [("founded", 0, 1)]
    ),
    relation_line(
        "Nordwind Labs is based in Lisbon , where Aiko Sato lives .",
        [("ORG", 0, 2), ("LOC", 5, 6), ("PER", 8, 10)],
        [("based_in", 0, 1), ("lives_in", 2, 1)],
    ),
    relation_line(
        "Aiko Sato met Jon Berg in Oslo .", [("PER", 0, 2), ("PER", 3, 5), ("LOC", 6, 7)], []
    ),
]


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


def train_run(recipe: Path, *overrides: str) -> Path:
    """A real tiny run of ``recipe``, in this process, which must complete; its folder."""
    from workbench.experiment import prepare
    from workbench.recipe import load_recipe
    from workbench.runner import run_experiment

    run_dir, end = run_experiment(prepare(load_recipe(recipe, list(overrides))))
    assert end.status == "completed", end.error
    return run_dir


# -- driving the TUI with Pilot (shared by the TUI test files) ---------------------------
def text_of(widget) -> str:
    """What a Static shows, as plain text."""
    import io

    from rich.console import Console

    console = Console(width=200, color_system=None, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


async def wait_for(pilot, predicate, timeout: float = 90.0, what: str = "") -> None:
    """Let the app run until ``predicate()`` holds; fail after ``timeout`` seconds,
    saying what was awaited and on which screen."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError(
        f"timed out waiting for {what or predicate} on {pilot.app.screen}: "
        f"{getattr(pilot.app.screen, '__dict__', {}).get('state')}"
    )


def app_for(folder: Path, **kwargs):
    """The workbench on ``folder``: runs in folder/runs, recipes in ``folder`` (or
    ``recipes_dir``), other settings as given."""
    from workbench.tui.app import WorkbenchApp

    kwargs.setdefault("recipes_dir", folder)
    return WorkbenchApp(runs_dir=folder / "runs", **kwargs)


def footer_keys(app) -> set[str]:
    """The keys the footer shows on the current screen, as it shows them."""
    return {
        app.get_key_display(b.binding)
        for b in app.screen.active_bindings.values()
        if b.binding.show and b.enabled
    }

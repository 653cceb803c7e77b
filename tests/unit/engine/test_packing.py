"""Packed training batches (engine/packing.py): several short sentences share one
padded row, each seeing only itself, so a step computes what the padded batch
computes on about its real tokens, and only on models where that was checked."""

from __future__ import annotations

import random

import pytest
import torch

from helpers.files import write
from helpers.models import save_tiny_bert
from helpers.sentences import SENTENCES, conll
from workbench.engine.loop import Engine
from workbench.engine.packing import pack_rows, packed_collate, packing_offset
from workbench.experiment import prepare
from workbench.recipe import load_recipe
from workbench.runner import run_experiment
from workbench.runs.folder import read_events
from workbench.tasks.base import make_collate


def test_rows_hold_every_sentence_once_and_are_no_longer_than_the_longest():
    rng = random.Random(0)
    lengths = [rng.choice([3, 4, 6, 9, 14, 20, 31, 45]) for _ in range(32)]
    rows = pack_rows(lengths)
    assert sorted(i for row in rows for i in row) == list(range(32))
    assert all(sum(lengths[i] for i in row) <= max(lengths) for row in rows)
    # A batch of mostly short sentences fits in far fewer rows than sentences.
    assert len(rows) < 32 / 2
    padded = len(rows) * max(lengths)
    assert padded < 32 * max(lengths) * 0.5


def tiny_config(kind: str):
    import transformers as T

    common = dict(
        vocab_size=120,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        num_labels=3,
    )
    if kind == "bert":
        return T.BertConfig(**common)
    if kind == "roberta":  # positions count from the padding index + 1
        return T.RobertaConfig(**common, pad_token_id=1)
    if kind == "distilbert":  # its encoder is called transformer
        return T.DistilBertConfig(
            vocab_size=120, dim=16, n_layers=2, n_heads=2, hidden_dim=32, num_labels=3
        )
    return T.DebertaV2Config(  # relative attention: a mask of its own
        **common, relative_attention=True, position_biased_input=False, pos_att_type=["p2c", "c2p"]
    )


def features_of(lengths: list[int]) -> list[dict]:
    rng = random.Random(1)
    return [
        {
            "input_ids": [rng.randrange(5, 120) for _ in range(n)],
            "attention_mask": [1] * n,
            "labels": [rng.randrange(3) for _ in range(n)],
            "example": i,
            "window": 0,
        }
        for i, n in enumerate(lengths)
    ]


@pytest.mark.parametrize(("kind", "offset"), [("bert", 0), ("roberta", 2), ("deberta", None)])
def test_packing_is_used_only_where_the_model_computes_the_same(kind, offset):
    import transformers as T

    torch.manual_seed(0)
    model = T.AutoModelForTokenClassification.from_config(tiny_config(kind))
    model.train()
    features = features_of([7, 3, 5, 4, 12])
    before = torch.random.get_rng_state()
    assert packing_offset(model, features, make_collate(0), pad_id=0) == offset
    assert model.training  # its mode and the random state are as they were
    assert torch.equal(torch.random.get_rng_state(), before)


@pytest.mark.parametrize(
    ("kind", "offset"), [("bert", 0), ("roberta", 2), ("distilbert", 0), ("deberta", None)]
)
def test_a_classifier_packs_where_its_head_reads_each_sentence_first_token(kind, offset):
    import transformers as T

    torch.manual_seed(0)
    model = T.AutoModelForSequenceClassification.from_config(tiny_config(kind))
    features = [{**f, "labels": f["example"] % 3} for f in features_of([7, 3, 5, 4, 12])]
    assert packing_offset(model, features, make_collate(0), 0, first_tokens=True) == offset


def test_a_packed_batch_gives_each_sentence_its_own_logits():
    import transformers as T

    torch.manual_seed(0)
    model = T.AutoModelForTokenClassification.from_config(tiny_config("roberta")).eval()
    features = features_of([9, 2, 4, 3, 6, 5, 1])
    batch = packed_collate(pad_id=1, offset=2)(features)
    # Seven sentences in rows as long as the longest (9): fewer rows than sentences.
    assert batch["input_ids"].shape[1] == 9 and batch["input_ids"].shape[0] < 7
    assert batch["attention_mask"].shape == (batch["input_ids"].shape[0], 1, 9, 9)
    assert sorted(batch["example"].tolist()) == list(range(7))
    with torch.no_grad():
        packed = model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            position_ids=batch["position_ids"],
        ).logits
        labelled = batch["labels"] != -100
        assert int(labelled.sum()) == sum(len(f["input_ids"]) for f in features)
        alone = torch.cat(
            [
                model(input_ids=torch.tensor([features[i]["input_ids"]])).logits[0]
                for i in batch["example"].tolist()
            ]
        )
    torch.testing.assert_close(packed[labelled], alone, rtol=1e-4, atol=1e-5)


def steps_of(recipe, settings: list[str]):
    """What the engine prepared, its batches, and which examples each optimizer step
    of epoch 0 holds."""
    engine = Engine(prepare(load_recipe(recipe, settings)), lambda event: None)
    engine.setup()
    engine.prepared.sampler.use_epoch(0)
    batches = list(engine.prepared.train_loader)
    per_step = engine.prepared.state.gradient_accumulation
    examples = [
        sorted(i for b in batches[k : k + per_step] for i in b["example"].tolist())
        for k in range(0, len(batches), per_step)
    ]
    return engine.prepared, batches, examples


@pytest.fixture
def ner_32(tmp_path):
    write(tmp_path / "train.conll", conll(SENTENCES * 4))  # 32 sentences

    def recipe(model):
        return write(
            tmp_path / "r.toml",
            f"""
task = "ner"
[model]
name = "{model}"
[data]
train = "train.conll"
[train]
batch_size = 16
""",
        )

    return recipe


def test_a_run_packs_each_batch_and_trains_the_same_examples_together(ner_32, tiny_model):
    recipe = ner_32(tiny_model)
    packed, rows, packed_steps = steps_of(recipe, [])
    plain, whole, plain_steps = steps_of(recipe, ["train.group_by_length=false"])
    assert packed.packed and not plain.packed
    # One call a step, as without grouping, over the same examples...
    assert (packed.state.micro_batch_size, packed.state.gradient_accumulation) == (16, 1)
    assert packed_steps == plain_steps
    # ...in fewer rows and far fewer padded tokens.
    assert all(b["input_ids"].shape[0] < 16 for b in rows)
    assert sum(b["input_ids"].numel() for b in rows) < 0.7 * sum(
        b["input_ids"].numel() for b in whole
    )


def test_a_model_that_packing_does_not_fit_runs_sorted_micro_batches(ner_32, tmp_path):
    recipe = ner_32(save_tiny_bert(tmp_path / "deberta", deberta=True))
    grouped, micro, grouped_steps = steps_of(recipe, [])
    plain, whole, plain_steps = steps_of(recipe, ["train.group_by_length=false"])
    assert not grouped.packed
    # On a CPU a batch of 16 runs as two micro-batches of 8, one optimizer step.
    assert (grouped.state.micro_batch_size, grouped.state.gradient_accumulation) == (8, 2)
    assert (plain.state.micro_batch_size, plain.state.gradient_accumulation) == (16, 1)
    assert grouped.steps_per_epoch == plain.steps_per_epoch == 2
    assert grouped_steps == plain_steps  # the same examples train together
    assert sum(b["input_ids"].numel() for b in micro) < sum(b["input_ids"].numel() for b in whole)


@pytest.mark.parametrize("recipe", ["ner_recipe", "classification_recipe"])
def test_a_packed_run_counts_examples_not_rows_and_says_it_packs(recipe, request):
    recipe = request.getfixturevalue(recipe)
    import io

    from rich.console import Console

    from workbench.console import ConsoleView

    def run(settings):
        run_dir, _ = run_experiment(prepare(load_recipe(recipe, settings)))
        events = read_events(run_dir)
        start = next(e for e in events if e.type == "start")
        # Examples a step, as the throughput counts them.
        per_step = [round(e.samples_per_s / e.steps_per_s, 3) for e in events if e.type == "step"]
        return start, per_step

    packed, packed_counts = run([])
    plain, plain_counts = run(["train.group_by_length=false"])
    assert packed.packed and not plain.packed
    assert packed_counts == plain_counts and max(packed_counts) == packed.batch_size
    buffer = io.StringIO()
    ConsoleView(Console(file=buffer, width=300))(packed)
    assert "examples packed into shared rows" in buffer.getvalue()

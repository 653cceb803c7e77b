"""A compiled model's batches are padded to a few lengths (shape buckets): every
example still trains once an epoch, evaluation scores the same, and compiled
training follows the eager loss curve, with compiling done before the first step."""

from __future__ import annotations

import pytest
import torch

from helpers.models import save_tiny_bert
from workbench.engine.loop import Engine
from workbench.engine.prepare import prepare as prepare_engine
from workbench.experiment import prepare
from workbench.recipe import load_recipe
from workbench.runs.events import Start, Step
from workbench.tasks.base import bucket_length, collate_for

RECIPES = ["ner_recipe", "classification_recipe", "relation_recipe"]


def test_a_few_lengths_each_close_above_the_longest_row():
    lengths = {bucket_length(n) for n in range(1, 513)}
    assert len(lengths) == 11 and max(lengths) == 512
    for n in range(1, 513):
        assert n <= bucket_length(n) < n + (16 if n <= 64 else 64)
        assert bucket_length(n) % 16 == 0


@pytest.mark.parametrize("recipe_fixture", RECIPES)
def test_bucketed_batches_hold_every_example_once_an_epoch(recipe_fixture, request):
    recipe = load_recipe(request.getfixturevalue(recipe_fixture), ["train.compile=true"])
    prepared = prepare_engine(prepare(recipe))  # compiles lazily: nothing runs the model here
    positions = prepared.acc.unwrap_model(prepared.model).config.max_position_embeddings
    for epoch in range(2):
        prepared.sampler.use_epoch(epoch)
        seen = []
        for batch in prepared.train_loader:
            width = batch["input_ids"].shape[1]
            assert width == min(bucket_length(width), positions)
            seen += batch["example"].tolist()
        assert sorted(seen) == sorted(f["example"] for f in prepared.features["train"])


@pytest.mark.parametrize("recipe_fixture", RECIPES)
def test_bucketed_evaluation_scores_what_dynamic_padding_scores(recipe_fixture, request):
    engine = Engine(prepare(load_recipe(request.getfixturevalue(recipe_fixture))), print)
    engine.setup()
    p = engine.prepared
    plain = engine.evaluate("validation")
    p.collate = collate_for(p.model, engine.exp.tokenizer, p.acc.device, buckets=True)
    p.build_eval_loaders()
    first = next(iter(p.loaders["validation"]))["input_ids"].shape[1]
    assert first == bucket_length(first)
    bucketed = engine.evaluate("validation")
    assert bucketed["metrics"] == pytest.approx(plain["metrics"], rel=1e-5, abs=1e-6)


@pytest.mark.slow
def test_compiled_training_follows_the_eager_loss_curve(ner_recipe, tmp_path):
    """Without dropout (compiled code draws its own random masks), the same steps
    give the same losses within rounding; the start event says how long compiling took."""
    still = save_tiny_bert(
        tmp_path / "still", seed=3, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
    )

    graphs = torch._dynamo.utils.counters["stats"]
    compiled_after_start = []

    def run(compiled: bool) -> list:
        events = []

        def emit(event):
            events.append(event)
            if isinstance(event, Start):
                compiled_after_start.append(graphs["unique_graphs"])

        # Batches of 2 from 3 sentences: an epoch ends on a batch of one row.
        overrides = [f"model.name={still}", "train.batch_size=2", "train.group_by_length=false"]
        recipe = load_recipe(ner_recipe, [*overrides, f"train.compile={str(compiled).lower()}"])
        Engine(prepare(recipe), emit=emit).run()
        return events

    eager, compiled = run(False), run(True)
    start = next(e for e in compiled if isinstance(e, Start))
    assert start.compile_s is not None and start.compile_s > 0
    assert next(e for e in eager if isinstance(e, Start)).compile_s is None
    losses = [[e.loss for e in events if isinstance(e, Step)] for events in (eager, compiled)]
    assert len(losses[0]) == 4  # two epochs of two steps
    assert losses[1] == pytest.approx(losses[0], rel=1e-4)
    # Training (a one-row tail included) and evaluation compiled nothing after the start.
    assert graphs["unique_graphs"] == compiled_after_start[-1]


def test_out_of_memory_while_compiling_leaves_compiling_to_the_loop(ner_recipe, monkeypatch):
    from workbench.engine import compiling

    def too_big(prepared):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB.")

    monkeypatch.setattr(compiling, "_compile", too_big)
    monkeypatch.setattr(torch, "compile", lambda model, **kwargs: model)  # eager steps
    events = []
    recipe = load_recipe(ner_recipe, ["train.compile=true", "train.max_steps=2"])
    Engine(prepare(recipe), emit=events.append).run()
    start = next(e for e in events if isinstance(e, Start))
    assert start.compile_s is None
    assert [e.step for e in events if isinstance(e, Step)] == [1, 2]

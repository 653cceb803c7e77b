"""Gradient accumulation gives the update of the full batch: the gradients of
micro-batches accumulated equal those of one batch of the same examples."""

from __future__ import annotations

import pytest
import torch

from helpers.files import write
from helpers.sentences import SENTENCES, conll
from workbench.engine.loop import Engine
from workbench.experiment import prepare
from workbench.recipe import load_recipe


@pytest.fixture
def engine(tmp_path, tiny_model, request):
    task = request.param
    if task == "ner":
        write(tmp_path / "train.conll", conll(SENTENCES))
        data = 'train = "train.conll"'
    else:
        rows = "\n".join(f'"{s}",{"long" if len(s) > 40 else "short"}' for s in SENTENCES)
        write(tmp_path / "train.csv", "text,label\n" + rows + "\n")
        data = 'train = "train.csv"'
    recipe = write(
        tmp_path / "r.toml",
        f"""
task = "{task}"
[model]
name = "{tiny_model}"
max_length = 64
[data]
{data}
""",
    )
    engine = Engine(prepare(load_recipe(recipe)), emit=lambda event: None)
    engine.setup()
    engine.prepared.model.eval()  # no dropout: the same examples must give the same gradients
    return engine


def gradients(engine, batches) -> dict[str, torch.Tensor]:
    engine.prepared.optimizer.zero_grad(set_to_none=True)
    engine.backward_window(batches)
    grads = {
        n: p.grad.clone() for n, p in engine.prepared.model.named_parameters() if p.grad is not None
    }
    engine.prepared.optimizer.zero_grad(set_to_none=True)
    return grads


def averaged_means(engine, batches) -> dict[str, torch.Tensor]:
    """What averaging each micro-batch's own mean loss would give (the old way)."""
    engine.prepared.optimizer.zero_grad(set_to_none=True)
    for batch in batches:
        inputs = {k: v for k, v in batch.items() if k not in ("labels", "example", "window")}
        logits = engine.prepared.model(**inputs).logits
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), batch["labels"].reshape(-1), ignore_index=-100
        )
        (loss / len(batches)).backward()
    grads = {
        n: p.grad.clone() for n, p in engine.prepared.model.named_parameters() if p.grad is not None
    }
    engine.prepared.optimizer.zero_grad(set_to_none=True)
    return grads


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["ner", "classification"], indirect=True)
def test_four_micro_batches_accumulated_equal_one_batch(engine):
    features = engine.prepared.features["train"]
    assert len(features) == 8
    whole = gradients(engine, [engine.prepared.collate(features)])
    micro = [engine.prepared.collate(features[i : i + 2]) for i in range(0, 8, 2)]
    accumulated = gradients(engine, micro)
    assert whole.keys() == accumulated.keys() and len(whole) > 10
    for name in whole:
        torch.testing.assert_close(accumulated[name], whole[name], rtol=1e-4, atol=1e-6, msg=name)
    if engine.exp.task.name == "ner":
        # Averaging each micro-batch's mean weighs short sentences' words more: not the same.
        naive = averaged_means(engine, micro)
        assert any(not torch.allclose(naive[n], whole[n], rtol=1e-3, atol=1e-5) for n in whole)


@pytest.mark.parametrize("engine", ["ner", "classification"], indirect=True)
def test_a_packed_batch_gives_the_gradients_of_the_padded_one(engine):
    features = engine.prepared.features["train"]
    assert engine.prepared.packed
    packed = engine.prepared.train_collate(features)
    padded = engine.prepared.collate(features)
    assert packed["input_ids"].numel() < padded["input_ids"].numel() * 0.7
    whole, packed_grads = gradients(engine, [padded]), gradients(engine, [packed])
    assert whole.keys() == packed_grads.keys() and len(whole) > 10
    for name in whole:
        torch.testing.assert_close(packed_grads[name], whole[name], rtol=1e-4, atol=1e-6, msg=name)

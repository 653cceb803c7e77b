"""The optimizer's parameter groups: train.embedding_learning_rate reaches what of
the input embeddings trains, with or without [peft]."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from workbench.engine.prepare import _optimizer
from workbench.settings import PeftSettings, TrainSettings


def tiny_model():
    import transformers

    config = transformers.BertConfig(
        vocab_size=120,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
    )
    return transformers.AutoModelForTokenClassification.from_config(config)


CPU = SimpleNamespace(device=SimpleNamespace(type="cpu"), mixed_precision="no")


@pytest.mark.parametrize("method", ["full", "lora", "bitfit", "freeze"])
def test_the_embeddings_get_their_own_rate_under_every_method(method):
    from workbench.models.tuning import apply_tuning

    tuned = apply_tuning(tiny_model(), PeftSettings(method=method, layers=1), "tiny", [118, 119])
    train = TrainSettings(learning_rate=1e-4, embedding_learning_rate=1e-2)
    groups = _optimizer(tuned.model, CPU, train).param_groups
    assert [g["lr"] for g in groups] == [1e-4, 1e-4, 1e-2]
    rows = sum(p.numel() for p in groups[2]["params"])
    # The whole matrix in full fine-tuning; under [peft], PEFT's rows for the new tokens.
    assert rows == (120 * 16 if method == "full" else 2 * 16)


def test_without_the_setting_the_groups_are_as_before():
    groups = _optimizer(tiny_model(), CPU, TrainSettings(learning_rate=1e-4)).param_groups
    assert len(groups) == 2 and all(g["lr"] == 1e-4 for g in groups)

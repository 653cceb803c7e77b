"""The hot loop never reads the device: between logged steps no tensor is read
back to the host (on a GPU each read is a sync that stalls the queue of kernels).

Counted here on the CPU by wrapping every Python-level way a tensor is read
(``item``, ``tolist``, ``bool``/``float``/``int``, ``cpu``, ``numpy``) while a
step trains and while its bookkeeping runs, on the path a GPU takes (batches
padded, not packed)."""

from __future__ import annotations

import collections
import traceback
from pathlib import Path

import pytest
import torch

from workbench.engine import masks
from workbench.engine.loop import Engine
from workbench.experiment import prepare
from workbench.recipe import load_recipe

READS = ["item", "tolist", "__bool__", "__float__", "__int__", "__index__", "cpu", "numpy"]
# A logged step and an evaluation read the device by design: never within these steps.
QUIET = ["train.log_every=1000", "eval.every=steps", "eval.steps=1000", "train.epochs=3"]


class ReadCounter:
    """Counts tensor reads (and where they came from) while ``active``."""

    def __init__(self, monkeypatch):
        self.active = False
        self.where: collections.Counter = collections.Counter()
        for name in READS:
            monkeypatch.setattr(
                torch.Tensor, name, self._wrapped(name, getattr(torch.Tensor, name))
            )

    def _wrapped(self, name, original):
        def read(tensor, *args, **kwargs):
            if self.active:
                caller = traceback.extract_stack(limit=3)[0]
                self.where[f"{name} at {Path(caller.filename).name}:{caller.lineno}"] += 1
            return original(tensor, *args, **kwargs)

        return read

    def during(self, function):
        def counted(*args, **kwargs):
            self.active = True
            try:
                return function(*args, **kwargs)
            finally:
                self.active = False

        return counted


def reads_while_training(recipe: Path, monkeypatch, extra: list[str] = ()) -> tuple[dict, int]:
    """Trains ``recipe`` on the padded path; the reads made by every step but the
    last (which logs) and the number of those steps."""
    recipe_ = load_recipe(recipe, ["train.group_by_length=false", *QUIET, *extra])
    engine = Engine(prepare(recipe_), emit=lambda event: None)
    counter = ReadCounter(monkeypatch)
    steps = []
    train_step, after_step = engine.train_step, engine._after_step

    def step(window):
        if engine.prepared.state.step + 1 < engine.prepared.state.total_steps:
            steps.append(engine.prepared.state.step)
            counter.during(train_step)(window)
        else:
            train_step(window)

    def after(end_of_epoch):
        if engine.prepared.state.step + 1 < engine.prepared.state.total_steps:
            counter.during(after_step)(end_of_epoch)
        else:
            after_step(end_of_epoch)

    engine.train_step, engine._after_step = step, after
    engine.run()
    return dict(counter.where), len(steps)


@pytest.mark.parametrize(
    "recipe_fixture", ["ner_recipe", "classification_recipe", "relation_recipe"]
)
def test_no_tensor_is_read_between_logged_steps(recipe_fixture, request, monkeypatch):
    reads, steps = reads_while_training(request.getfixturevalue(recipe_fixture), monkeypatch)
    assert steps >= 3
    assert reads == {}, f"host reads in {steps} steps: {reads}"


def test_the_count_sees_transformers_own_mask_check(ner_recipe, monkeypatch):
    """Without the expanded masks, transformers asks the device whether anything is
    padded before every forward call: the counter sees one read a step."""
    monkeypatch.setattr(masks, "expansion_agrees", lambda *args: False)
    reads, steps = reads_while_training(ner_recipe, monkeypatch)
    assert sum(reads.values()) >= steps >= 3
    assert all("masking_utils" in where for where in reads), reads


def test_expanded_masks_give_the_same_training(ner_recipe, monkeypatch):
    """The expanded mask is the same attention: the losses of a run with and
    without it agree."""

    def losses(expanded: bool) -> list[float]:
        if not expanded:
            monkeypatch.setattr(masks, "expansion_agrees", lambda *args: False)
        events = []
        recipe = load_recipe(ner_recipe, ["train.group_by_length=false"])
        Engine(prepare(recipe), emit=events.append).run()
        return [e.loss for e in events if type(e).__name__ == "Step"]

    expanded, flat = losses(True), losses(False)
    assert len(expanded) >= 4
    assert expanded == pytest.approx(flat, rel=1e-4)


def test_a_model_that_adds_its_mask_keeps_the_flat_one(tiny_model):
    """Eager attention adds the mask to the scores: a boolean one would mask
    nothing, so the check refuses it."""
    from transformers import AutoModelForTokenClassification

    from workbench.tasks.base import make_collate

    def features(n: int) -> dict:
        return {
            "input_ids": [101] + [2000 + i for i in range(n)] + [102],
            "attention_mask": [1] * (n + 2),
        }

    sample = [features(n) for n in (2, 5, 9, 3)]
    collate = make_collate(0)
    sdpa = AutoModelForTokenClassification.from_pretrained(str(tiny_model), num_labels=3)
    eager = AutoModelForTokenClassification.from_pretrained(
        str(tiny_model), num_labels=3, attn_implementation="eager"
    )
    assert masks.expansion_agrees(sdpa, sample, collate)
    assert not masks.expansion_agrees(eager, sample, collate)
    assert not masks.expansion_agrees(sdpa, [features(4)] * 4, collate)  # nothing padded

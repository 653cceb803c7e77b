"""torch.compile paid for before the first step, as a phase of its own.

A compiled model compiles on its first call with each new kind of input: a
training call and an evaluation call (no gradients) are two graphs, and the
second length a graph meets makes it compile again with the length left open.
Left to happen in the loop, that is a first step taking minutes and a rate that
means nothing. ``warm_up`` makes those calls before training starts, on the
run's own batches (the longest, fewer of the shortest, and one row alone, padded to
their buckets), so
the start event can say how long compiling took, and the weights, gradients,
optimizer and random state are left as they were.
"""

from __future__ import annotations

import time

import torch

from workbench.engine import faults
from workbench.engine.loss import summed_loss
from workbench.tasks.base import model_inputs_on


def warm_up(prepared) -> float | None:
    """Compile ``prepared.model`` for training and evaluation on the shapes of
    the run's own batches; the seconds it took. None when the device ran out of
    memory: compiling is then left to the loop, whose steps handle that."""
    try:
        return _compile(prepared)
    except Exception as exc:  # noqa: BLE001 - only out-of-memory is handled here
        if not faults.is_out_of_memory(exc):
            raise
    faults.free_device_memory()  # outside the except block: its frames held the tensors
    prepared.optimizer.zero_grad(set_to_none=True)
    prepared.model.train()
    return None


def _compile(prepared) -> float:
    p = prepared
    began = time.perf_counter()
    devices = [p.acc.device] if p.acc.device.type == "cuda" else []
    was_training = p.model.training
    with torch.random.fork_rng(devices=devices):
        p.model.train()
        for batch in _extremes(p.features["train"], p.state.micro_batch_size, p.train_collate):
            logits = p.model(**model_inputs_on(batch, p.acc.device)).logits
            loss = summed_loss(logits, batch["labels"].to(p.acc.device))
            loss.backward()
        p.optimizer.zero_grad(set_to_none=True)
        p.model.eval()
        evaluated = next((f for s, f in p.features.items() if s != "train"), None)
        with torch.inference_mode():  # as evaluation runs: its batches are inference tensors
            for batch in _extremes(evaluated or [], p.state.eval_batch_size, p.collate):
                p.model(**model_inputs_on(batch, p.acc.device))
    p.model.train(was_training)
    return time.perf_counter() - began


def _extremes(features: list[dict], rows: int, collate) -> list[dict]:
    """A batch of the longest ``rows`` features and one of fewer (at least two) of
    the shortest: both sizes change between the two calls, so the second compile
    leaves both open and a new bucket or a short batch compiles nothing more. And
    a batch of one row, which torch.compile always keeps a graph of its own for
    (an epoch's last batch can be one). Shapes met twice are run once."""
    if not features:
        return []
    ordered = sorted(features, key=lambda f: len(f["input_ids"]))
    batches = [
        collate(ordered[-rows:]),
        collate(ordered[: max(2, rows // 2)]),
        collate(ordered[:1]),
    ]
    by_shape: dict[tuple, dict] = {}
    for batch in batches:
        by_shape.setdefault(tuple(batch["input_ids"].shape), batch)
    return list(by_shape.values())

"""Attention masks the model takes without asking the host.

Given a 2-d padding mask, transformers asks whether it masks anything at all
(``padding_mask.all()`` in ``masking_utils``) before every forward call, to skip
the mask where nothing is padded. On a GPU that question is a device sync: the
host waits for the queued work to finish before it may launch the next call,
once per micro-batch. A mask already shaped (rows, 1, 1, length) is taken as it
is, and attention broadcasts it over heads and query positions, so training
batches carry that form instead, where the model computes the same with it
(``expansion_agrees``, run once before training, as ``packing_offset`` does for
packed rows: SDPA attention reads a boolean mask; eager attention adds it, and
is left with the 2-d one).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from workbench.engine.packing import cpu_logits

_TOLERANCE = 1e-4


def expand(batch: dict) -> dict:
    """``batch`` with its (rows, length) attention mask as a boolean (rows, 1, 1, length)."""
    mask = batch.get("attention_mask")
    if mask is not None and mask.dim() == 2:
        batch["attention_mask"] = mask[:, None, None, :].bool()
    return batch


def expanding(collate: Callable[[list[dict]], dict]) -> Callable[[list[dict]], dict]:
    """``collate`` whose batches carry expanded masks (``expand``)."""

    def collate_expanded(features: list[dict]) -> dict:
        return expand(collate(features))

    return collate_expanded


def expansion_agrees(model, features: list[dict], collate: Callable) -> bool:
    """Whether ``model`` gives a padded batch of two of ``features`` the same
    logits with the expanded mask as with the 2-d one (False where it cannot take
    it, or where no feature needs padding to tell). Runs in evaluation mode
    without gradients and leaves the model's mode and the random state as they
    were."""
    ordered = sorted(features[:64], key=lambda f: len(f["input_ids"]))
    sample = ordered[:1] + ordered[-1:]  # the shortest is padded to the longest
    if len(sample) < 2 or len(sample[0]["input_ids"]) == len(sample[1]["input_ids"]):
        return False  # nothing padded: the check would prove nothing
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            batch = collate(sample)
            if batch.get("attention_mask") is None or batch["attention_mask"].dim() != 2:
                return False
            try:
                flat = cpu_logits(model, batch, device)
                expanded = cpu_logits(model, expand(dict(batch)), device)
            except (RuntimeError, TypeError, ValueError, IndexError):  # no 4-d masks...
                return False
        return expanded.shape == flat.shape and torch.allclose(
            expanded, flat, atol=_TOLERANCE, rtol=_TOLERANCE
        )
    finally:
        model.train(was_training)

"""Data loaders for training and evaluation.

Training order depends only on the seed and the epoch number, so a run resumed
mid-epoch sees the batches an uninterrupted one would: the epoch's permutation
is drawn again and the batches already trained on are skipped. With
``train.group_by_length`` each optimizer step's examples (a run of the
permutation, as without it) are sorted by length: random batches of sentences
carry about twice their own tokens in padding, and on a CPU every padded token
costs as much as a real one. Where it can, the engine packs a batch's
sentences into shared rows (engine/packing.py); elsewhere it runs them as
micro-batches of similar length whose gradients add up to the whole batch's. Sorting whole buckets
of batches instead (the Trainer's ``group_by_length``) also cuts the padding,
but makes batches of nothing but short lines: on CoNLL-2003 it cost 1.3 dev F1.
Evaluation batches are sorted by length; scorers reorder by example id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch.utils.data import DataLoader, Sampler

from workbench.tasks.base import length_batches

# What one more forward and backward call costs, in padded tokens' worth of work.
# Fitted on two CPU cores (MiniLM, random CoNLL-2003 batches of 32 run whole or as
# sorted micro-batches of 16, 8, 4 and 2: 1.00x, 1.44x, 1.52x, 1.16x, 0.82x the
# speed): a call costs 32 ms, a padded token 0.39 ms. A GPU's calls cost far more
# than its tokens (4,096 is a guess, not yet measured there).
CALL_COST_TOKENS = {"cpu": 80, "cuda": 4096}


def length_split(
    lengths: list[int], batch_size: int, device_type: str, seed: int = 0, group_size: int = 0
) -> int:
    """How many length-sorted micro-batches each micro-batch of ``batch_size`` rows
    runs as: of the splits into equal parts, the one whose calls and padded tokens
    cost least over an epoch of these ``lengths`` (1 where padding is cheap to
    keep). ``group_size`` is an optimizer step's rows (default ``batch_size``)."""
    call = CALL_COST_TOKENS.get(device_type, CALL_COST_TOKENS["cuda"])
    group_size = group_size or batch_size
    order = list(EpochSampler(len(lengths), seed, lengths, group_size))
    windows = [order[i : i + group_size] for i in range(0, len(order), group_size)]

    def cost(parts: int) -> int:
        rows = batch_size // parts
        return sum(
            call + min(rows, len(w) - i) * lengths[w[i]]  # sorted: w[i] is the longest
            for w in windows
            for i in range(0, len(w), rows)
        )

    splits = [k for k in range(1, batch_size + 1) if batch_size % k == 0]
    return min(splits, key=cost)


class EpochSampler(Sampler):
    """A fresh permutation each epoch, seeded by ``(seed, epoch)`` alone.

    Given ``lengths``, each run of ``group_size`` indices (one optimizer step's
    examples, the same ones as without lengths) is sorted longest first, so the
    micro-batches the loader cuts from it hold examples of similar length. Which
    examples train together, and in which step, does not depend on ``lengths``.

    The epoch is set with ``use_epoch`` (not ``set_epoch``, which Accelerate's
    loaders call with counts of their own)."""

    def __init__(self, size: int, seed: int, lengths: list[int] | None = None, group_size: int = 1):
        self.size, self.seed, self.epoch = size, seed, 0
        self.lengths, self.group_size = lengths, group_size

    def use_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator).tolist()
        if self.lengths is None or self.group_size < 2:
            return iter(order)
        size = self.group_size
        return iter(
            i
            for start in range(0, self.size, size)
            for i in sorted(order[start : start + size], key=self.lengths.__getitem__, reverse=True)
        )

    def __len__(self) -> int:
        return self.size


def _generator(seed: int):
    # A loader without a generator of its own draws its worker seed from torch's
    # global RNG at each iteration: that would shift dropout after a resume.
    return torch.Generator().manual_seed(seed)


def train_loader(
    features: list[dict],
    batch_size: int,
    seed: int,
    collate: Callable,
    group_by_length: bool = False,
    workers: bool = False,
    group_size: int | None = None,
) -> tuple[object, EpochSampler]:
    """The training loader (not yet prepared) and its sampler.

    Length groups are ``group_size`` examples (the effective batch of a process:
    micro-batch x accumulation), cut into micro-batches of ``batch_size``; so
    halving the micro-batch and doubling accumulation (auto_batch, or the
    engine's split of each batch into length-sorted micro-batches) keeps the
    epoch's order and a run can skip the examples it already trained on. With
    ``workers`` (for a GPU), batches are padded in two worker processes into
    pinned memory while the GPU computes; on a CPU they would take cores from
    the model."""
    lengths = [len(f["input_ids"]) for f in features] if group_by_length else None
    sampler = EpochSampler(len(features), seed, lengths, group_size or batch_size)
    loader = DataLoader(
        features,
        batch_size=batch_size,
        sampler=sampler,
        collate_fn=collate,
        generator=_generator(seed),
        num_workers=2 if workers else 0,
        pin_memory=workers,
        persistent_workers=workers,
    )
    return loader, sampler


def eval_loader(
    features: list[dict], batch_size: int, collate: Callable, max_tokens: int | None = None
):
    """An evaluation loader over the features in batches of similar length; with
    ``max_tokens``, batches also capped at that many tokens (``length_batches``).
    Without it every batch but the last holds ``batch_size`` rows, as Accelerate's
    sharding across processes expects."""
    batches = length_batches(features, batch_size, max_tokens)
    # A generator of its own: a loader without one draws its seed from the global
    # RNG, and an evaluation would change the dropout of the training after it.
    if max_tokens is not None:
        return DataLoader(
            features, batch_sampler=batches, collate_fn=collate, generator=_generator(0)
        )
    ordered = [features[i] for batch in batches for i in batch]
    return DataLoader(
        ordered, batch_size=batch_size, shuffle=False, collate_fn=collate, generator=_generator(0)
    )

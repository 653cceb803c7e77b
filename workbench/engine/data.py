"""Data loaders for training and evaluation.

Training order depends only on the seed and the epoch number, so a run resumed
mid-epoch sees the batches an uninterrupted one would: the epoch's permutation
is drawn again and the batches already trained on are skipped. With
``train.group_by_length`` each batch holds examples of similar length (as the
Trainer's ``group_by_length`` does): random batches of sentences carry about
twice their own tokens in padding, and on a CPU every padded token costs as
much as a real one. Evaluation batches are sorted by length; scorers reorder
by example id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch.utils.data import DataLoader, Sampler

from workbench.tasks.base import length_batches

# Examples per length bucket, in batches (the Trainer's mega-batch of 50): big
# enough that batches are nearly uniform in length, small enough that every
# part of the data is met early in each epoch.
BUCKET_BATCHES = 50


class EpochSampler(Sampler):
    """A fresh permutation each epoch, seeded by ``(seed, epoch)`` alone.

    Given ``lengths`` and ``batch_size``, the permutation is cut into buckets
    of ``BUCKET_BATCHES`` batches, each bucket is sorted by length and cut into
    batches, and the batches are shuffled: every run of ``batch_size`` indices
    is one batch of similar lengths, and which batch comes when stays random.

    The epoch is set with ``use_epoch`` (not ``set_epoch``, which Accelerate's
    loaders call with counts of their own)."""

    def __init__(self, size: int, seed: int, lengths: list[int] | None = None, batch_size: int = 1):
        self.size, self.seed, self.epoch = size, seed, 0
        self.lengths, self.batch_size = lengths, batch_size

    def use_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator).tolist()
        if self.lengths is None or self.batch_size < 2:
            return iter(order)
        bucket = self.batch_size * BUCKET_BATCHES
        batches = []
        for start in range(0, self.size, bucket):
            part = sorted(order[start : start + bucket], key=self.lengths.__getitem__, reverse=True)
            batches += [part[i : i + self.batch_size] for i in range(0, len(part), self.batch_size)]
        # Only the last batch can be short, and it stays last: a partial batch anywhere
        # else would shift every later batch boundary (a resumed run skips whole batches).
        short = [batches.pop()] if batches and len(batches[-1]) < self.batch_size else []
        shuffled = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
        return iter([i for batch in shuffled + short for i in batch])

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
    halving the micro-batch and doubling accumulation (auto_batch) keeps the
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

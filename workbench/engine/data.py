"""Data loaders for training and evaluation.

Training order depends only on the seed and the epoch number, so a run resumed
mid-epoch sees the batches an uninterrupted one would: the epoch's permutation
is drawn again and the batches already trained on are skipped. Evaluation
batches are sorted by length (far less padding); scorers reorder by example id.
"""

from __future__ import annotations

from typing import Callable, Iterator

import torch
from torch.utils.data import DataLoader, Sampler


class EpochSampler(Sampler):
    """A fresh permutation each epoch, seeded by ``(seed, epoch)`` alone.

    The epoch is set with ``use_epoch`` (not ``set_epoch``, which Accelerate's
    loaders call with counts of their own)."""

    def __init__(self, size: int, seed: int):
        self.size, self.seed, self.epoch = size, seed, 0

    def use_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.size, generator=generator).tolist())

    def __len__(self) -> int:
        return self.size


def _generator(seed: int):
    # A loader without a generator of its own draws its worker seed from torch's
    # global RNG at each iteration: that would shift dropout after a resume.
    return torch.Generator().manual_seed(seed)


def train_loader(features: list[dict], batch_size: int, seed: int,
                 collate: Callable) -> tuple[object, EpochSampler]:
    """The training loader (not yet prepared) and its sampler."""
    sampler = EpochSampler(len(features), seed)
    loader = DataLoader(features, batch_size=batch_size, sampler=sampler, collate_fn=collate,
                        generator=_generator(seed))
    return loader, sampler


def eval_loader(features: list[dict], batch_size: int, collate: Callable):
    """An evaluation loader over the features sorted by length."""
    ordered = sorted(features, key=lambda f: len(f["input_ids"]))
    return DataLoader(ordered, batch_size=batch_size, shuffle=False, collate_fn=collate,
                      generator=_generator(0))

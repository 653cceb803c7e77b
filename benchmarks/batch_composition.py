"""What a training step is made of, under four batchings of the same epoch:
random batches, the retired length buckets (the Trainer's ``group_by_length``:
buckets of 50 batches sorted by length), and today's ``train.group_by_length``
(each random batch packed into shared rows, or where packing does not fit
sorted and run as micro-batches). No training: it reads the data, tokenises it
and counts (issue 24's explanation of the lost F1).

    python benchmarks/batch_composition.py [--train PATH] [--batch 32] [--seed 42]

Printed per batching: labelled words per optimizer step (min, median, max),
steps whose median sentence has five words or fewer, the share of the gradient
that sentences of five words or fewer draw when each step's loss is its mean
over its words (their share of the words beside it), how much an entity
mention weighs against an average word, and padded / real tokens of the
rows run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"


def bucketed(size: int, seed: int, lengths: list[int], batch: int, buckets: int = 50):
    """The retired order: buckets of ``buckets`` batches sorted by length, cut into
    batches, the batches shuffled (as workbench did before issue 24)."""
    generator = torch.Generator().manual_seed(seed * 100_003)
    order = torch.randperm(size, generator=generator).tolist()
    steps = []
    for start in range(0, size, batch * buckets):
        part = sorted(order[start : start + batch * buckets], key=lengths.__getitem__, reverse=True)
        steps += [part[i : i + batch] for i in range(0, len(part), batch)]
    shuffled = torch.randperm(len(steps), generator=generator).tolist()
    return [steps[i] for i in shuffled], 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=str(SHARED / "conll2003" / "train.txt"))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args()
    if not Path(args.train).is_file():
        print(f"{args.train} not found: give --train a CoNLL file")
        return 1

    from workbench.data.conll import read_conll
    from workbench.engine.data import EpochSampler, length_split
    from workbench.engine.packing import pack_rows
    from workbench.models.pretrained import load_tokenizer

    sentences = read_conll(args.train)
    tokenizer = load_tokenizer("minilm")
    lengths = [
        min(args.max_length, len(tokenizer(s["tokens"], is_split_into_words=True)["input_ids"]))
        for s in sentences
    ]
    words = [len(s["tokens"]) for s in sentences]
    mentions = [sum(tag.startswith("B-") for tag in s["tags"]) for s in sentences]
    size, batch = len(sentences), args.batch

    def steps_of(order: list[int]) -> list[list[int]]:
        return [order[i : i + batch] for i in range(0, len(order), batch)]

    parts = length_split(lengths, batch, "cpu", args.seed)
    batchings = {
        "random batches": (steps_of(list(EpochSampler(size, args.seed))), 1),
        "length buckets (retired)": bucketed(size, args.seed, lengths, batch),
        f"sorted steps, {parts} micro-batches": (
            steps_of(list(EpochSampler(size, args.seed, lengths, batch))),
            parts,
        ),
        "packed rows (now)": (steps_of(list(EpochSampler(size, args.seed))), None),
    }
    print(
        f"{args.train}: {size} sentences, {sum(words)} words; batch {batch}, seed {args.seed}; "
        f"{sum(w <= 5 for w in words)} sentences of five words or fewer"
    )
    for name, (steps, parts) in batchings.items():
        counts = [sum(words[i] for i in step) for step in steps]
        mean = sum(words) / len(steps)
        short_weight = all_weight = mention_weight = 0.0
        padded = 0
        for step, count in zip(steps, counts):
            for i in step:  # a word's weight: 1 / its step's words, against an average step
                weight = mean / count
                all_weight += words[i] * weight
                short_weight += words[i] * weight if words[i] <= 5 else 0.0
                mention_weight += mentions[i] * weight
            if parts is None:  # rows as long as the step's longest sentence
                padded += len(pack_rows([lengths[i] for i in step])) * max(lengths[i] for i in step)
                continue
            ordered = sorted(step, key=lengths.__getitem__, reverse=True) if parts > 1 else step
            rows = -(-len(step) // parts)
            for k in range(0, len(ordered), rows):
                micro = ordered[k : k + rows]
                padded += len(micro) * max(lengths[i] for i in micro)
        short_steps = sum(statistics.median(words[i] for i in step) <= 5 for step in steps)
        short_words = sum(w for w in words if w <= 5) / sum(words)
        print(
            f"  {name:38s} words/step {min(counts)}-{statistics.median(counts):.0f}-"
            f"{max(counts)}  short-line steps {short_steps}/{len(steps)}  "
            f"short lines' gradient {short_weight / all_weight:.1%} (of words {short_words:.1%})  "
            f"a mention weighs {mention_weight / sum(mentions):.2f}x  "
            f"padded/real {padded / sum(lengths):.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

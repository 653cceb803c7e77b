"""Where a `workbench run` spends its time: py-spy samples the process and the
samples are sorted into the phases of a run (imports, reading, tokenising,
loading the model, training forward / backward / optimizer, batching,
evaluation forward / scoring, saving).

Needs py-spy (`pip install py-spy`). Any `workbench` command line works:

    python benchmarks/profile_run.py -- workbench run recipes/demo-ner.toml --set train.max_steps=60
    python benchmarks/profile_run.py --raw samples.txt   # summarise an earlier recording

The sampled thread is Python's: time the intra-op threads spend inside a torch
kernel is counted against the Python frame waiting for it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

# (phase, substrings of a stack that place a sample in it); the first match wins,
# so the more specific phases come first.
PHASES = [
    (
        "evaluation: scoring (decode + seqeval / sklearn)",
        ("scorer", ".add (workbench/tasks", "result (workbench/tasks"),
    ),
    ("evaluation: forward", ("evaluate_batches (workbench/engine/evaluation.py",)),
    ("training: backward", ("backward (torch/", "_engine_run_backward")),
    ("training: forward + loss", ("backward_window (workbench",)),
    ("training: optimizer, clipping, zero_grad", ("train_step (workbench",)),
    (
        "training: batching (sampler, collate)",
        ("collate (workbench", "__next__ (torch/utils/data", "skip_first_batches"),
    ),
    ("checkpoints and saving the model", ("save_checkpoint", "save_trained", "save_model")),
    ("tokenising", ("encode (workbench/tasks",)),
    (
        "loading model and tokenizer",
        ("load_for_training", "load_tokenizer", "load_saved", "apply_tuning"),
    ),
    ("reading data", ("read_examples", "read_token_examples")),
    ("imports", ("_find_and_load",)),
]


def phase_of(stack: str) -> str:
    for name, needles in PHASES:
        if any(needle in stack for needle in needles):
            return name
    return "other (start-up, events, the loop itself)"


def summarise(raw: Path) -> Counter:
    """Seconds-free shares: samples per phase from py-spy's raw (collapsed) output."""
    counts: Counter = Counter()
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[phase_of(stack)] += int(count)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, help="summarise this py-spy --format raw file")
    parser.add_argument("--rate", type=int, default=50, help="samples per second")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- the command to profile")
    args = parser.parse_args()
    command = [c for c in args.command if c != "--"]
    if args.raw is None:
        if not command:
            parser.error("give a command after --, or --raw FILE")
        args.raw = Path(tempfile.mkdtemp()) / "samples.txt"
        subprocess.run(
            [
                "py-spy",
                "record",
                "-r",
                str(args.rate),
                "--format",
                "raw",
                "-o",
                str(args.raw),
                "--",
                *command,
            ],
            check=True,
        )
    counts = summarise(args.raw)
    total = sum(counts.values()) or 1
    print(f"\n{'phase':<52} {'share':>7} {'~seconds':>9}")
    for name, count in counts.most_common():
        print(f"{name:<52} {100 * count / total:6.1f}% {count / args.rate:9.1f}")
    print(f"{'all':<52} {100.0:6.1f}% {total / args.rate:9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

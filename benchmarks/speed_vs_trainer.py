"""workbench against the 🤗 Trainer recipe it replaces: speed, memory and the dev
metric, side by side.

For each task, the same model (the bundled MiniLM), data, budget and seed go
through `workbench run` and through `trainer_recipe.py` (the run_ner.py /
run_glue.py recipe with Trainer defaults), each a process of its own,
interleaved (A B, B A, ...) over the seeds, so both sides meet the same machine
state. Printed per run and as means with ratios (workbench / Trainer):

- training samples/s (the engine's step events, the half-way evaluation left out /
  the Trainer's train metrics),
  and real (unpadded) tokens/s: samples/s x the mean tokens of a training example;
- evaluation sentences/s: forward passes and scoring of the dev sentences, each
  side evaluating twice: the first evaluation of a process also pays importing
  its metric library (seqeval and scikit-learn), the second is what every later
  evaluation of a run costs (workbench evaluates half-way and at the end, the
  Trainer twice after training: its training time holds no evaluation);
- peak resident memory of the process (host RSS; both load the same model);
- wall time of the whole process: start-up, reading, tokenising, training,
  evaluation, exit;
- the dev metric at the same step (entity F1, or accuracy).

NER on CoNLL-2003 and classification on SST-2 from `../shared/datasets` when
present, else the bundled demo data (skipped tasks say so):

    python benchmarks/speed_vs_trainer.py [--tasks ner classification] [--seeds 1 2 3]
        [--set train.group_by_length=false]   # workbench settings to compare
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"

# task: (shared data, demo data, max_length, train examples, dev examples, steps, batch, lr)
BUDGETS = {
    "ner": dict(
        shared=("conll2003/train.txt", "conll2003/dev.txt"),
        demo=("data/demo/ner/train.conll", "data/demo/ner/dev.conll"),
        max_length=128,
        train_n=2000,
        dev_n=500,
        steps=60,
        batch=16,
        lr=5e-5,
        data={},
    ),
    "classification": dict(
        shared=("sst2/train.tsv", "sst2/dev.tsv"),
        demo=("data/demo/sentiment/train.csv", "data/demo/sentiment/dev.csv"),
        max_length=66,
        train_n=4000,
        dev_n=872,
        steps=100,
        batch=32,
        lr=1e-4,
        data={"text_column": "sentence", "label_column": "label"},
    ),
}


def run_process(command: list[str], cwd: Path) -> tuple[str, float, float]:
    """Output, wall seconds and peak RSS (MiB) of a process run to its end."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output = process.stdout.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} failed:\n{output[-3000:]}")
    return output, wall, usage.ru_maxrss / 1024  # Linux reports KiB


def mean_tokens(task: str, train: Path, budget: dict, recipe) -> float:
    """Real tokens per training example, as the bundled tokenizer counts them."""
    from workbench.data import read_examples
    from workbench.models.pretrained import load_tokenizer

    tokenizer = load_tokenizer("minilm")
    kind = "tokens" if task == "ner" else "text"
    examples = read_examples(str(train), recipe["data"], kind)[: budget["train_n"]]
    if task == "ner":
        counts = [
            len(
                tokenizer(
                    e["tokens"],
                    is_split_into_words=True,
                    truncation=True,
                    max_length=budget["max_length"],
                )["input_ids"]
            )
            for e in examples
        ]
    else:
        counts = [
            len(tokenizer(e["text"], truncation=True, max_length=budget["max_length"])["input_ids"])
            for e in examples
        ]
    return statistics.mean(counts)


def recipe_for(
    task: str, train: Path, dev: Path, budget: dict, seed: int, out: Path, settings: list[str]
):
    from workbench.recipe import build_recipe

    metric = "f1" if task == "ner" else "accuracy"
    recipe = build_recipe(
        {
            "task": task,
            "name": f"bench-{task}",
            "model": {"name": "minilm", "max_length": budget["max_length"]},
            "data": {
                "train": str(train),
                "validation": str(dev),
                "max_train_samples": budget["train_n"],
                "max_eval_samples": budget["dev_n"],
                **budget["data"],
            },
            "train": {
                "max_steps": budget["steps"],
                "batch_size": budget["batch"],
                "eval_batch_size": 64,
                "learning_rate": budget["lr"],
                "seed": seed,
                "log_every": 10,
            },
            # Half-way and at the end: the second evaluation is a warm one.
            "eval": {"every": "steps", "steps": budget["steps"] // 2, "metric": metric},
            "output": {"dir": str(out), "save_model": False},
        },
        overrides=settings,
    )
    return recipe


def workbench_side(task, train, dev, budget, seed, out: Path, settings) -> dict:
    from workbench.runs.folder import read_events

    recipe = recipe_for(task, train, dev, budget, seed, out / "runs", settings)
    path = out / f"{task}-{seed}.toml"
    path.write_text(recipe.to_toml(), encoding="utf-8")
    _output, wall, rss = run_process(
        [sys.executable, "-m", "workbench", "run", str(path), "--quiet-reports"], ROOT
    )
    run_dir = max((out / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
    events = read_events(run_dir)
    steps = [e for e in events if e.type == "step"]
    evals = [e for e in events if e.type == "eval"]
    start = next(e for e in events if e.type == "start")
    # Training time without the half-way evaluation (the Trainer's holds none):
    # each step event's rates cover the time since the one before, less pauses.
    seconds = [
        (e.step - before) / e.steps_per_s for e, before in zip(steps, [0] + [e.step for e in steps])
    ]
    samples = sum(e.samples_per_s * t for e, t in zip(steps, seconds))
    return {
        "train_samples_per_s": samples / sum(seconds),
        "first_eval_sentences_per_s": start.examples["validation"] / evals[0].seconds,
        "eval_sentences_per_s": start.examples["validation"] / evals[-1].seconds,
        "value": evals[-1].value,
        "wall_s": wall,
        "rss_mib": rss,
    }


def trainer_side(task, train, dev, budget, seed, out: Path, recipe) -> dict:
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "trainer_recipe.py"),
        task,
        str(train),
        str(dev),
        "--train-n",
        str(budget["train_n"]),
        "--dev-n",
        str(budget["dev_n"]),
        "--steps",
        str(budget["steps"]),
        "--batch",
        str(budget["batch"]),
        "--lr",
        str(budget["lr"]),
        "--seed",
        str(seed),
        "--max-length",
        str(budget["max_length"]),
        "--out",
        str(out / "trainer"),
        "--data",
        json.dumps(recipe["data"]),
    ]
    output, wall, rss = run_process(command, ROOT)
    result = json.loads(output.strip().splitlines()[-1])
    return {**result, "wall_s": wall, "rss_mib": rss}


ROWS = [
    ("training samples/s", "train_samples_per_s", True),
    ("training real tokens/s", "tokens_per_s", True),
    ("first evaluation, sent/s", "first_eval_sentences_per_s", True),
    ("later evaluations, sent/s", "eval_sentences_per_s", True),
    ("peak RSS, MiB", "rss_mib", False),
    ("whole process, wall s", "wall_s", False),
    ("dev metric", "value", True),
]


def interleaved(task: str, seeds: list[int], tmp: Path):
    """(seed, side, a fresh folder) in the order A B, B A, ... so both sides meet
    the same machine state."""
    for i, seed in enumerate(seeds):
        order = ("workbench", "Trainer") if i % 2 == 0 else ("Trainer", "workbench")
        for side in order:
            out = tmp / f"{task}-{side}-{seed}"
            out.mkdir()
            yield seed, side, out


def bench_task(task: str, seeds: list[int], settings: list[str], tmp: Path) -> None:
    budget = BUDGETS[task]
    shared = [SHARED / p for p in budget["shared"]]
    if all(p.is_file() for p in shared):
        train, dev = shared
    else:
        print(f"{task}: {shared[0].parent} not found; using the bundled demo data")
        train, dev = (ROOT / p for p in budget["demo"])
        budget = {**budget, "data": {}}
    recipe = recipe_for(task, train, dev, budget, seeds[0], tmp, [])
    tokens = mean_tokens(task, train, budget, recipe)
    sides: dict[str, list[dict]] = {"workbench": [], "Trainer": []}
    for seed, side, out in interleaved(task, seeds, tmp):
        result = (
            workbench_side(task, train, dev, budget, seed, out, settings)
            if side == "workbench"
            else trainer_side(task, train, dev, budget, seed, out, recipe)
        )
        result["tokens_per_s"] = result["train_samples_per_s"] * tokens
        sides[side].append(result)
        print(
            f"  {task} seed {seed} {side:9s} "
            + "  ".join(f"{key} {result[key]:.4g}" for _label, key, _up in ROWS),
            flush=True,
        )
    print(
        f"\n{task}: {train.parent.name}, up to {budget['train_n']} train / {budget['dev_n']} "
        f"dev examples, {budget['steps']} steps of {budget['batch']}, lr {budget['lr']}, "
        f"seeds {seeds}; {tokens:.1f} real tokens per training example"
        + (f"; workbench with {' '.join(settings)}" if settings else "")
    )
    print(f"  {'':26s} {'workbench':>22s} {'Trainer':>22s} {'ratio':>7s}")
    for label, key, _up in ROWS:
        ours = [r[key] for r in sides["workbench"]]
        theirs = [r[key] for r in sides["Trainer"]]
        ratio = statistics.mean(ours) / statistics.mean(theirs)
        text = (
            f"diff {statistics.mean(ours) - statistics.mean(theirs):+.4f}"
            if key == "value"
            else f"{ratio:.2f}x"
        )
        print(
            f"  {label:26s} {' / '.join(f'{v:.4g}' for v in ours):>22s} "
            f"{' / '.join(f'{v:.4g}' for v in theirs):>22s} {text:>7s}"
        )
    print()


def add_settings(parser: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE`` (repeatable): recipe settings for workbench's side."""
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        help="a workbench recipe setting for its side (repeatable)",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(BUDGETS), choices=list(BUDGETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    add_settings(parser)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks:
            bench_task(task, args.seeds, args.settings, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The shipped recipes trained to the end of their schedule, workbench against the
🤗 Trainer recipe, over several seeds: does a default of the loop cost quality?

For each task the shipped recipe (`recipes/conll2003-ner.toml`,
`recipes/sst2-sentiment.toml`) runs as `workbench run` with only the data and
the seed set, and its hyperparameters (epochs, batch, learning rate, warm-up,
max_length) go to `trainer_recipe.py` (run_ner.py / run_glue.py with Trainer
defaults). Sides are interleaved (A B, B A, ...) over the seeds; each prints
dev and test, then mean ± sample standard deviation and the difference of means.

Data: CoNLL-2003 train/dev/test from `../shared/datasets/conll2003`; SST-2 has
no labelled test split, so its GLUE dev set is the test here and the last
``--dev-n`` sentences of its train file (not trained on) are the dev set.
A CPU cannot train the full recipes five times a side, so ``--train-n`` keeps
the first N training examples and the whole schedule (all epochs, warm-up and
decay to zero) runs over them; ``--train-n 0`` trains on everything (a GPU box):

    python benchmarks/quality_vs_trainer.py                       # CPU budget, 5 seeds
    python benchmarks/quality_vs_trainer.py --train-n 0 --seeds 1 2 3 4 5   # full recipes
    python benchmarks/quality_vs_trainer.py --set train.group_by_length=false

workbench selects its best evaluation by dev (as the recipe says: every epoch
for CoNLL, every 500 steps and at the end for SST-2) and scores test with it;
the Trainer recipe keeps its last weights, as run_ner.py does by default.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed_vs_trainer import ROOT, SHARED, add_settings, interleaved, run_process  # noqa: E402

TASKS = {
    "ner": dict(
        recipe="recipes/conll2003-ner.toml",
        files=("conll2003/train.txt", "conll2003/dev.txt", "conll2003/test.txt"),
        train_n=1000,
        metric="f1",
    ),
    "classification": dict(
        recipe="recipes/sst2-sentiment.toml",
        files=("sst2/train.tsv", None, "sst2/dev.tsv"),
        train_n=2000,
        metric="accuracy",
    ),
}


def split_sst2(train: Path, dev_n: int, folder: Path) -> tuple[Path, Path]:
    """SST-2's train file cut into train and a held-out dev of its last rows
    (lines copied as they are: the header, then one sentence a line)."""
    header, *body = train.read_text(encoding="utf-8").splitlines(keepends=True)
    paths = (folder / "train.tsv", folder / "heldout.tsv")
    for path, part in zip(paths, (body[:-dev_n], body[-dev_n:])):
        path.write_text(header + "".join(part), encoding="utf-8")
    return paths


def workbench_side(spec, files, train_n, seed, out: Path, settings) -> dict:
    from workbench.runs.folder import read_events

    train, dev, test = files
    command = [
        sys.executable, "-m", "workbench", "run", spec["recipe"], "--quiet-reports",
        "--set", f"data.train={train}", "--set", f"data.validation={dev}",
        "--set", f"data.test={test}", "--set", f"train.seed={seed}",
        "--set", f"output.dir={out}", "--set", "output.save_model=false",
    ]  # fmt: skip
    if spec["metric"] == "accuracy":  # the hub recipe names the hub's columns
        command += ["--set", "data.text_column=sentence", "--set", "data.label_column=label"]
    if train_n:
        command += ["--set", f"data.max_train_samples={train_n}"]
    for setting in settings:
        command += ["--set", setting]
    _output, wall, _rss = run_process(command, ROOT)
    run_dir = next(out.iterdir())
    end = next(e for e in reversed(read_events(run_dir)) if e.type == "end")
    return {
        "dev": end.best_value,
        "test": end.test[spec["metric"]],
        "wall_s": wall,
        "run_s": end.duration_s,  # training, evaluations included: what issue 29's 20 s counts
    }


def trainer_side(spec, files, train_n, seed, out: Path, recipe) -> dict:
    train, dev, test = files
    hyper, model = recipe["train"], recipe["model"]
    command = [
        sys.executable, str(ROOT / "benchmarks" / "trainer_recipe.py"), recipe.task,
        str(train), str(dev), "--test", str(test),
        "--train-n", str(train_n or 10**9), "--dev-n", str(10**9),
        "--epochs", str(hyper["epochs"]), "--batch", str(hyper["batch_size"]),
        "--eval-batch", str(hyper["eval_batch_size"]), "--lr", str(hyper["learning_rate"]),
        "--warmup-ratio", str(hyper["warmup_ratio"]), "--seed", str(seed),
        "--max-length", str(model["max_length"]), "--out", str(out),
        "--data", json.dumps(recipe["data"]), "--evaluations", "1",
    ]  # fmt: skip
    output, wall, _rss = run_process(command, ROOT)
    result = json.loads(output.strip().splitlines()[-1])
    return {"dev": result["value"], "test": result["test_value"], "wall_s": wall}


def spread(values: list[float]) -> str:
    mean = statistics.mean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * mean:.2f} ± {100 * sd:.2f}"


def bench_task(task: str, seeds, train_n, dev_n, settings, tmp: Path) -> None:
    from workbench.recipe import load_recipe

    spec = TASKS[task]
    found = [SHARED / f if f else None for f in spec["files"]]
    if not all(p.is_file() for p in found if p):
        print(f"{task}: {found[0].parent} not found; skipped (this benchmark needs real data)")
        return
    train, dev, test = found
    if dev is None:
        train, dev = split_sst2(train, dev_n, tmp)
    files = (train, dev, test)
    overrides = [f"data.train={train}", f"data.validation={dev}", f"data.test={test}"]
    if spec["metric"] == "accuracy":
        overrides += ["data.text_column=sentence", "data.label_column=label"]
    recipe = load_recipe(ROOT / spec["recipe"], overrides + list(settings))
    train_n = spec["train_n"] if train_n is None else train_n
    sides: dict[str, list[dict]] = {"workbench": [], "Trainer": []}
    for seed, side, out in interleaved(task, seeds, tmp):
        if side == "workbench":
            result = workbench_side(spec, files, train_n, seed, out, settings)
        else:
            result = trainer_side(spec, files, train_n, seed, out, recipe)
        sides[side].append(result)
        print(
            f"  {task} seed {seed} {side:9s} dev {100 * result['dev']:.2f}  "
            f"test {100 * result['test']:.2f}  ({result['wall_s']:.0f} s"
            + (f", run {result['run_s']:.1f} s)" if result.get("run_s") else ")"),
            flush=True,
        )
    hyper = recipe["train"]
    print(
        f"\n{task}: {spec['recipe']} to the end of its schedule ({hyper['epochs']} epochs, "
        f"batch {hyper['batch_size']}, lr {hyper['learning_rate']}, warm-up "
        f"{hyper['warmup_ratio']}) on {'all' if not train_n else f'the first {train_n}'} "
        f"training examples; seeds {' '.join(map(str, seeds))}; {spec['metric']} x 100, "
        "mean ± sd" + (f"; workbench with {' '.join(settings)}" if settings else "")
    )
    print(f"  {'':6s} {'workbench':>16s} {'Trainer':>16s} {'difference':>11s}")
    for split in ("dev", "test"):
        ours = [r[split] for r in sides["workbench"]]
        theirs = [r[split] for r in sides["Trainer"]]
        difference = 100 * (statistics.mean(ours) - statistics.mean(theirs))
        print(f"  {split:6s} {spread(ours):>16s} {spread(theirs):>16s} {difference:>+11.2f}")
    runs = [r["run_s"] for r in sides["workbench"] if r.get("run_s")]
    if runs:
        gap = 100 * statistics.mean(r["dev"] - t["dev"] for r, t in zip(*sides.values()))
        print(
            f"  workbench run time {statistics.mean(runs):.1f} s a seed (training and its "
            f"evaluations); dev {gap:+.2f} against the Trainer"
            f" ({'within' if gap >= -0.3 else 'NOT within'} 0.3)"
        )
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument(
        "--train-n", type=int, help="first N training examples (0: all; default per task)"
    )
    parser.add_argument("--dev-n", type=int, default=1000, help="SST-2's held-out dev rows")
    add_settings(parser)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks:
            bench_task(task, args.seeds, args.train_n, args.dev_n, args.settings, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())

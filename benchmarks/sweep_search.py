"""Does a sweep find better settings than the shipped recipe, and does pruning pay?

On a budget two CPU cores can run: SST-2 with 600 training sentences (a seeded
sample of GLUE's train; --train-size), three epochs, and GLUE's dev split cut in two
halves by a seeded shuffle: ``dev`` (the sweep's validation: what it tunes on) and
``held`` (the recipe's test split: never seen by any choice). Arms, each run with
``workbench sweep`` exactly as a user would, the same trials and search space, per
seed:

  tpe       TPE sampler, median pruner (the default)
  random    random sampler, median pruner
  tpe-full  TPE sampler, no pruner (what pruning saves is measured against it)
  shipped   recipes/sst2-sentiment.toml's own settings (learning rate, batch, no
            warm-up) on the same data and epochs, one run (no search)

Printed: the best dev accuracy per arm (tuned on: labelled so), that trial's
held-out accuracy, and the optimizer steps each arm trained in all, as means over
seeds; a plot of the best dev accuracy so far against steps trained.

    pip install matplotlib
    python benchmarks/sweep_search.py [--shared ../shared/datasets] [--seeds 1 2 3] \
        [--trials 6] [--train-size 600] [--eval-steps N] [--plot benchmarks/sweep_search.png]
    python benchmarks/sweep_search.py --collect WORK [WORK ...] --arms tpe tpe-full ...

Trials are evaluated after each epoch; ``--eval-steps N`` evaluates every N steps
instead (points within the first epoch, which the pruner must not judge yet).

``--collect`` runs nothing: it reads the finished sweeps of earlier invocations'
work folders (each invocation prints its own), for the seeds every named arm
finished, so a stopped run and a later one for the seeds it lacked report as one.

``--collect ... --equal-steps`` asks what pruning buys at the same compute: each
seed's pruned sweep (``tpe``), copied to a new work folder, is given more trials
with ``workbench sweep join --trials`` until it has trained as many steps as the
unpruned one (``tpe-full``); printed per seed, the best dev accuracy each found
within those steps, that trial's held-out accuracy, and the steps each took to
first reach the unpruned sweep's best. ``--equal-steps WORK`` reports an earlier
such folder again (``--collect`` still names the unpruned sweeps).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "recipes" / "sst2-sentiment.toml"
SPACE = [
    "train.learning_rate=loguniform(1e-5, 3e-4)",
    "train.batch_size=choice(16, 32)",
    "train.warmup_ratio=uniform(0, 0.2)",
]
ARMS = {
    "tpe": ["--sampler", "tpe", "--pruner", "median"],
    "random": ["--sampler", "random", "--pruner", "median"],
    "tpe-full": ["--sampler", "tpe", "--pruner", "none"],
    "tpe-halving": ["--sampler", "tpe", "--pruner", "halving"],
}
DEFAULT_ARMS = ["tpe", "random", "tpe-full", "shipped"]


def write_splits(shared: Path, folder: Path, train_size: int) -> dict[str, Path]:
    """The sampled train set and the two halves of dev, as TSV files."""

    def read(name: str) -> list[list[str]]:
        with open(shared / "sst2" / name, encoding="utf-8", newline="") as f:
            return list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]

    rng = random.Random(0)
    train = rng.sample(read("train.tsv"), train_size)
    dev = read("dev.tsv")
    rng.shuffle(dev)
    half = len(dev) // 2
    paths = {}
    for name, rows in (("train", train), ("dev", dev[:half]), ("held", dev[half:])):
        path = folder / f"{name}.tsv"
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
            writer.writerow(["sentence", "label"])
            writer.writerows(rows)
        paths[name] = path
    return paths


def data_overrides(paths: dict[str, Path], eval_steps: int | None = None) -> list[str]:
    # With --eval-steps: evaluated every so many steps instead (points within the
    # first epoch, where the pruner must not judge yet).
    every = ["eval.every=steps", f"eval.steps={eval_steps}"] if eval_steps else ["eval.every=epoch"]
    return [
        f"data.train={paths['train']}",
        f"data.validation={paths['dev']}",
        f"data.test={paths['held']}",
        # Evaluated each epoch, so there is something to prune on (the shipped recipe
        # evaluates every 500 steps: on 2,000 sentences, only at the end).
        *every,
        "train.epochs=3",
        "train.log_every=20",
    ]


def held_accuracy(run_dir: str) -> float | None:
    report = json.loads((Path(run_dir) / "report.json").read_text())
    test = report.get("reports", {}).get("test")
    return test["metrics"]["accuracy"] if test else None


def timed(command: list[str]) -> float:
    """Seconds ``command`` took (it must succeed)."""
    began = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def run_arm(arm: str, seed: int, trials: int, overrides: list[str], work: Path) -> dict:
    sweeps = work / f"{arm}-{seed}"
    command = [
        sys.executable, "-m", "workbench", "sweep", str(RECIPE),
        *[x for p in SPACE for x in ("--param", p)],
        "--trials", str(trials), "--seed", str(seed), *ARMS[arm],
        "--dir", str(sweeps), "--set", *overrides, f"train.seed={seed}",
    ]  # fmt: skip
    seconds = timed(command)
    result = arm_result(sweeps, seconds)
    assert result is not None
    return result


def arm_result(sweeps: Path, seconds: float | None = None) -> dict | None:
    """What one arm's sweep (the folder ``--dir`` named) found; None while a trial
    has not finished (a sweep stopped part-way)."""
    from workbench.sweeps.study import open_sweep, sweep_folders

    (folder,) = sweep_folders(sweeps)
    sweep = open_sweep(folder)
    rows = sorted(sweep.trials(), key=lambda r: r.number)
    best = sweep.best(rows)
    if best is None or any(r.state in ("running", "waiting") for r in rows):
        return None
    curve, steps, best_so_far = [], 0, 0.0
    for row in rows:
        steps += row.steps or 0
        if row.value is not None:
            best_so_far = max(best_so_far, row.value)
        curve.append((steps, best_so_far))
    return {
        "best_dev": best.value,
        "held": held_accuracy(best.run_dir),
        "steps": steps,
        "pruned": sum(r.state == "pruned" for r in rows),
        "trials": len(rows),
        "seconds": seconds,
        "curve": curve,
        "best_params": best.params,
    }


def run_shipped(seed: int, overrides: list[str], work: Path) -> dict:
    from workbench.runs.index import run_folders, summarize

    runs = work / f"shipped-{seed}"
    command = [
        sys.executable, "-m", "workbench", "run", str(RECIPE), "--plain", "--quiet-reports",
        "--set", *overrides, f"train.seed={seed}", f"output.dir={runs}",
    ]  # fmt: skip
    seconds = timed(command)
    (run_dir,) = run_folders(runs)
    run = summarize(run_dir)
    return {
        "best_dev": run.best_value,
        "held": held_accuracy(str(run_dir)),
        "steps": run.steps,
        "pruned": 0,
        "seconds": seconds,
        "curve": [(run.steps, run.best_value)],
    }


def mean_sd(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--train-size", type=int, default=600)
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--eval-steps", type=int, help="evaluate every N steps, not each epoch")
    parser.add_argument("--arms", nargs="+", default=DEFAULT_ARMS, choices=[*ARMS, "shipped"])
    parser.add_argument(
        "--json", type=Path, help="default: benchmarks/sweep_search.json (--equal-steps: in WORK)"
    )
    parser.add_argument(
        "--collect",
        type=Path,
        nargs="+",
        metavar="WORK",
        help="run nothing: the table, JSON and plot of the finished sweeps in these work "
        "folders (each printed at its start; arm-seed folders; e.g. a stopped run's and a "
        "later one's with the seeds it lacked)",
    )
    parser.add_argument(
        "--equal-steps",
        nargs="?",
        const=True,
        type=Path,
        metavar="WORK",
        help="with --collect: more trials for each pruned sweep (a copy) until it has "
        "trained the unpruned one's steps; or an earlier such work folder to report",
    )
    args = parser.parse_args()
    if args.equal_steps:
        results = collect(args.collect, ["tpe", "tpe-full"])
        equal_steps(args, results)
        return
    args.json = args.json or ROOT / "benchmarks" / "sweep_search.json"
    if args.collect:
        results = collect(args.collect, args.arms)
        args.seeds = sorted({r["seed"] for rows in results.values() for r in rows})
        args.trials = max((r["trials"] for rows in results.values() for r in rows), default=0)
        report(args, results)
        return
    work = Path(tempfile.mkdtemp(prefix="sweep-search-"))
    print(f"work folder: {work}", flush=True)
    overrides = data_overrides(write_splits(args.shared, work, args.train_size), args.eval_steps)
    results: dict[str, list[dict]] = {arm: [] for arm in args.arms}
    for seed in args.seeds:  # arms interleaved per seed: the machine's drift hits all alike
        if "shipped" in args.arms:
            results["shipped"].append(run_shipped(seed, overrides, work))
        for arm in (a for a in args.arms if a != "shipped"):
            results[arm].append(run_arm(arm, seed, args.trials, overrides, work) | {"seed": seed})
            print(
                arm, seed, json.dumps({k: v for k, v in results[arm][-1].items() if k != "curve"})
            )
    report(args, results)


def collect(works: list[Path], arms: list[str]) -> dict[str, list[dict]]:
    """Finished arm-seed sweeps of earlier invocations' work folders, by arm, in
    seed order, for the seeds every arm finished (an arm's seed found twice: the
    first work folder's)."""
    found: dict[str, dict[int, dict]] = {arm: {} for arm in arms if arm != "shipped"}
    for work in works:
        for folder in sorted(work.iterdir()):
            arm, _, seed = folder.name.rpartition("-")
            if arm in found and seed.isdigit() and int(seed) not in found[arm]:
                result = arm_result(folder)
                if result is not None:
                    found[arm][int(seed)] = result | {"seed": int(seed), "dir": str(folder)}
    # Only seeds every arm finished: arms are compared over the same seeds.
    seeds = sorted(set.intersection(*(set(by_seed) for by_seed in found.values())))
    return {arm: [by_seed[s] for s in seeds] for arm, by_seed in found.items()}


def report(args, results: dict[str, list[dict]]) -> None:
    """The table, the pruning line, the JSON and the plot."""
    print(
        f"\nSST-2, {args.train_size} training sentences, {args.trials} trials a sweep, "
        f"seeds {args.seeds}; dev = what the sweeps tune on, held = never seen\n"
    )
    print(
        f"{'arm':10} {'best dev (tuned on)':>22} {'held-out, its trial':>22} "
        f"{'steps trained':>16} {'pruned':>7} {'minutes':>8}"
    )
    for arm, rows in results.items():
        if not rows:
            continue
        seconds = [r["seconds"] for r in rows if r.get("seconds") is not None]
        print(
            f"{arm:10} {mean_sd([r['best_dev'] for r in rows]):>22} "
            f"{mean_sd([r['held'] for r in rows]):>22} "
            f"{statistics.mean(r['steps'] for r in rows):>16,.0f} "
            f"{statistics.mean(r['pruned'] for r in rows):>7.1f} "
            f"{statistics.mean(seconds) / 60 if seconds else float('nan'):>8.1f}"
        )
    if results.get("tpe-full"):
        full = statistics.mean(r["steps"] for r in results["tpe-full"])
        for arm in ("tpe", "tpe-halving"):
            if results.get(arm):
                saved = 1 - statistics.mean(r["steps"] for r in results[arm]) / full
                print(f"pruning ({arm} against tpe-full): {saved:.0%} fewer steps")
    args.json.write_text(json.dumps({"args": vars(args) | {"shared": str(args.shared),
                         "plot": str(args.plot), "json": str(args.json),
                         "collect": [str(w) for w in args.collect or []]},
                         "results": results}, indent=1))  # fmt: skip
    if args.plot:
        plot(results, args.plot)


def copy_sweep(arm_dir: Path, to: Path) -> Path:
    """A copy of an arm's sweep folder (``--dir``) whose study is the copy's own
    file, so the recorded sweep stays as it was; the sweep folder in the copy."""
    from workbench.sweeps.study import SPEC, STORAGE_FILE, sweep_folders

    if not to.exists():
        shutil.copytree(arm_dir, to)
        (folder,) = sweep_folders(to)
        spec = json.loads((folder / SPEC).read_text())
        spec["storage"] = f"sqlite:///{(folder / STORAGE_FILE).resolve()}"
        (folder / SPEC).write_text(json.dumps(spec, indent=2) + "\n")
    (folder,) = sweep_folders(to)
    return folder


def extend_to(folder: Path, budget: int, seed: int) -> None:
    """More trials for the sweep at ``folder`` (as a user adds them: `sweep join
    --trials`) until it has trained ``budget`` steps."""
    while True:
        result = arm_result(folder.parent)
        assert result is not None, folder
        if result["steps"] >= budget:
            return
        # As many as surely fit: the longest trial so far a trial each, at least one.
        ends = [steps for steps, _ in result["curve"]]
        longest = max(b - a for a, b in zip([0, *ends], ends))
        more = max(1, (budget - result["steps"]) // max(longest, 1))
        total = result["trials"] + more
        print(f"{folder}: {result['steps']} of {budget} steps; {total} trials", flush=True)
        subprocess.run(
            [sys.executable, "-m", "workbench", "sweep", "join", str(folder),
             "--trials", str(total), "--seed", str(seed)],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip


def within(result: dict, budget: int) -> tuple[float, float | None, int]:
    """The best dev accuracy among the trials that ended within ``budget`` steps,
    that trial's held-out accuracy, and the steps used."""
    from workbench.sweeps.study import open_sweep, sweep_folders

    (folder,) = sweep_folders(result["dir"])
    sweep = open_sweep(folder)
    rows, steps, kept = sorted(sweep.trials(), key=lambda r: r.number), 0, []
    for row in rows:
        if steps + (row.steps or 0) > budget:
            break
        steps += row.steps or 0
        kept.append(row)
    best = sweep.best(kept)
    assert best is not None
    return best.value, held_accuracy(best.run_dir), steps  # type: ignore[return-value]


def steps_to(curve: list, target: float) -> int | None:
    """Steps a sweep trained until its best so far first reached ``target``."""
    return next((steps for steps, best in curve if best >= target - 1e-9), None)


def equal_steps(args, results: dict[str, list[dict]]) -> None:
    """Each seed's pruned sweep given the unpruned one's steps; the table."""
    work = (
        args.equal_steps
        if isinstance(args.equal_steps, Path)
        else Path(tempfile.mkdtemp(prefix="sweep-equal-steps-"))
    )
    print(f"work folder: {work}", flush=True)
    rows = []
    for pruned, full in zip(results["tpe"], results["tpe-full"]):
        seed, budget = pruned["seed"], full["steps"]
        folder = copy_sweep(Path(pruned["dir"]), work / f"tpe-{seed}")
        extend_to(folder, budget, seed)
        extended = arm_result(folder.parent) | {"dir": str(folder.parent)}
        best, held, used = within(extended, budget)
        rows.append({
            "seed": seed, "budget": budget, "steps": used,
            "trials": sum(1 for s, _ in extended["curve"] if s <= used),
            "best_dev": best, "held": held,
            "full_best_dev": full["best_dev"], "full_held": full["held"],
            "steps_to_full_best": steps_to(extended["curve"], full["best_dev"]),
            "full_steps_to_best": steps_to(full["curve"], full["best_dev"]),
            "curve": [p for p in extended["curve"] if p[0] <= used],
            "full_curve": full["curve"],
        })  # fmt: skip
    print(
        "\nAt equal steps: each pruned sweep (tpe) given more trials until it trained the "
        "unpruned sweep's (tpe-full) steps; dev = tuned on, held = never seen\n"
    )
    print(
        f"{'seed':>4} {'steps':>13} {'trials':>6} {'best dev, pruned / not':>24} "
        f"{'held-out, pruned / not':>24} {'steps to the unpruned best, pruned / not':>42}"
    )
    for r in rows:
        reached = r["steps_to_full_best"]
        print(
            f"{r['seed']:>4} {r['steps']:>6,}/{r['budget']:<6,} {r['trials']:>6} "
            f"{r['best_dev']:>11.4f} / {r['full_best_dev']:.4f} "
            f"{r['held']:>11.4f} / {r['full_held']:.4f} "
            f"{f'{reached:,}' if reached is not None else 'not reached':>27} / "
            f"{r['full_steps_to_best']:,}"
        )
    diffs = [r["best_dev"] - r["full_best_dev"] for r in rows]
    held = [r["held"] - r["full_held"] for r in rows]
    print(
        f"\nbest dev, pruned minus not: {mean_sd(diffs)} (mean ± sd over {len(rows)} seeds); "
        f"held-out: {mean_sd(held)}"
    )
    out = args.json or work / "equal_steps.json"
    kept = {"collect": [str(w) for w in args.collect], "work": str(work)}
    out.write_text(json.dumps({"args": kept, "equal_steps": rows}, indent=1))
    print(f"JSON: {out}")
    if args.plot:
        plot_equal_steps(rows, args.plot)


def plot_equal_steps(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, grid = plt.subplots(1, len(rows), figsize=(3 * len(rows), 3.4), sharey=True, squeeze=False)
    axes = grid[0]
    for ax, row in zip(axes, rows):
        for key, color, label in (("full_curve", "C2", "no pruner (20 trials)"),
                                  ("curve", "C0", "median pruner, more trials")):  # fmt: skip
            xs, ys = zip(*row[key])
            ax.plot(xs, ys, "-", drawstyle="steps-post", color=color, label=label)
        ax.set_title(f"seed {row['seed']}")
        ax.set_ylim(0.78, 0.85)
        ax.set_xlabel("steps trained")
    axes[0].set_ylabel("best dev accuracy so far")
    axes[0].legend(loc="lower right", fontsize=8)
    fig.suptitle("SST-2 sweeps at equal steps: pruned (given more trials) against unpruned")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot(results: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for arm, rows in results.items():
        for i, row in enumerate(rows):
            xs, ys = zip(*row["curve"])
            style = "o" if arm == "shipped" else "-"
            ax.plot(xs, ys, style, drawstyle="steps-post", alpha=0.8,
                    color={"tpe": "C0", "random": "C1", "tpe-full": "C2", "shipped": "C3",
                           "tpe-halving": "C4"}[arm],
                    label=arm if i == 0 else None)  # fmt: skip
    ax.set_xlabel("optimizer steps trained (all trials so far)")
    ax.set_ylabel("best dev accuracy so far")
    ax.set_title("SST-2 (a sample of its training set): sweeps against the shipped recipe")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()

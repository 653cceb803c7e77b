"""Does teaching pay from the first batch? The Annotate screen's loop, measured
as users run it, from a model trained on one dataset to another.

The product's path, not a stand-in: a base run is trained from a recipe on BASE
(default: 2,000 CoNLL-2003 sentences); then, per seed and order, rounds of
annotation: the newest run's model proposes over POOL (``workbench.annotate.pool``:
``propose`` then ``order``, the screen's code), the gold labels stand in for the
person (each decision written by the screen's own ``DecisionLog`` and
``ner_record``: ``accepted`` where the model was right, else ``fixed``), and
``t``'s recipe (``annotate.retrain.taught_recipe``: the run's recipe, starting
from its model, the decisions in ``data.extra_train``) is trained as a new run,
whose model proposes the next round. As in the product, each round opens a new
decisions file beside the last (a new session on the taught run).

Each round's model is scored on three sets never shown to the annotator:
DEV (default WNUT-17 dev: what orders and settings are chosen on), TEST
(WNUT-17 test: what is reported) and ORIGINAL (CoNLL-2003 test: whether teaching
made the model forget what it knew). The pool's and tests' types are mapped to
the base model's (--label-map), so the question is adaptation, not new types.

    pip install matplotlib   # for --plot
    python benchmarks/teaching_loop.py [--shared ../shared/datasets] [--seeds 5] \
        [--orders balanced random] [--budgets 50 100 200 400] [--plot F1.png]
    python benchmarks/teaching_loop.py --report A.json B.json [--plot F1.png]

Any file the readers accept works for --base-train, --pool, --dev, --test and
--original.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from active_learning import DATA, WNUT_TO_CONLL, describe, mapped, recipe, train, write_conll
from workbench.annotate.decisions import ACCEPTED, FIXED, DecisionLog, ner_record
from workbench.annotate.pool import ORDERS, Item, order, propose, sentence_vectors
from workbench.annotate.retrain import taught_recipe
from workbench.data import read_examples
from workbench.evaluate import evaluate_saved
from workbench.experiment import prepare
from workbench.models.saved import load_saved
from workbench.recipe import load_recipe
from workbench.runner import run_experiment
from workbench.tasks.ner import spans

SETS = ("dev", "test", "original")
NAMES = {"base": "conll2003", "pool": "wnut17", "dev": "wnut17 dev", "test": "wnut17 test",
         "original": "conll2003 test"}  # fmt: skip


def pool_items(pool: list[dict], left: list[int]) -> list[Item]:
    """The pool's sentences as the screen's items (gold words: the benchmark's
    person reads the sentence as the dataset cut it)."""
    return [
        Item(
            source=f"pool/{i}",
            sentence=0,
            text=" ".join(pool[i]["tokens"]),
            words=[(w, 0, 0) for w in pool[i]["tokens"]],
        )
        for i in left
    ]


def choose(how: str, pool: list[dict], taken: set[int], count: int, run: Path, seed: int):
    """``count`` more items, proposed by ``run``'s model, in ``how`` order."""
    items = pool_items(pool, [i for i in range(len(pool)) if i not in taken])
    loaded = load_saved(run)
    propose(items, loaded, batch_size=64)  # every order decides on proposals
    vectors = sentence_vectors(items, loaded, 64) if how == "balanced" else None
    return order(items, how, seed * 7919 + len(taken), vectors)[:count]


def decide(log: DecisionLog, items: list[Item], pool: list[dict]) -> int:
    """The gold labels as the person's decisions; returns how many were fixes."""
    fixed = 0
    for item in items:
        tags = pool[int(item.source.split("/")[1])]["tags"]
        gold = [{"type": t, "start": s, "end": e} for t, s, e in spans(tags)]
        proposed = {(e["type"], e["start"], e["end"]) for e in item.entities}
        decision = ACCEPTED if proposed == set(spans(tags)) else FIXED
        fixed += decision == FIXED
        log.append(ner_record(item, gold, decision))
    return fixed


def taught(run: Path, decisions: Path, seed: int) -> Path:
    """``t``: the recipe the screen writes, trained (its seed set per benchmark seed)."""
    path = taught_recipe(run, decisions)
    run_dir, end = run_experiment(prepare(load_recipe(path, [f"train.seed={seed}"])))
    if end.status != "completed":
        sys.exit(f"{path.name}: {end.status} {end.error or ''}")
    return run_dir


def scores(run: Path, files: dict[str, Path]) -> dict[str, float]:
    return {
        name: evaluate_saved(run, str(path), batch_size=64)[1]["metrics"]["f1"]
        for name, path in files.items()
    }


def table(results, budgets, orders, base, name) -> list[str]:
    lines = [
        f"| sentences | {' | '.join(orders)} |",
        "|---|" + "---|" * len(orders),
        f"| 0 (the starting run) | {' | '.join(f'{100 * base[name]:.2f}' for _ in orders)} |",
    ]
    for budget in budgets:
        cells = []
        for how in orders:
            values = [r[name] for r in results[how][budget]]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{100 * statistics.mean(values):.2f} ± {100 * spread:.2f}")
        lines.append(f"| {budget} | {' | '.join(cells)} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default="../shared/datasets")
    parser.add_argument("--base-train", help="the starting run's training file (CoNLL-2003)")
    parser.add_argument("--base-sentences", type=int, default=2000)
    parser.add_argument("--pool", help="sentences to annotate (default: WNUT-17 train)")
    parser.add_argument("--dev", help="chooses orders and settings (default: WNUT-17 dev)")
    parser.add_argument("--test", help="reported (default: WNUT-17 test)")
    parser.add_argument("--original", help="the base domain's test (default: CoNLL-2003 test)")
    parser.add_argument("--label-map", default=WNUT_TO_CONLL, help="pool/test type=base type,...")
    parser.add_argument("--budgets", type=int, nargs="+", default=[50, 100, 200, 400])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--orders", nargs="+", default=["balanced", "random"], choices=ORDERS)
    parser.add_argument("--pool-size", type=int, default=1000, help="pool sentences considered")
    parser.add_argument("--epochs", type=float, default=2, help="the base recipe's epochs")
    parser.add_argument("--dev-size", type=int, default=500, help="a seeded sample (0: all)")
    parser.add_argument(
        "--original-size", type=int, default=500, help="a seeded sample of --original (0: all)"
    )
    parser.add_argument("--first-seed", type=int, default=0, help="seeds run from here on")
    parser.add_argument("--work", help="keep the work here; a starting run there is reused")
    parser.add_argument("--out", default="benchmarks/teaching_loop.json")
    parser.add_argument("--plot", help="draw the F1 curves here (needs matplotlib)")
    parser.add_argument("--report", nargs="+", metavar="JSON", help="only print these runs' rows")
    args = parser.parse_args()
    if args.report:
        base_scores, results, budgets, names = merged(args.report)
        report(base_scores, results, budgets, args.plot, names)
        return 0

    shared = Path(args.shared)
    paths = {
        "base": Path(args.base_train or shared / "conll2003" / "train.txt"),
        "pool": Path(args.pool or shared / "wnut17" / "train.txt"),
        "dev": Path(args.dev or shared / "wnut17" / "dev.txt"),
        "test": Path(args.test or shared / "wnut17" / "test.txt"),
        "original": Path(args.original or shared / "conll2003" / "test.txt"),
    }
    for path in paths.values():
        if not path.is_file():
            sys.exit(f"{path}: not found (see --shared and the file options)")
    names = {
        key: f"{path.parent.name} {path.stem}" if key != "base" else path.parent.name
        for key, path in paths.items()
    }
    names.update(base=paths["base"].parent.name, pool=paths["pool"].parent.name)
    mapping = dict(pair.split("=", 1) for pair in args.label_map.split(",") if pair)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="teaching-loop-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    def read(name: str) -> list[dict]:
        return mapped(read_examples(str(paths[name]), DATA, "tokens"), mapping)

    try:
        base_examples = read("base")[: args.base_sentences]
        pool = [e for e in read("pool") if len(e["tokens"]) >= 3]
        random.Random(0).shuffle(pool)
        pool = pool[: args.pool_size]
        print(f"pool: {describe(pool)}", flush=True)
        tests = {name: read(name) for name in SETS}
        for name, size in (("dev", args.dev_size), ("original", args.original_size)):
            if size and size < len(tests[name]):  # the figures' sets: seeded, as the reported
                tests[name] = random.Random(0).sample(tests[name], size)
        files = {name: write_conll(work / f"{name}.conll", tests[name]) for name in SETS}
        settings = {"epochs": args.epochs, "batch_size": 16, "learning_rate": 5e-5, "seed": 0}
        base_file = write_conll(work / "base.conll", base_examples)
        kept = sorted((work / "runs").glob("*-base/model/config.json"))
        base = kept[-1].parent.parent if kept else None  # --work: trained once, reused
        if base is None:
            base = train(recipe(work, "base", "minilm", base_file, settings))
        base_scores = scores(base, files)
        print(
            f"starting run: {len(base_examples)} sentences; F1 "
            + " ".join(f"{k} {100 * v:.2f}" for k, v in base_scores.items())
            + f" ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        results: dict[str, dict[int, list[dict]]] = {how: {} for how in args.orders}
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for how in args.orders:  # interleaved: the machine's drift hits every order
                taken: set[int] = set()
                current = base
                for budget in args.budgets:
                    picks = choose(how, pool, taken, budget - len(taken), current, seed)
                    taken |= {int(item.source.split("/")[1]) for item in picks}
                    print(
                        f"  {how} picks: {describe([pool[int(i.source[5:])] for i in picks])}",
                        flush=True,
                    )
                    decisions = work / f"{how}-{seed}-{budget}.jsonl"
                    decisions.unlink(missing_ok=True)  # a kept --work from an earlier try
                    log = DecisionLog(decisions)
                    fixed = decide(log, picks, pool)
                    began = time.perf_counter()
                    run_dir = taught(current, log.path, seed)
                    seconds = time.perf_counter() - began
                    row = {**scores(run_dir, files), "fixed": fixed, "seed": seed}
                    row["train_seconds"] = seconds
                    results[how].setdefault(budget, []).append(row)
                    print(
                        f"seed {seed} {how:9} {budget:4} sentences ({fixed} fixed): F1 "
                        + " ".join(f"{k} {100 * row[k]:.2f}" for k in SETS)
                        + f" ({time.perf_counter() - started:.0f} s)",
                        flush=True,
                    )
                    save(args.out, base_scores, results, args, names)  # kept if cut short
                    if current != base:  # its recipe stays: the next one names its data
                        shutil.rmtree(current / "model", ignore_errors=True)
                    current = run_dir
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)

    report(base_scores, results, args.budgets, args.plot, names)
    return 0


def report(
    base_scores: dict, results: dict, budgets: list[int], plot_path: str | None, names
) -> None:
    """The tables (one a scored set) and the plot."""
    orders = list(results)
    seeds = ", ".join(f"{how} {len(results[how][budgets[-1]])}" for how in orders)
    for name in SETS:
        tuned = " (the default order chosen on it)" if name == "dev" else ""
        print(f"\nF1 on {names[name]}{tuned}, mean ± sd over seeds ({seeds})")
        print("\n".join(table(results, budgets, orders, base_scores, name)))
    print("\nbelow the starting run (taught runs of all seeds and budgets):")
    for how in orders:
        rows = [r for b in budgets for r in results[how][b]]
        for name in ("test", "original"):
            gaps = [r[name] - base_scores[name] for r in rows]
            below = sum(g < 0 for g in gaps)
            print(
                f"  {how:9} {names[name]:15} {below} of {len(rows)} (worst {100 * min(gaps):+.2f})"
            )
    paired(results, budgets, names)
    if plot_path:  # only where asked: a --report must not redraw the shipped figure
        plot(results, budgets, base_scores, names, plot_path)


def paired(results: dict, budgets: list[int], names) -> None:
    """Each order against random seed by seed (a seed is the same pool and
    starting run for every order): the mean difference, its sd, and the seeds won."""
    if "random" not in results:
        return
    for name in ("dev", "test"):
        print(f"\npaired with random, seed by seed, on {names[name]}:")
        for how in (h for h in results if h != "random"):
            cells = []
            for b in budgets:
                theirs = by_seed(results["random"][b])
                gaps = [
                    100 * (row[name] - theirs[seed][name])
                    for seed, row in by_seed(results[how][b]).items()
                    if seed in theirs
                ]
                spread = statistics.stdev(gaps) if len(gaps) > 1 else 0.0
                wins = sum(g > 0 for g in gaps)
                cells.append(
                    f"{b}: {statistics.mean(gaps):+.2f} ± {spread:.2f} ({wins}/{len(gaps)})"
                )
            print(f"  {how:9} " + "   ".join(cells))


def by_seed(rows: list[dict]) -> dict:
    """Rows keyed by their seed (rows of the first runs, saved without one: their place)."""
    return {row.get("seed", f"#{place}"): row for place, row in enumerate(rows)}


def merged(files: list[str]) -> tuple[dict, dict, list[int], dict]:
    """The rows of several runs of this benchmark (e.g. seeds 0-2, then 3-4)."""
    results: dict[str, dict[int, list[dict]]] = {}
    for file in files:
        data = json.loads(Path(file).read_text())
        for part in data.get("runs", [data]):  # a file of several runs (the shipped one)
            for how, rows in part["results"].items():
                for budget, runs in rows.items():
                    results.setdefault(how, {}).setdefault(int(budget), []).extend(runs)
    budgets = sorted({budget for rows in results.values() for budget in rows})
    return data["base"], results, budgets, data.get("names") or NAMES


def save(path: str, base_scores: dict, results: dict, args, names: dict) -> None:
    record = {"base": base_scores, "results": results, "args": vars(args), "names": names}
    Path(path).write_text(json.dumps(record, indent=2, default=str))


def plot(results, budgets, base_scores, names, path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(no plot: pip install matplotlib)")
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=120)
    for ax, name in zip(axes, ("test", "original")):
        for how, style in zip(results, ("o-", "s--", "^-.", "d:")):
            means = [100 * statistics.mean(r[name] for r in results[how][b]) for b in budgets]
            ax.plot(budgets, means, style, label=how)
        ax.axhline(100 * base_scores[name], color="grey", linewidth=0.8, label="starting run")
        ax.set_xlabel("sentences annotated")
        ax.set_ylabel(f"F1 on {names[name]}")
        ax.set_title("new domain" if name == "test" else "original domain")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(f"{names['base']} run taught on {names['pool']}")
    fig.tight_layout()
    fig.savefig(path)
    print(f"plot: {path}")


if __name__ == "__main__":
    raise SystemExit(main())

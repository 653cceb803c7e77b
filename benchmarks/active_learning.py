"""Does the Annotate screen's order matter? Simulated annotation, uncertainty
against random, from a model trained on one dataset to another.

A base NER model is trained on BASE (default: 2,000 CoNLL-2003 sentences). Then,
for each seed and each order, rounds of annotation: the model of the last round
chooses sentences from POOL (``uncertain``: the Annotate screen's own order,
workbench.annotate.pool; ``random``: seeded), the gold labels stand in for the
person, and the base model is fine-tuned on all sentences chosen so far; F1 on
TEST after each round. The pool's and test's tags are mapped to the base
model's types (--label-map), so the question is adaptation to a new domain, not
learning new types.

    pip install matplotlib   # for the plot
    python benchmarks/active_learning.py [--shared ../shared/datasets] [--seeds 3] \
        [--budgets 50 100 200 400] [--plot benchmarks/active_learning.png]

Any pool and test file the readers accept work (--pool, --test, --base-train);
the defaults are WNUT-17 (tweets and forums: person, location, group,
corporation, product, creative-work) from CoNLL-2003 (news: PER, LOC, ORG, MISC).
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
from collections import Counter
from pathlib import Path

from workbench.annotate.pool import Item, order, propose
from workbench.data import read_examples
from workbench.evaluate import evaluate_saved
from workbench.experiment import prepare
from workbench.models.saved import load_saved
from workbench.recipe import load_recipe
from workbench.runner import run_experiment
from workbench.settings import SCHEMA

DATA = {key: spec.default for key, spec in SCHEMA["data"].items()}
WNUT_TO_CONLL = "person=PER,location=LOC,corporation=ORG,group=ORG,product=MISC,creative-work=MISC"


def mapped(examples: list[dict], mapping: dict[str, str]) -> list[dict]:
    """Examples with their entity types renamed (types not in ``mapping`` kept)."""
    out = []
    for example in examples:
        tags = []
        for tag in example["tags"]:
            if tag == "O":
                tags.append(tag)
            else:
                prefix, kind = tag.split("-", 1)
                tags.append(f"{prefix}-{mapping.get(kind, kind)}")
        out.append({"tokens": example["tokens"], "tags": tags})
    return out


def write_conll(path: Path, examples: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for example in examples:
            for token, tag in zip(example["tokens"], example["tags"]):
                handle.write(f"{token}\t{tag}\n")
            handle.write("\n")
    return path


def recipe(folder: Path, name: str, model: str, train: Path, settings: dict) -> Path:
    import tomli_w

    values = {
        "task": "ner",
        "name": name,
        "model": {"name": model, "max_length": 128},
        "data": {"train": str(train)},
        "train": settings,
        "output": {"dir": str(folder / "runs")},
    }
    path = folder / f"{name}.toml"
    path.write_text(tomli_w.dumps(values), encoding="utf-8")
    return path


def train(path: Path) -> Path:
    run_dir, end = run_experiment(prepare(load_recipe(path)))
    if end.status != "completed":
        sys.exit(f"{path.name}: {end.status} {end.error or ''}")
    return run_dir


def f1_on(run_dir: Path, test: Path) -> float:
    return evaluate_saved(run_dir, str(test), batch_size=64)[1]["metrics"]["f1"]


def choose(
    how: str, pool: list[dict], taken: set[int], count: int, model_dir: Path, seed: int
) -> list[int]:
    """``count`` more pool indices: the least certain under ``model_dir`` (the
    Annotate screen's order), or a seeded random draw."""
    left = [i for i in range(len(pool)) if i not in taken]
    if how == "random":
        return random.Random(seed * 7919 + len(taken)).sample(left, count)
    items = [
        Item(
            source=str(i),
            sentence=0,
            text=" ".join(pool[i]["tokens"]),
            words=[(w, 0, 0) for w in pool[i]["tokens"]],
        )
        for i in left
    ]
    propose(items, load_saved(model_dir), batch_size=64)
    return [int(item.source) for item in order(items, "uncertain")[:count]]


def describe(sentences: list[dict]) -> str:
    """What a pick looks like: entities per sentence, sentences without one, and
    tokens that are handles, hashtags, links or not plain ASCII."""
    tokens = [t for s in sentences for t in s["tokens"]]
    odd = sum(t[:1] in "@#" or t.startswith("http") or not t.isascii() for t in tokens)
    entities = [sum(tag.startswith("B-") for tag in s["tags"]) for s in sentences]
    types = Counter(tag[2:] for s in sentences for tag in s["tags"] if tag.startswith("B-"))
    return (
        f"{statistics.mean(entities):.2f} entities a sentence ("
        + " ".join(f"{k} {v}" for k, v in types.most_common())
        + "), "
        f"{sum(e == 0 for e in entities) / len(entities):.0%} with none, "
        f"{odd / max(1, len(tokens)):.0%} of tokens @/#/links/non-ASCII, "
        f"{len(tokens) / len(sentences):.1f} tokens a sentence"
    )


def sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default="../shared/datasets")
    parser.add_argument("--base-train", help="base model's training file (default: CoNLL-2003)")
    parser.add_argument("--base-sentences", type=int, default=2000)
    parser.add_argument("--pool", help="sentences to choose from (default: WNUT-17 train)")
    parser.add_argument("--test", help="scored after each round (default: WNUT-17 test)")
    parser.add_argument("--label-map", default=WNUT_TO_CONLL, help="pool/test type=base type,...")
    parser.add_argument("--budgets", type=int, nargs="+", default=[50, 100, 200, 400])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pool-size", type=int, default=1500, help="pool sentences considered")
    parser.add_argument("--epochs", type=float, default=5)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--out", default="benchmarks/active_learning.json")
    parser.add_argument("--plot", default="benchmarks/active_learning.png")
    args = parser.parse_args()

    shared = Path(args.shared)
    base_train = Path(args.base_train or shared / "conll2003" / "train.txt")
    pool_path = Path(args.pool or shared / "wnut17" / "train.txt")
    test_path = Path(args.test or shared / "wnut17" / "test.txt")
    for path in (base_train, pool_path, test_path):
        if not path.is_file():
            sys.exit(f"{path}: not found (see --shared, --base-train, --pool, --test)")
    mapping = dict(pair.split("=", 1) for pair in args.label_map.split(",") if pair)
    work = Path(tempfile.mkdtemp(prefix="active-learning-"))
    started = time.perf_counter()
    try:
        base_examples = read_examples(str(base_train), DATA, "tokens")[: args.base_sentences]
        base_file = write_conll(work / "base.conll", base_examples)
        pool = mapped(read_examples(str(pool_path), DATA, "tokens"), mapping)
        pool = [e for e in pool if len(e["tokens"]) >= 3]
        random.Random(0).shuffle(pool)
        pool = pool[: args.pool_size]
        print(f"pool: {describe(pool)}", flush=True)
        test_file = write_conll(
            work / "test.conll", mapped(read_examples(str(test_path), DATA, "tokens"), mapping)
        )
        settings = {"epochs": 2, "batch_size": 16, "learning_rate": 5e-5, "seed": 0}
        base = train(recipe(work, "base", "minilm", base_file, settings))
        base_f1 = f1_on(base, test_file)
        print(
            f"base model: {len(base_examples)} sentences of {base_train.parent.name}; "
            f"F1 on {test_path.parent.name} test {100 * base_f1:.2f} "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        results: dict[str, dict[int, list[float]]] = {"uncertain": {}, "random": {}}
        for seed in range(args.seeds):
            for how in ("uncertain", "random"):  # interleaved: the machine's drift hits both
                taken: list[int] = []
                current = base
                for budget in args.budgets:
                    new = choose(how, pool, set(taken), budget - len(taken), current, seed)
                    print(f"  {how} picks: {describe([pool[i] for i in new])}", flush=True)
                    taken += new
                    chosen = write_conll(
                        work / f"{how}-{seed}-{budget}.conll", [pool[i] for i in taken]
                    )
                    fine = {
                        **settings,
                        "epochs": args.epochs,
                        "learning_rate": args.lr,
                        "seed": seed,
                    }
                    run_dir = train(recipe(work, f"{how}-{seed}-{budget}", str(base), chosen, fine))
                    f1 = f1_on(run_dir, test_file)
                    results[how].setdefault(budget, []).append(f1)
                    print(
                        f"seed {seed} {how:9} {budget:4} sentences: F1 {100 * f1:.2f} "
                        f"({time.perf_counter() - started:.0f} s)",
                        flush=True,
                    )
                    if current != base:
                        shutil.rmtree(current, ignore_errors=True)
                    current = run_dir
                if current != base:
                    shutil.rmtree(current, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"\nF1 on {test_path.parent.name} test (mean ± sd over {args.seeds} seeds; "
        f"base model {100 * base_f1:.2f})"
    )
    print("| sentences | uncertain | random | difference |")
    print("|---|---|---|---|")
    rows = []
    for budget in args.budgets:
        u, r = results["uncertain"][budget], results["random"][budget]
        rows.append({"budget": budget, "uncertain": u, "random": r})
        print(
            f"| {budget} | {100 * statistics.mean(u):.2f} ± {100 * sd(u):.2f} | "
            f"{100 * statistics.mean(r):.2f} ± {100 * sd(r):.2f} | "
            f"{100 * (statistics.mean(u) - statistics.mean(r)):+.2f} |"
        )
    Path(args.out).write_text(
        json.dumps({"base_f1": base_f1, "rows": rows, "args": vars(args)}, indent=2)
    )
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(no plot: pip install matplotlib)")
        return 0
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for how, style in (("uncertain", "o-"), ("random", "s--")):
        means = [100 * statistics.mean(results[how][b]) for b in args.budgets]
        ax.plot(args.budgets, means, style, label=how)
    ax.axhline(100 * base_f1, color="grey", linewidth=0.8, label="base model")
    ax.set_xlabel("annotated sentences")
    ax.set_ylabel(f"F1 on {test_path.parent.name} test")
    ax.set_title(f"{base_train.parent.name} model adapted to {pool_path.parent.name}")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.plot)
    print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

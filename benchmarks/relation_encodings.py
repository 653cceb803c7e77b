"""Relation extraction with a pass per pair against one shared pass per sentence
(``relation.encoding``): what it costs in F1, what it gains in speed.

``train``: trains ``recipes/conll04-relations.toml`` (CoNLL04 from
``../shared/datasets/conll04``; the bundled demo relations when absent) with both
encodings, interleaved over the seeds, each a ``workbench run`` process; prints
dev and test micro F1, training samples/s and pair rows, evaluation seconds and
the process's wall time per run, then means and the F1 difference per seed.

``build``: ``kg build`` over the first WikiText-2 validation articles (as
``kg_build_wiki.py`` reads them) with one NER model and each relation model in
turn, interleaved over ``--reps`` repetitions in one process, fresh graphs, no
embeddings; prints the analysis time, sentences/s, relations found and the ratio.

    python benchmarks/relation_encodings.py train [--seeds 1 2 3] [--set KEY=VALUE ...]
        [--shared-set KEY=VALUE ...]      # e.g. more epochs: a shared epoch is cheap
    (the recipe now trains 10 shared epochs; the figures in benchmarks/README.md
    compare --set train.epochs=3 --set model.casing=false against --shared-set
    train.epochs=10, measured before casing existed)
    python benchmarks/relation_encodings.py build --ner RUN --pairs RUN --shared RUN
        [--source ../shared/datasets/wiki_text/wiki.valid.raw] [--sentences 2000] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
CONLL04 = ROOT.parent / "shared" / "datasets" / "conll04"
ENCODINGS = ("pairs", "shared")


def train(args) -> None:
    from speed_vs_trainer import run_process

    local = []  # the recipe reads the hub copy; these are our local files
    if (CONLL04 / "train.json").is_file():
        recipe = ROOT / "recipes" / "conll04-relations.toml"
        local = [
            f"data.{split}={CONLL04 / f'{name}.json'}"
            for split, name in (("train", "train"), ("validation", "dev"), ("test", "test"))
        ]
    else:
        print(f"{CONLL04} not found: the bundled demo relations instead")
        recipe = ROOT / "recipes" / "demo-relations.toml"
    out = Path(tempfile.mkdtemp(prefix="relation-encodings-"))
    rows = []
    for number, seed in enumerate(args.seeds):
        order = ENCODINGS if number % 2 == 0 else ENCODINGS[::-1]
        for encoding in order:
            name = f"{encoding}-s{seed}"
            command = [
                sys.executable,
                "-m",
                "workbench",
                "run",
                str(recipe),
                "--plain",
                "--set",
                f"relation.encoding={encoding}",
                "--set",
                f"train.seed={seed}",
                "--set",
                f"output.dir={out}",
                "--set",
                f"name={name}",
                *(
                    x
                    for pair in local + args.set + (args.shared_set if encoding == "shared" else [])
                    for x in ("--set", pair)
                ),
            ]
            _output, wall, rss = run_process(command, ROOT)
            rows.append(
                {
                    "encoding": encoding,
                    "seed": seed,
                    "wall": wall,
                    "rss": rss,
                    **read_run(next(out.glob(f"*-{name}"))),
                }
            )
            r = rows[-1]
            print(
                f"{encoding:>6} seed {seed}: dev {r['dev']:.2f} test {r['test']:.2f}  "
                f"{r['rows']} rows x {r['epochs']} epochs, {r['samples_per_s']:.1f} rows/s, "
                f"eval {r['eval_s']:.1f} s, wall {wall:.0f} s",
                flush=True,
            )
    print(f"\n{'':8}{'dev F1':>16}{'test F1':>16}{'rows/s':>9}{'eval s':>8}{'wall s':>8}")
    for encoding in ENCODINGS:
        mine = [r for r in rows if r["encoding"] == encoding]
        means = [statistics.mean(r[k] for r in mine) for k in ("samples_per_s", "eval_s", "wall")]
        print(
            f"{encoding:8}{spread([r['dev'] for r in mine]):>16}"
            f"{spread([r['test'] for r in mine]):>16}"
            f"{means[0]:>9.1f}{means[1]:>8.1f}{means[2]:>8.0f}"
        )
    diffs = [
        next(r["test"] for r in rows if r["encoding"] == "shared" and r["seed"] == s)
        - next(r["test"] for r in rows if r["encoding"] == "pairs" and r["seed"] == s)
        for s in args.seeds
    ]
    print(
        f"test F1 shared - pairs per seed: {', '.join(f'{d:+.2f}' for d in diffs)}; "
        f"mean {statistics.mean(diffs):+.2f}"
    )
    walls = {e: statistics.mean(r["wall"] for r in rows if r["encoding"] == e) for e in ENCODINGS}
    print(f"whole run, shared / pairs speed: {walls['pairs'] / walls['shared']:.2f}x")


def spread(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def read_run(run: Path) -> dict:
    """Best dev and final test micro F1, training speed and evaluation time from events."""
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    evals = [e for e in events if e["type"] == "eval"]
    dev = max(e["metrics"]["micro_f1"] for e in evals if e["split"] == "validation")
    test = [e for e in evals if e["split"] == "test"][-1]["metrics"]["micro_f1"]
    steps = [e for e in events if e["type"] == "step"]
    start = next(e for e in events if e["type"] == "start")
    return {
        "dev": 100 * dev,
        "test": 100 * test,
        "samples_per_s": statistics.mean(e["samples_per_s"] for e in steps),
        "eval_s": sum(e.get("seconds", 0.0) for e in evals),
        "rows": start["features"]["train"],
        "epochs": start["epochs"],
    }


def build(args) -> None:
    from kg_build_wiki import write_corpus
    from workbench.kg.build import build_graph

    corpus, described = write_corpus(Path(args.source), args.sentences)
    work = corpus.parent
    print(f"corpus: {described}")
    models = {"pairs": args.pairs, "shared": args.shared}
    seconds: dict[str, list[float]] = {e: [] for e in ENCODINGS}
    for rep in range(args.reps):
        for encoding in ENCODINGS if rep % 2 == 0 else ENCODINGS[::-1]:
            graph = work / f"{encoding}-{rep}.sqlite"
            began = time.perf_counter()
            summary = build_graph(
                graph, args.ner, corpus, relations=models[encoding], embeddings=False
            )
            seconds[encoding].append(summary["analyse_seconds"])
            print(
                f"{encoding:>6} rep {rep}: {summary['sentences']} sentences, analysis "
                f"{summary['analyse_seconds']:.1f} s ({summary['sentences_per_s']:.1f} "
                f"sentences/s), {summary['stats']['relations']} relations, whole build "
                f"{time.perf_counter() - began:.1f} s",
                flush=True,
            )
    mean = {e: statistics.mean(v) for e, v in seconds.items()}
    print(
        f"kg build sentences/s, shared / pairs: {mean['pairs'] / mean['shared']:.2f}x "
        f"(per repetition: "
        + ", ".join(f"{p / s:.2f}x" for p, s in zip(seconds["pairs"], seconds["shared"]))
        + ")"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="F1 and training speed of both encodings")
    t.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    t.add_argument("--set", action="append", default=[], help="recipe setting for both")
    t.add_argument(
        "--shared-set",
        action="append",
        default=[],
        help="recipe setting for the shared side only (e.g. train.epochs=10)",
    )
    b = sub.add_parser("build", help="kg build speed with each relation model")
    b.add_argument("--ner", required=True)
    b.add_argument("--pairs", required=True, help="a relation run with encoding = pairs")
    b.add_argument("--shared", required=True, help="a relation run with encoding = shared")
    b.add_argument(
        "--source",
        default=str(ROOT.parent / "shared" / "datasets" / "wiki_text" / "wiki.valid.raw"),
    )
    b.add_argument("--sentences", type=int, default=2000)
    b.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    train(args) if args.command == "train" else build(args)


if __name__ == "__main__":
    main()

"""CoNLL04 end to end: the shipped NER and relation recipes trained over seeds,
then scored together with strict triples (both spans, both types and the
relation type right), on dev and test, through `workbench eval --ner`.

Each seed trains ``recipes/conll04-ner.toml`` and ``recipes/conll04-relations.toml``
(each a ``workbench run`` process, on the local CoNLL04 files in SpERT's JSON
layout) into ``--out/seed-N/``; a seed whose two models are already there is
only scored again, so an interrupted benchmark goes on where it stopped. Prints,
per seed and as mean ± sd: entity F1, relation F1 on gold entities, and the
strict end-to-end F1 (with its precision and recall) on dev and test.

``--final`` follows SpERT's protocol for the figure it reports: with the
settings chosen on dev (the recipes as shipped), each model is trained once more
on train and dev together, for the recipes' epochs, keeping the last step (no
split left to choose a step on), and scored on test only.

    python benchmarks/conll04_end_to_end.py [--data ../shared/datasets/conll04]
        [--seeds 1 2 3] [--out runs-conll04] [--ner-set KEY=VALUE ...]
        [--relation-set KEY=VALUE ...] [--final]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
CONLL04 = ROOT.parent / "shared" / "datasets" / "conll04"
RECIPES = {
    "ner": ROOT / "recipes" / "conll04-ner.toml",
    "relations": ROOT / "recipes" / "conll04-relations.toml",
}


def trained(folder: Path) -> Path | None:
    """The run in ``folder`` that finished with a model, if any."""
    for run in sorted(folder.glob("*/")):
        if (run / "model" / "workbench.json").is_file() and (run / "report.json").is_file():
            return run
    return None


def train(
    kind: str, seed: int, folder: Path, data: Path, extra: list[str], final: bool = False
) -> Path:
    from speed_vs_trainer import run_process

    run = trained(folder)
    if run is not None:
        return run
    # final: dev joins the training data and no validation split is left.
    splits = (
        ["data.validation=", f'data.extra_train=["{data / "dev.json"}"]']
        if final
        else [f"data.validation={data / 'dev.json'}"]
    )
    sets = [
        f"data.train={data / 'train.json'}",
        *splits,
        f"data.test={data / 'test.json'}",
        f"train.seed={seed}",
        f"output.dir={folder}",
        *extra,
    ]
    command = [sys.executable, "-m", "workbench", "run", str(RECIPES[kind]), "--plain"]
    command += [x for pair in sets for x in ("--set", pair)]
    _output, wall, _rss = run_process(command, ROOT)
    print(f"  trained {kind} seed {seed} in {wall / 60:.1f} min", flush=True)
    run = trained(folder)
    assert run is not None, f"{folder}: no finished run"
    return run


def score(relation: Path, ner: Path | None, data: Path) -> dict:
    """`workbench eval` as JSON: the relation model alone (gold entities) or with ``ner``."""
    command = [sys.executable, "-m", "workbench", "eval", str(relation), "--data", str(data)]
    command += ["--json"] + (["--ner", str(ner)] if ner else [])
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def spread(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=CONLL04)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--out", type=Path, default=Path("runs-conll04"))
    parser.add_argument("--ner-set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--relation-set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--final", action="store_true", help="train on train+dev, score on test only"
    )
    args = parser.parse_args()
    splits = ("test",) if args.final else ("dev", "test")
    if not (args.data / "train.json").is_file():
        raise SystemExit(f"{args.data}: no CoNLL04 train.json (SpERT's JSON layout)")
    rows = []
    for seed in args.seeds:
        base = args.out.resolve() / f"seed-{seed}"
        ner = train("ner", seed, base / "ner", args.data, args.ner_set, args.final)
        relation = train(
            "relations", seed, base / "relations", args.data, args.relation_set, args.final
        )
        row: dict = {"seed": seed}
        for split in splits:
            path = args.data / f"{split}.json"
            report = score(relation, ner, path)
            both = report["metrics"]
            row[split] = {
                # exact spans and types: seqeval's entity F1 on tags decoded as BIO
                "entities": 100 * report["entity_metrics"]["micro_f1"],
                "gold_entities": 100 * score(relation, None, path)["metrics"]["micro_f1"],
                "end_to_end": 100 * both["micro_f1"],
                "precision": 100 * both["precision"],
                "recall": 100 * both["recall"],
            }
        rows.append(row)
        print(
            f"seed {seed}: "
            + "  ".join(
                f"{split} entities {row[split]['entities']:.2f}"
                f" relations {row[split]['gold_entities']:.2f}"
                f" end to end {row[split]['end_to_end']:.2f}"
                f" (P {row[split]['precision']:.1f} R {row[split]['recall']:.1f})"
                for split in splits
            ),
            flush=True,
        )
    print(
        f"\n{len(rows)} seeds | entity F1 | relation F1, gold entities"
        " | strict end to end F1 | P | R"
    )
    for split in splits:
        cells = [
            spread([r[split][key] for r in rows])
            for key in ("entities", "gold_entities", "end_to_end", "precision", "recall")
        ]
        print(f"{split} | " + " | ".join(cells))
    (args.out / "results.json").write_text(json.dumps(rows, indent=1))
    if args.final:
        print("(trained on train + dev: test figures only)")


if __name__ == "__main__":
    main()

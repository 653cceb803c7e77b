"""Chinese NER with the bundled English MiniLM: Resume NER (character-level, BMES;
``../shared/datasets/resume_ner_zh``, else the bundled Chinese demo) trained as a
user would, with and without ``model.extend_vocabulary``, over several seeds.

Prints, per setting, the training characters the tokenizer reads as [UNK], the
tokens added, and entity F1 on dev (what settings are chosen on) and test (what
is reported), mean ± sd; each run's line as it finishes. The settings compared
are named on the command line, so a choice made on dev is rerun for the test
figures without editing the script:

    python benchmarks/chinese_ner.py --seeds 42 2 3 \\
        --setting plain "model.extend_vocabulary=off" \\
        --setting taught "model.extend_vocabulary=characters" "train.embedding_learning_rate=1e-3"

Every setting shares the base recipe below (``--set`` adds to it for all).
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
SHARED = ROOT.parent / "shared" / "datasets" / "resume_ner_zh"
DEMO = ROOT / "data" / "demo" / "zh" / "ner"

BASE = """
task = "ner"
name = "{name}"

[model]
name = "minilm"
max_length = 128

[data]
train = "{folder}/train.char.bmes"
validation = "{folder}/dev.char.bmes"
test = "{folder}/test.char.bmes"

[train]
epochs = 5
batch_size = 16
learning_rate = 1e-4
warmup_ratio = 0.1
log_every = 1000

[eval]
every = "epoch"
metric = "f1"

[output]
dir = "{runs}"
"""


def one_run(recipe: Path, overrides: list[str]) -> dict:
    """Train one run in this process; its start coverage and dev/test F1."""
    from workbench.experiment import prepare
    from workbench.recipe import load_recipe
    from workbench.runner import run_experiment
    from workbench.runs.events import Start
    from workbench.runs.folder import read_events

    started = time.perf_counter()
    run_dir, end = run_experiment(prepare(load_recipe(recipe, overrides)))
    if end.status != "completed":
        raise SystemExit(f"{recipe}: {end.status}: {end.error}")
    start = next(e for e in read_events(run_dir) if isinstance(e, Start))
    reports = json.loads((run_dir / "report.json").read_text())["reports"]
    return {
        "unknown": start.coverage.get("train", {}).get("share", 0.0),
        "added": start.vocabulary_added,
        "dev": reports["validation"]["metrics"]["f1"] * 100,
        "test": reports["test"]["metrics"]["f1"] * 100,
        "seconds": time.perf_counter() - started,
    }


def spread(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {sd:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 2, 3])
    parser.add_argument(
        "--setting",
        nargs="+",
        action="append",
        metavar=("NAME", "KEY=VALUE"),
        help="a named setting: --set overrides on the base recipe",
    )
    parser.add_argument("--set", nargs="*", default=[], dest="common", metavar="KEY=VALUE")
    parser.add_argument("--data", default=None, help="a folder of train/dev/test .char.bmes")
    args = parser.parse_args()
    settings = args.setting or [
        ["plain", "model.extend_vocabulary=off"],
        ["taught", "model.extend_vocabulary=characters", "train.embedding_learning_rate=1e-3"],
    ]
    folder = Path(args.data) if args.data else (SHARED if SHARED.is_dir() else DEMO)
    print(f"data: {folder}; seeds {args.seeds}; base recipe + {args.common or 'nothing'}")
    results: dict[str, list[dict]] = {name: [] for name, *_ in settings}
    with tempfile.TemporaryDirectory() as tmp:
        recipe = Path(tmp) / "resume.toml"
        recipe.write_text(BASE.format(name="zh-bench", folder=folder, runs=Path(tmp) / "runs"))
        # Interleaved: each seed runs every setting before the next seed.
        for seed in args.seeds:
            for name, *overrides in settings:
                found = one_run(recipe, [*args.common, *overrides, f"train.seed={seed}"])
                results[name].append(found)
                print(
                    f"  {name} seed {seed}: dev {found['dev']:.2f} test {found['test']:.2f} "
                    f"([UNK] {found['unknown']:.1%}, +{found['added']} tokens, "
                    f"{found['seconds']:.0f} s)",
                    flush=True,
                )
    print()
    print("| setting | overrides | train chars as [UNK] | tokens added | dev F1 | test F1 |")
    print("|---|---|---|---|---|---|")
    for name, *overrides in settings:
        rows = results[name]
        print(
            f"| {name} | {' '.join(overrides)} | {rows[0]['unknown']:.1%} | {rows[0]['added']} "
            f"| {spread([r['dev'] for r in rows])} | {spread([r['test'] for r in rows])} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

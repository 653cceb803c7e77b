"""Full fine-tuning against LoRA, BitFit and frozen lower layers, side by side,
then the int8 ONNX export of the fully fine-tuned CoNLL-2003 model.

The NER budget of benchmarks/speed_vs_trainer.py: the bundled MiniLM, 2,000
training sentences, STEPS optimizer steps of 16, the first 500 dev sentences
(CoNLL-2003) or the whole dev set (SST-2, 872). Each method runs as its own
`workbench run` process, interleaved with the others in each repetition, so its
peak memory (the process's maximum RSS) and throughput are its own. Every
method runs at its usual learning rate (--same-lr: all at full's 5e-5).

    python benchmarks/peft_methods.py [--shared ../shared/datasets] [--steps 60 250] [--reps 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from workbench.runs.events import Eval, Start, Step
from workbench.runs.folder import read_events

# method: (--set overrides, its usual learning rate)
METHODS = {
    "full": ([], 5e-5),
    "lora r=8": (["peft.method=lora", "peft.r=8", "peft.alpha=16"], 5e-4),
    "bitfit": (["peft.method=bitfit"], 1e-3),
    "freeze 3 layers": (["peft.method=freeze", "peft.layers=3"], 5e-5),
}


def datasets(shared: Path) -> dict[str, list[str]]:
    """Recipe overrides for each dataset that is present."""
    found = {}
    conll, sst2 = shared / "conll2003", shared / "sst2"
    if (conll / "train.txt").is_file():
        found["CoNLL-2003 (dev F1)"] = [
            "task=ner",
            f"data.train={conll / 'train.txt'}",
            f"data.validation={conll / 'dev.txt'}",
            "data.max_eval_samples=500",
            "eval.metric=f1",
            "model.max_length=128",
        ]
    else:
        print(f"skipped CoNLL-2003: no {conll}", file=sys.stderr)
    if (sst2 / "train.tsv").is_file():
        found["SST-2 (dev accuracy)"] = [
            "task=classification",
            f"data.train={sst2 / 'train.tsv'}",
            f"data.validation={sst2 / 'dev.tsv'}",
            "data.text_column=sentence",
            "data.sample=random",
            "eval.metric=accuracy",
            "model.max_length=66",
        ]
    else:
        print(f"skipped SST-2: no {sst2}", file=sys.stderr)
    return found


RECIPE = """task = "ner"
[data]
train = "unused"
[model]
name = "minilm"
"""


def run(recipe: Path, out: Path, settings: list[str]) -> dict:
    """One `workbench run` process: its events and its peak RSS."""
    before = set(out.glob("*")) if out.exists() else set()
    with tempfile.TemporaryFile("w+") as errors:  # a pipe could fill up before wait4
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workbench",
                "run",
                str(recipe),
                "--plain",
                "--quiet-reports",
                "--set",
                *settings,
                f"output.dir={out}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=errors,
            text=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        _pid, status, usage = os.wait4(process.pid, 0)
        if status != 0:
            errors.seek(0)
            raise SystemExit(f"workbench run failed: {errors.read()}")
    [folder] = set(out.glob("*")) - before
    events = read_events(folder)
    [start] = [e for e in events if isinstance(e, Start)]
    steps = [e for e in events if isinstance(e, Step) and e.samples_per_s]
    evals = [e for e in events if isinstance(e, Eval) and e.split == "validation"]
    return {
        "folder": folder,
        "trainable": start.trainable_params,
        "total": start.total_params,
        "value": evals[-1].value,
        "samples_per_s": statistics.mean(e.samples_per_s for e in steps),
        "peak_mb": usage.ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared/datasets"
    )
    parser.add_argument("--steps", type=int, nargs="+", default=[60])
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--same-lr", action="store_true")
    parser.add_argument("--no-export", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        recipe = tmp / "bench.toml"
        recipe.write_text(RECIPE)
        for dataset, settings in datasets(args.shared).items():
            for steps in args.steps:
                results: dict[str, list[dict]] = {m: [] for m in METHODS}
                for rep in range(args.reps):
                    for method, (extra, lr) in METHODS.items():
                        keep = method == "full" and rep == 0 and "CoNLL" in dataset
                        results[method].append(
                            run(
                                recipe,
                                tmp / "runs",
                                [
                                    *settings,
                                    *extra,
                                    "data.max_train_samples=2000",
                                    f"train.max_steps={steps}",
                                    "train.batch_size=16",
                                    f"train.learning_rate={5e-5 if args.same_lr else lr}",
                                    f"train.seed={rep + 1}",
                                    "train.log_every=10",
                                    "eval.every=steps",
                                    f"eval.steps={steps}",
                                    f"output.save_model={str(keep).lower()}",
                                ],
                            )
                        )
                print_table(dataset, steps, args, results)
                if "CoNLL" in dataset and not args.no_export:
                    export(results["full"][0]["folder"])


def print_table(dataset: str, steps: int, args, results: dict[str, list[dict]]) -> None:
    full = results["full"]
    base_speed = statistics.mean(r["samples_per_s"] for r in full)
    base_memory = statistics.mean(r["peak_mb"] for r in full)
    print(
        f"\n{dataset}: 2,000 train sentences, {steps} steps of 16, {args.reps} "
        f"repetition(s), {'lr 5e-5 for all' if args.same_lr else 'each method its usual lr'}"
    )
    print(
        f"{'method':18}{'lr':>8}{'metric':>9}{'trainable':>12}{'share':>8}"
        f"{'samples/s':>11}{'x full':>8}{'peak MB':>9}{'x full':>8}"
    )
    for method, rows in results.items():
        value = statistics.mean(r["value"] for r in rows)
        speed = statistics.mean(r["samples_per_s"] for r in rows)
        memory = statistics.mean(r["peak_mb"] for r in rows)
        lr = 5e-5 if args.same_lr else METHODS[method][1]
        print(
            f"{method:18}{lr:>8.0e}{100 * value:>9.2f}{rows[0]['trainable']:>12,}"
            f"{100 * rows[0]['trainable'] / rows[0]['total']:>7.2f}%{speed:>11.1f}"
            f"{speed / base_speed:>8.2f}{memory:>9.0f}{memory / base_memory:>8.2f}",
            flush=True,
        )


def export(run_dir: Path) -> None:
    """The int8 export of the fully fine-tuned model, checked on the same dev data."""
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "export", str(run_dir), "--quantize", "int8"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    print("\nint8 export of the full model:\n" + (done.stdout or done.stderr), flush=True)
    report = run_dir / "exports" / "onnx-int8" / "export_report.json"
    if report.is_file():
        print(json.dumps(json.loads(report.read_text())["speed"]))


if __name__ == "__main__":
    main()

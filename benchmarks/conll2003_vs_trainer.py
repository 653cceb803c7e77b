"""CoNLL-2003 with the bundled MiniLM: workbench's engine against 🤗 Trainer.

Same budget for both: 2,000 training sentences, 60 optimizer steps of batch 16,
learning rate 5e-5, label on the first sub-token, dynamic padding; dev F1
(seqeval, entity level) on the first 500 dev sentences. Several seeds, side by
side in one process, so the ratio is measured on the same machine state.

    python benchmarks/conll2003_vs_trainer.py [--data ../shared/datasets/conll2003] [--seeds 1 2 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

TRAIN_SENTENCES, DEV_SENTENCES, STEPS, BATCH, LR = 2000, 500, 60, 16, 5e-5


def workbench_f1(data: Path, seed: int, out: Path) -> tuple[float, float, float]:
    from workbench.experiment import prepare
    from workbench.recipe import build_recipe
    from workbench.runner import run_experiment

    recipe = build_recipe({
        "task": "ner", "name": "conll2003-bench",
        "model": {"name": "minilm", "max_length": 128},
        "data": {"train": str(data / "train.txt"), "validation": str(data / "dev.txt"),
                 "max_train_samples": TRAIN_SENTENCES, "max_eval_samples": DEV_SENTENCES},
        "train": {"max_steps": STEPS, "batch_size": BATCH, "learning_rate": LR, "seed": seed,
                  "log_every": 20},
        "eval": {"every": "steps", "steps": STEPS},
        "output": {"dir": str(out), "save_model": False}})
    losses = []
    started = time.perf_counter()
    _run_dir, end = run_experiment(prepare(recipe), [
        lambda e: losses.append(e.loss) if e.type == "step" else None])
    assert end.status == "completed", end
    return end.best_value, time.perf_counter() - started, losses[-1]


def trainer_f1(data: Path, seed: int, out: Path) -> tuple[float, float, float]:
    import numpy as np
    from seqeval.metrics import f1_score
    from transformers import (AutoModelForTokenClassification, AutoTokenizer,
                              DataCollatorForTokenClassification, Trainer, TrainingArguments)

    from workbench.data.conll import read_conll
    from workbench.models import quiet_transformers, resolve_model

    quiet_transformers()
    train = read_conll(data / "train.txt")[:TRAIN_SENTENCES]
    dev = read_conll(data / "dev.txt")[:DEV_SENTENCES]
    labels = ["O"] + [f"{p}-{t}" for t in ("LOC", "MISC", "ORG", "PER") for p in "BI"]
    label2id = {l: i for i, l in enumerate(labels)}
    path = resolve_model("minilm")
    tokenizer = AutoTokenizer.from_pretrained(path)

    def encode(examples):  # the run_ner.py recipe: first sub-token labelled, -100 elsewhere
        rows = []
        for ex in examples:
            enc = tokenizer(ex["tokens"], is_split_into_words=True, truncation=True, max_length=128)
            previous, row_labels = None, []
            for word in enc.word_ids():
                row_labels.append(-100 if word is None or word == previous
                                  else label2id[ex["tags"][word]])
                previous = word
            enc["labels"] = row_labels
            rows.append(dict(enc))
        return rows

    train_rows, dev_rows = encode(train), encode(dev)

    def metrics(pred):
        preds = np.argmax(pred.predictions, axis=-1)
        gold_seqs, pred_seqs = [], []
        for p_row, l_row in zip(preds, pred.label_ids):
            keep = l_row != -100
            gold_seqs.append([labels[i] for i in l_row[keep]])
            pred_seqs.append([labels[i] for i in p_row[keep]])
        return {"f1": f1_score(gold_seqs, pred_seqs)}

    from transformers import set_seed
    set_seed(seed)
    model = AutoModelForTokenClassification.from_pretrained(
        path, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id)
    args = TrainingArguments(output_dir=str(out / f"trainer-{seed}"), max_steps=STEPS,
                             per_device_train_batch_size=BATCH, per_device_eval_batch_size=64,
                             learning_rate=LR, seed=seed, report_to=[], save_strategy="no",
                             logging_steps=20, disable_tqdm=True, use_cpu=True)
    trainer = Trainer(model=model, args=args, train_dataset=train_rows, eval_dataset=dev_rows,
                      data_collator=DataCollatorForTokenClassification(tokenizer),
                      compute_metrics=metrics)
    started = time.perf_counter()
    trainer.train()
    f1 = trainer.evaluate()["eval_f1"]
    last_loss = [h["loss"] for h in trainer.state.log_history if "loss" in h][-1]
    return f1, time.perf_counter() - started, last_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared/datasets/conll2003")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(1, 11)))
    args = parser.parse_args()
    rows = {"workbench (recipe defaults)": [], "transformers.Trainer (defaults)": []}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for seed in args.seeds:
            rows["workbench (recipe defaults)"].append(workbench_f1(args.data, seed, out))
            rows["transformers.Trainer (defaults)"].append(trainer_f1(args.data, seed, out))
            print(f"seed {seed}: " + "  ".join(
                f"{name}: F1 {r[-1][0]:.4f}, loss {r[-1][2]:.4f} ({r[-1][1]:.0f}s)"
                for name, r in rows.items()), flush=True)
    print(f"\nCoNLL-2003 dev F1 (first {DEV_SENTENCES} sentences), {TRAIN_SENTENCES} train "
          f"sentences, {STEPS} steps x batch {BATCH}, lr {LR}, seeds {args.seeds}")
    for name, results in rows.items():
        f1s = [r[0] for r in results]
        secs = [r[1] for r in results]
        spread = statistics.stdev(f1s) if len(f1s) > 1 else 0.0
        loss = statistics.mean(r[2] for r in results)
        print(f"  {name:34s} F1 {statistics.mean(f1s):.4f} ± {spread:.4f}   "
              f"train loss (steps 41-60) {loss:.4f}   train+eval {statistics.mean(secs):.1f}s")
    ours, theirs = ([r[0] for r in results] for results in rows.values())
    diffs = [a - b for a, b in zip(ours, theirs)]
    spread = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else 0.0
    print(f"  workbench - Trainer: {statistics.mean(diffs):+.4f} F1 (standard error "
          f"{spread:.4f}; workbench >= Trainer on {sum(d >= 0 for d in diffs)} of "
          f"{len(diffs)} seeds)")


if __name__ == "__main__":
    main()

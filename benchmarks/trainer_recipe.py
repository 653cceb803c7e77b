"""The standard 🤗 Trainer recipe (run_ner.py / run_glue.py style: first sub-token
labelled, dynamic padding, Trainer defaults) for one NER or classification
budget, as a process of its own: `speed_vs_trainer.py` runs it beside
`workbench run` and reads the JSON line it prints last.

    python benchmarks/trainer_recipe.py ner TRAIN DEV --train-n 2000 --dev-n 500 \
        --steps 60 --batch 16 --lr 5e-5 --seed 1 --max-length 128 --out /tmp/x
"""

from __future__ import annotations

import argparse
import json
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=("ner", "classification"))
    parser.add_argument("train")
    parser.add_argument("dev")
    for name, kind in (
        ("--train-n", int),
        ("--dev-n", int),
        ("--batch", int),
        ("--lr", float),
        ("--seed", int),
        ("--max-length", int),
    ):
        parser.add_argument(name, type=kind, required=True)
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("--steps", type=int, help="a budget in optimizer steps")
    budget.add_argument("--epochs", type=float, help="a budget in epochs (the schedule's end)")
    parser.add_argument("--eval-batch", type=int)
    parser.add_argument("--warmup-ratio", type=float, default=0.0)
    parser.add_argument("--test", help="a test file, scored once after training")
    parser.add_argument("--test-n", type=int)
    parser.add_argument(
        "--evaluations", type=int, default=2, help="dev evaluations (the first pays imports)"
    )
    parser.add_argument("--data", default="{}", help="the recipe's [data] table as JSON")
    parser.add_argument("--model", default="minilm", help="model folder (default: bundled MiniLM)")
    parser.add_argument("--bf16", action="store_true", help="bf16 mixed precision (GPU)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import numpy as np
    from transformers import (
        AutoModelForSequenceClassification,
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    from workbench.data import read_examples
    from workbench.models.pretrained import quiet_transformers, resolve_model
    from workbench.settings import SCHEMA

    quiet_transformers()
    data = {**{key: spec.default for key, spec in SCHEMA["data"].items()}, **json.loads(args.data)}
    kind = "tokens" if args.task == "ner" else "text"
    train = read_examples(args.train, data, kind)[: args.train_n]
    dev = read_examples(args.dev, data, kind)[: args.dev_n]
    test = read_examples(args.test, data, kind)[: args.test_n] if args.test else []
    path = resolve_model(args.model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if args.task == "ner":
        labels = sorted(
            {t for e in train + dev + test for t in e["tags"]}, key=lambda t: (t != "O", t)
        )
    else:
        labels = sorted({e["label"] for e in train + dev + test})
    label2id = {label: i for i, label in enumerate(labels)}

    def encode(examples):
        rows = []
        for ex in examples:
            if args.task == "classification":
                enc = tokenizer(ex["text"], truncation=True, max_length=args.max_length)
                enc["labels"] = label2id[ex["label"]]
                rows.append(dict(enc))
                continue
            enc = tokenizer(
                ex["tokens"], is_split_into_words=True, truncation=True, max_length=args.max_length
            )
            previous, row_labels = None, []
            for word in enc.word_ids():  # the first sub-token of a word carries its label
                row_labels.append(
                    -100 if word is None or word == previous else label2id[ex["tags"][word]]
                )
                previous = word
            enc["labels"] = row_labels
            rows.append(dict(enc))
        return rows

    def metrics(pred):
        preds = np.argmax(pred.predictions, axis=-1)
        if args.task == "classification":  # run_glue.py's metric is scikit-learn's
            from sklearn.metrics import accuracy_score

            return {"accuracy": float(accuracy_score(pred.label_ids, preds))}
        from seqeval.metrics import f1_score

        gold_seqs, pred_seqs = [], []
        for p_row, l_row in zip(preds, pred.label_ids):
            keep = l_row != -100
            gold_seqs.append([labels[i] for i in l_row[keep]])
            pred_seqs.append([labels[i] for i in p_row[keep]])
        return {"f1": f1_score(gold_seqs, pred_seqs)}

    set_seed(args.seed)
    auto = (
        AutoModelForTokenClassification
        if args.task == "ner"
        else AutoModelForSequenceClassification
    )
    model = auto.from_pretrained(
        path, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id
    )
    collator = (
        DataCollatorForTokenClassification(tokenizer)
        if args.task == "ner"
        else DataCollatorWithPadding(tokenizer)
    )
    training = TrainingArguments(
        output_dir=args.out,
        max_steps=args.steps or -1,
        num_train_epochs=args.epochs or 3.0,
        warmup_steps=args.warmup_ratio,  # a float under 1 is a ratio (Transformers 5)
        per_device_train_batch_size=args.batch,
        per_device_eval_batch_size=args.eval_batch or args.batch,
        learning_rate=args.lr,
        seed=args.seed,
        report_to=[],
        save_strategy="no",
        logging_steps=10,
        disable_tqdm=True,
        bf16=args.bf16,
    )
    trainer = Trainer(
        model=model,
        args=training,
        train_dataset=encode(train),
        eval_dataset=encode(dev),
        data_collator=collator,
        compute_metrics=metrics,
    )
    trained = trainer.train().metrics
    first = trainer.evaluate()  # pays importing the metric's library
    evaluated = trainer.evaluate() if args.evaluations > 1 else first
    metric = "f1" if args.task == "ner" else "accuracy"
    tested = trainer.evaluate(encode(test), metric_key_prefix="test") if test else {}
    print(
        json.dumps(
            {
                "test_value": tested.get(f"test_{metric}"),
                "train_samples_per_s": trained["train_samples_per_second"],
                "train_seconds": trained["train_runtime"],
                "first_eval_sentences_per_s": first["eval_samples_per_second"],
                "eval_sentences_per_s": evaluated["eval_samples_per_second"],
                "metric": metric,
                "value": evaluated[f"eval_{metric}"],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

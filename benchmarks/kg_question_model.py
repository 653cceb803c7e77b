"""Why `kg ask` reads questions with a linear layer over the frozen encoder: the
same generated questions (kg/question_forms.py, the demo facts' graph) also
train a fine-tuned classifier through this project's classification task
(`workbench run`, MiniLM), and both answer the dev questions (the dev half of
kg_questions.jsonl and kg_questions_dev2.jsonl; the reported sets are not used).

    python benchmarks/kg_question_model.py [--epochs 15]

Prints each one's training time, held-out accuracy on generated questions (the
fine-tuned one's), and accuracy by kind and paraphrase consistency on the dev sets.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from kg_questions import KINDS, oracle_graph, question_sets, score
from workbench.kg import ask as kg_ask
from workbench.kg import question_forms as forms
from workbench.kg import question_model
from workbench.kg.embed import Embedder
from workbench.kg.store import Graph


class _Texts:
    """An encoder stand-in that hands the model the masked question itself."""

    name = "minilm"

    def encode(self, texts, batch_size: int = 64):
        return list(texts)


class _FineTuned:
    """The fine-tuned classifier behind QuestionModel's interface."""

    def __init__(self, saved):
        self.saved = saved
        self.labels = sorted(saved.model.config.id2label.values())

    def probabilities(self, texts) -> np.ndarray:
        s = self.saved
        out = s.task.predict(s.model, s.tokenizer, list(texts), s.max_length)
        return np.array(
            [[r["probabilities"].get(label, 0.0) for label in self.labels] for r in out]
        )


def fine_tune(pairs: list[tuple[str, str]], folder: Path, epochs: int) -> tuple[Path, float]:
    """Train the classification task on 90% of the pairs (10% its validation)."""
    random.Random(0).shuffle(pairs)
    cut = len(pairs) // 10
    for name, part in (("dev", pairs[:cut]), ("train", pairs[cut:])):
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(part)
    recipe = folder / "questions.toml"
    recipe.write_text(
        f'task = "classification"\nname = "questions"\n[model]\nname = "minilm"\n'
        f'max_length = 48\n[data]\ntrain = "{folder / "train.csv"}"\n'
        f'validation = "{folder / "dev.csv"}"\n[train]\nepochs = {epochs}\nbatch_size = 32\n'
        f'learning_rate = 1e-4\n[eval]\nmetric = "accuracy"\n[output]\ndir = "{folder / "runs"}"\n',
        encoding="utf-8",
    )
    started = time.perf_counter()
    subprocess.run(["workbench", "run", str(recipe)], check=True, stdout=subprocess.DEVNULL)
    return sorted((folder / "runs").iterdir())[-1], time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    graph_path = folder / "oracle.sqlite"
    oracle_graph(graph_path)
    embedder = Embedder()
    with Graph.open(graph_path, create=False) as graph:
        schema = question_model.schema_of(graph)
        started = time.perf_counter()
        question_model.for_graph(graph, embedder)
        linear_seconds = time.perf_counter() - started
    pairs = forms.questions(schema, question_model.PER_CHAIN)
    run, tuned_seconds = fine_tune(list(pairs), folder, args.epochs)
    end = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()][-1]
    from workbench.models.saved import load_saved

    tuned = _FineTuned(load_saved(run))
    print(f"{len(pairs):,} generated questions, {len(tuned.labels)} labels")
    print(f"linear layer: trained in {linear_seconds:.1f} s (encoding included)")
    print(
        f"fine-tuned ({args.epochs} epochs): trained in {tuned_seconds:.0f} s, "
        f"held-out generated accuracy {end['best_value']:.1%}"
    )
    reading = question_model.for_graph
    with Graph.open(graph_path, create=False) as graph:
        for name in ("linear", "fine-tuned"):
            if name == "fine-tuned":
                kg_ask.question_model.for_graph = lambda g, e: (tuned, schema)  # type: ignore[assignment]
            encoder = embedder if name == "linear" else _Texts()
            for set_name, questions in question_sets(["dev", "dev2"]).items():
                f = score(graph, questions, encoder)
                right, total = f["right"], f["total"]
                kinds = " ".join(f"{k} {right[k]}/{total[k]}" for k in KINDS if total[k])
                consistency = (
                    f" · consistent {f['consistent']}/{f['groups']}" if f["groups"] else ""
                )
                print(
                    f"  {name:<11} {set_name:<5} {kinds} · all "
                    f"{sum(right.values())}/{sum(total.values())}{consistency}"
                )
    kg_ask.question_model.for_graph = reading


if __name__ == "__main__":
    main()

"""Run folders written from made-up events, for TUI tests that need fixed
content (snapshots) or a state no real run reaches quickly. The events are built
with the engine's own event types; tests of real runs use real runs."""

from __future__ import annotations

import json
import math
import os
import socket
from pathlib import Path

import workbench.runs.events as ev

T0 = 1_763_900_000.0  # a fixed clock: snapshots must not change with the date


def ner_report(f1: float, split: str = "validation") -> dict:
    per = {"LOC": f1 - 0.03, "ORG": f1 + 0.01, "PER": min(1.0, f1 + 0.02), "PRODUCT": f1 - 0.05}
    return {
        "task": "ner",
        "split": split,
        "metrics": {
            "f1": f1,
            "precision": f1 - 0.01,
            "recall": f1 + 0.01,
            "macro_f1": f1 - 0.01,
            "accuracy": 0.95 + f1 / 20,
            "loss": 0.5 - f1 / 3,
        },
        "per_label": {
            k: {"precision": v - 0.01, "recall": v + 0.005, "f1": v, "support": 50 + 10 * i}
            for i, (k, v) in enumerate(per.items())
        },
    }


def classification_report(accuracy: float, split: str = "validation") -> dict:
    labels = ["negative", "neutral", "positive"]
    return {
        "task": "classification",
        "split": split,
        "metrics": {
            "accuracy": accuracy,
            "macro_f1": accuracy - 0.01,
            "weighted_f1": accuracy - 0.005,
            "loss": 1 - accuracy,
        },
        "per_label": {
            k: {
                "precision": accuracy - 0.02 * i,
                "recall": accuracy,
                "f1": accuracy - 0.01 * i,
                "support": 70,
            }
            for i, k in enumerate(labels)
        },
        "confusion": {"labels": labels, "matrix": [[65, 3, 2], [4, 62, 4], [1, 3, 66]]},
    }


def write_run(
    runs_dir: Path,
    name: str,
    *,
    task: str = "ner",
    recipe: str = "demo-ner",
    learning_rate: float = 1e-4,
    total_steps: int = 150,
    steps: int | None = None,
    status: str | None = "completed",
    pid: int | None = None,
    evals_every: int = 50,
    checkpoint_at: int | None = None,
) -> Path:
    """A run folder ``runs_dir/name``: ``steps`` logged steps of ``total_steps``;
    ``status`` None leaves it running (written by ``pid``, this process by default);
    ``checkpoint_at`` adds a checkpoint event at that step (its files are not written)."""
    run = runs_dir / name
    run.mkdir(parents=True)
    steps = total_steps if steps is None else steps
    metric = "f1" if task == "ner" else "accuracy"
    report = ner_report if task == "ner" else classification_report
    values = {
        "task": task,
        "name": recipe,
        "model": {"name": "minilm", "max_length": 128},
        "data": {"train": f"/data/{recipe}/train.conll"},
        "train": {"epochs": 3, "batch_size": 16, "learning_rate": learning_rate},
        "eval": {"every": "epoch", "metric": metric},
    }
    # The path as a run started from the folder above ``runs_dir`` records it.
    events: list[ev.Event] = [
        ev.Created(
            time=T0,
            path=f"{runs_dir.name}/{name}",
            host=socket.gethostname(),
            pid=os.getpid() if pid is None else pid,
            recipe_values=values,
        ),
        ev.Start(
            time=T0 + 5,
            task=task,
            recipe=recipe,
            model="minilm",
            device="cpu",
            precision="no",
            examples={"train": 800, "validation": 200},
            total_steps=total_steps,
            steps_per_epoch=total_steps // 3,
            epochs=3.0,
            metric=metric,
            batch_size=16,
            micro_batch_size=16,
            gradient_accumulation=1,
        ),
    ]
    best, best_step = None, None
    for step in range(5, steps + 1, 5):
        loss = (
            1.8 * math.exp(-step / (40 if learning_rate >= 1e-4 else 70))
            + 0.05
            + 0.04 * math.sin(step)
        )
        events.append(
            ev.Step(
                time=T0 + 5 + step * 0.5,
                step=step,
                epoch=step / (total_steps // 3),
                loss=loss,
                learning_rate=learning_rate * (1 - step / total_steps),
                grad_norm=1.0,
                samples_per_s=32.0,
                steps_per_s=2.0,
                elapsed_s=step * 0.5,
                eta_s=(total_steps - step) * 0.5,
                memory_mb=1500.0,
                total_steps=total_steps,
            )
        )
        if step % evals_every == 0:
            value = 0.6 + 0.3 * (1 - math.exp(-step / 60))
            improved = best is None or value > best
            if improved:
                best, best_step = value, step
            events.append(
                ev.Eval(
                    time=T0 + 6 + step * 0.5,
                    step=step,
                    epoch=step / (total_steps // 3),
                    split="validation",
                    metric=metric,
                    value=value,
                    best=improved,
                    best_value=best,
                    best_step=best_step,
                    metrics=report(value)["metrics"],
                    report=report(value),
                )
            )
        if step == checkpoint_at:
            events.append(
                ev.Checkpoint(
                    time=T0 + 7 + step * 0.5,
                    step=step,
                    path=f"checkpoints/step-{step}",
                    kept=[f"step-{step}"],
                )
            )
    if status is not None:
        if status == "completed" and best is not None:
            test = report(best - 0.03, "test")
            events.append(
                ev.Eval(
                    time=T0 + 10 + steps * 0.5,
                    step=best_step,
                    split="test",
                    metric=metric,
                    value=test["metrics"][metric],
                    metrics=test["metrics"],
                    report=test,
                )
            )
        events.append(
            ev.End(
                time=T0 + 12 + steps * 0.5,
                status=status,
                steps=steps,
                metric=metric,
                best_value=best,
                best_step=best_step,
                duration_s=12 + steps * 0.5,
                checkpoint=f"checkpoints/step-{checkpoint_at}" if checkpoint_at else None,
            )
        )
    with open(run / "events.jsonl", "w", encoding="utf-8") as handle:
        for event in events:
            handle.write(json.dumps(event.to_dict()) + "\n")
    return run

"""Tiny real runs per task, through the CLI, then predict / eval / runs on them."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.experiment import prepare
from workbench.recipe import load_recipe
from workbench.runner import run_experiment
from workbench.runs.folder import read_events

# Real trainings (or processes that train): deselect with -m "not slow".
pytestmark = pytest.mark.slow


def only_run(recipe: Path) -> Path:
    runs = sorted((recipe.parent / "runs").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def test_ner_run_writes_a_complete_run_folder(ner_recipe, capsys):
    assert main(["run", str(ner_recipe)]) == 0
    run = only_run(ner_recipe)
    names = {p.name for p in run.iterdir()}
    assert {"recipe.toml", "events.jsonl", "report.json", "report.txt", "model"} <= names
    assert not [n for n in names if n.endswith(".tmp")]

    events = read_events(run)
    types = [e.type for e in events]
    assert types[0] == "created" and types[1] == "start" and types[-1] == "end"
    assert events[-1].status == "completed"
    assert {"step", "eval", "model"} <= set(types)
    step = next(e for e in events if e.type == "step")
    for key in ("step", "epoch", "loss", "learning_rate", "samples_per_s", "eta_s", "memory_mb"):
        assert getattr(step, key) is not None
    # 3 sentences, batch 2 -> 2 steps an epoch, 2 epochs.
    assert events[1].total_steps == 4 and events[-1].steps == 4

    report = json.loads((run / "report.json").read_text())
    assert set(report["reports"]) == {"validation", "test"}
    assert report["status"] == "completed"  # what a reader goes by if the log loses its end
    assert set(report["reports"]["validation"]["per_label"]) == {"LOC", "ORG", "PER"}
    text = (run / "report.txt").read_text()
    assert "micro avg" in text and "PER" in text

    # The resolved recipe is a recipe again: it reloads and validates.
    assert load_recipe(run / "recipe.toml").task == "ner"

    out = capsys.readouterr().out
    assert "step 1/4" in out  # not a terminal: plain lines, one per event
    assert "run completed" in out


def _predict_lines(model_dir: Path, texts: list[str]) -> list[str]:
    """`workbench predict MODEL TEXT...`, as a user runs it: its JSON lines."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "workbench", "predict", str(model_dir), *texts],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()


def test_saved_ner_model_loads_in_transformers_pipeline(ner_recipe):
    from transformers import pipeline

    from workbench.models.saved import load_saved

    assert main(["run", str(ner_recipe)]) == 0
    model_dir = only_run(ner_recipe) / "model"
    tagger = pipeline(
        "token-classification", model=str(model_dir), aggregation_strategy="none", ignore_labels=[]
    )
    assert tagger.model.config.id2label[0] == "O"
    saved = load_saved(model_dir)
    texts = ["Maria visited Porto.", "Kestrel opened an office in Lisbon on Monday, said Jon."]
    predicted = [json.loads(line) for line in _predict_lines(model_dir, texts)]
    for text, ours in zip(texts, predicted):
        # Loaded by transformers, the model labels each word's first piece as ours does
        # (workbench then decodes the words' labels as one BIO sequence).
        words = saved.task.split(text)
        (probs,) = saved.task.word_probabilities(
            saved.model, saved.tokenizer, [[w for w, _, _ in words]], saved.max_length
        )
        mine = [saved.model.config.id2label[int(p.argmax())] for p in probs]
        first_piece = {t["start"]: t["entity"] for t in reversed(tagger(text))}
        assert mine == [first_piece[start] for _, start, _ in words]
        # and `workbench predict` gives the entities those words' probabilities spell
        (expected,) = saved.task.entities_of([probs], saved.model.config.id2label)
        spans = [(words[e["start"]][1], words[e["end"] - 1][2], e["type"]) for e in expected]
        assert [(e["start"], e["end"], e["label"]) for e in ours["entities"]] == spans


def test_classification_run_and_pipeline(classification_recipe):
    from transformers import pipeline

    assert main(["run", str(classification_recipe)]) == 0
    run = only_run(classification_recipe)
    report = json.loads((run / "report.json").read_text())["reports"]["validation"]
    assert set(report["metrics"]) >= {"accuracy", "macro_f1", "loss"}
    assert report["confusion"]["labels"] == ["negative", "neutral", "positive"]
    assert sum(map(sum, report["confusion"]["matrix"])) == 3
    classifier = pipeline("text-classification", model=str(run / "model"))
    assert classifier("love it")[0]["label"] in {"negative", "neutral", "positive"}


def test_predict_ner_gives_character_spans(ner_recipe, capsys):
    assert main(["run", str(ner_recipe), "--set", "train.epochs=1"]) == 0
    run = only_run(ner_recipe)
    capsys.readouterr()
    text = "Maria Lindqvist visited Porto and Lisbon ."
    assert main(["predict", str(run), text, "Kestrel hired Jon ."]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["text"] == text
    for entity in first["entities"]:
        assert text[entity["start"] : entity["end"]] == entity["text"]
        assert entity["label"] in {"PER", "ORG", "LOC"}
        assert 0.0 <= entity["score"] <= 1.0


def test_predict_reads_stdin(classification_recipe, capsys, monkeypatch):
    import io

    assert main(["run", str(classification_recipe)]) == 0
    run = only_run(classification_recipe)
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("love it\n\nawful\n"))
    assert main(["predict", str(run / "model")]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in rows] == ["love it", "awful"]
    for row in rows:
        assert abs(sum(row["probabilities"].values()) - 1.0) < 1e-3
        # the label is the most probable class (ties possible: probabilities are rounded)
        assert row["probabilities"][row["label"]] == max(row["probabilities"].values())
        assert row["score"] == row["probabilities"][row["label"]]


def test_eval_on_another_file_matches_the_runs_own_report(ner_recipe, capsys):
    assert main(["run", str(ner_recipe)]) == 0
    run = only_run(ner_recipe)
    capsys.readouterr()
    dev = ner_recipe.parent / "data" / "dev.conll"
    assert main(["eval", str(run), "--data", str(dev), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    saved = json.loads((run / "report.json").read_text())["reports"]["test"]
    assert report["metrics"]["f1"] == pytest.approx(saved["metrics"]["f1"])
    assert report["per_label"] == saved["per_label"]


def test_runs_lists_runs_with_status(ner_recipe, capsys):
    assert main(["run", str(ner_recipe)]) == 0
    capsys.readouterr()
    assert main(["runs", "--dir", str(ner_recipe.parent / "runs"), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 1
    assert rows[0]["status"] == "completed" and rows[0]["task"] == "ner"
    assert rows[0]["recipe"] == "tiny-ner" and rows[0]["steps"] == 4


def test_stop_flag_ends_run_stopped_with_a_model_kept(ner_recipe):
    stop = threading.Event()
    seen = []

    def stopper(event):
        seen.append(event.type)
        if event.type == "step":
            stop.set()

    experiment = prepare(load_recipe(ner_recipe, ["train.epochs=50"]))
    run_dir, end = run_experiment(experiment, [stopper], stop=stop)
    assert end.status == "stopped"
    assert end.steps < 10
    assert (run_dir / "model" / "config.json").is_file()
    assert read_events(run_dir)[-1].status == "stopped"


def test_max_steps_and_step_evaluation(ner_recipe):
    experiment = prepare(
        load_recipe(ner_recipe, ["train.max_steps=3", "eval.every=steps", "eval.steps=2"])
    )
    run_dir, end = run_experiment(experiment)
    events = read_events(run_dir)
    evals = [e.step for e in events if e.type == "eval" and e.split == "validation"]
    # Every 2 steps, and once more at the end (step 3).
    assert evals == [2, 3]
    assert end.steps == 3


def test_early_stopping_with_patience(ner_recipe):
    experiment = prepare(
        load_recipe(
            ner_recipe,
            ["train.epochs=30", "train.learning_rate=0", "eval.patience=2", "eval.metric=loss"],
        )
    )
    run_dir, end = run_experiment(experiment)
    evals = [e for e in read_events(run_dir) if e.type == "eval" and e.split == "validation"]
    # With a zero learning rate nothing improves after the first evaluation.
    assert len(evals) == 3
    assert end.status == "completed" and end.steps == 6


def test_failure_inside_the_loop_ends_failed(ner_recipe, monkeypatch):
    from workbench.engine import loop

    def broken(self, split):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(loop.Engine, "evaluate", broken)
    assert main(["run", str(ner_recipe)]) == 1
    run = only_run(ner_recipe)
    end = read_events(run)[-1]
    assert end.status == "failed" and "disk on fire" in end.error
    assert not (run / "report.json").exists()


def test_diverging_loss_fails_the_run_with_advice(ner_recipe, monkeypatch):
    import transformers

    forward = transformers.BertForTokenClassification.forward

    def diverging(self, *args, **kwargs):
        out = forward(self, *args, **kwargs)
        out.logits = out.logits * float("inf")
        return out

    monkeypatch.setattr(transformers.BertForTokenClassification, "forward", diverging)
    assert main(["run", str(ner_recipe)]) == 1
    end = read_events(only_run(ner_recipe))[-1]
    assert end.status == "failed"
    assert "training loss became NaN or infinite at step 1" in end.error
    assert "learning_rate" in end.error


def test_max_length_beyond_the_model_is_refused(ner_recipe):
    experiment = prepare(load_recipe(ner_recipe, ["model.max_length=4096"]))
    run_dir, end = run_experiment(experiment)
    assert end.status == "failed"
    assert "model.max_length 4096 is more than the 128 positions" in end.error


def test_a_run_whose_reader_goes_away_trains_on(ner_recipe):
    """`workbench run recipe.toml | head -2`: the run folder is the output, so the
    run completes (exit 0) when its console's reader has gone."""
    import os
    import subprocess
    import sys

    reader, writer = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench", "run", str(ner_recipe)],
        stdout=writer,
        stderr=subprocess.PIPE,
    )
    os.close(writer)
    os.close(reader)  # gone before the first line
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err.decode()[-2000:]
    events = read_events(only_run(ner_recipe))
    assert events[-1].type == "end" and events[-1].status == "completed"
    assert "Broken pipe" not in err.decode()

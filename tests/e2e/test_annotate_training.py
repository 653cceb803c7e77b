"""Annotation with a real (tiny) model: its proposals, a killed session, and
training on the decisions from the model that proposed them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helpers.files import write
from helpers.runs import train_run as train
from workbench.annotate.decisions import FIXED, DecisionLog, ner_record
from workbench.annotate.pool import build_queue, corpus_items
from workbench.annotate.retrain import taught_recipe
from workbench.cli import main
from workbench.data import read_examples
from workbench.evaluate import evaluate_saved
from workbench.experiment import prepare
from workbench.kg.corpus import read_corpus
from workbench.models.saved import load_saved
from workbench.recipe import load_recipe
from workbench.runner import run_experiment
from workbench.settings import SCHEMA

pytestmark = pytest.mark.slow

DEFAULTS = {key: spec.default for key, spec in SCHEMA["data"].items()}
# New names in a new pattern: what the tiny model was never shown.
TAUGHT = [
    ("Aiko Karimi joined Copperline in Osaka .", [("PER", 0, 2), ("ORG", 3, 4), ("LOC", 5, 6)]),
    ("Ravi Holm joined Northgate in Valencia .", [("PER", 0, 2), ("ORG", 3, 4), ("LOC", 5, 6)]),
    ("Zara Farouk joined Lumen in Geneva .", [("PER", 0, 2), ("ORG", 3, 4), ("LOC", 5, 6)]),
    ("Chloe Haddad joined Helix in Busan .", [("PER", 0, 2), ("ORG", 3, 4), ("LOC", 5, 6)]),
]

# The same kind of sentence with other names: never decided, never trained on.
HELD_OUT = [
    ("Priya Novak joined Saffron in Porto .", [("PER", 0, 2), ("ORG", 3, 4), ("LOC", 5, 6)]),
    ("Tomasz Okafor joined Ironbark in Lisbon .", [("PER", 0, 2), ("ORG", 3, 4), ("LOC", 5, 6)]),
    ("Hana Rahman joined Verdant in Kyoto .", [("PER", 0, 2), ("ORG", 3, 4), ("LOC", 5, 6)]),
]


def spans_file(path: Path, sentences) -> Path:
    lines = (
        json.dumps(
            {
                "tokens": text.split(),
                "entities": [{"type": t, "start": s, "end": e} for t, s, e in spans],
            }
        )
        for text, spans in sentences
    )
    return write(path, "\n".join(lines) + "\n")


def corpus(folder: Path) -> Path:
    write(folder / "corpus" / "news.txt", " ".join(text for text, _ in TAUGHT))
    return folder / "corpus"


def test_proposals_are_the_models_predictions_least_certain_first(ner_recipe):
    run_dir = train(ner_recipe)
    loaded, queue = build_queue(run_dir, corpus(ner_recipe.parent), "uncertain")
    task, model, tokenizer = loaded.task, loaded.model, loaded.tokenizer
    assert len(queue) == len(TAUGHT)
    confidences = [i.confidence for i in queue]
    assert confidences == sorted(confidences) and all(c <= 0 for c in confidences)
    for item in queue:
        (expected,) = task.predict_tokens(model, tokenizer, [item.tokens], loaded.max_length)
        assert item.entities == expected
    # Decided ones are left out of a new queue.
    _, rest = build_queue(
        run_dir, corpus(ner_recipe.parent), "uncertain", skip={queue[0].key}, loaded=loaded
    )
    assert [i.key for i in rest] == [i.key for i in queue[1:]]


def test_training_on_the_decisions_starts_from_the_run_and_learns_them(ner_recipe):
    run_dir = train(ner_recipe)
    folder = ner_recipe.parent
    decisions = folder / "annotations" / "fixed.jsonl"
    log = DecisionLog(decisions)
    for item in corpus_items(read_corpus(corpus(folder)), "ner"):
        gold = next(spans for text, spans in TAUGHT if " ".join(item.tokens) == text)
        log.append(ner_record(item, [{"type": t, "start": s, "end": e} for t, s, e in gold], FIXED))

    recipe_path = taught_recipe(run_dir, decisions)
    assert recipe_path == folder / "annotations" / "fixed-taught.toml"  # named after the file
    recipe = load_recipe(recipe_path, ["train.epochs=30"])
    assert recipe["model"]["name"] == str(run_dir.resolve())
    assert recipe["data"]["extra_train"] == [str(decisions.resolve())]
    experiment = prepare(recipe)
    base_meta = load_saved(run_dir).meta
    assert experiment.labels == base_meta["labels"]  # the run's head, kept
    assert len(experiment.splits["train"]) == 3 + len(TAUGHT)

    # Scored on sentences of the new kind nobody decided: learning, not memory.
    held_out = spans_file(folder / "held-out.jsonl", HELD_OUT)
    before = evaluate_saved(run_dir, str(held_out))[1]["metrics"]["f1"]
    taught_dir, end = run_experiment(experiment)
    assert end.status == "completed", end.error
    after = evaluate_saved(taught_dir, str(held_out))[1]["metrics"]["f1"]
    assert after > before, (before, after)


def test_a_label_the_model_does_not_know_names_the_file(ner_recipe, capsys):
    run_dir = train(ner_recipe)
    extra = write(
        ner_recipe.parent / "more.jsonl",
        '{"tokens": ["Nimbus", "X2"], "entities": [{"type": "PRODUCT", "start": 0, "end": 2}]}\n',
    )
    code = main(
        [
            "validate",
            str(ner_recipe),
            "--set",
            f"model.name={run_dir}",
            "--set",
            f"data.extra_train={extra}",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert f"{extra}:1: label 'B-PRODUCT' does not occur in the labels of model {run_dir}" in err


def test_killing_annotate_mid_sentence_leaves_a_readable_file(ner_recipe, tmp_path):
    run_dir = train(ner_recipe)
    out = tmp_path / "d.jsonl"
    script = write(
        tmp_path / "annotate.py",
        textwrap.dedent(
            f"""
            import asyncio, sys, time
            from workbench.tui.app import WorkbenchApp

            async def main():
                app = WorkbenchApp(annotate={{"model": {str(run_dir)!r},
                    "corpus": {str(corpus(tmp_path))!r}, "out": {str(out)!r}}})
                async with app.run_test() as pilot:
                    while app.screen.session is None:
                        await pilot.pause(0.05)
                    await pilot.press("enter")  # accepted as proposed
                    # A fix whatever the tiny model proposed: drop its first entity, or
                    # mark one where it proposed none.
                    proposed = app.screen.session.entities
                    if proposed:
                        await pilot.press(*["right"] * proposed[0]["start"], "x")
                    else:
                        await pilot.press("1")
                    await pilot.press("enter", "right")
                    await pilot.pause(0.2)
                    print("deciding", flush=True)
                    time.sleep(120)  # the person looks at the third sentence

            asyncio.run(main())
            """
        ),
    )
    child = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        assert child.stdout.readline().strip() == "deciding"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    examples = read_examples(str(out), DEFAULTS, "tokens")
    assert len(examples) == 2
    assert [r["decision"] for r in DecisionLog(out).records] == ["accepted", "fixed"]


def test_annotate_refuses_bad_arguments_in_one_line(ner_recipe, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_dir = train(ner_recipe)
    docs = corpus(tmp_path)
    cases = [
        (["--model", "nothing-here", "--corpus", str(docs)], "nothing-here"),
        (["--model", str(run_dir), "--corpus", "missing"], "missing"),
        (["--model", str(run_dir), "--corpus", str(docs), "--out", str(tmp_path)], "a folder"),
        (["--model", str(run_dir), "--corpus", str(docs), "--limit", "0"], "--limit"),
        (["--model", str(run_dir), "--corpus", str(docs), "--out", "d.txt"], "name the file"),
        # Piped (no terminal): said, not a broken screen.
        (["--model", str(run_dir), "--corpus", str(docs)], "needs a terminal"),
    ]
    for args, said in cases:
        code = main(["annotate", *args])
        err = capsys.readouterr().err
        assert code == 2 and said in err and len(err.strip().splitlines()) == 1, (args, err)

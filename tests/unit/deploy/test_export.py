"""workbench export: ONNX (and int8) models that predict as the originals do,
run with ONNX Runtime alone, and are checked and reported on the run's data."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers.data import relation_line
from helpers.runs import train_run
from workbench.cli import main
from workbench.models.saved import load_saved

pytest.importorskip("onnxruntime")

NER_TEXTS = ["Jon visited Lisbon .", "Kestrel Analytics hired Maria Lindqvist in Porto today ."]

# Real trainings (or processes that train): deselect with -m "not slow".
pytestmark = pytest.mark.slow


def trained(recipe, *settings: str):
    return train_run(recipe, "train.max_steps=4", *settings)


def same_predictions(original, exported, texts: list[str]) -> None:
    model, onnx = load_saved(original), load_saved(exported)
    assert onnx.meta["format"] == "onnx"
    ours = model.task.predict(model.model, model.tokenizer, texts, model.meta["max_length"])
    theirs = model.task.predict(onnx.model, onnx.tokenizer, texts, onnx.meta["max_length"])
    assert rounded(ours) == rounded(theirs)


def rounded(value):
    """Predictions with scores to 3 places (ONNX Runtime sums in another order)."""
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return round(value, 3) if isinstance(value, float) else value


def test_an_ner_export_predicts_as_the_original_and_reports_its_check(ner_recipe, capsys):
    run = trained(ner_recipe, "train.learning_rate=0.01")
    assert main(["export", str(run)]) == 0
    out = capsys.readouterr().out
    folder = run / "exports" / "onnx"
    assert f"exported to {folder}" in out
    assert "label agreement 100.00%" in out
    report = json.loads((folder / "export_report.json").read_text())
    assert report["agreement"] == 1.0 and report["compared"] > 0
    assert report["before"] == pytest.approx(report["after"])
    assert report["speed"]["onnx"]["latency_ms"] > 0
    assert (folder / "export_report.txt").read_text().startswith("export of ")
    same_predictions(run, folder, NER_TEXTS)
    # eval takes the export like any model folder, with the same result.
    data = str(ner_recipe.parent / "data" / "dev.conll")
    assert main(["eval", str(run), "--data", data, "--json"]) == 0
    original = json.loads(capsys.readouterr().out)["metrics"]
    assert main(["eval", str(folder), "--data", data, "--json"]) == 0
    exported = json.loads(capsys.readouterr().out)["metrics"]
    assert exported == pytest.approx(original, abs=1e-4)


def test_an_int8_export_runs_with_onnx_runtime_alone(classification_recipe, capsys):
    run = trained(classification_recipe)
    assert main(["export", str(run), "--quantize", "int8"]) == 0
    folder = run / "exports" / "onnx-int8"
    report = json.loads((folder / "export_report.json").read_text())
    assert report["quantize"] == "int8" and report["compared"] == 3
    assert "ONNX int8" in capsys.readouterr().out
    # The report's "after" is what the export scores.
    data = str(classification_recipe.parent / "data" / "dev.csv")
    assert main(["eval", str(folder), "--data", data, "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)["metrics"]
    assert scored["accuracy"] == pytest.approx(report["after"])
    assert report["metrics"]["onnx"]["accuracy"] == pytest.approx(report["after"])
    # No torch, no transformers: a tokenizer, the graph and the labels.
    script = f"""
import json, sys
import numpy as np, onnxruntime as ort
from tokenizers import Tokenizer
folder = {str(folder)!r}
tokenizer = Tokenizer.from_file(folder + "/tokenizer.json")
session = ort.InferenceSession(folder + "/model.onnx", providers=["CPUExecutionProvider"])
encoding = tokenizer.encode("love it")
feeds = {{"input_ids": [encoding.ids], "attention_mask": [encoding.attention_mask],
          "token_type_ids": [encoding.type_ids]}}
names = [i.name for i in session.get_inputs()]
logits = session.run(["logits"], {{k: np.array(feeds[k], dtype=np.int64) for k in names}})[0]
labels = json.load(open(folder + "/config.json"))["id2label"]
assert "torch" not in sys.modules and "transformers" not in sys.modules
print(labels[str(int(logits.argmax(-1)[0]))])
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    saved = load_saved(folder)
    task, model, tokenizer = saved.task, saved.model, saved.tokenizer
    [prediction] = task.predict(model, tokenizer, ["love it"], 32)
    assert done.stdout.strip() == prediction["label"]


def test_a_relation_export_and_an_adapter_only_lora_run(relation_recipe, tmp_path):
    run = trained(
        relation_recipe, "peft.method=lora", "peft.merge=false", "train.learning_rate=0.01"
    )
    out = tmp_path / "relations-onnx"
    assert main(["export", str(run), "--out", str(out)]) == 0
    same_predictions(
        run,
        out,
        [
            "[[Jon Berg|PER]] founded [[Nordwind Labs|ORG]] .",
            "[[Aiko Sato|PER]] lives in [[Oslo|LOC]] near [[Kestrel Bank|ORG]] .",
        ],
    )


def test_a_shared_encoding_relation_export(relation_recipe, tmp_path):
    """One pass for a sentence's pairs exports too: pairs are a dynamic axis."""
    run = trained(relation_recipe, "relation.encoding=shared", "train.learning_rate=0.01")
    # Checked on sentences of one pair each: the pairs axis must not be traced as a constant.
    data = tmp_path / "two.jsonl"
    data.write_text(
        relation_line(
            "Jon Berg founded Nordwind Labs .", [("PER", 0, 2), ("ORG", 3, 5)], [("founded", 0, 1)]
        )
        + "\n"
        + relation_line(
            "Aiko Sato , a painter , lives in Oslo .",
            [("PER", 0, 2), ("LOC", 8, 9)],
            [("lives_in", 0, 1)],
        )
        + "\n"
    )
    out = tmp_path / "shared-onnx"
    assert main(["export", str(run), "--out", str(out), "--data", str(data)]) == 0
    same_predictions(
        run,
        out,
        [
            "[[Jon Berg|PER]] founded [[Nordwind Labs|ORG]] .",
            "[[Aiko Sato|PER]] lives in [[Oslo|LOC]] near "
            "[[Kestrel Bank|ORG]] , says [[Maria Rossi|PER]] .",
        ],
    )


def test_export_refuses_what_it_cannot_do_in_one_line(classification_recipe, tmp_path, capsys):
    run = trained(classification_recipe, "data.validation=")
    assert main(["export", str(run)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {run}: no validation or test file of the run to check the export with; "
        f"give one with --data FILE"
    )
    assert main(["export", str(run), "--data", str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv: data file not found" in capsys.readouterr().err
    data = classification_recipe.parent / "data" / "dev.csv"
    assert main(["export", str(run), "--data", str(data)]) == 0
    capsys.readouterr()
    assert main(["export", str(run / "exports" / "onnx")]) == 2
    assert "already an ONNX export" in capsys.readouterr().err
    # --out is replaced whole: never a folder that is not an earlier export.
    keep = tmp_path / "precious"
    (keep / "notes.txt").parent.mkdir()
    (keep / "notes.txt").write_text("mine")
    for out, why in (
        (keep, "exists and is not an earlier export"),
        (run, "holds the model being exported"),
    ):
        assert main(["export", str(run), "--data", str(data), "--out", str(out)]) == 2
        assert why in capsys.readouterr().err
    assert (keep / "notes.txt").read_text() == "mine" and (run / "model").is_dir()
    # An empty folder will do, and the model folder finds its run's data by itself.
    empty = tmp_path / "empty"
    empty.mkdir()
    validated = trained(classification_recipe)
    assert main(["export", str(validated / "model"), "--out", str(empty)]) == 0
    assert (empty / "model.onnx").is_file()
    # Published with the permissions of any file the user writes, not mkstemp's 0600.
    umask = os.umask(0)
    os.umask(umask)
    assert (empty / "export_report.json").stat().st_mode & 0o777 == 0o666 & ~umask
    assert empty.stat().st_mode & 0o777 == 0o777 & ~umask


def test_without_onnx_runtime_export_says_what_to_install(
    classification_recipe, capsys, monkeypatch
):
    run = trained(classification_recipe)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails
    assert main(["export", str(run)]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: workbench export needs onnxruntime (pip install 'workbench[export]')"
    )

"""The bundled demo recipes, run for real with the bundled MiniLM encoder, as the
README's first command does. The slowest tests in the suite (a few minutes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.runs.folder import read_events

ROOT = Path(__file__).resolve().parents[2]

# Real trainings (or processes that train): deselect with -m "not slow".
pytestmark = pytest.mark.slow


def test_demo_recipes_validate(capsys):
    recipes = sorted(str(p) for p in (ROOT / "recipes").glob("demo-*.toml"))
    assert len(recipes) == 5
    assert main(["validate", *recipes]) == 0
    assert capsys.readouterr().out.count("ok ") == 5


def test_every_bundled_recipe_is_valid_apart_from_its_hub_data():
    from workbench.recipe import load_recipe

    for path in (ROOT / "recipes").glob("*.toml"):
        # Data outside the repository (hub splits, ../shared/datasets) is not checked.
        recipe = load_recipe(path, check_files=path.name.startswith("demo-"))
        assert recipe.task in ("ner", "classification", "relation")


@pytest.mark.slow
@pytest.mark.parametrize(
    "recipe,metric,floor",
    [("demo-ner", "f1", 0.6), ("demo-ner-lora", "f1", 0.6), ("demo-sentiment", "accuracy", 0.6)],
)
def test_demo_run_learns(tmp_path, recipe, metric, floor):
    from transformers import pipeline

    args = ["run", str(ROOT / "recipes" / f"{recipe}.toml"), "--set", f"output.dir={tmp_path}"]
    assert main(args) == 0
    [run] = list(tmp_path.iterdir())
    end = read_events(run)[-1]
    assert end.status == "completed"
    report = json.loads((run / "report.json").read_text())
    assert report["reports"]["test"]["metrics"][metric] >= floor
    task = "token-classification" if recipe.startswith("demo-ner") else "text-classification"
    assert pipeline(task, model=str(run / "model"))("Maria Lindqvist joined Kestrel Analytics.")


@pytest.mark.slow
def test_the_chinese_demo_learns_and_builds_a_searchable_graph(tmp_path, capsys):
    """The bundled MiniLM taught the Chinese demo's characters: it learns, and its
    graph of the Chinese stories finds a two-character city by name."""
    args = ["run", str(ROOT / "recipes" / "demo-ner-zh.toml"), "--set", f"output.dir={tmp_path}"]
    assert main(args) == 0
    [run] = list(tmp_path.iterdir())
    report = json.loads((run / "report.json").read_text())
    assert report["reports"]["test"]["metrics"]["f1"] >= 0.8
    graph = str(tmp_path / "zh.sqlite")
    corpus = str(ROOT / "data" / "demo" / "zh" / "corpus")
    capsys.readouterr()
    assert main(["kg", "build", "--ner", str(run), "--corpus", corpus, "--graph", graph]) == 0
    assert "warning" not in capsys.readouterr().err  # the taught model reads the corpus
    assert main(["kg", "search", "深圳", "--graph", graph, "--json"]) == 0
    found = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert found and found[0]["name"] == "深圳" and found[0]["type"] == "LOC"


@pytest.mark.slow
def test_demo_relations_learn_in_one_epoch(tmp_path, capsys):
    args = [
        "run",
        str(ROOT / "recipes" / "demo-relations.toml"),
        "--set",
        f"output.dir={tmp_path}",
        "train.epochs=1",
    ]
    assert main(args) == 0
    [run] = list(tmp_path.iterdir())
    report = json.loads((run / "report.json").read_text())
    assert report["reports"]["test"]["metrics"]["micro_f1"] >= 0.5
    capsys.readouterr()
    assert (
        main(
            [
                "predict",
                str(run),
                "[[Maria Lindqvist|PER]] works for [[Kestrel Analytics|ORG]] in [[Porto|LOC]].",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert {(r["head_text"], r["type"], r["tail_text"]) for r in result["relations"]} >= {
        ("Maria Lindqvist", "works_for", "Kestrel Analytics")
    }

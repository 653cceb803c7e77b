"""Recipe loading: defaults, paths, validation messages, overrides, round trip."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from helpers.files import write
from workbench.errors import WorkbenchError
from workbench.recipe import load_recipe

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

BASE = """task = "ner"

[data]
train = "data/train.conll"

[train]
batch_size = 8
"""


@pytest.fixture
def recipe(tmp_path) -> Path:
    write(tmp_path / "data" / "train.conll", "a O\n")
    return write(tmp_path / "r.toml", BASE)


def test_defaults_and_paths_relative_to_the_recipe(recipe, monkeypatch, tmp_path):
    monkeypatch.chdir("/")
    loaded = load_recipe(recipe)
    assert loaded["data"]["train"] == str(tmp_path / "data" / "train.conll")
    # unset, runs go where `workbench runs` and the TUI look: the current folder's runs/
    assert loaded["output"]["dir"] == "/runs"
    recipe.write_text(BASE + '\n[output]\ndir = "my-runs"\n')
    assert load_recipe(recipe)["output"]["dir"] == str(tmp_path / "my-runs")  # as written
    assert loaded["train"]["batch_size"] == 8
    assert loaded["train"]["learning_rate"] == 5e-5
    assert loaded["model"]["name"] == "minilm"
    # the same values, typed: each section as its settings class
    assert loaded.train.batch_size == 8 and loaded.train.learning_rate == 5e-5
    assert loaded.model.name == "minilm" and loaded.model.max_length == 128
    assert loaded.peft.method == "full" and loaded.output.save_model is True
    assert loaded.name == "r"


@pytest.mark.parametrize(
    "old,new,fragments",
    [
        ("batch_size = 8", "batch_sise = 8", ["r.toml:7:", "train.batch_sise", "'batch_size'"]),
        ("[train]", "[trian]", ["r.toml:6:", "[trian]", "'train'"]),
        ("batch_size = 8", 'batch_size = "8"', ["r.toml:7:", "train.batch_size", "an integer"]),
        ("batch_size = 8", "batch_size = 0", ["train.batch_size", "at least 1"]),
        ('task = "ner"', 'task = "clasification"', ["'task' must be one of", "'classification'"]),
        ('task = "ner"', "", ["missing 'task'"]),
        (
            'train = "data/train.conll"',
            'train = "data/gone.conll"',
            ["r.toml:4:", "data.train", "gone.conll"],
        ),
        ("batch_size = 8", "batch_size = [8", ["invalid TOML"]),
    ],
)
def test_validation_messages(recipe, old, new, fragments):
    recipe.write_text(BASE.replace(old, new))
    with pytest.raises(WorkbenchError) as info:
        load_recipe(recipe)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_overrides_are_typed_by_the_schema(recipe):
    loaded = load_recipe(
        recipe,
        [
            "train.learning_rate=3e-5",
            "train.epochs=1",
            "model.name=3",
            "data.labels=PER,LOC",
            "output.save_model=false",
        ],
    )
    assert loaded["train"]["learning_rate"] == 3e-5
    assert loaded["train"]["epochs"] == 1
    assert loaded["model"]["name"] == "3"  # a string key stays a string
    assert loaded["data"]["labels"] == ["PER", "LOC"]
    assert loaded["output"]["save_model"] is False
    assert loaded.overrides == [
        "train.learning_rate=3e-5",
        "train.epochs=1",
        "model.name=3",
        "data.labels=PER,LOC",
        "output.save_model=false",
    ]


def test_override_paths_are_relative_to_the_current_folder(recipe, tmp_path, monkeypatch):
    other = write(tmp_path / "elsewhere" / "dev.conll", "b O\n")
    monkeypatch.chdir(tmp_path / "elsewhere")
    loaded = load_recipe(recipe, ["data.validation=dev.conll"])
    assert loaded["data"]["validation"] == str(other)


@pytest.mark.parametrize(
    "item,fragment",
    [
        ("train.batch_size=abc", "train.batch_size"),
        ("train.nope=1", "unknown key 'nope'"),
        ("batch_size=3", "did you mean 'train.batch_size'?"),
        ("eval.batch_size=3", "did you mean 'train.batch_size'?"),
        ("trian.epochs=1", "'train'"),
        ("train.epochs", "expected section.key=value"),
        ("train.learning_rate=-1", "at least"),
    ],
)
def test_bad_overrides(recipe, item, fragment):
    with pytest.raises(WorkbenchError, match=None) as info:
        load_recipe(recipe, [item])
    assert fragment in str(info.value)


def test_a_list_typed_in_the_shell_without_quotes(recipe):
    # `--set data.labels=[PER, LOC]`: the shell splits it into two words
    for items in (
        ["data.labels=[PER,", "LOC]"],
        ["data.labels=[PER, LOC]"],
        ['data.labels=["PER", "LOC"]'],
        ["data.labels=PER,LOC"],
    ):
        assert load_recipe(recipe, items)["data"]["labels"] == ["PER", "LOC"]


def test_a_misplaced_key_in_a_recipe_names_its_section(recipe):
    recipe.write_text("epochs = 2\n" + BASE)
    with pytest.raises(
        WorkbenchError,
        match="r.toml:1: unknown key 'epochs' "
        r"\(did you mean 'train.epochs'\?\)",
    ):
        load_recipe(recipe)


def test_errors_found_after_loading_name_the_line_or_the_override(recipe, tiny_model):
    from workbench.experiment import prepare

    recipe.write_text(
        BASE.replace(
            "[train]", f'[model]\nname = "{tiny_model}"\n\n[eval]\nmetric = "acuracy"\n\n[train]'
        )
    )
    with pytest.raises(WorkbenchError) as info:
        prepare(load_recipe(recipe))
    assert str(info.value).startswith(f"{recipe}:10: eval.metric 'acuracy' is not one of")
    assert "(did you mean 'accuracy'?)" in str(info.value)
    with pytest.raises(WorkbenchError, match="^--set eval.metric: eval.metric 'acc'"):
        prepare(load_recipe(recipe, ["eval.metric=acc"]))


def test_resolved_recipe_round_trips(recipe):
    loaded = load_recipe(recipe, ["data.labels=PER,LOC", 'model.name=a "quoted" name'])
    again = tomllib.loads(loaded.to_toml())
    assert again["task"] == "ner"
    assert again["train"] == {k: v for k, v in loaded["train"].items() if v is not None}
    assert again["data"]["labels"] == ["PER", "LOC"]
    assert again["model"]["name"] == 'a "quoted" name'
    # a control character (a pasted description) writes a recipe.toml that reads back
    loaded = load_recipe(recipe, ["description=bell \x07 tab \t cr \r end"])
    assert tomllib.loads(loaded.to_toml())["description"] == "bell \x07 tab \t cr \r end"


def test_keys_that_change_nothing_are_warned_about_with_their_line(recipe):
    recipe.write_text(BASE + '\n[peft]\nr = 16\n\n[relation]\nencoding = "shared"\n')
    loaded = load_recipe(recipe, ["eval.steps=50"])
    lines = recipe.read_text().splitlines()
    r, encoding = lines.index("r = 16") + 1, lines.index('encoding = "shared"') + 1
    assert loaded.warnings == [
        f"{recipe}:{encoding}: relation.encoding has no effect for task 'ner'",
        f"{recipe}:{r}: peft.r has no effect with peft.method = 'full' (LoRA only)",
        "--set eval.steps: has no effect with eval.every = 'epoch'",
    ]
    # the same keys where they do something: no warning
    assert load_recipe(recipe, ["peft.method=lora", "task=relation"]).warnings == []
    recipe.write_text(BASE)  # defaults alone never warn
    assert load_recipe(recipe).warnings == []


def test_each_settings_field_is_typed_as_its_schema_key_checks():
    """The dataclasses a type checker reads and the schema loading validates with are
    one declaration: a field's annotation names the type its Key accepts."""
    from dataclasses import fields

    from workbench.settings import SCHEMA, SECTIONS

    names = {str: "str", int: "int", float: "float", bool: "bool", list: "list"}
    for section, cls in SECTIONS.items():
        assert [f.name for f in fields(cls)] == list(SCHEMA[section])
        for f in fields(cls):
            spec = SCHEMA[section][f.name]
            wanted = "float" if spec.type == (int, float) else names[spec.type]
            if spec.default is None:
                wanted += " | None"
            assert f.type == wanted, f"{section}.{f.name}: {f.type} != {wanted}"
            assert f.default == spec.default

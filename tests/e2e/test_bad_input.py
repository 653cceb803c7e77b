"""Bad input through the CLI: exit status 2, one line naming the key or the
file and line, no traceback, and no run folder that claims success."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.data import NER_DEV, NER_TRAIN
from helpers.files import write
from workbench.cli import main


def run_cli(args, capsys) -> tuple[int, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.err


def assert_one_line_error(err: str, *fragments: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def no_successful_run(recipe: Path) -> bool:
    runs = recipe.parent / "runs"
    return not runs.exists() or not any(runs.iterdir())


def edit(recipe: Path, old: str, new: str) -> Path:
    text = recipe.read_text()
    assert old in text
    recipe.write_text(text.replace(old, new))
    return recipe


def test_misspelt_key(ner_recipe, capsys):
    edit(ner_recipe, "learning_rate = 1e-3", "learning_rat = 1e-3")
    code, err = run_cli(["run", str(ner_recipe)], capsys)
    assert code == 2
    assert_one_line_error(err, str(ner_recipe), "train.learning_rat", "learning_rate")
    line = next(
        i
        for i, text in enumerate(ner_recipe.read_text().splitlines(), 1)
        if text.startswith("learning_rat")
    )
    assert f"{ner_recipe}:{line}:" in err
    assert no_successful_run(ner_recipe)


def test_wrong_type(ner_recipe, capsys):
    edit(ner_recipe, "batch_size = 2", 'batch_size = "two"')
    code, err = run_cli(["run", str(ner_recipe)], capsys)
    assert code == 2
    assert_one_line_error(err, "train.batch_size", "integer")
    assert no_successful_run(ner_recipe)


def test_missing_data_file(ner_recipe, capsys):
    edit(ner_recipe, 'validation = "data/dev.conll"', 'validation = "data/nope.conll"')
    code, err = run_cli(["run", str(ner_recipe)], capsys)
    assert code == 2
    assert_one_line_error(err, str(ner_recipe), "data.validation", "nope.conll")
    assert no_successful_run(ner_recipe)


def test_empty_data_file(ner_recipe, capsys):
    write(ner_recipe.parent / "data" / "train.conll", "\n\n")
    code, err = run_cli(["run", str(ner_recipe)], capsys)
    assert code == 2
    assert_one_line_error(err, "train.conll", "no examples")
    assert no_successful_run(ner_recipe)


def test_malformed_conll_line(ner_recipe, capsys):
    lines = NER_TRAIN.splitlines()
    lines[4] = "Lindqvist"  # the tag is missing on file line 5
    write(ner_recipe.parent / "data" / "train.conll", "\n".join(lines) + "\n")
    code, err = run_cli(["run", str(ner_recipe)], capsys)
    assert code == 2
    assert_one_line_error(err, "train.conll:5:")
    assert no_successful_run(ner_recipe)


def test_label_unseen_in_training(ner_recipe, capsys):
    write(ner_recipe.parent / "data" / "dev.conll", NER_DEV.replace("B-LOC", "B-GPE"))
    code, err = run_cli(["run", str(ner_recipe)], capsys)
    assert code == 2
    # the tag's own line (Lisbon, the sentence's third), and the type data.labels takes
    assert_one_line_error(
        err, "dev.conll:3:", "'B-GPE'", "list every label in data.labels, 'GPE' included"
    )
    assert no_successful_run(ner_recipe)


def test_label_missing_from_the_recipes_list_says_to_add_it(ner_recipe, capsys):
    # an IOB1 file: the tag of type GPE is I-GPE on line 3, read as B-GPE
    write(ner_recipe.parent / "data" / "dev.conll", NER_DEV.replace("B-LOC", "I-GPE"))
    code, err = run_cli(["validate", str(ner_recipe), "--set", "data.labels=PER,ORG,LOC"], capsys)
    assert code == 2
    assert_one_line_error(err, "dev.conll:3:", "add 'GPE' to data.labels")


def test_label_list_in_recipe_allows_it(ner_recipe, capsys):
    write(ner_recipe.parent / "data" / "dev.conll", NER_DEV.replace("B-LOC", "B-GPE"))
    code, err = run_cli(
        ["validate", str(ner_recipe), "--set", "data.labels=PER,ORG,LOC,GPE"], capsys
    )
    assert code == 0, err


def test_bad_override(ner_recipe, capsys):
    code, err = run_cli(["run", str(ner_recipe), "--set", "train.epochs=many"], capsys)
    assert code == 2
    assert_one_line_error(err, "train.epochs")
    code, err = run_cli(["run", str(ner_recipe), "--set", "train.epoch=1"], capsys)
    assert_one_line_error(err, "train.epoch", "epochs")


def test_unknown_task_suggests(ner_recipe, capsys):
    edit(ner_recipe, 'task = "ner"', 'task = "nerr"')
    code, err = run_cli(["validate", str(ner_recipe)], capsys)
    assert code == 2
    assert_one_line_error(err, "task", "'ner'")


def test_missing_model_folder(ner_recipe, capsys, tmp_path):
    code, err = run_cli(
        ["run", str(ner_recipe), "--set", f"model.name={tmp_path / 'no-such-model'}"], capsys
    )
    assert code == 2
    assert_one_line_error(err, "no-such-model")
    assert no_successful_run(ner_recipe)


def test_recipe_file_missing(tmp_path, capsys):
    code, err = run_cli(["run", str(tmp_path / "nope.toml")], capsys)
    assert code == 2
    assert_one_line_error(err, "nope.toml", "not found")


def test_invalid_toml(tmp_path, capsys):
    recipe = write(tmp_path / "bad.toml", 'task = "ner"\n[train\n')
    code, err = run_cli(["validate", str(recipe)], capsys)
    assert code == 2
    assert_one_line_error(err, "bad.toml", "invalid TOML")


@pytest.mark.parametrize(
    "args", [["predict", "{missing}", "text"], ["eval", "{missing}", "--data", "x.conll"]]
)
def test_predict_and_eval_on_a_missing_model(tmp_path, capsys, args):
    args = [a.replace("{missing}", str(tmp_path / "gone")) for a in args]
    code, err = run_cli(args, capsys)
    assert code == 2
    assert "Traceback" not in err and "gone" in err


def test_help_does_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys; from workbench.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert 'transformers' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_hub_model_offline_is_named_quickly(ner_recipe, capsys):
    # conftest sets HF_HUB_OFFLINE=1: no retries against an unreachable hub.
    code, err = run_cli(["validate", str(ner_recipe), "--set", "model.name=someone/bert-x"], capsys)
    assert code == 2
    assert_one_line_error(err, "'someone/bert-x'", "hub cannot be reached")


def test_model_folder_in_a_recipe_is_relative_to_the_recipe(ner_recipe, tiny_model, capsys):
    import shutil

    shutil.copytree(tiny_model, ner_recipe.parent / "models" / "tiny")
    edit(ner_recipe, f'name = "{tiny_model}"', 'name = "./models/tiny"')
    code, err = run_cli(["validate", str(ner_recipe)], capsys)
    assert code == 0, err


def test_validate_checks_every_recipe(ner_recipe, capsys, tmp_path):
    broken = write(tmp_path / "broken.toml", 'task = "ner"\n[train]\nepochs = "three"\n')
    code = main(["validate", str(broken), str(ner_recipe)])
    out, err = capsys.readouterr()
    assert code == 2
    assert f"ok {ner_recipe}" in out  # checked although the first one is broken
    assert "broken.toml:3:" in err and "1 of 2 recipes have errors" in err


def test_unknown_eval_metric_lists_the_choices(ner_recipe, capsys):
    code, err = run_cli(["validate", str(ner_recipe), "--set", "eval.metric=accuracy_top5"], capsys)
    assert code == 2
    assert_one_line_error(err, "eval.metric 'accuracy_top5'", "f1, precision, recall")


def test_missing_file_given_with_set_is_named_as_such(ner_recipe, capsys):
    code, err = run_cli(["run", str(ner_recipe), "--set", "data.test=nowhere.conll"], capsys)
    assert code == 2
    assert_one_line_error(err, "--set data.test: file not found", "nowhere.conll")


def test_a_key_that_changes_nothing_is_a_warning_not_an_error(ner_recipe, capsys):
    code = main(["validate", str(ner_recipe), "--set", "peft.alpha=32"])
    out, err = capsys.readouterr()
    assert code == 0 and f"ok {ner_recipe}" in out
    assert err == (
        "warning: --set peft.alpha: has no effect with peft.method = 'full' (LoRA only)\n"
    )

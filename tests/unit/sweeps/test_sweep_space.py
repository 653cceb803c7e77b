"""What a sweep varies: parameters, distributions and the sweep's settings, checked
before anything starts (each mistake one line naming the key)."""

from __future__ import annotations

import optuna
import pytest

from helpers.files import write
from workbench.errors import WorkbenchError
from workbench.recipe import load_recipe
from workbench.sweeps.space import grid_size, parse_param, parse_space
from workbench.sweeps.study import sweep_settings


def test_distributions_give_values_the_recipe_takes_back():
    params = parse_space(
        [
            "train.learning_rate=loguniform(1e-5, 1e-3)",
            "train.batch_size=choice(8, 16, 32)",
            "train.warmup_ratio=uniform(0, 0.2)",
            "train.gradient_accumulation=int(1, 4)",
            "peft.method=choice(full, lora)",
        ]
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for _ in range(20):
        trial = study.ask()
        overrides = [p.override(p.suggest(trial)) for p in params]
        recipe = load_recipe(_minimal(), overrides, check_files=False)
        assert 1e-5 <= recipe.train.learning_rate <= 1e-3
        assert recipe.train.batch_size in (8, 16, 32)
        assert 0 <= recipe.train.warmup_ratio <= 0.2
        assert recipe.train.gradient_accumulation in (1, 2, 3, 4)
        assert recipe.peft.method in ("full", "lora")
        study.tell(trial, 0.0)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("train.learning_rat=loguniform(1e-5,1e-3)", "did you mean 'learning_rate'"),
        ("train.learning_rate=logunifrom(1e-5,1e-3)", "did you mean 'loguniform'"),
        ("train.learning_rate=loguniform(1e-3,1e-5)", "must be below"),
        ("train.learning_rate=loguniform(0,1e-3)", "log scale needs a low end above 0"),
        ("train.learning_rate=uniform(0, 2)", "at most 1.0"),
        ("train.batch_size=uniform(8, 64)", "takes no fractions: use int() or logint()"),
        ("train.batch_size=choice(16, 0)", "at least 1"),
        ("train.scheduler=choice(linear, cosne)", "did you mean 'cosine'"),
        ("train.learning_rate=loguniform(1e-5)", "two numbers, got 1"),
        ("train.learning_rate", "expected section.key=distribution"),
        ("output.dir=choice(a, b)", "cannot vary output.dir"),
        ("train.batch_size=choice(16, 16)", "lists a value twice"),
    ],
)
def test_a_bad_parameter_is_one_line_naming_it(text, fragment):
    with pytest.raises(WorkbenchError) as error:
        parse_param(text)
    message = str(error.value)
    assert "\n" not in message and fragment in message, message
    assert message.startswith("--param")


def test_the_recipe_sweep_table_and_the_command_line_meet(tmp_path):
    recipe = load_recipe(
        _minimal(
            tmp_path,
            """
[sweep]
trials = 7
sampler = "random"
seed = 4
keep = 3
[sweep.params]
"train.learning_rate" = "loguniform(1e-5, 1e-3)"
"train.batch_size" = [16, 32]
""",
        ),
        check_files=False,
    )
    # `workbench run` trains the recipe as it stands: the table is not a setting.
    assert "[sweep" not in recipe.to_toml()
    space, settings = sweep_settings(recipe, ["train.batch_size=choice(8, 64)"], trials=None)
    assert settings == {"trials": 7, "sampler": "random", "pruner": "median", "seed": 4, "keep": 3}
    by_name = {p.name: p for p in space}
    assert by_name["train.batch_size"].values == (8, 64)  # the command line wins
    assert by_name["train.learning_rate"].kind == "loguniform"
    # The command line's --keep wins too; "all" keeps every trial's model.
    assert sweep_settings(recipe, [], keep="all")[1]["keep"] is None
    assert sweep_settings(recipe, [], keep="5")[1]["keep"] == 5


def test_a_grid_larger_than_the_trials_is_refused_and_a_grid_sets_its_count(tmp_path):
    recipe = load_recipe(_minimal(tmp_path), check_files=False)
    items = ["train.batch_size=choice(8, 16, 32)", "train.scheduler=choice(linear, cosine)"]
    assert grid_size(parse_space(items)) == 6
    with pytest.raises(WorkbenchError, match="the grid has 6 points, more than the 4 trials"):
        sweep_settings(recipe, items, trials=4, sampler="grid")
    _, settings = sweep_settings(recipe, items, sampler="grid")
    assert settings["trials"] == 6
    with pytest.raises(WorkbenchError, match="learning_rate is continuous"):
        sweep_settings(recipe, [*items, "train.learning_rate=uniform(0, 0.1)"], sampler="grid")


def test_unknown_sweep_keys_and_no_parameters_are_errors(tmp_path):
    recipe = load_recipe(_minimal(tmp_path, "[sweep]\ntrails = 3\n"), check_files=False)
    with pytest.raises(WorkbenchError, match=r"\[sweep\]: unknown key 'trails' \(did you mean"):
        sweep_settings(recipe, ["train.batch_size=choice(8, 16)"])
    with pytest.raises(WorkbenchError, match="needs at least one parameter"):
        sweep_settings(load_recipe(_minimal(tmp_path), check_files=False), [])


def _minimal(tmp_path=None, extra: str = ""):
    import tempfile
    from pathlib import Path

    folder = Path(tmp_path or tempfile.mkdtemp())
    return write(
        folder / "r.toml",
        'task = "classification"\n[data]\ntrain = "train.csv"\n' + extra,
    )


def test_pruners_and_samplers_are_named_or_refused(tmp_path):
    recipe = load_recipe(_minimal(tmp_path), check_files=False)
    items = ["train.batch_size=choice(8, 16)"]
    for pruner in ("median", "halving", "hyperband", "none"):
        assert sweep_settings(recipe, items, pruner=pruner)[1]["pruner"] == pruner
    with pytest.raises(WorkbenchError, match="sweep pruner 'asha': one of median, halving"):
        sweep_settings(recipe, items, pruner="asha")
    with pytest.raises(WorkbenchError, match="sweep sampler 'cmaes': one of tpe, random, grid"):
        sweep_settings(recipe, items, sampler="cmaes")

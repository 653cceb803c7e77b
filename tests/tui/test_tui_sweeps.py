"""The Sweeps screen and the Recipes screen's queue and sweep keys, with Pilot."""

from __future__ import annotations

import asyncio
from pathlib import Path

import optuna

from helpers.fake_runs import write_run
from helpers.files import write
from helpers.tui import app_for, text_of
from workbench.recipe import load_recipe
from workbench.runs.queue import Queue
from workbench.sweeps.study import create_sweep, sweep_settings
from workbench.tui.screens.confirm import ConfirmScreen
from workbench.tui.screens.run import RunScreen

SIZE = (110, 32)
LR = "train.learning_rate"


def _sweep_with_trials(recipe: Path, runs: Path):
    """A sweep (as `workbench sweep` makes it) whose trials are made-up runs:
    accuracies 0.70, 0.90, 0.80, and a fourth pruned at step 20."""
    loaded = load_recipe(recipe, [f"output.dir={runs}"])
    space, settings = sweep_settings(loaded, [f"{LR}=loguniform(1e-5, 1e-2)"], trials=6)
    sweep = create_sweep(loaded, space, settings, "accuracy", False)
    study = sweep.study()
    distribution = {LR: optuna.distributions.FloatDistribution(1e-5, 1e-2, log=True)}
    for number, value in enumerate((0.70, 0.90, 0.80, 0.30)):
        trial = study.ask(distribution)
        run = write_run(
            sweep.runs_dir, f"2026010{number}-000000-cls-t00{number}", task="classification"
        )
        trial.set_user_attr("run_dir", str(run))
        trial.set_user_attr("steps", 150 if value > 0.5 else 20)
        trial.report(value, 100)
        if value > 0.5:
            study.tell(trial, value)
        else:
            trial.set_user_attr("pruned_at", 20)
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    return sweep


def test_sweeps_screen_shows_trials_best_first_and_opens_one(
    classification_recipe, tmp_path, monkeypatch
):
    monkeypatch.setenv("WORKBENCH_QUEUE", str(tmp_path / "queue"))
    monkeypatch.chdir(tmp_path)
    sweep = _sweep_with_trials(classification_recipe, tmp_path / "runs")
    Queue.open().add_run(classification_recipe, ["train.seed=3"], tmp_path)

    async def scenario():
        app = app_for(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("6")
            await pilot.pause(0.5)
            screen = app.screen
            sweeps = screen.query_one("#sweep-list")
            assert sweeps.row_count == 1
            assert "4/6" in str(sweeps.get_row_at(0)[0])  # three completed, one pruned
            trials = screen.query_one("#trial-table")
            order = [str(trials.get_row_at(i)[0]) for i in range(trials.row_count)]
            assert order == ["1", "2", "0", "3"]  # best first, the pruned one last
            assert "pruned @20" in str(trials.get_row_at(3)[1])
            assert "90.00" in str(trials.get_row_at(0)[2])
            queue = screen.query_one("#queue-table")
            assert queue.row_count == 1 and "waiting" in str(queue.get_row_at(0)[1])
            assert "1 waiting" in text_of(screen.query_one("#queue-title"))
            await pilot.press("b")
            await pilot.pause(0.2)
            best = load_recipe(sweep.folder / "best.toml", check_files=False)
            assert best.train.learning_rate == sweep.best(sweep.trials()).params[LR]
            trials.focus()
            await pilot.press("down", "enter")  # the second best: trial 2
            await pilot.pause(0.5)
            assert isinstance(app.screen, RunScreen)
            assert app.screen.state.run_dir.name.endswith("cls-t002")

    asyncio.run(scenario())


def test_recipes_screen_queues_a_recipe_and_starts_its_sweep(
    classification_recipe, tmp_path, monkeypatch
):
    monkeypatch.setenv("WORKBENCH_QUEUE", str(tmp_path / "queue"))
    monkeypatch.chdir(tmp_path)
    swept = write(
        tmp_path / "swept.toml",
        classification_recipe.read_text()
        + "\n[sweep]\ntrials = 5\n[sweep.params]\n"
        + '"train.learning_rate" = "loguniform(1e-4, 1e-2)"\n',
    )
    started = []

    async def scenario():
        app = app_for(tmp_path)
        app.start_sweep = lambda recipe, overrides: started.append((recipe, overrides))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            table = app.screen.query_one("#recipe-table")
            names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
            table.move_cursor(row=names.index("cls"))
            await pilot.press("u")
            await pilot.pause(0.2)
            (job,) = Queue.open().jobs()
            assert job.status == "waiting" and job.argv[:2] == ["run", str(classification_recipe)]
            await pilot.press("w")  # no [sweep] table: said in place, nothing starts
            await pilot.pause(0.2)
            assert "[sweep]" in text_of(app.screen.query_one("#launch-errors"))
            table.move_cursor(row=names.index("swept"))
            await pilot.press("w")
            await pilot.pause(0.2)
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await pilot.pause(0.2)
            assert started and started[0][0] == swept

    asyncio.run(scenario())

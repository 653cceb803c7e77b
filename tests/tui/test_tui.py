"""The TUI driven with Textual's Pilot, as a user would: launch, watch, stop,
open, attach, compare, predict, and bad input shown in place."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from helpers.fake_runs import write_run
from helpers.runs import train_run as train
from helpers.tui import app_for, text_of, wait_for
from workbench.experiment import prepare
from workbench.recipe import load_recipe
from workbench.runner import run_experiment
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.compare import CompareScreen
from workbench.tui.screens.confirm import ConfirmScreen
from workbench.tui.screens.predict import PredictScreen
from workbench.tui.screens.run import RunScreen
from workbench.tui.screens.runs import RunsScreen

SIZE = (100, 30)


def long_recipe(ner_recipe: Path) -> Path:
    """The tiny NER recipe, trained long enough to stop or attach midway."""
    text = ner_recipe.read_text().replace("epochs = 2", "epochs = 400")
    path = ner_recipe.with_name("long.toml")
    path.write_text(text.replace('name = "tiny-ner"', 'name = "long-ner"'))
    return path


@pytest.mark.slow
def test_launch_from_recipes_screen_runs_to_completion(ner_recipe, monkeypatch):
    # A recipe in a folder of its own, without [output]: its run still goes to ./runs,
    # where the Runs screen looks.
    folder = ner_recipe.parent / "recipes"
    folder.mkdir()
    recipe = folder / "ner.toml"
    recipe.write_text(
        ner_recipe.read_text()
        .replace('"data/', '"../data/')
        .replace('[output]\ndir = "runs"\n', "")
    )
    monkeypatch.chdir(ner_recipe.parent)

    async def scenario():
        app = WorkbenchApp(recipes_dir="recipes")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            table = app.screen.query_one("#recipe-table")
            names = [table.get_row_at(i)[0] for i in range(table.row_count)]
            assert names == ["ner"]  # file names: recipe names may repeat
            await pilot.press("l")  # asks first: one key never starts a training run
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "question")
            assert "Train ner" in text_of(app.screen.query_one("#question"))
            await pilot.press("n")
            await pilot.pause()
            assert not isinstance(app.screen, (ConfirmScreen, RunScreen)) and not app.launched
            await pilot.press("l", "y")
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), 5, "run screen")
            screen = app.screen
            await wait_for(
                pilot,
                lambda: screen.state is not None and screen.state.status == "completed",
                120,
                "the run to complete",
            )
            await pilot.pause(0.5)
            title = text_of(screen.query_one("#run-title"))
            report = text_of(screen.query_one("#report"))
            assert "✔ completed" in title
            assert "test · best model" in report and "micro avg" in report
            assert "PER" in report and "best validation" in report
            assert "step 4/4" in text_of(screen.query_one("#progress-text"))
            log = "\n".join(str(line.text) for line in screen.query_one("#log").lines)
            assert "run completed" in log
            assert not (folder / "runs").exists()
            [run_dir] = (ner_recipe.parent / "runs").iterdir()
            await pilot.press("2")
            await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen), 5, "runs screen")
            await pilot.pause(0.5)
            runs = app.screen.query_one("#runs-table")
            assert run_dir.name in [str(runs.get_row_at(i)[1]) for i in range(runs.row_count)]

    asyncio.run(scenario())


@pytest.mark.slow
def test_stop_a_launched_run_midway(ner_recipe):
    recipe = long_recipe(ner_recipe)

    async def scenario():
        app = WorkbenchApp(
            runs_dir=recipe.parent / "runs", recipes_dir=recipe.parent, recipe_paths=[]
        )
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            screen = app.launch(recipe, [])
            await wait_for(
                pilot,
                lambda: screen.state is not None and screen.state.step >= 4,
                120,
                "training to start",
            )
            await pilot.press("s")
            await pilot.pause(0.3)
            assert "Stop" in text_of(app.screen.query_one("#question"))
            await pilot.press("y")
            await wait_for(pilot, lambda: screen.state.end is not None, 60, "the run to stop")
            await pilot.pause(0.5)
            assert screen.state.status == "stopped"
            assert screen.state.step < 800
            assert "■ stopped" in text_of(screen.query_one("#run-title"))
            assert (screen.state.run_dir / "model" / "config.json").is_file()

    asyncio.run(scenario())


@pytest.mark.slow
def test_open_a_finished_run_from_the_runs_screen(ner_recipe):
    run_dir = train(ner_recipe)

    async def scenario():
        app = app_for(ner_recipe.parent)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("2")
            await pilot.pause(0.3)
            assert isinstance(app.screen, RunsScreen)
            table = app.screen.query_one("#runs-table")
            assert table.row_count == 1
            row = [str(c) for c in table.get_row_at(0)]
            assert row[1] == run_dir.name and "completed" in row[2] and row[6] == "4/4"
            await pilot.press("enter")
            await pilot.pause(0.5)
            assert isinstance(app.screen, RunScreen)
            report = text_of(app.screen.query_one("#report"))
            assert "test · best model" in report and "micro avg" in report
            await pilot.press("escape")
            assert isinstance(app.screen, RunsScreen)

    asyncio.run(scenario())


@pytest.mark.slow
def test_attach_to_a_run_another_process_writes_and_stop_it(ner_recipe):
    recipe = long_recipe(ner_recipe)
    child = subprocess.Popen(
        [sys.executable, "-m", "workbench", "run", str(recipe), "--plain"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:

        async def scenario():
            app = app_for(recipe.parent)
            async with app.run_test(size=SIZE) as pilot:
                await pilot.press("2")
                screen = app.screen
                await wait_for(
                    pilot,
                    lambda: screen.runs and screen.runs[0].steps >= 2,
                    120,
                    "the other process to train",
                )
                assert screen.runs[0].status == "running"
                await pilot.press("enter")
                await pilot.pause(0.5)
                run_screen = app.screen
                assert isinstance(run_screen, RunScreen) and run_screen.launched is None
                first = run_screen.state.step
                await wait_for(
                    pilot, lambda: run_screen.state.step > first, 60, "new steps to arrive"
                )
                assert "● running" in text_of(run_screen.query_one("#run-title"))
                await pilot.press("s", "y")
                await wait_for(pilot, lambda: run_screen.state.end is not None, 60, "the stop")
                assert run_screen.state.status == "stopped"

        asyncio.run(scenario())
        assert child.wait(timeout=30) == 130
    finally:
        child.kill()


@pytest.mark.slow
def test_resume_a_stopped_run_from_the_runs_screen(ner_recipe):
    import threading

    stop = threading.Event()
    stopper = lambda event: stop.set() if event.type == "step" and event.step >= 2 else None  # noqa: E731
    run_dir, end = run_experiment(
        prepare(load_recipe(ner_recipe, ["train.max_steps=30"])), [stopper], stop=stop
    )
    assert end.status == "stopped"

    async def scenario():
        app = app_for(ner_recipe.parent)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("2")
            await pilot.pause(0.3)
            table = app.screen.query_one("#runs-table")
            status = str(table.get_row_at(0)[2])
            assert status == f"■ stopped ↻{end.steps}"
            assert "Resume" in text_of_footer(app)
            await pilot.press("r")
            await pilot.pause(0.3)
            assert f"from its checkpoint at step {end.steps}" in text_of(
                app.screen.query_one("#question")
            )
            await pilot.press("y")
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), 5, "run screen")
            screen = app.screen
            await wait_for(
                pilot,
                lambda: screen.state is not None and screen.state.status == "completed",
                120,
                "the resumed run",
            )
            await pilot.pause(0.5)
            assert [r.from_step for r in screen.state.resumes] == [end.steps]
            assert screen.state.step == 30 and "✔ completed" in text_of(
                screen.query_one("#run-title")
            )
            assert [p.name for p in (ner_recipe.parent / "runs").iterdir()] == [run_dir.name]

    asyncio.run(scenario())


def text_of_footer(app) -> str:
    """The keys the footer shows on the current screen."""
    return " ".join(
        str(b.binding.description)
        for b in app.screen.active_bindings.values()
        if b.binding.show and b.enabled
    )


@pytest.mark.slow
def test_compare_two_runs(ner_recipe):
    first = train(ner_recipe)
    time.sleep(1.1)  # run folders are named by the second
    second = train(ner_recipe, "train.learning_rate=5e-4")

    async def scenario():
        app = app_for(ner_recipe.parent)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("2")
            await pilot.pause(0.3)
            await pilot.press("c")  # nothing marked: a hint, not a crash
            assert isinstance(app.screen, RunsScreen)
            await pilot.press("space", "down", "space", "c")
            await pilot.pause(0.5)
            assert isinstance(app.screen, CompareScreen)
            body = text_of(app.screen.query_one("#compare-body"))
            assert "train.learning_rate" in body and "0.0005" in body and "0.001" in body
            assert "per-label F1" in body and "PER" in body
            title = text_of(app.screen.query_one("#compare-title"))
            assert first.name in title and second.name in title

    asyncio.run(scenario())


def model_says(run_dir: Path, *texts: str) -> list[dict]:
    """The run's model on ``texts``, loaded and run here as `workbench predict` does."""
    from workbench.models.saved import load_saved

    saved = load_saved(run_dir)
    return saved.task.predict(saved.model, saved.tokenizer, list(texts), saved.max_length)


async def predict_screen(pilot, app, run_dir: Path):
    """Open Predict on ``run_dir`` and wait for its model to load."""
    app.open_predict(run_dir)
    screen = app.screen
    await wait_for(pilot, lambda: screen.loaded is not None, 60, "the model to load")
    return screen


async def typed(pilot, screen, text: str) -> str:
    """Type ``text`` into the box; return the prediction shown for it."""
    await pilot.click("#predict-input")
    await pilot.press(*text)
    await wait_for(
        pilot, lambda: " ms" in text_of(screen.query_one("#prediction")), 30, "a prediction"
    )
    return text_of(screen.query_one("#prediction"))


@pytest.mark.slow
def test_predict_a_sentence(ner_recipe):
    run_dir = train(ner_recipe)

    async def scenario():
        app = app_for(ner_recipe.parent)
        async with app.run_test(size=SIZE) as pilot:
            screen = await predict_screen(pilot, app, run_dir)
            assert isinstance(screen, PredictScreen)
            assert "ner" in text_of(screen.query_one("#model-status"))
            shown = await typed(pilot, screen, "Maria visited Porto.")
            assert all(word in shown for word in ("Maria", "visited", "Porto"))
            # What the model itself finds, the screen shows (a tiny model tags at random).
            [expected] = model_says(run_dir, "Maria visited Porto.")
            for entity in expected["entities"]:
                assert f"{entity['text']} [{entity['label']}" in shown
            assert ("no entities found" in shown) == (not expected["entities"])

    asyncio.run(scenario())


@pytest.mark.slow
def test_predict_relations_between_marked_entities(relation_recipe):
    run_dir = train(relation_recipe)

    async def scenario():
        app = app_for(relation_recipe.parent)
        async with app.run_test(size=SIZE) as pilot:
            screen = await predict_screen(pilot, app, run_dir)
            assert "[[Maria Rossi|PER]]" in text_of(screen.query_one("#model-status"))
            shown = await typed(pilot, screen, "Maria visited Porto.")  # nothing marked
            assert "mark two or more entities" in shown
            marked = "[[Maria Rossi|PER]] works for [[Kestrel Bank|ORG]]."
            screen.query_one("#predict-input").value = marked
            await wait_for(
                pilot,
                lambda: "[PER]" in text_of(screen.query_one("#prediction")),
                30,
                "the marked prediction",
            )
            shown = text_of(screen.query_one("#prediction"))
            assert "Maria Rossi [PER] works for Kestrel Bank [ORG]" in shown
            # What the model itself finds between them, the screen shows.
            [expected] = model_says(run_dir, marked)
            for relation in expected["relations"]:
                assert f"—{relation['type']}→" in shown
            assert ("no relation between" in shown) == (not expected["relations"])

    asyncio.run(scenario())


@pytest.mark.slow
def test_bad_recipe_and_bad_override_are_shown_in_place(ner_recipe):
    (ner_recipe.parent / "broken.toml").write_text('task = "ner"\n[train]\nepochs = "three"\n')
    # A copy with a typo in a data path: same recipe name, one file missing.
    (ner_recipe.parent / "typo.toml").write_text(
        ner_recipe.read_text().replace("train.conll", "trian.conll")
    )

    async def scenario():
        app = app_for(ner_recipe.parent)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            screen = app.screen
            table = screen.query_one("#recipe-table")
            assert [table.get_row_at(i)[0] for i in range(3)] == ["broken", "ner", "typo"]
            assert str(table.get_row_at(2)[1]) == "✖ error"
            # It starts on the first recipe that runs here, not on the broken one.
            assert table.cursor_row == 1 and screen.selected.name == "tiny-ner"
            await pilot.press("up")
            summary = text_of(screen.query_one("#recipe-summary"))
            assert "train.epochs" in summary and "broken.toml:3" in summary
            await pilot.press("l")  # launching a broken recipe: an error, no run
            assert "✖" in text_of(screen.query_one("#launch-errors"))
            await pilot.press("down", "e")
            await pilot.press(*"abc")
            errors = text_of(screen.query_one("#launch-errors"))
            assert "train.learning_rate" in errors and "'abc' is not a number" in errors
            await pilot.press("enter")  # launch refused while a field is wrong
            assert app.screen is screen and not (ner_recipe.parent / "runs").exists()
            await pilot.press("backspace", "backspace", "backspace", *"2e-3")
            assert text_of(screen.query_one("#launch-errors")).strip() == ""
            assert screen.overrides() == ["train.learning_rate=2e-3"]
            await pilot.press("escape", "down")
            summary = text_of(screen.query_one("#recipe-summary"))
            assert "data.train file not found" in summary and "trian.conll" in summary

    asyncio.run(scenario())


@pytest.mark.slow
def test_a_run_that_cannot_start_shows_why(ner_recipe):
    data = ner_recipe.parent / "data" / "train.conll"
    data.write_text(data.read_text() + "\nJon B-PER extra-column-here oops\n")

    async def scenario():
        app = app_for(ner_recipe.parent)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            screen = app.launch(ner_recipe, [])
            await pilot.pause()
            await wait_for(
                pilot,
                lambda: "could not start" in text_of(screen.query_one("#run-title")),
                60,
                "the launch error",
            )
            assert "train.conll" in text_of(screen.query_one("#run-title"))
            await pilot.press("escape", "2")  # the app goes on
            assert isinstance(app.screen, RunsScreen)

    asyncio.run(scenario())


@pytest.mark.slow
def test_broken_run_folders_leave_the_app_usable(tmp_path):
    runs = tmp_path / "runs"
    write_run(runs, "20260101-000000-good")
    bad = runs / "20260101-000001-bad"
    bad.mkdir()
    (bad / "events.jsonl").write_bytes(b"\x00\xff garbage\n{not json\n")
    empty = runs / "20260101-000002-empty"
    empty.mkdir()
    (empty / "events.jsonl").write_text("")

    async def scenario():
        app = WorkbenchApp(runs_dir=runs, recipes_dir=tmp_path / "none")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("2")
            await pilot.pause(0.3)
            names = [r.name for r in app.screen.runs]
            assert "20260101-000000-good" in names
            for _ in names:
                await pilot.press("enter")
                await pilot.pause(0.3)
                assert isinstance(app.screen, RunScreen)
                await pilot.press("escape", "down")
            await pilot.press("3")
            assert isinstance(app.screen, PredictScreen)
            assert "has a saved model" in text_of(app.screen.query_one("#model-status"))

    asyncio.run(scenario())


@pytest.mark.slow
def test_quitting_with_a_run_training_asks_first(ner_recipe):
    recipe = long_recipe(ner_recipe)

    async def scenario():
        app = app_for(recipe.parent)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            screen = app.launch(recipe, [])
            await wait_for(pilot, lambda: screen.state is not None, 60, "the run folder")
            await pilot.press("q")
            await pilot.pause(0.2)
            assert "still training" in text_of(app.screen.query_one("#question"))
            await pilot.press("n")
            assert app.screen is screen
            screen.launched.stop()
            await wait_for(pilot, lambda: screen.launched.returncode is not None, 60, "exit")

    asyncio.run(scenario())


@pytest.mark.parametrize("argv", [[], ["--runs", "elsewhere"], ["my.toml"]])
def test_cli_opens_the_tui_without_a_command(argv):
    from workbench.cli import _route

    assert _route(argv)[0] == "tui"
    assert _route(["runs"]) == ["runs"]


def test_compare_a_run_stopped_before_any_evaluation(tmp_path):
    from workbench.runs.follow import load_state
    from workbench.tui.screens.compare import comparison_tables

    done = load_state(write_run(tmp_path, "20260101-000000-done"))
    early = load_state(write_run(tmp_path, "20260101-000001-early", steps=20, status="stopped"))
    console = Console(width=160, color_system=None, record=True, file=io.StringIO())
    console.print(comparison_tables([done, early]))
    text = console.export_text()
    assert "B demo-ner" in text and "-" in text.split("B demo-ner")[1].splitlines()[0]
    assert f"{100 * done.best_report['metrics']['f1']:.2f}" in text


def test_escape_leaves_an_override_field_so_keys_are_keys_again(ner_recipe):
    async def scenario():
        app = app_for(ner_recipe.parent)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("e", "escape", "2")
            assert isinstance(app.screen, RunsScreen)
            await pilot.press("1")
            assert app.screen.overrides() == []  # "2" switched screens, it was not typed

    asyncio.run(scenario())


def test_screen_keys_reach_their_screen_from_a_run_on_top(tmp_path):
    write_run(tmp_path / "runs", "20260101-000000-demo-ner")

    async def scenario():
        app = WorkbenchApp(runs_dir=tmp_path / "runs", recipes_dir=tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.open_run(tmp_path / "runs" / "20260101-000000-demo-ner")
            await pilot.pause()
            assert isinstance(app.screen, RunScreen)
            await pilot.press("1")  # the Recipes screen itself, not the run pushed on it
            assert type(app.screen).__name__ == "RecipesScreen"
            await pilot.press("2", "enter")
            assert isinstance(app.screen, RunScreen)
            await pilot.press("2")
            assert isinstance(app.screen, RunsScreen)

    asyncio.run(scenario())


def test_tui_refuses_to_start_without_a_terminal(capsys):
    from workbench.cli import main

    assert main(["--runs", "runs"]) == 2  # pytest's stdin is not a terminal
    assert "needs a terminal" in capsys.readouterr().err


def test_the_eta_counts_down_between_step_events(tmp_path, monkeypatch):
    from workbench.runs.events import Step
    from workbench.tui.screens import run as run_screen

    clock = [100.0]
    monkeypatch.setattr(run_screen, "eta_clock", lambda: clock[0])
    screen = RunScreen(write_run(tmp_path, "live", steps=20, status=None))
    step = Step(step=20, eta_s=65.0)
    assert screen._eta(step) == 65.0
    clock[0] += 3.7
    assert screen._eta(step) == 62.0  # whole seconds since the event was read
    clock[0] += 100
    assert screen._eta(step) == 0.0  # never below zero
    assert screen._eta(Step(step=25, eta_s=50.0)) == 50.0  # a new event starts afresh


def test_predict_chooses_the_run_however_its_folder_is_spelled(tmp_path, monkeypatch):
    # A run launched from the workbench reports its folder as the child printed it
    # (runs/NAME, relative to the child's folder), the list holds absolute paths.
    from textual.widgets import Select

    runs = tmp_path / "runs"
    older = write_run(runs, "20260101-000000-older")
    write_run(runs, "20260101-000001-newer")
    for run in runs.iterdir():
        (run / "model").mkdir()
        (run / "model" / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)

    async def scenario():
        app = app_for(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            app.open_predict(Path("runs") / older.name)
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, PredictScreen)
            assert screen.query_one("#model-select", Select).value == str(older)
            assert "no saved model" not in text_of(screen.query_one("#model-status"))

    asyncio.run(scenario())


def test_a_run_on_data_its_tokenizer_cannot_read_says_so(tmp_path):
    runs = tmp_path / "runs"
    run = write_run(runs, "20260101-000000-zh")
    events = run / "events.jsonl"
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    for event in lines:
        if event["type"] == "start":  # as a run on Chinese text with an English model says
            event["coverage"] = {"train": {"share": 0.504}, "test": {"share": 0.521}}
    events.write_text("".join(json.dumps(e) + "\n" for e in lines))

    async def scenario():
        app = WorkbenchApp(runs_dir=runs, recipes_dir=tmp_path / "none")
        async with app.run_test(size=SIZE) as pilot:
            app.open_run(run)

            def title() -> str:
                found = app.screen.query("#run-title")
                return text_of(found.first()) if found else ""

            await wait_for(pilot, lambda: "zh" in title(), 10, "the run's title")
            assert "⚠ test: 52.1% unknown to the tokenizer" in title()

    asyncio.run(scenario())

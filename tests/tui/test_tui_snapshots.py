"""Pictures of the main screens, compared with the stored SVGs in
``__snapshots__`` (``pytest --snapshot-update`` rewrites them after a deliberate
change). The content is fixed: made-up runs with a fixed clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.fake_runs import write_run
from workbench.tui.app import WorkbenchApp

SIZE = (100, 30)

RECIPE = """\
# A small NER recipe for the snapshot tests.
task = "ner"
name = "demo-ner"

[model]
name = "minilm"
max_length = 128

[data]
train = "../data/train.conll"
validation = "../data/dev.conll"

[train]
epochs = 3
batch_size = 16
learning_rate = 1e-4
"""


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project folder with two recipes and three finished runs, and one live."""
    monkeypatch.chdir(tmp_path)
    # A live run's ETA counts down in whole seconds: stopped here, so a slow machine
    # shooting a second later draws the same picture.
    monkeypatch.setattr("workbench.tui.screens.run.eta_clock", lambda: 0.0)
    (tmp_path / "recipes").mkdir()
    (tmp_path / "data").mkdir()
    for name in ("train.conll", "dev.conll"):
        (tmp_path / "data" / name).write_text("Jon B-PER\n")
    (tmp_path / "recipes" / "demo-ner.toml").write_text(RECIPE)
    (tmp_path / "recipes" / "demo-sentiment.toml").write_text(
        RECIPE.replace('"ner"', '"classification"').replace("demo-ner", "demo-sentiment")
    )
    runs = Path("runs")
    write_run(runs, "20261120-101500-demo-ner")
    write_run(runs, "20261120-113000-demo-ner", learning_rate=3e-5)
    write_run(
        runs,
        "20261121-090000-demo-sentiment",
        task="classification",
        recipe="demo-sentiment",
        total_steps=165,
        evals_every=55,
    )
    write_run(runs, "20261122-080000-demo-ner", steps=85, status=None)
    return tmp_path


async def opened(pilot, run: str) -> None:
    """Open a run and wait until its screen has drawn what it read (text, report and
    chart), instead of shooting after a fixed pause."""
    from helpers.tui import wait_for
    from workbench.tui.screens.run import RunScreen

    pilot.app.open_run(Path(run))

    def drawn() -> bool:
        screen = pilot.app.screen
        return (
            isinstance(screen, RunScreen)
            and screen.state is not None
            and screen.state.version > 0
            and screen._shown_version == screen.state.version
            and screen._chart_version == screen.state.version
        )

    await wait_for(pilot, drawn, 10, f"{run} drawn")
    await pilot.pause()


def app() -> WorkbenchApp:
    return WorkbenchApp(runs_dir="runs", recipes_dir="recipes")


def test_recipes_screen(project, snap_compare):
    assert snap_compare(app(), terminal_size=SIZE, press=["down"])


def test_runs_screen(project, snap_compare):
    assert snap_compare(app(), terminal_size=SIZE, press=["2"])


def test_finished_run_screen(project, snap_compare):
    async def open_run(pilot):
        await opened(pilot, "runs/20261120-101500-demo-ner")

    assert snap_compare(app(), terminal_size=SIZE, run_before=open_run)


def test_live_run_screen(project, snap_compare):
    async def open_run(pilot):
        await opened(pilot, "runs/20261122-080000-demo-ner")

    assert snap_compare(app(), terminal_size=SIZE, run_before=open_run)


def test_classification_run_screen_at_80x24(project, snap_compare):
    async def open_run(pilot):
        await opened(pilot, "runs/20261121-090000-demo-sentiment")

    assert snap_compare(app(), terminal_size=(80, 24), run_before=open_run)


# The small terminal: every screen readable at 80x24, what matters first.
SMALL = (80, 24)


def test_recipes_screen_at_80x24(project, snap_compare):
    assert snap_compare(app(), terminal_size=SMALL, press=["down"])


def test_launch_asks_first_at_80x24(project, snap_compare):
    assert snap_compare(app(), terminal_size=SMALL, press=["l"])


def test_runs_screen_at_80x24(project, snap_compare):
    assert snap_compare(app(), terminal_size=SMALL, press=["2"])


def test_finished_run_screen_at_80x24(project, snap_compare):
    async def open_run(pilot):
        await opened(pilot, "runs/20261120-101500-demo-ner")
        await pilot.press("v")  # the best validation report first: the footer shows v
        await pilot.pause(0.2)

    assert snap_compare(app(), terminal_size=SMALL, run_before=open_run)


def test_compare_screen(project, snap_compare):
    # Newest first: the live run, then the two finished NER runs.
    assert snap_compare(
        app(), terminal_size=SIZE, press=["2", "down", "space", "down", "down", "space", "c", "_"]
    )


def test_stop_confirmation(project, snap_compare):
    async def ask(pilot):
        await opened(pilot, "runs/20261122-080000-demo-ner")
        await pilot.press("s")
        await pilot.pause(0.3)

    assert snap_compare(app(), terminal_size=SIZE, run_before=ask)


def test_stopped_run_offers_resume(project, snap_compare):
    write_run(
        Path("runs"),
        "20261119-070000-demo-ner",
        steps=70,
        status="stopped",
        checkpoint_at=70,
        evals_every=35,
    )

    async def open_run(pilot):
        await opened(pilot, "runs/20261119-070000-demo-ner")

    assert snap_compare(app(), terminal_size=SIZE, run_before=open_run)


def test_graph_screen(project, snap_compare):
    from helpers.graph_screen import build_graph

    build_graph(project / "graph.sqlite")  # the app's default graph file

    async def open_entity(pilot):
        await pilot.press("4", *"kestrel")
        screen = pilot.app.screen
        for _ in range(100):  # the search, then the entity, run in threads
            await pilot.pause(0.05)
            if screen.results:
                break
        await pilot.press("enter", "enter")
        for _ in range(100):
            await pilot.pause(0.05)
            if screen.current_name == "Kestrel Analytics":
                break
        await pilot.pause(0.3)

    assert snap_compare(app(), terminal_size=SIZE, run_before=open_entity)


ZH_SENTENCE = "王伟是星河科技的首席执行官，2024年在深圳发布了极光手机。"
ZH_ENTITIES = [("王伟", "PER"), ("星河科技", "ORG"), ("深圳", "LOC"), ("极光手机", "PRODUCT")]


def test_predict_screen_with_chinese_text(project, snap_compare, monkeypatch):
    """Wide characters highlighted and tabled in place: what a character-level
    model found (fixed here; the model's own offsets are tested in tests/e2e)."""
    from types import SimpleNamespace

    from workbench.models.saved import SavedModel
    from workbench.tasks.ner import NerTask

    run = write_run(Path("runs"), "20261123-090000-demo-ner-zh", recipe="demo-ner-zh")
    (run / "model").mkdir()
    (run / "model" / "config.json").write_text("{}")
    task = NerTask()
    task.level = "characters"

    def predict(model, tokenizer, texts, max_length, batch_size=32):
        entities = []
        for name, label in ZH_ENTITIES:
            start = texts[0].find(name)
            if start >= 0:
                entities.append(
                    {
                        "text": name,
                        "label": label,
                        "start": start,
                        "end": start + len(name),
                        "score": 0.97,
                    }
                )
        return [{"text": texts[0], "entities": entities}]

    task.predict = predict
    labels = ["O"] + [f"{p}-{t}" for t in ("LOC", "ORG", "PER", "PRODUCT") for p in "BI"]
    saved = SavedModel(task, None, None, {"labels": labels}, run / "model")
    monkeypatch.setattr("workbench.tui.screens.predict.load_saved", lambda path: saved)
    monkeypatch.setattr(  # "loaded in 0.0 s", "0 ms": the same picture on any machine
        "workbench.tui.screens.predict.time", SimpleNamespace(perf_counter=lambda: 0.0)
    )

    async def predict_chinese(pilot):
        from helpers.tui import text_of, wait_for

        pilot.app.open_predict(run)
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.loaded is not None, 10, "the model")
        screen.query_one("#predict-input").value = ZH_SENTENCE
        await wait_for(
            pilot, lambda: " ms" in text_of(screen.query_one("#prediction")), 10, "a prediction"
        )
        await pilot.pause()

    assert snap_compare(app(), terminal_size=SIZE, run_before=predict_chinese)

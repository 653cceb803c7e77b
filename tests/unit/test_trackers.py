"""[output] trackers: the run's events sent on to TensorBoard, MLflow and W&B through
Accelerate's trackers; unknown names and missing packages as one-line errors."""

from __future__ import annotations

import math
import os
import sys
import types
from pathlib import Path

import pytest

import workbench.runs.events as ev
import workbench.trackers as trackers
from helpers.fake_runs import write_run
from helpers.files import write
from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.recipe import build_recipe, load_recipe
from workbench.runs.folder import read_events
from workbench.settings import SCHEMA

RECIPE = """task = "ner"
name = "demo-ner"

[data]
train = "data/train.conll"

[output]
dir = "runs"
trackers = {trackers}
"""


@pytest.fixture
def recipe_file(tmp_path) -> Path:
    write(tmp_path / "data" / "train.conll", "Anna B-PER\nlives O\n")
    return tmp_path / "r.toml"


def made_up_recipe(*names: str):
    raw = {"task": "ner", "name": "demo-ner", "data": {"train": "train.conll"}}
    return build_recipe({**raw, "output": {"trackers": list(names)}}, check_files=False)


class Recorder:
    """An Accelerate tracker that keeps what it is sent."""

    def __init__(self, fail_on: str | None = None):
        self.calls: list[tuple] = []
        self.fail_on = fail_on

    def _call(self, *call) -> None:
        self.calls.append(call)
        if call[0] == self.fail_on:
            raise RuntimeError(f"{call[0]} failed")

    def start(self):
        self._call("start")

    def store_init_configuration(self, values):
        self._call("config", values)

    def log(self, values, step=None):
        self._call("log", values, step)

    def finish(self):
        self._call("finish")


def test_the_schema_offers_exactly_the_trackers_there_are():
    assert set(SCHEMA["output"]["trackers"].choices) == set(trackers.BUILDERS)
    assert set(trackers.BUILDERS) == set(trackers.MODULES)
    assert SCHEMA["output"]["trackers"].default is None  # off unless asked for


def test_events_become_tensorboard_scalars_read_back_by_tensorboard(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = read_events(write_run(tmp_path, "demo-ner-1", total_steps=100, evals_every=50))
    run_dir = tmp_path / "demo-ner-1"
    views = trackers.start_trackers(made_up_recipe("tensorboard"), run_dir)
    for event in events:
        for view in views:
            view(event)
    assert views[0].finished  # the end event finished it

    logs = EventAccumulator(str(run_dir / "trackers" / "demo-ner-1"))
    logs.Reload()
    scalars = {
        tag: [(s.step, s.value) for s in logs.Scalars(tag)] for tag in logs.Tags()["scalars"]
    }
    steps = [e for e in events if isinstance(e, ev.Step)]
    for name in ("loss", "learning_rate", "grad_norm", "samples_per_s"):
        assert scalars[f"train/{name}"] == [
            (e.step, pytest.approx(getattr(e, name), rel=1e-6)) for e in steps
        ]
    evals = [e for e in events if isinstance(e, ev.Eval)]
    for split in ("validation", "test"):
        done = [e for e in evals if e.split == split]
        assert done
        for metric in ("f1", "precision", "recall", "accuracy", "loss"):
            assert scalars[f"{split}/{metric}"] == [
                (e.step, pytest.approx(e.metrics[metric], rel=1e-6)) for e in done
            ]
    end = events[-1]
    assert isinstance(end, ev.End)
    assert scalars["best/f1"] == [(end.best_step, pytest.approx(end.best_value, rel=1e-6))]
    # The recipe as the run's hyperparameters, beside the curves (Accelerate's file).
    (hparams,) = (run_dir / "trackers" / "demo-ner-1").glob("*/hparams.yml")
    text = hparams.read_text()
    assert "train.batch_size: 16" in text and "model.name: minilm" in text


def test_a_tracker_hears_what_the_event_log_holds(tmp_path):
    recorder = Recorder()
    view = trackers.TrackerView(recorder)
    values = {
        "task": "ner",
        "train": {"epochs": 3, "learning_rate": 1e-4, "deterministic": False},
        "data": {"train": "/d/train.conll", "labels": ["PER", "LOC"]},
    }
    view(ev.Created(recipe_values=values))
    view(ev.Start(task="ner"))  # configured once only
    view(ev.Step(step=10, loss=math.nan, learning_rate=1e-4, grad_norm=None, samples_per_s=8.0))
    view(ev.Eval(step=10, split="validation", metrics={"f1": 0.5, "loss": 0.7}))
    view(ev.ModelSaved(step=10, path="model"))  # nothing a dashboard shows
    view(ev.End(status="stopped", steps=12, metric="f1", best_value=0.5, best_step=10))
    view(ev.Step(step=20, loss=0.1))  # after the end: nothing
    assert recorder.calls == [
        (
            "config",
            {
                "task": "ner",
                "train.epochs": 3,
                "train.learning_rate": 1e-4,
                "train.deterministic": False,
                "data.train": "/d/train.conll",  # the list of labels is no hyperparameter
            },
        ),
        # NaN is null in the log, so no point here; unset fields are no points either
        ("log", {"train/learning_rate": 1e-4, "train/samples_per_s": 8.0}, 10),
        ("log", {"validation/f1": 0.5, "validation/loss": 0.7}, 10),
        ("log", {"best/f1": 0.5}, 10),
        ("finish",),
    ]


def test_a_resumed_run_is_configured_from_its_recipe():
    recorder = Recorder()
    view = trackers.TrackerView(recorder, {"task": "ner", "train": {"epochs": 2}})
    view(ev.Resumed(task="ner", from_step=40))
    assert recorder.calls == [("config", {"task": "ner", "train.epochs": 2})]


def test_a_tracker_that_fails_is_finished_before_the_run_drops_it():
    recorder = Recorder(fail_on="log")
    view = trackers.TrackerView(recorder)
    with pytest.raises(RuntimeError):  # the runner's fan-out drops the view
        view(ev.Step(step=1, loss=1.0))
    assert recorder.calls[-1] == ("finish",)
    view(ev.Step(step=2, loss=1.0))
    assert recorder.calls[-1] == ("finish",)  # and it hears nothing more


def test_a_tracker_that_cannot_start_is_one_line_and_finishes_those_started(tmp_path, monkeypatch):
    started = Recorder()
    monkeypatch.setitem(trackers.BUILDERS, "tensorboard", lambda run_dir, project: started)
    monkeypatch.setitem(
        trackers.BUILDERS, "wandb", lambda run_dir, project: Recorder(fail_on="start")
    )
    with pytest.raises(WorkbenchError) as info:
        trackers.start_trackers(made_up_recipe("tensorboard", "wandb"), tmp_path / "run")
    message = str(info.value)
    assert '"wandb" could not start (start failed)' in message and "\n" not in message
    assert started.calls == [("start",), ("finish",)]


def test_mlflow_writes_in_the_run_folder_unless_told_otherwise(tmp_path, monkeypatch):
    uris: list[str] = []

    def set_tracking_uri(uri):
        uris.append(uri)
        os.environ["MLFLOW_TRACKING_URI"] = uri  # as MLflow does, for its subprocesses

    # MLflow itself is not installed here: its tracker imports it only to start.
    monkeypatch.setitem(
        sys.modules, "mlflow", types.SimpleNamespace(set_tracking_uri=set_tracking_uri)
    )
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run_dir = tmp_path / "demo-ner-1"
    tracker = trackers.BUILDERS["mlflow"](run_dir, "demo-ner")
    assert (tracker.experiment_name, tracker.run_name) == ("demo-ner", "demo-ner-1")
    assert uris == [(run_dir / "trackers" / "mlruns").as_uri()]
    assert uris[0].startswith("file:")
    assert "MLFLOW_TRACKING_URI" not in os.environ  # the next run picks its own folder

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    trackers.BUILDERS["mlflow"](run_dir, "demo-ner")
    assert len(uris) == 1  # the user's server is left alone


def test_wandb_names_the_run_by_its_folder_in_the_recipes_project(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    monkeypatch.delenv("WANDB_DIR", raising=False)
    run_dir = tmp_path / "demo-ner-1"
    tracker = trackers.BUILDERS["wandb"](run_dir, "demo-ner")
    assert tracker.run_name == "demo-ner"  # what Accelerate passes to wandb.init as project
    assert tracker.init_kwargs == {"name": "demo-ner-1", "dir": str(run_dir / "trackers")}
    monkeypatch.setenv("WANDB_PROJECT", "team")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    tracker = trackers.BUILDERS["wandb"](run_dir, "demo-ner")
    assert tracker.run_name == "team" and tracker.init_kwargs == {"name": "demo-ner-1"}


def test_trackers_are_read_from_the_recipe_and_from_set(recipe_file):
    write(recipe_file, RECIPE.format(trackers='["tensorboard", "mlflow"]'))
    assert load_recipe(recipe_file).output.trackers == ["tensorboard", "mlflow"]
    loaded = load_recipe(recipe_file, ['output.trackers=["wandb"]'])
    assert loaded.output.trackers == ["wandb"]
    write(recipe_file, RECIPE.replace("trackers = {trackers}\n", ""))
    assert load_recipe(recipe_file).output.trackers is None  # off by default
    assert "trackers" not in load_recipe(recipe_file).to_dict()["output"]


def test_an_unknown_tracker_is_a_one_line_error_naming_the_key_and_line(recipe_file):
    write(recipe_file, RECIPE.format(trackers='["tensorboard", "tensorbord"]'))
    with pytest.raises(WorkbenchError) as info:
        load_recipe(recipe_file)
    message = str(info.value)
    assert message.startswith(f"{recipe_file}:9: 'output.trackers' items must be one of")
    assert "got 'tensorbord' (did you mean 'tensorboard'?)" in message
    assert "\n" not in message
    write(recipe_file, RECIPE.format(trackers="[]"))
    with pytest.raises(WorkbenchError, match=r"--set output.trackers: .*got 'comet'"):
        load_recipe(recipe_file, ["output.trackers=comet"])


def test_an_unknown_tracker_exits_2_from_validate(recipe_file, capsys):
    write(recipe_file, RECIPE.format(trackers='["aim"]'))
    assert main(["validate", str(recipe_file)]) == 2
    assert "output.trackers" in capsys.readouterr().err


def test_a_missing_package_is_one_line_before_any_run_folder(recipe_file, monkeypatch, capsys):
    monkeypatch.setattr(trackers, "installed", lambda module: module != "mlflow")
    write(recipe_file, RECIPE.format(trackers='["tensorboard", "mlflow"]'))
    with pytest.raises(WorkbenchError) as info:
        trackers.check_trackers(load_recipe(recipe_file))
    assert str(info.value) == (
        f'{recipe_file}:9: output.trackers: "mlflow" needs the mlflow package: '
        f'pip install "workbench[mlflow]"'
    )
    with pytest.raises(WorkbenchError) as info:
        trackers.check_trackers(load_recipe(recipe_file, ["output.trackers=mlflow"]))
    assert str(info.value).startswith('--set output.trackers: "mlflow" needs the mlflow')
    # workbench run: the same line, exit 2, and no run folder written
    assert main(["run", str(recipe_file)]) == 2
    err = capsys.readouterr().err
    assert 'needs the mlflow package: pip install "workbench[mlflow]"' in err
    assert err.count("\n") == 1
    assert not (recipe_file.parent / "runs").exists()


def test_tensorboardx_serves_when_tensorboard_is_missing(recipe_file, monkeypatch):
    monkeypatch.setattr(trackers, "installed", lambda module: module == "tensorboardX")
    write(recipe_file, RECIPE.format(trackers='["tensorboard"]'))
    trackers.check_trackers(load_recipe(recipe_file))  # Accelerate falls back on it

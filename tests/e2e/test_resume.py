"""Runs that survive: checkpoints, SIGKILL and --resume, SIGTERM, and what a
resumed run looks like to its readers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.runs import wait_for_event
from workbench.cli import main
from workbench.experiment import prepare
from workbench.recipe import load_recipe
from workbench.resume import resume_point
from workbench.runner import run_experiment
from workbench.runs.events import Checkpoint, Resumed, Status, Step
from workbench.runs.folder import TRAINER_STATE, checkpoints, read_events
from workbench.runs.follow import load_state

# Long enough to be killed half way on a slow machine, short enough for CI: 3 sentences,
# batch 2, so 2 steps an epoch; checkpoints every 3 steps land mid-epoch.
LONG = [
    "train.max_steps=120",
    "train.checkpoint_every=3",
    "train.log_every=2",
    "eval.every=steps",
    "eval.steps=10",
    "train.deterministic=true",
]

# Real trainings (or processes that train): deselect with -m "not slow".
pytestmark = pytest.mark.slow


def workbench_process(*args: str) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "workbench", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def final(run: Path) -> dict:
    return json.loads((run / "report.json").read_text())


def test_a_run_killed_after_a_checkpoint_resumes_to_the_same_result(ner_recipe):
    # The uninterrupted run, for comparison.
    reference, end = run_experiment(
        prepare(load_recipe(ner_recipe, LONG + [f"output.dir={ner_recipe.parent / 'reference'}"]))
    )
    assert end.status == "completed"

    runs = ner_recipe.parent / "runs"
    process = workbench_process("run", str(ner_recipe), "--plain", "--set", *LONG)
    run = wait_for_event(runs, Checkpoint, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert load_state(run).status == Status.DIED
    killed_at = max(e.step for e in read_events(run) if isinstance(e, (Step, Checkpoint)))
    assert killed_at < 120

    assert main(["run", "--resume", str(run), "--plain"]) == 0
    assert [p.name for p in runs.iterdir()] == [run.name]  # the same folder, no new one
    events = read_events(run)
    [resumed] = [e for e in events if isinstance(e, Resumed)]
    assert resumed.from_step % 3 == 0 and resumed.from_step <= killed_at
    assert events[-1].type == "end" and events[-1].status == "completed"
    assert events[-1].steps == 120

    # The same metrics as the run never interrupted, and the same losses step by step.
    ours, theirs = final(run), final(reference)
    assert ours["best_step"] == theirs["best_step"]
    assert ours["best_value"] == pytest.approx(theirs["best_value"], abs=1e-6)
    for split in ("validation", "test"):
        for key, value in theirs["reports"][split]["metrics"].items():
            assert ours["reports"][split]["metrics"][key] == pytest.approx(value, abs=1e-5), key
    # Logged every 2 steps, checkpointed every 3: the first logged loss after the resume
    # sums steps from both processes, and still matches.
    after = {e.step: e.loss for e in events[events.index(resumed) :] if isinstance(e, Step)}
    before = {e.step: e.loss for e in read_events(reference) if isinstance(e, Step)}
    assert sorted(after) == [s for s in range(resumed.from_step + 1, 121) if s % 2 == 0]
    for step, loss in after.items():
        assert loss == pytest.approx(before[step], rel=1e-5), step

    # Readers see one continuous run: each step once, in order, up to the end.
    state = load_state(run)
    assert state.status == Status.COMPLETED
    assert state.loss.xs == list(range(2, 121, 2))
    assert [e.step for e in state.evals] == list(range(10, 121, 10))


def test_sigterm_checkpoints_and_stops(ner_recipe):
    runs = ner_recipe.parent / "runs"
    process = workbench_process(
        "run", str(ner_recipe), "--plain", "--set", "train.max_steps=100000", "train.log_every=1"
    )
    run = wait_for_event(runs, Step, process)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    end = read_events(run)[-1]
    assert end.status == "stopped" and end.steps < 100000
    # No checkpoint_every: the stop alone writes one, and the end event names it.
    [checkpoint] = checkpoints(run)
    assert checkpoint.name == f"step-{end.steps}"
    assert end.checkpoint == f"checkpoints/{checkpoint.name}"
    assert (run / "model" / "config.json").is_file()
    assert "resumable from checkpoints/" in out


def test_only_the_last_checkpoints_are_kept_and_none_once_completed(ner_recipe):
    run, end = run_experiment(
        prepare(
            load_recipe(
                ner_recipe,
                ["train.max_steps=7", "train.checkpoint_every=2", "train.keep_checkpoints=2"],
            )
        )
    )
    assert end.status == "completed"
    saved = [e for e in read_events(run) if isinstance(e, Checkpoint)]
    assert [e.step for e in saved] == [2, 4, 6]
    assert [e.kept for e in saved] == [["step-2"], ["step-2", "step-4"], ["step-4", "step-6"]]
    # A completed run has nothing to resume: the checkpoints go, the model stays.
    assert not list((run / "checkpoints").iterdir())
    assert (run / "model" / "config.json").is_file()


def test_resume_refuses_what_it_cannot_continue(ner_recipe, capsys):
    run, end = run_experiment(prepare(load_recipe(ner_recipe, ["train.max_steps=2"])))
    assert main(["run", "--resume", str(run)]) == 2
    assert "the run completed; there is nothing to resume" in capsys.readouterr().err
    assert main(["run", "--resume", str(run.parent)]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert main(["run", str(ner_recipe), "--resume", str(run)]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["run", "--resume", str(run), "--set", "train.epochs=9"]) == 2
    assert "--set train.epochs would change what the run learns" in capsys.readouterr().err


def test_resume_checks_the_data_and_the_recipe(ner_recipe, capsys, monkeypatch):
    import threading

    stop = threading.Event()
    stopper = lambda event: stop.set() if isinstance(event, Step) else None  # noqa: E731
    run, end = run_experiment(
        prepare(load_recipe(ner_recipe, ["train.epochs=50"])), [stopper], stop=stop
    )
    assert end.status == "stopped" and checkpoints(run)
    # The training file changed since: refused, naming it.
    train = ner_recipe.parent / "data" / "train.conll"
    original = train.read_text()
    train.write_text(original.replace("Porto", "Braga"))
    assert main(["run", "--resume", str(run)]) == 2
    assert "data.train is not what the run trained on" in capsys.readouterr().err
    train.write_text(original)
    # The run folder's recipe edited by hand: refused, naming the key.
    recipe = run / "recipe.toml"
    recipe.write_text(recipe.read_text().replace("learning_rate = 0.001", "learning_rate = 0.002"))
    assert main(["run", "--resume", str(run)]) == 2
    assert "train.learning_rate" in capsys.readouterr().err


def test_a_stopped_run_without_a_checkpoint_cannot_resume(ner_recipe, capsys):
    run = ner_recipe.parent / "runs" / "old"
    run.mkdir(parents=True)
    (run / "events.jsonl").write_text(json.dumps({"type": "end", "status": "stopped"}) + "\n")
    assert main(["run", "--resume", str(run)]) == 2
    assert "has no checkpoint to resume from" in capsys.readouterr().err


def test_a_run_that_stopped_early_stays_stopped_when_resumed(ner_recipe, monkeypatch):
    from workbench.engine.loop import Engine

    # Patience runs out at step 6, where a checkpoint is written; the process is then
    # interrupted in the test evaluation.
    evaluate = Engine._evaluate

    def interrupted(self, split):
        if split == "test":
            raise KeyboardInterrupt
        return evaluate(self, split)

    monkeypatch.setattr(Engine, "_evaluate", interrupted)
    run, end = run_experiment(
        prepare(
            load_recipe(
                ner_recipe,
                [
                    "train.epochs=30",
                    "train.learning_rate=0",
                    "eval.patience=2",
                    "eval.metric=loss",
                    "train.checkpoint_every=2",
                ],
            )
        )
    )
    assert end.status == "stopped" and end.checkpoint == "checkpoints/step-6"
    monkeypatch.setattr(Engine, "_evaluate", evaluate)
    assert main(["run", "--resume", str(run)]) == 0
    end = read_events(run)[-1]
    assert end.status == "completed" and end.steps == 6 and end.early_stopped
    assert [e.split for e in read_events(run) if e.type == "eval"][-1] == "test"


def test_resume_may_change_how_the_run_runs(ner_recipe):
    import threading

    stop = threading.Event()
    stopper = lambda event: stop.set() if isinstance(event, Step) else None  # noqa: E731
    run, end = run_experiment(
        prepare(load_recipe(ner_recipe, ["train.epochs=3"])), [stopper], stop=stop
    )
    assert (
        main(
            [
                "run",
                "--resume",
                str(run),
                "--set",
                "train.auto_batch=true",
                "train.eval_batch_size=1",
            ]
        )
        == 0
    )
    [resumed] = [e for e in read_events(run) if isinstance(e, Resumed)]
    assert resumed.overrides == ["train.auto_batch=true", "train.eval_batch_size=1"]
    assert read_events(run)[-1].status == "completed"


def test_a_model_folder_caught_between_renames_is_put_back(tmp_path):
    from workbench.runs.folder import tidy_run_folder

    (tmp_path / ".model.old").mkdir()
    (tmp_path / ".model.old" / "config.json").write_text("{}")
    (tmp_path / ".model.x1.tmp").mkdir()
    (tmp_path / "checkpoints" / ".step-9.tmp").mkdir(parents=True)
    tidy_run_folder(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints", "model"]
    assert (tmp_path / "model" / "config.json").is_file()
    assert not list((tmp_path / "checkpoints").iterdir())


def test_a_checkpoint_from_before_a_recipe_key_existed_resumes(ner_recipe):
    import threading

    stop = threading.Event()
    stopper = lambda event: stop.set() if isinstance(event, Step) else None  # noqa: E731
    run, end = run_experiment(
        prepare(load_recipe(ner_recipe, ["train.epochs=3"])), [stopper], stop=stop
    )
    # Written before [peft] and train.group_by_length existed: the checkpoint's recipe
    # has neither.
    [checkpoint] = checkpoints(run)
    state_file = checkpoint / TRAINER_STATE
    state = json.loads(state_file.read_text())
    del state["recipe"]["peft"]
    del state["recipe"]["train"]["group_by_length"]
    state_file.write_text(json.dumps(state))
    assert resume_point(run).recipe["train"]["group_by_length"] is False  # as it trained
    assert main(["run", "--resume", str(run)]) == 0
    assert read_events(run)[-1].status == "completed"

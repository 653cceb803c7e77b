"""Sweeps end to end: trials as real runs, the best one's recipe, pruning, a worker
killed mid-trial and the sweep going on, two workers on one storage, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

import optuna
import pytest

from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.recipe import load_recipe
from workbench.runs.events import Eval, Resumed, Start, Step
from workbench.runs.folder import read_events
from workbench.runs.index import summarize
from workbench.sweeps.pruning import TrialReporter, report_points
from workbench.sweeps.study import (
    Sweep,
    SweepSpec,
    create_sweep,
    open_sweep,
    sweep_folders,
    sweep_settings,
)
from workbench.sweeps.worker import run_worker

LR = "train.learning_rate=loguniform(1e-4, 1e-2)"


def _make(recipe: Path, tmp_path: Path, params: list[str], overrides=(), metric="accuracy", **kw):
    """A sweep made as `workbench sweep` makes it, without running a worker."""
    loaded = load_recipe(recipe, list(overrides))
    space, chosen = sweep_settings(loaded, params, **kw)
    lower = metric == "loss"
    return create_sweep(loaded, space, chosen, metric, lower, sweeps_dir=tmp_path / "sweeps")


def _workbench(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen(
        [sys.executable, "-m", "workbench", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        **kwargs,
    )


@pytest.mark.slow
def test_a_sweep_runs_its_trials_as_runs_and_writes_the_best_recipe(
    classification_recipe, tmp_path, capsys
):
    code = main(
        [
            "sweep",
            str(classification_recipe),
            "--param",
            LR,
            "--param",
            "train.batch_size=choice(2, 4)",
            "--trials",
            "3",
            "--sampler",
            "random",
            "--pruner",
            "none",
            "--seed",
            "1",
            "--keep",
            "2",
            "--dir",
            str(tmp_path / "sweeps"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    (folder,) = sweep_folders(tmp_path / "sweeps")
    sweep = open_sweep(folder)
    rows = sweep.trials()
    assert [r.state for r in rows] == ["completed"] * 3
    for row in rows:  # each trial is an ordinary run whose best value is the trial's
        run = summarize(row.run_dir)
        assert run.status.value == "completed"
        assert run.best_value == pytest.approx(row.value)
        assert Path(row.run_dir).parent == folder / "runs"
        recipe = load_recipe(Path(row.run_dir) / "recipe.toml", check_files=False)
        assert recipe.train.learning_rate == pytest.approx(row.params["train.learning_rate"])
        # Its start event says which sweep and trial it is, and the values it tries.
        (start,) = [e for e in read_events(Path(row.run_dir)) if isinstance(e, Start)]
        assert start.sweep == {
            "sweep": folder.name,
            "folder": str(folder.resolve()),
            "trial": row.number,
            "params": row.params,
        }
    assert len({r.run_dir for r in rows}) == 3
    best = sweep.best(rows)
    assert best is not None and best.value == max(r.value for r in rows)
    # keep = 2: the worst trial's model and checkpoints went as the sweep ended.
    worst = min(rows, key=lambda r: (r.value, -r.number))
    for row in rows:
        assert (Path(row.run_dir) / "model").is_dir() == (row is not worst), row
    # The best trial's recipe is ready to run: its values, the base recipe otherwise.
    best_recipe = load_recipe(folder / "best.toml")
    assert best_recipe.train.batch_size == best.params["train.batch_size"]
    assert best_recipe.output.dir == str(tmp_path / "runs")
    assert "trial" in out and "best: trial" in out

    assert main(["sweep", "show", str(folder), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["best"] == best.number and len(shown["trials"]) == 3
    assert main(["sweeps", "--dir", str(tmp_path / "sweeps")]) == 0
    listing = capsys.readouterr().out
    assert folder.name in listing and "3/3" in listing


def _finished(study, values, epoch_points=10):
    """Trials that reported ``values`` over the first epoch and completed with them."""
    distribution = {LR: optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)}
    for value in values:
        trial = study.ask(distribution)
        for point in range(1, epoch_points + 1):
            trial.report(value, point)
        study.tell(trial, value)


@pytest.mark.parametrize(
    ("metric", "before", "good", "lagging"),
    [("accuracy", (0.8, 0.9), 0.95, 0.2), ("loss", (0.4, 0.3), 0.2, 1.1)],
)
def test_the_pruning_view_stops_a_lagging_trial_and_says_where(
    classification_recipe, tmp_path, metric, before, good, lagging
):
    sweep = _make(classification_recipe, tmp_path, [LR], trials=4, metric=metric)
    study = sweep.study()
    _finished(study, before)  # two trials before it, at the end of the first epoch
    trial = study.ask()
    stop = threading.Event()
    reporter = TrialReporter(f"{sweep.folder}#{trial._trial_id}", stop)
    reporter(Eval(step=7, epoch=1.0, split="validation", metric=metric, value=good))
    assert not stop.is_set()  # better than the others: goes on
    reporter(Eval(step=14, epoch=2.0, split="validation", metric=metric, value=lagging))
    assert not stop.is_set()  # nobody else reached epoch 2: nothing to compare with
    study.tell(trial, good)
    behind = study.ask()
    reporter = TrialReporter(f"{sweep.folder}#{behind._trial_id}", stop)
    reporter(Start(total_steps=10, steps_per_epoch=10))  # one epoch: judged from step 4
    reporter(Eval(step=7, epoch=1.0, split="test", metric=metric, value=lagging))
    assert not stop.is_set()  # only validation counts
    # A smaller batch: its evaluation at 0.4 of an epoch already meets the others there.
    reporter(Eval(step=4, epoch=0.4, split="validation", metric=metric, value=lagging))
    assert stop.is_set()
    attrs = study._storage.get_trial_user_attrs(behind._trial_id)
    assert attrs["pruned_at"] == 4 and attrs["pruned_value"] == lagging


def test_a_trial_is_never_pruned_at_its_last_evaluation(classification_recipe, tmp_path):
    # Stopping there saves nothing, and told pruned the trial's value would be lost
    # to the sweep: it finishes and counts, however it compares.
    sweep = _make(classification_recipe, tmp_path, [LR], trials=4)
    study = sweep.study()
    _finished(study, (0.8, 0.9))
    for total, stopped in ((7, False), (70, True)):
        trial = study.ask()
        stop = threading.Event()
        reporter = TrialReporter(f"{sweep.folder}#{trial._trial_id}", stop)
        reporter(Start(total_steps=total, steps_per_epoch=7))
        reporter(Eval(step=7, epoch=1.0, split="validation", metric="accuracy", value=0.1))
        assert stop.is_set() == stopped, total
        study.tell(trial, 0.1)


def test_no_trial_is_judged_before_its_first_epoch_or_a_third_of_its_training(
    classification_recipe, tmp_path
):
    # Within the first epoch accuracy swings by points between evaluations: a pruner
    # judging there stopped the best trial of real sweeps (benchmarks/README.md).
    sweep = _make(classification_recipe, tmp_path, [LR], trials=4)
    study = sweep.study()
    _finished(study, (0.8, 0.9))
    for total, per_epoch, first in ((30, 10, 10), (10, 10, 4), (90, 30, 30), (7, None, 3)):
        trial = study.ask()
        stop = threading.Event()
        reporter = TrialReporter(f"{sweep.folder}#{trial._trial_id}", stop)
        reporter(Start(total_steps=total, steps_per_epoch=per_epoch))
        for step in range(1, first):
            epoch = step / (per_epoch or total)
            reporter(Eval(step=step, epoch=epoch, split="validation", metric="accuracy", value=0.1))
            assert not stop.is_set(), (total, step)  # far behind, but not judged yet
        epoch = first / (per_epoch or total)
        reporter(Eval(step=first, epoch=epoch, split="validation", metric="accuracy", value=0.1))
        assert stop.is_set(), total  # from here on it is
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)


def test_evaluations_meet_at_tenths_of_an_epoch_whatever_the_batch():
    assert list(report_points(0, 0.37, 37)) == [1, 2, 3]
    assert list(report_points(3, 0.74, 74)) == [4, 5, 6, 7]
    assert list(report_points(7, 0.74, 74)) == []  # nothing new
    assert list(report_points(0, 1.0, 18)) == list(range(1, 11))


@pytest.mark.slow
def test_a_pruned_trial_ends_early_as_pruned(classification_recipe, tmp_path):
    sweep = _make(
        classification_recipe,
        tmp_path,
        ["train.learning_rate=choice(0.0, 0.5)"],
        trials=3,
        sampler="random",
        overrides=["train.epochs=6", "eval.metric=loss"],
        metric="loss",
    )
    study = sweep.study()
    # Two that change nothing (their loss stays where it starts), then one whose
    # absurd learning rate throws the loss up at once: it lags from its first evaluation.
    for lr in (0.0, 0.0, 0.5):
        study.enqueue_trial({"train.learning_rate": lr}, skip_if_exists=False)
    run_worker(sweep)
    rows = sweep.trials()
    assert [r.state for r in rows] == ["completed", "completed", "pruned"], rows
    pruned = rows[2]
    run = summarize(pruned.run_dir)
    assert run.status.value == "stopped" and pruned.steps == run.steps < rows[0].steps
    assert pruned.pruned_at == run.steps  # stopped at the evaluation that judged it


@pytest.mark.slow
def test_a_sweep_killed_mid_trial_goes_on_without_repeating_a_finished_trial(
    classification_recipe, tmp_path
):
    sweep = _make(
        classification_recipe,
        tmp_path,
        [LR],
        trials=2,
        sampler="random",
        pruner="none",
        seed=0,
        overrides=["train.epochs=60"],
    )
    worker = _workbench("sweep", "join", str(sweep.folder), start_new_session=True)
    deadline = time.monotonic() + 120
    runs = sweep.runs_dir
    while time.monotonic() < deadline:  # the first trial is training
        folders = [p for p in runs.glob("*") if p.is_dir()]
        if folders and any(isinstance(e, Step) and e.step >= 10 for e in read_events(folders[0])):
            break
        assert worker.poll() is None, worker.communicate()
        time.sleep(0.1)
    os.kill(worker.pid, signal.SIGKILL)  # the sweep's worker only: its run is orphaned
    worker.wait()
    # The next worker takes the killed trial over (its run stopped itself, with a
    # checkpoint) and finishes the sweep.
    assert main(["sweep", "join", str(sweep.folder)]) == 0
    rows = sweep.trials()
    assert [r.state for r in rows] == ["failed", "completed", "completed"], rows
    killed, retry = rows[0], next(r for r in rows if r.retry_of == 0)
    assert retry.params == killed.params and retry.run_dir == killed.run_dir
    events = read_events(Path(killed.run_dir))
    assert any(isinstance(e, Resumed) for e in events)  # went on from its checkpoint
    completed = [r for r in rows if r.state == "completed"]
    assert len({r.run_dir for r in completed}) == len(completed) == 2


@pytest.mark.slow
def test_two_workers_on_one_storage_run_disjoint_trials(classification_recipe, tmp_path):
    sweep = _make(
        classification_recipe, tmp_path, [LR], trials=4, sampler="random", pruner="none", seed=5
    )
    workers = [_workbench("sweep", "join", str(sweep.folder)) for _ in range(2)]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    trials = sweep.study().get_trials()
    # Exactly the count asked for (the workers take turns asking), each run once.
    assert len(trials) == 4 and all(t.state.name == "COMPLETE" for t in trials)
    assert {t.user_attrs["worker_pid"] for t in trials} == {w.pid for w in workers}
    assert len({t.user_attrs["run_dir"] for t in trials}) == 4
    # Each worker's sampler has a seed of its own: no values proposed twice.
    assert len({t.params["train.learning_rate"] for t in trials}) == 4


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--param", "train.lerning_rate=uniform(0,1)"], "did you mean 'learning_rate'"),
        (["--param", "train.learning_rate=normal(0,1)"], "unknown distribution 'normal'"),
        (
            ["--param", "train.batch_size=choice(2,4,8)", "--sampler", "grid", "--trials", "2"],
            "the grid has 3 points",
        ),
        (["--param", LR, "--storage", "sqlite:////no/such/folder/x.db"], "cannot open it"),
        ([], "at least one parameter"),
    ],
)
def test_bad_sweep_input_is_one_line_and_starts_nothing(
    classification_recipe, tmp_path, capsys, extra, fragment
):
    code = main(["sweep", str(classification_recipe), "--dir", str(tmp_path / "sw"), *extra])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert fragment in lines[0]
    assert not (tmp_path / "sw").exists() or not any((tmp_path / "sw").iterdir())


def test_a_sweep_can_hand_its_workers_to_the_queue(
    classification_recipe, tmp_path, capsys, monkeypatch
):
    from workbench.runs.queue import Queue

    monkeypatch.setenv("WORKBENCH_QUEUE", str(tmp_path / "queue"))
    code = main(
        ["sweep", str(classification_recipe), "--param", LR, "--queue", "2",
         "--dir", str(tmp_path / "sweeps")]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    (folder,) = sweep_folders(tmp_path / "sweeps")
    jobs = Queue.open().jobs()
    assert [j.argv for j in jobs] == [["sweep", "join", str(folder.resolve())]] * 2
    assert all(j.status == "waiting" for j in jobs)
    assert open_sweep(folder).trials() == []  # nothing ran here


def test_a_worker_whose_sweep_folder_is_removed_says_so_in_one_line(
    classification_recipe, tmp_path, monkeypatch, capsys
):
    # A person cleaning up while a sweep runs: the worker's next write to its storage
    # fails; the CLI says which sweep and why, with no SQLAlchemy traceback.
    import shutil

    from workbench.sweeps import worker

    sweep = _make(classification_recipe, tmp_path, [LR], trials=3)
    monkeypatch.setattr(worker._Trial, "__call__", lambda self, trial: shutil.rmtree(sweep.folder))
    assert main(["sweep", "join", str(sweep.folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert str(sweep.folder) in err and "its folder was removed" in err, err


def test_a_storage_that_fails_mid_sweep_is_named_with_the_database_reason(
    classification_recipe, tmp_path, monkeypatch, capsys
):
    import sqlite3

    from workbench.sweeps import worker

    sweep = _make(classification_recipe, tmp_path, [LR], trials=3)

    def lost(self, trial):
        cause = sqlite3.OperationalError("attempt to write a readonly database")
        raise optuna.exceptions.StorageInternalError("An exception is raised") from cause

    monkeypatch.setattr(worker._Trial, "__call__", lost)
    assert main(["sweep", "join", str(sweep.folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "attempt to write a readonly database" in err, err


def test_joining_with_more_trials_goes_on_past_a_finished_sweep(classification_recipe, tmp_path):
    sweep = _make(classification_recipe, tmp_path, [LR], trials=1, sampler="random", pruner="none")
    assert main(["sweep", "join", str(sweep.folder)]) == 0
    (first,) = sweep.study().get_trials()
    # Done: joining again runs nothing; a new total runs the difference, the
    # finished trial untouched.
    assert main(["sweep", "join", str(sweep.folder)]) == 0
    assert len(sweep.study().get_trials()) == 1
    assert main(["sweep", "join", str(sweep.folder), "--trials", "2", "--seed", "4"]) == 0
    trials = open_sweep(sweep.folder).study().get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]
    assert trials[0].params == first.params and trials[0].value == first.value
    assert trials[1].user_attrs["run_dir"] != first.user_attrs["run_dir"]
    # The new total is the sweep's: in its folder and in its study (other machines).
    assert open_sweep(sweep.folder).spec.trials == 2
    assert json.loads((sweep.folder / "sweep.json").read_text())["trials"] == 2


def test_a_running_worker_goes_on_to_a_total_raised_elsewhere(
    classification_recipe, tmp_path, monkeypatch
):
    from workbench.sweeps import worker

    sweep = _make(classification_recipe, tmp_path, [LR], trials=2, sampler="random")
    told = []

    def quick(self, trial):  # a trial that finishes at once; the second raises the total
        self.study.tell(trial, 0.5)
        told.append(trial.number)
        if len(told) == 2:  # another terminal (or machine): its own view of the sweep
            worker.change(open_sweep(sweep.folder), trials=4)

    monkeypatch.setattr(worker._Trial, "__call__", quick)
    run_worker(sweep)
    assert told == [0, 1, 2, 3]
    # Tables read the total from the study, not from a folder's older copy of it.
    stale = Sweep(sweep.folder, SweepSpec.from_dict({**asdict(sweep.spec), "trials": 2}))
    assert len(stale.trials()) == 4 and stale.spec.trials == 4


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["join", "--trials", "1"], "it has 2 trials already; --trials 1"),
        (["join", "--param", LR], "--param is set when a sweep is made"),
        (["join", "--sampler", "tpe", "--pruner", "none"], "--sampler, --pruner are set"),
        (["show", "--trials", "5"], "sweep show: --trials is not for show"),
        (["join", "--queue", "2", "--seed", "1"], "--seed is for a worker run here"),
    ],
)
def test_joining_or_showing_with_options_it_cannot_take_is_one_line(
    classification_recipe, tmp_path, monkeypatch, capsys, extra, fragment
):
    from workbench.sweeps import worker

    sweep = _make(classification_recipe, tmp_path, [LR], trials=2, sampler="random")
    monkeypatch.setattr(worker._Trial, "__call__", lambda self, t: self.study.tell(t, 0.5))
    run_worker(sweep)
    action, *options = extra
    code = main(["sweep", action, str(sweep.folder), *options])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and fragment in err, err
    assert len(sweep.study().get_trials()) == 2  # nothing ran
    assert open_sweep(sweep.folder).spec.trials == 2


def test_a_grid_sweep_keeps_its_size_when_joined(classification_recipe, tmp_path, capsys):
    sweep = _make(
        classification_recipe, tmp_path, ["train.batch_size=choice(2, 4)"], sampler="grid"
    )
    assert main(["sweep", "join", str(sweep.folder), "--trials", "5"]) == 2
    assert "a grid sweep runs its 2 points" in capsys.readouterr().err


def _fake_trials(monkeypatch, values, pruned=()):
    """Trials that end at once with ``values`` (in order), each with a run folder
    holding a model and a checkpoint, as a real trial's would."""
    from workbench.sweeps import worker

    def fake(self, trial):
        folder = self.sweep.runs_dir / f"run-t{trial.number:03d}"
        (folder / "model").mkdir(parents=True)
        (folder / "model" / "config.json").write_text("{}")
        (folder / "checkpoints" / "step-4").mkdir(parents=True)
        (folder / "events.jsonl").write_text("")
        trial.set_user_attr("run_dir", str(folder))
        self.run_dir = str(folder)  # as the real one records its trial's folder
        if trial.number in pruned:
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            self.study.tell(trial, values[trial.number])

    monkeypatch.setattr(worker._Trial, "__call__", fake)


def test_a_sweep_that_keeps_its_best_trials_removes_the_others_models(
    classification_recipe, tmp_path, monkeypatch, capsys
):
    from workbench.models.folder import model_dir_of
    from workbench.resume import resume_point

    sweep = _make(classification_recipe, tmp_path, [LR], trials=5, sampler="random", keep=2)
    _fake_trials(monkeypatch, [0.5, 0.9, 0.7, 0.8, 0.6], pruned=(4,))
    run_worker(sweep)
    rows = {r.number: r for r in sweep.trials()}
    with_model = {n for n, r in rows.items() if (Path(r.run_dir) / "model").is_dir()}
    assert with_model == {1, 3}  # the best two (0.9, 0.8); the pruned one lost its own
    for number in (0, 2, 4):
        folder = Path(rows[number].run_dir)
        assert not (folder / "checkpoints").exists() and (folder / "events.jsonl").is_file()
        with pytest.raises(WorkbenchError, match="removed by sweep .*keep = 2"):
            model_dir_of(folder)  # `workbench predict` on it says why, in one line
    with pytest.raises(WorkbenchError, match="removed by sweep .*keep = 2"):
        resume_point(rows[4].run_dir)  # the pruned one: `run --resume` too
    assert model_dir_of(rows[1].run_dir) == Path(rows[1].run_dir) / "model"
    assert main(["sweep", "show", str(sweep.folder)]) == 0
    assert "keep = 2: only the best 2 trials keep their models" in capsys.readouterr().out


def test_joining_with_keep_tidies_a_sweep_that_kept_everything(
    classification_recipe, tmp_path, monkeypatch, capsys
):
    from workbench.sweeps import worker

    sweep = _make(classification_recipe, tmp_path, [LR], trials=3, sampler="random")
    _fake_trials(monkeypatch, [0.2, 0.4, 0.3, 0.1])
    run_worker(sweep)
    assert all((Path(r.run_dir) / "model").is_dir() for r in sweep.trials())  # the default
    worker.change(sweep, trials=5)  # more to run: a join with --keep alone runs none
    assert main(["sweep", "join", str(sweep.folder), "--keep", "1"]) == 0
    assert "only the best trial keeps its model" in capsys.readouterr().out
    assert len(sweep.study().get_trials()) == 3
    kept = [r.number for r in sweep.trials() if (Path(r.run_dir) / "model").is_dir()]
    assert kept == [1]
    assert open_sweep(sweep.folder).spec.keep == 1
    # Back to every trial's: nothing more is removed, and later trials keep theirs.
    assert main(["sweep", "join", str(sweep.folder), "--keep", "all", "--trials", "4"]) == 0
    rows = sweep.trials()
    assert [r.number for r in rows if (Path(r.run_dir) / "model").is_dir()] == [1, 3]
    assert len(rows) == 4  # --trials with it: the worker ran


@pytest.mark.parametrize(
    ("extra", "table", "fragment"),
    [
        (["--keep", "0"], "", "--keep is a number of trials (at least 1) or \"all\", not '0'"),
        ([], 'keep = "some"', "cls.toml [sweep] keep is a number of trials"),
    ],
)
def test_a_keep_that_is_not_a_count_is_one_line(
    classification_recipe, tmp_path, capsys, extra, table, fragment
):
    if table:
        text = classification_recipe.read_text()
        classification_recipe.write_text(f"{text}\n[sweep]\n{table}\n")
    code = main(
        ["sweep", str(classification_recipe), "--param", LR, "--dir", str(tmp_path / "sw"), *extra]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and fragment in err, err
    assert not (tmp_path / "sw").exists()


def test_a_sweep_whose_trials_will_not_fit_on_the_disk_says_so(tmp_path, monkeypatch):
    from collections import namedtuple

    from workbench.sweeps import keep
    from workbench.sweeps.study import Sweep, SweepSpec

    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "model" / "model.safetensors").write_bytes(b"0" * 1000)
    sweep = Sweep(tmp_path, SweepSpec(name="s", params=[], trials=20))
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(keep.shutil, "disk_usage", lambda _: usage(0, 0, 50_000))
    assert keep.disk_hint(sweep, run, remaining=10) is None  # 10 × 1,000 bytes fit
    monkeypatch.setattr(keep.shutil, "disk_usage", lambda _: usage(0, 0, 5_000))
    hint = keep.disk_hint(sweep, run, remaining=10)
    assert hint is not None and "--keep 3" in hint and "the 10 still to run" in hint
    sweep.spec.keep = 3  # already keeping few: nothing to say
    assert keep.disk_hint(sweep, run, remaining=10) is None


def test_keeping_the_best_of_a_minimised_metric_keeps_the_best_trial_on_ties(
    classification_recipe, tmp_path, monkeypatch
):
    sweep = _make(
        classification_recipe, tmp_path, [LR], trials=4, sampler="random", metric="loss", keep=1
    )
    _fake_trials(monkeypatch, [0.3, 0.1, 0.1, 0.5])
    run_worker(sweep)
    rows = sweep.trials()
    assert [r.number for r in rows if (Path(r.run_dir) / "model").is_dir()] == [1]
    assert sweep.best(rows).number == 1  # the trial best.toml is written from


def test_keep_spares_a_run_that_waits_to_resume_or_is_being_written(
    classification_recipe, tmp_path, monkeypatch
):
    from workbench.runs.folder import RunLock
    from workbench.sweeps import worker

    sweep = _make(classification_recipe, tmp_path, [LR], trials=3, sampler="random")
    _fake_trials(monkeypatch, [0.9, 0.2, 0.3])
    run_worker(sweep)
    rows = {r.number: r for r in sweep.trials()}
    # Trial 1's run is to be resumed (a retry waits for it); trial 2's is being
    # written by a `run --resume` by hand.
    sweep.study().enqueue_trial(rows[1].params, user_attrs={"resume": rows[1].run_dir})
    lock = RunLock(rows[2].run_dir)
    assert lock.acquire()
    try:
        worker.change(sweep, keep=1)
        assert all((Path(rows[n].run_dir) / "model").is_dir() for n in (0, 1, 2))
    finally:
        lock.release()
    worker.change(sweep, keep=1)  # the writer gone: trial 2's goes, trial 1's still waits
    assert (Path(rows[1].run_dir) / "model").is_dir()
    assert not (Path(rows[2].run_dir) / "model").exists()


def test_a_worker_says_once_that_the_trials_left_will_not_fit(
    classification_recipe, tmp_path, monkeypatch
):
    from collections import namedtuple

    from workbench.sweeps import keep

    sweep = _make(classification_recipe, tmp_path, [LR], trials=3, sampler="random")
    _fake_trials(monkeypatch, [0.1, 0.2, 0.3])
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(keep.shutil, "disk_usage", lambda _: usage(0, 0, 1))
    said: list[str] = []
    run_worker(sweep, say=said.append)
    hints = [line for line in said if "will not fit" in line or "--keep 3" in line]
    assert len(hints) == 1 and "the 2 still to run" in hints[0], said

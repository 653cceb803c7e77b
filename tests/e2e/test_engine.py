"""Engine behaviour a user relies on: accumulation, schedules, reproducibility,
and Ctrl-C on a real `workbench run` process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.experiment import prepare
from workbench.recipe import load_recipe
from workbench.runner import run_experiment
from workbench.runs.folder import checkpoints, read_events


def steps_of(run_dir: Path) -> list[dict]:
    return [e for e in read_events(run_dir) if e.type == "step"]


def test_gradient_accumulation_counts_optimizer_steps(ner_recipe):
    # 3 sentences, batch 1, accumulate 2: batches 1+2 make a step, batch 3 ends the epoch.
    experiment = prepare(
        load_recipe(ner_recipe, ["train.batch_size=1", "train.gradient_accumulation=2"])
    )
    run_dir, end = run_experiment(experiment)
    start = next(e for e in read_events(run_dir) if e.type == "start")
    assert start.steps_per_epoch == 2 and start.batch_size == 2
    assert end.status == "completed" and end.steps == 4


def test_cosine_schedule_with_warmup(ner_recipe):
    experiment = prepare(
        load_recipe(
            ner_recipe,
            [
                "train.scheduler=cosine",
                "train.warmup_ratio=0.5",
                "train.epochs=4",
                "train.learning_rate=0.001",
            ],
        )
    )
    run_dir, _ = run_experiment(experiment)
    rates = [e.learning_rate for e in steps_of(run_dir)]
    peak = rates.index(max(rates))
    assert peak == 3  # 8 steps, 4 of warmup: the rate climbs to its peak...
    assert rates[: peak + 1] == sorted(rates[: peak + 1])
    assert rates[peak:] == sorted(rates[peak:], reverse=True)  # ...then decays to zero
    assert rates[-1] == 0.0


def test_same_seed_same_run(ner_recipe):
    first = run_experiment(prepare(load_recipe(ner_recipe)))[0]
    second = run_experiment(prepare(load_recipe(ner_recipe)))[0]
    assert [s.loss for s in steps_of(first)] == [s.loss for s in steps_of(second)]
    other = run_experiment(prepare(load_recipe(ner_recipe, ["train.seed=7"])))[0]
    assert [s.loss for s in steps_of(first)] != [s.loss for s in steps_of(other)]


@pytest.mark.slow
def test_ctrl_c_stops_a_real_run_cleanly(ner_recipe):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbench",
            "run",
            str(ner_recipe),
            "--set",
            "train.epochs=2000",
            "eval.every=steps",
            "eval.steps=2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    runs = ner_recipe.parent / "runs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = list(runs.glob("*/model/config.json")) if runs.exists() else []
        if found:
            break
        time.sleep(0.2)
    else:
        process.kill()
        raise AssertionError("the run never saved a checkpoint")
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    [run] = list(runs.iterdir())
    end = read_events(run)[-1]
    assert end.status == "stopped"
    assert end.steps < 6000
    assert (run / "model" / "config.json").is_file()
    assert "run stopped" in out
    # Stopping writes a checkpoint to resume from, and says so.
    assert [p.name for p in checkpoints(run)] == [f"step-{end.steps}"]
    assert end.checkpoint == f"checkpoints/step-{end.steps}" and "resumable from" in out

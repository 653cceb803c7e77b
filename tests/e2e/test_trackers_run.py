"""A real tiny run with [output] trackers: TensorBoard's files hold the run's curve
and evaluations, read back by TensorBoard, and the run's own events are as without."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.runs import train_run
from workbench.cli import main
from workbench.runs.folder import read_events

# Real trainings: deselect with -m "not slow".
pytestmark = pytest.mark.slow


def shape(run: Path) -> list[tuple[str, tuple[str, ...]]]:
    """Each logged event's type and keys, in order."""
    lines = (run / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [(d["type"], tuple(sorted(d))) for d in map(json.loads, lines)]


def test_a_run_with_tensorboard_writes_curves_tensorboard_reads(ner_recipe, capsys):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    # Through the CLI and --set, as a user would ask for it.
    assert main(["run", str(ner_recipe), "--set", 'output.trackers=["tensorboard"]']) == 0
    (run,) = (ner_recipe.parent / "runs").iterdir()
    events = read_events(run)
    assert events[-1].status == "completed"

    logs = EventAccumulator(str(run / "trackers" / run.name))
    logs.Reload()
    tags = set(logs.Tags()["scalars"])
    steps = [e for e in events if e.type == "step"]
    assert [(s.step, s.value) for s in logs.Scalars("train/loss")] == [
        (e.step, pytest.approx(e.loss, rel=1e-6)) for e in steps
    ]
    validation = [e for e in events if e.type == "eval" and e.split == "validation"]
    assert validation
    for metric in validation[0].metrics:
        assert f"validation/{metric}" in tags
    assert [(s.step, s.value) for s in logs.Scalars("validation/f1")] == [
        (e.step, pytest.approx(e.metrics["f1"], rel=1e-6)) for e in validation
    ]
    assert "test/f1" in tags  # the test split, scored once at the end

    # The run folder's events are the source of truth, and the same with or without
    # trackers: a run of the same recipe without them logs events of the same shape.
    plain = train_run(ner_recipe)
    assert not (plain / "trackers").exists()
    assert shape(run) == shape(plain)

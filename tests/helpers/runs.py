"""Real runs in tests: one trained in this process, or one awaited in another
process's run folder."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from helpers.data import NER_DEV, NER_TRAIN
from helpers.files import write
from workbench.runs.folder import read_events


def write_ner_recipe(folder: Path, model: Path) -> Path:
    """A NER recipe on the tiny CoNLL data (train, dev; dev again as test) and
    ``model``, written into ``folder``; its path."""
    write(folder / "data" / "train.conll", NER_TRAIN)
    write(folder / "data" / "dev.conll", NER_DEV)
    return write(
        folder / "ner.toml",
        f"""
task = "ner"
name = "tiny-ner"

[model]
name = "{model}"
max_length = 32

[data]
train = "data/train.conll"
validation = "data/dev.conll"
test = "data/dev.conll"

[train]
epochs = 2
batch_size = 2
learning_rate = 1e-3
log_every = 1

[output]
dir = "runs"
""",
    )


def train_run(recipe: Path, *overrides: str) -> Path:
    """A real tiny run of ``recipe``, in this process, which must complete; its folder."""
    from workbench.experiment import prepare
    from workbench.recipe import load_recipe
    from workbench.runner import run_experiment

    run_dir, end = run_experiment(prepare(load_recipe(recipe, list(overrides))))
    assert end.status == "completed", end.error
    return run_dir


def wait_for_event(runs: Path, kind: type, process: subprocess.Popen, timeout: float = 120):
    """The run folder, once its events hold an event of ``kind``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in runs.glob("*") if runs.exists() else []:
            if any(isinstance(e, kind) for e in read_events(run)):
                return run
        if process.poll() is not None:
            raise AssertionError(f"the run ended first: {process.communicate()}")
        time.sleep(0.02)
    process.kill()
    raise AssertionError(f"no {kind.__name__} event")

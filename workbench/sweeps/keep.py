"""What a sweep keeps of its trials' runs.

Every trial is an ordinary run: a completed one keeps its model, a pruned or
stopped one its checkpoint too (about five times the model, for `run --resume`).
A 20-trial pruned sweep of MiniLM keeps about 6 GB that way, of BERT-base about
35 GB. With ``[sweep] keep = N`` (or ``--keep N``), only the best N completed
trials keep their model; the others (pruned and failed ones too) lose their
``model/`` and ``checkpoints/`` as soon as they end or fall out of the best N.
Their events, reports and recipe stay, so every table, curve and report of the
sweep is whole, and a note in the folder says why the model is gone and how to
train it again. Each machine's workers tidy its own folders.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from workbench.runs.folder import CHECKPOINTS, MODEL, MODEL_REMOVED, RECIPE, RunLock
from workbench.sweeps.study import Sweep

# A trial whose run may still be needed: running, or waiting to be resumed.
_BUSY = ("RUNNING", "WAITING")


def keeping(keep: int) -> str:
    """``keep`` in words: "only the best 3 trials keep their models"."""
    if keep == 1:
        return "only the best trial keeps its model"
    return f"only the best {keep} trials keep their models"


def kept_runs(sweep: Sweep, trials) -> set[str]:
    """The run folders of the best ``keep`` completed trials."""
    keep = sweep.spec.keep
    sign = 1 if sweep.spec.direction == "minimize" else -1
    done = sorted(
        (t for t in trials if t.state.name == "COMPLETE" and t.value is not None),
        key=lambda t: (sign * t.value, t.number),
    )
    return {t.user_attrs.get("run_dir") for t in done[: keep or len(done)]}


def tidy(sweep: Sweep, study) -> list[Path]:
    """Remove the model and checkpoints of this machine's trial runs that the
    sweep's ``keep`` no longer keeps; the folders they were removed from."""
    keep = sweep.spec.keep
    if keep is None:
        return []
    trials = study.get_trials(deepcopy=False)
    busy = [t.user_attrs for t in trials if t.state.name in _BUSY]
    needed = kept_runs(sweep, trials) | {a.get(k) for a in busy for k in ("run_dir", "resume")}
    removed = []
    for trial in trials:
        run_dir = trial.user_attrs.get("run_dir")
        if trial.state.name in _BUSY or not run_dir or run_dir in needed:
            continue
        folder = Path(run_dir)
        if not folder.is_dir():  # another machine's, or removed by hand
            continue
        if not any((folder / name).exists() for name in (MODEL, CHECKPOINTS)):
            continue
        lock = RunLock(folder)
        if not lock.acquire():  # being written: a `run --resume` by hand, say
            continue
        try:
            _remove_model(sweep, folder, keep)
        finally:
            lock.release()
        removed.append(folder)
    return removed


def _remove_model(sweep: Sweep, folder: Path, keep: int) -> None:
    why = (
        f"its model and checkpoints were removed by sweep {sweep.spec.name} (keep = "
        f"{keep}: {keeping(keep)}); to train it again: workbench run {folder / RECIPE}"
    )
    with contextlib.suppress(OSError):  # a full disk: the removal is what frees it
        (folder / MODEL_REMOVED).write_text(why + "\n", encoding="utf-8")
    for name in (MODEL, CHECKPOINTS):
        _remove(folder / name)


def _remove(path: Path) -> None:
    """Out of sight at once (renamed), then deleted: no reader finds half a model."""
    if not path.exists():
        return
    gone = path.with_name(f".{path.name}.removed")
    with contextlib.suppress(OSError):
        os.replace(path, gone)
        path = gone
    shutil.rmtree(path, ignore_errors=True)


def folder_bytes(folder: Path) -> int:
    """The bytes of the files under ``folder``."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def disk_hint(sweep: Sweep, run_dir: Path, remaining: int) -> str | None:
    """A line when the trials still to run, each as large as ``run_dir``, would not
    fit on the disk that holds the sweep's runs (and ``keep`` is not set)."""
    if sweep.spec.keep is not None or remaining <= 0 or not run_dir.is_dir():
        return None
    each = folder_bytes(run_dir)
    free = shutil.disk_usage(run_dir).free
    if each * remaining <= free:
        return None
    gib = 2**30
    return (
        f"note: a trial's run takes {each / gib:.2f} GB here; the {remaining} still to run "
        f"need about {each * remaining / gib:.1f} GB and {free / gib:.1f} GB is free: "
        f"`workbench sweep join {sweep.folder} --keep 3` keeps only the best three "
        "trials' models"
    )

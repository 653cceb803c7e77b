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
from workbench.sweeps.study import Sweep, refresh


def keeping(keep: int) -> str:
    """``keep`` in words: "only the best 3 trials keep their models"."""
    if keep == 1:
        return "only the best trial keeps its model"
    return f"only the best {keep} trials keep their models"


def tidy(sweep: Sweep, study) -> list[Path]:
    """Remove the model and checkpoints of this machine's trial runs that the
    sweep's ``keep`` (as the study holds it now) no longer keeps; the folders they
    were removed from."""
    keep = refresh(sweep.spec, study).keep
    if keep is None:
        return []
    rows = sweep.trials(study)
    busy = [r for r in rows if r.state in ("running", "waiting")]  # may still need theirs
    needed = {r.run_dir for r in sweep.ranked(rows)[:keep]}
    needed |= {r.run_dir for r in busy} | {r.resume for r in busy}
    removed = []
    for row in rows:
        if not row.run_dir or row.run_dir in needed:  # a busy trial's is needed too
            continue
        folder = Path(row.run_dir)
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

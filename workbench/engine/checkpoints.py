"""Resumable checkpoints: Accelerate's ``save_state`` (model, optimizer,
scheduler, grad scaler, RNG states of every process) plus the loop's own state,
written into a temporary folder that is renamed into place once complete, so
a run killed mid-write keeps its previous checkpoint and never sees half of one.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from workbench.engine.state import TrainState
from workbench.errors import WorkbenchError
from workbench.runs.files import fsync_dir, fsync_tree, write_json_atomic
from workbench.runs.folder import CHECKPOINTS, TRAINER_STATE, checkpoint_name, checkpoints

FORMAT = 1  # of trainer_state.json
BEST_WEIGHTS = "best_model.safetensors"  # when the best weights are not the checkpoint's own


def save_checkpoint(
    accelerator,
    run_dir: Path,
    state: TrainState,
    extra: dict[str, Any],
    keep: int,
    best_weights: dict | None = None,
) -> tuple[str, list[str]]:
    """Write ``checkpoints/step-N`` (every process takes part: each saves its RNG
    state); return its path relative to the run folder and the checkpoints kept."""
    folder = run_dir / CHECKPOINTS
    name = checkpoint_name(state.step)
    target = folder / name
    tmp = folder / f".{name}.tmp"
    main = accelerator.is_main_process
    error = None
    if main:
        try:
            folder.mkdir(exist_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
        except OSError as exc:
            error = exc
    accelerator.wait_for_everyone()
    try:
        if error is not None:
            raise error
        accelerator.save_state(str(tmp))
        accelerator.wait_for_everyone()
        if main:
            if best_weights is not None:
                from safetensors.torch import save_file

                save_file(best_weights, str(tmp / BEST_WEIGHTS))
            fsync_tree(tmp)
            # Written last: a folder with this file is a complete checkpoint.
            write_json_atomic(
                tmp / TRAINER_STATE,
                {
                    "format": FORMAT,
                    "processes": accelerator.num_processes,
                    "state": state.to_dict(),
                    **extra,
                },
            )
            if target.exists():  # the same step written again after a resume
                shutil.rmtree(target)
            os.replace(tmp, target)
            fsync_dir(folder)
    except OSError as exc:
        if main:
            shutil.rmtree(tmp, ignore_errors=True)
        previous = [p.name for p in checkpoints(run_dir)]
        last = f"; the last complete checkpoint, {previous[-1]}, is kept" if previous else ""
        raise WorkbenchError(
            f"cannot write checkpoint {target}: {exc.strerror or exc}{last}"
        ) from None
    accelerator.wait_for_everyone()
    kept = prune(run_dir, keep) if main else []
    return f"{CHECKPOINTS}/{name}", kept


def prune(run_dir: Path, keep: int) -> list[str]:
    """Delete all but the latest ``keep`` checkpoints (all of them for 0); return
    the names kept."""
    found = checkpoints(run_dir)
    kept = found[len(found) - keep :] if keep else []
    for old in found[: len(found) - len(kept)]:
        # The marker first: a deletion cut short never leaves a "complete" checkpoint.
        (old / TRAINER_STATE).unlink(missing_ok=True)
        shutil.rmtree(old, ignore_errors=True)
    return [p.name for p in kept]


def read_trainer_state(checkpoint: Path) -> dict[str, Any]:
    """The loop's side of a checkpoint (no torch needed)."""
    try:
        data = json.loads((checkpoint / TRAINER_STATE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise WorkbenchError(f"{checkpoint}: unreadable checkpoint ({exc})") from None
    if data.get("format") != FORMAT:
        raise WorkbenchError(
            f"{checkpoint}: checkpoint format {data.get('format')!r} is not "
            f"{FORMAT}; it was written by another workbench version"
        )
    return data


def check_process_count(checkpoint: Path, data: dict[str, Any], processes: int) -> None:
    """RNG states are per process: a checkpoint resumes in as many as wrote it."""
    had = data.get("processes")
    if had != processes:
        raise WorkbenchError(
            f"--resume {checkpoint.parent.parent}: {checkpoint.name} was written by {had} "
            f"process(es); resume it with as many (this is {processes}), e.g. "
            f"workbench run --resume RUN_DIR --devices {had}"
        )


def load_checkpoint(accelerator, checkpoint: Path, data: dict[str, Any]) -> None:
    """Restore model, optimizer, scheduler and RNG states into the prepared objects
    (``data``: the checkpoint's ``read_trainer_state``)."""
    check_process_count(checkpoint, data, accelerator.num_processes)
    accelerator.load_state(str(checkpoint))


def load_best_weights(checkpoint: Path) -> dict | None:
    path = checkpoint / BEST_WEIGHTS
    if not path.is_file():
        return None
    from safetensors.torch import load_file

    return load_file(str(path))

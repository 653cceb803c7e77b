"""What a saved model folder holds, and its ``workbench.json``: the one place that
knows the folder's files, reads the metadata and writes it.

A saved model folder is a ``save_pretrained`` folder (or, for a LoRA run with
``peft.merge = false``, a PEFT adapter folder) plus ``workbench.json``: the task,
its labels, the window it trained with, the base model, the step and score. A
run keeps it as ``run_dir/model`` (runs.folder.MODEL); an ONNX export is such a
folder with ``model.onnx`` in place of the weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.runs.files import write_json_atomic
from workbench.runs.folder import EVENTS, MODEL, MODEL_REMOVED

META_FILE = "workbench.json"
ONNX_FILE = "model.onnx"  # an exported model (workbench.deploy)
ADAPTER_CONFIG = "adapter_config.json"  # a LoRA adapter (PEFT) over a base model
ADAPTER = "adapter"  # a LoRA run's adapter, saved beside the merged model
# Files that make a folder a model: a full model, or a LoRA adapter over a base model.
MODEL_FILES = ("config.json", ADAPTER_CONFIG)


def is_model_folder(path: Path) -> bool:
    """Does ``path`` hold a model (or a LoRA adapter)?"""
    return any((path / name).is_file() for name in MODEL_FILES)


def has_saved_model(run_dir: str | Path) -> bool:
    """Does this run folder hold a saved model (or adapter)?"""
    return is_model_folder(Path(run_dir) / MODEL)


def has_whole_model(run_dir: str | Path) -> bool:
    """Did this run save a whole model (not only a LoRA adapter over its base)?"""
    return (Path(run_dir) / MODEL / "config.json").is_file()


def model_dir_of(path: str | Path) -> Path:
    """A run folder or a model (or adapter) folder -> the model folder."""
    path = Path(path).expanduser()
    if is_model_folder(path / MODEL):
        return path / MODEL
    if is_model_folder(path):
        return path
    if (path / MODEL_REMOVED).is_file():  # a sweep kept only its best trials' models
        why = (path / MODEL_REMOVED).read_text(encoding="utf-8", errors="replace").strip()
        raise WorkbenchError(f"{path}: {why}")
    if (path / EVENTS).is_file():
        raise WorkbenchError(f"{path}: this run saved no model (did it fail or stop early?)")
    raise WorkbenchError(f"{path}: not a run folder or a model folder (no config.json)")


def find_model_run(reference: str | Path, runs_dir: str | Path = "runs") -> tuple[Path, str | None]:
    """A RUN argument (path, run name, unique start of one, or recipe name: its latest
    completed run with a model) as a folder, and a line saying which run a name
    meant (None when a path was given)."""
    from workbench.runs.index import find_run

    return find_run(
        reference,
        runs_dir,
        usable=lambda run: run.status == "completed" and has_saved_model(run.path),
        wanted="completed run with a model",
    )


def training_meta(
    *,
    task: str,
    labels: list[str],
    max_length: int,
    recipe: str,
    base_model: str,
    task_meta: dict[str, Any],
    peft: str,
    step: int,
    metric: str,
    value: float | None,
    vocabulary_added: int = 0,
) -> dict[str, Any]:
    """The ``workbench.json`` of a model a run saves: what every reader needs to load
    and use it (task, labels, window, base model for an adapter) and where it came
    from (recipe, step, score). ``task_meta`` is the task's own (``Task.meta``)."""
    return {
        "task": task,
        "labels": labels,
        "max_length": max_length,
        "recipe": recipe,
        "base_model": base_model,
        **task_meta,
        "peft": peft,
        "step": step,
        "metric": metric,
        "value": value,
        # Tokens model.extend_vocabulary added (the tokenizer saved beside holds them).
        **({"vocabulary_added": vocabulary_added} if vocabulary_added else {}),
    }


def write_meta(folder: Path, meta: dict[str, Any]) -> None:
    """Write ``workbench.json`` into a model folder being filled."""
    write_json_atomic(folder / META_FILE, meta)


def read_meta(folder: Path) -> dict[str, Any]:
    """A model folder's ``workbench.json``; empty for a model saved elsewhere."""
    if not (folder / META_FILE).is_file():
        return {}
    return json.loads((folder / META_FILE).read_text(encoding="utf-8"))


def check_saved_task(path: str | Path, wanted: str, option: str) -> None:
    """The model at ``path`` (given as ``option``) is a ``wanted`` model, without
    loading it; one sentence naming the option otherwise."""
    task = saved_task(path)[1]
    if task != wanted:
        what = {"ner": "an NER model", "relation": "a relation model"}.get(
            wanted, f"a {wanted} model"
        )
        raise WorkbenchError(f"{option} {path}: this is a {task} model, not {what}")


def saved_task(path: str | Path) -> tuple[Path, str, dict]:
    """A saved model's folder, task name and workbench metadata, without loading it."""
    from workbench.tasks import ARCHITECTURE_SUFFIXES

    folder = model_dir_of(path)
    meta = read_meta(folder)
    task_name = meta.get("task")
    if task_name is None and not (folder / "config.json").is_file():
        raise WorkbenchError(
            f"{folder}: an adapter without {META_FILE}; load it with PEFT "
            f"onto its base model and save the merged model"
        )
    if task_name is None:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        for arch in config.get("architectures") or []:
            for suffix, name in ARCHITECTURE_SUFFIXES.items():
                if arch.endswith(suffix):
                    task_name = name
        if task_name is None:
            raise WorkbenchError(f"{folder}: cannot tell the model's task from config.json")
    return folder, task_name, meta


def saved_max_length(meta: dict) -> int:
    """The tokens a window a saved model was trained with (``workbench.json``), the
    length every reader of it uses; the recipe's default for a model saved without."""
    from workbench.settings import ModelSettings

    return int(meta.get("max_length") or ModelSettings().max_length)


def saved_step(run_dir: Path | None) -> int | None:
    """The step of the model a run folder holds now, if any."""
    if run_dir is None:
        return None
    try:
        return read_meta(run_dir / MODEL).get("step")
    except (OSError, ValueError):
        return None

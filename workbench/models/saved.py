"""A trained model as a run saves it and every reader loads it: ``save_model``
writes the folder, ``load_saved`` reads it back as a ``SavedModel`` (whole
model, LoRA adapter over its base, or ONNX export alike)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError, first_line
from workbench.models.folder import (
    ADAPTER,
    META_FILE,
    ONNX_FILE,
    saved_max_length,
    saved_task,
    write_meta,
)
from workbench.models.pretrained import load_for_training, load_tokenizer, quiet_transformers
from workbench.runs.files import replace_dir_atomic


@dataclass
class SavedModel:
    """A loaded model folder: the task (set up from the folder's metadata), the
    model in eval mode, its tokenizer and ``workbench.json``."""

    task: Any
    model: Any
    tokenizer: Any
    meta: dict[str, Any]
    folder: Path

    @property
    def max_length(self) -> int:
        """The window the model trained with: every reader encodes with it."""
        return saved_max_length(self.meta)


def save_model(model, tokenizer, target: Path, meta: dict[str, Any], merge: bool = True) -> None:
    """``save_pretrained`` model and tokenizer, plus workbench's own metadata,
    swapped into ``target`` whole. A PEFT model is saved merged (a plain model
    folder); a LoRA model's adapter goes into ``adapter/`` beside it, or, with
    ``merge`` off, is all that is saved."""
    from workbench.models.tuning import has_adapter, is_peft_model, merged_copy

    def write(folder: Path, what) -> None:
        what.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
        write_meta(folder, meta)

    def fill(tmp: Path) -> None:
        adapter = has_adapter(model)
        if adapter:
            write(tmp / ADAPTER if merge else tmp, model)
        if merge or not adapter:
            write(tmp, merged_copy(model) if is_peft_model(model) else model)

    replace_dir_atomic(target, fill)


def load_saved(path: str | Path) -> SavedModel:
    """Load a saved model folder (or a run's)."""
    from workbench.tasks import get_task

    folder, task_name, meta = saved_task(path)
    task = get_task(task_name)
    task.from_meta(meta)
    quiet_transformers()
    tokenizer = load_tokenizer(str(folder), adapter_ok=True)
    try:
        if (folder / ONNX_FILE).is_file():
            model = _load_onnx(folder)
        elif (folder / "config.json").is_file():
            model = task.model_class().from_pretrained(str(folder))
        else:
            model = _load_adapter(task, folder, meta, tokenizer)
    except WorkbenchError:
        raise
    except Exception as exc:
        raise WorkbenchError(f"{folder}: cannot load model: {first_line(exc)}") from None
    model.eval()
    return SavedModel(task=task, model=model, tokenizer=tokenizer, meta=meta, folder=folder)


def _load_onnx(folder: Path):
    """An exported folder, run by ONNX Runtime."""
    try:
        from workbench.models.onnx import OnnxModel

        return OnnxModel(folder)
    except ImportError:
        raise WorkbenchError(
            f"{folder}: an ONNX export needs onnxruntime (pip install 'workbench[export]')"
        ) from None


def _load_adapter(task, folder: Path, meta: dict, tokenizer):
    """A LoRA adapter folder: its base model (the run's ``model.name``) with the
    adapter merged in."""
    from workbench.models.tuning import load_adapter

    if "base_model" not in meta or "labels" not in meta:
        raise WorkbenchError(
            f"{folder}: an adapter without {META_FILE} naming its base model and labels"
        )
    try:
        base = load_for_training(task, meta["base_model"], meta["labels"], tokenizer)
    except WorkbenchError as exc:
        raise WorkbenchError(f"{folder}: cannot load the adapter's base model: {exc}") from None
    return load_adapter(base, str(folder))

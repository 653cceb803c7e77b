"""Tokenised features kept across runs of the same data, tokenizer and settings.

Tokenising IMDb's 25,000 training reviews at 512 tokens takes 18-20 s on two
CPU cores, longer than an epoch of MiniLM on a GPU; every run of a sweep over
the same data would pay it again. A split whose encoding took at least
``MIN_SECONDS`` is written to ``$WORKBENCH_CACHE/features`` (default
``~/.cache/workbench/features``; ``WORKBENCH_CACHE=off`` turns the cache off),
under a key made of what the features are computed from: the examples, the
tokenizer's definition (vocabulary, normaliser, added tokens, the inputs it
returns, whether it splits special tokens), the task's settings, labels,
``max_length``, the ``train`` flag, the source of the task code and the
tokenizers/transformers versions. A changed file, recipe or task code makes a
new key rather than a stale hit. Nothing expires: delete the folder to reclaim
the space. Entries are pickles: keep the folder one only you can write to.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import tempfile
import time
from collections.abc import Callable
from functools import cached_property
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
    """The fast tokenizer's definition; None when it has none to give (a slow
    tokenizer, or a custom Python component that cannot be serialised)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    try:
        definition = json.loads(backend.to_str())
    except Exception:  # noqa: BLE001 - e.g. "Custom PreTokenizer cannot be serialized"
        return None
    # Set by each call from its own arguments (which the code and max_length fix):
    # left in, the key would depend on whether the tokenizer had been called yet.
    definition.pop("truncation", None)
    definition.pop("padding", None)
    return json.dumps(
        [
            type(tokenizer).__name__,
            definition,
            _canonical(tokenizer.special_tokens_map),
            list(tokenizer.model_input_names),  # which of attention_mask, token_type_ids
            getattr(tokenizer, "split_special_tokens", None),
            tokenizer.padding_side,
            tokenizer.truncation_side,
        ],
        sort_keys=True,
    )


def _code_fingerprint() -> str:
    import tokenizers
    import transformers

    digest = hashlib.sha256(f"{tokenizers.__version__} {transformers.__version__}".encode())
    for path in sorted(TASKS_SOURCE.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


class FeatureCache:
    """One run's view of the cache. The parts of the key every split shares
    (tokenizer, task settings, code) are computed once, and only when a key is
    needed: a run with nothing cached and nothing slow to encode hashes nothing."""

    def __init__(self, task, tokenizer):
        self.folder = cache_dir()
        self.task, self.tokenizer = task, tokenizer

    @cached_property
    def base(self) -> str | None:
        """The shared part of every key; None when the tokenizer cannot be written down."""
        tokenizer_part = _tokenizer_fingerprint(self.tokenizer)
        if self.folder is None or tokenizer_part is None:
            return None
        settings = json.dumps([FORMAT, self.task.name, _canonical(vars(self.task))], sort_keys=True)
        return hashlib.sha256(
            "\0".join((settings, tokenizer_part, _code_fingerprint())).encode()
        ).hexdigest()

    def key(self, examples: list[dict], label2id: dict, max_length: int, train: bool) -> str | None:
        """The key of one split's features, or None when the cache is off."""
        if self.base is None:
            return None
        digest = hashlib.sha256(self.base.encode())
        digest.update(json.dumps([label2id, max_length, train], sort_keys=True).encode())
        for example in examples:
            # "line" only says where an example was read: an added comment line
            # in the file must not re-tokenise it all.
            content = {k: v for k, v in example.items() if k != "line"}
            digest.update(json.dumps(content, sort_keys=True, default=repr).encode())
            digest.update(b"\n")
        return digest.hexdigest()

    def features(
        self,
        examples: list[dict],
        label2id: dict,
        max_length: int,
        train: bool,
        encode: Callable[[], list[dict]],
    ) -> tuple[list[dict], bool]:
        """``encode()``'s features, read back when an earlier run left them;
        written when encoding took ``MIN_SECONDS`` or more. Returns the features
        and whether they came from the cache. The cache is best effort: an entry
        that cannot be read or written is only a miss."""
        if self.folder is None:
            return encode(), False
        key = None
        if next(self.folder.glob("*.pkl"), None) is not None:
            key = self.key(examples, label2id, max_length, train)
            found = _read(self.folder / f"{key}.pkl") if key else None
            if found is not None:
                return found, True
        began = time.perf_counter()
        features = encode()
        if time.perf_counter() - began >= MIN_SECONDS:
            key = key or self.key(examples, label2id, max_length, train)
            if key:
                _write(self.folder / f"{key}.pkl", features)
        return features, False


def _read(path: Path) -> list[dict] | None:
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - damaged, unreadable: a miss
        with contextlib.suppress(OSError):
            path.unlink()
        return None


def _write(path: Path, features: list[dict]) -> None:
    """Atomically (several processes may write the same entry), readable by
    others who share the folder; never an error for the run."""
    written = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
            written = handle.name
            pickle.dump(features, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.chmod(written, 0o644)
        os.replace(written, path)
        written = None
    except Exception:  # noqa: BLE001 - a full disk or a read-only folder: no entry
        pass
    finally:
        if written is not None:
            with contextlib.suppress(OSError):
                os.unlink(written)


def entries() -> list[Path]:
    """The cache's entries (and temp files a killed writer left), or none when off."""
    folder = cache_dir()
    if folder is None or not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".pkl", ".tmp"))


def clear() -> tuple[int, int]:
    """Delete every entry: how many, and how many bytes."""
    count = size = 0
    for path in entries():
        with contextlib.suppress(OSError):
            size += path.stat().st_size
            path.unlink()
            count += 1
    return count, size

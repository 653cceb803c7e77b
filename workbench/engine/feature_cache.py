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
new key rather than a stale hit.

Entries are safetensors files (each feature column as one flat array and its
offsets), which hold numbers only: a folder a team shares on a GPU box cannot
carry code to whoever reads it, as pickles could (entries of the earlier pickle
format are never read, and are deleted when the cache is next written).
Features other than integers and lists of integers are not cached. The folder
is kept under ``$WORKBENCH_CACHE_LIMIT`` (default ``10G``): after each write the
entries used longest ago go first.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

import numpy as np

from workbench.errors import WorkbenchError

# Below this, reading the file back saves nothing worth a file on disk.
MIN_SECONDS = 2.0
FORMAT = 2  # 1: pickles (never read again)
SUFFIX = ".safetensors"
DEFAULT_LIMIT = "10G"
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
        self.bound = limit() if self.folder is not None else 0  # a bad setting stops here
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
        if next(self.folder.glob(f"*{SUFFIX}"), None) is not None:
            key = self.key(examples, label2id, max_length, train)
            found = _read(self.folder / f"{key}{SUFFIX}") if key else None
            if found is not None:
                return found, True
        began = time.perf_counter()
        features = encode()
        if time.perf_counter() - began >= MIN_SECONDS:
            key = key or self.key(examples, label2id, max_length, train)
            if key:
                _write(self.folder / f"{key}{SUFFIX}", features)
                _evict(self.folder, self.bound)
        return features, False


def limit() -> int:
    """``$WORKBENCH_CACHE_LIMIT`` in bytes ("10G", "500M", "2.5GB", a number)."""
    text = os.environ.get("WORKBENCH_CACHE_LIMIT", "").strip() or DEFAULT_LIMIT
    found = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?", text.lower())
    if not found:
        raise WorkbenchError(
            f"WORKBENCH_CACHE_LIMIT={text!r} is not a size (e.g. 10G, 500M, 2.5GB)"
        )
    scale = 1024 ** " kmgt".index(found.group(2) or " ")
    return int(float(found.group(1)) * scale)


def _columns(features: list[dict]) -> tuple[dict[str, np.ndarray], list] | None:
    """The features as flat arrays: an integer field as one array, a list field
    as its values end to end and where each row starts (each in the smallest
    integer type that holds it); with the field names, kinds and which rows
    hold them. None when a field holds anything but integers."""
    names: dict[str, None] = {}
    for row in features:
        names.update(dict.fromkeys(row))
    arrays: dict[str, np.ndarray] = {}
    layout = []
    for n, name in enumerate(names):
        rows = [row[name] for row in features if name in row]
        partial = len(rows) < len(features)
        if partial:
            arrays[f"{n}.present"] = np.array([name in row for row in features], np.uint8)
        if all(type(v) is int for v in rows):
            kind, flat = "int", rows
        elif all(type(v) is list for v in rows):
            kind, flat = "ints", list(itertools.chain.from_iterable(rows))
            lengths = np.fromiter(map(len, rows), np.int64, len(rows))
            arrays[f"{n}.offsets"] = np.concatenate([[0], np.cumsum(lengths)])
        else:
            return None
        try:
            values = np.array(flat) if flat else np.zeros(0, np.int64)
        except (TypeError, ValueError, OverflowError):  # ragged lists
            return None
        if values.ndim != 1 or values.dtype.kind != "i":  # floats, text, past 64 bits
            return None
        arrays[f"{n}.values"] = _smallest(values)
        layout.append([name, kind, partial])
    return arrays, layout


def _smallest(values: np.ndarray) -> np.ndarray:
    """``values`` in the narrowest integer type that holds them (token ids fit
    16 bits for most vocabularies, masks 8)."""
    if values.size == 0:
        return values
    low, high = int(values.min()), int(values.max())
    for kind in (np.int8, np.int16, np.int32):
        info = np.iinfo(kind)
        if info.min <= low and high <= info.max:
            return values.astype(kind)
    return values


def _rows(arrays: dict[str, np.ndarray], layout: list, count: int) -> list[dict]:
    """``_columns`` undone: the features, field by field, as Python values."""
    rows: list[dict] = [{} for _ in range(count)]
    for n, (name, kind, partial) in enumerate(layout):
        holders = (
            [i for i, p in enumerate(arrays[f"{n}.present"].tolist()) if p]
            if partial
            else range(count)
        )
        values = arrays[f"{n}.values"].tolist()
        if kind == "int":
            for i, value in zip(holders, values):
                rows[i][name] = value
        else:
            offsets = arrays[f"{n}.offsets"].tolist()
            for k, i in enumerate(holders):
                rows[i][name] = values[offsets[k] : offsets[k + 1]]
    return rows


def _read(path: Path) -> list[dict] | None:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np") as handle:
            meta = handle.metadata() or {}
            arrays = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
        if meta.get("format") != str(FORMAT):
            raise ValueError("another format")
        features = _rows(arrays, json.loads(meta["layout"]), int(meta["rows"]))
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - damaged, unreadable, foreign: a miss
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # used now: the last to be evicted
    return features


def _write(path: Path, features: list[dict]) -> None:
    """Atomically (several processes may write the same entry), readable by
    others who share the folder; never an error for the run."""
    from safetensors.numpy import save_file

    columns = _columns(features)
    if columns is None:
        return
    arrays, layout = columns
    meta = {"format": str(FORMAT), "rows": str(len(features)), "layout": json.dumps(layout)}
    written = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
            written = handle.name
        save_file(arrays, written, metadata=meta)
        os.chmod(written, 0o644)
        os.replace(written, path)
        written = None
    except Exception:  # noqa: BLE001 - a full disk or a read-only folder: no entry
        pass
    finally:
        if written is not None:
            with contextlib.suppress(OSError):
                os.unlink(written)


def _evict(folder: Path, bound: int) -> None:
    """Entries used longest ago deleted until the folder holds ``bound`` bytes
    or fewer; pickles of the earlier format always (they are never read)."""
    kept = []
    for path in folder.glob("*"):
        try:
            if path.suffix == ".pkl":
                path.unlink()
            elif path.suffix == SUFFIX:
                stat = path.stat()
                kept.append((stat.st_mtime, stat.st_size, path))
        except OSError:
            continue
    total = sum(size for _, size, _ in kept)
    for _, size, path in sorted(kept, key=lambda k: k[0]):
        if total <= bound:
            break
        with contextlib.suppress(OSError):
            path.unlink()
            total -= size


def entries() -> list[Path]:
    """The cache's entries (and temp files a killed writer left), or none when off."""
    folder = cache_dir()
    if folder is None or not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (SUFFIX, ".pkl", ".tmp"))


def clear() -> tuple[int, int]:
    """Delete every entry: how many, and how many bytes."""
    count = size = 0
    for path in entries():
        with contextlib.suppress(OSError):
            size += path.stat().st_size
            path.unlink()
            count += 1
    return count, size

"""JSON Lines files: one JSON object a line (``.jsonl`` or ``.jsonl.gz``)."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.data.text_files import open_text
from workbench.errors import WorkbenchError, where


def read_jsonl(path: str | Path) -> list[tuple[int, dict]]:
    """Return ``(line number, object)`` for every non-blank line."""
    rows: list[tuple[int, dict]] = []
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise WorkbenchError(f"{where(path, number)}: invalid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise WorkbenchError(f"{where(path, number)}: expected a JSON object")
            rows.append((number, obj))
    return rows


def column(obj: dict, name: str, loc: str):
    """``obj[name]``, or a user error naming the missing column and the keys there are."""
    if name not in obj:
        keys = ", ".join(sorted(obj)) or "none"
        raise WorkbenchError(f"{loc}: no '{name}' field (fields: {keys}); "
                             f"set the column name in the recipe's [data] section")
    return obj[name]

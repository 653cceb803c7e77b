"""JSON records: JSON Lines (one object a line, ``.jsonl`` / ``.jsonl.gz``) or one
JSON array of objects (``.json``, as many relation datasets ship, e.g. SpERT's CoNLL04)."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.data.text_files import open_text
from workbench.errors import WorkbenchError, where


def read_jsonl(path: str | Path) -> list[tuple[int, dict]]:
    """Return ``(line number, object)`` for every record: every non-blank line of a
    JSON Lines file, or every element of a file holding one JSON array (numbered by
    the line each element starts on)."""
    with open_text(path) as handle:
        text = handle.read()
    if text.lstrip().startswith("["):
        return _read_array(path, text)
    rows: list[tuple[int, dict]] = []
    # Split on newlines only: str.splitlines also breaks at U+2028 and friends, which
    # JSON writers leave unescaped inside strings.
    for number, line in enumerate(text.split("\n"), start=1):
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


def _read_array(path, text: str) -> list[tuple[int, dict]]:
    # Element by element with raw_decode, so each record keeps the line it starts on.
    decoder = json.JSONDecoder()
    rows: list[tuple[int, dict]] = []
    pos = text.index("[") + 1
    counted, lines = 0, 1  # newlines counted incrementally: big arrays stay linear

    def line_at(p: int) -> int:  # positions only move forward
        nonlocal counted, lines
        lines += text.count("\n", counted, p)
        counted = p
        return lines

    def skip(p: int) -> int:
        while p < len(text) and text[p] in " \t\r\n":
            p += 1
        return p

    pos = skip(pos)
    while pos < len(text) and text[pos] != "]":
        line = line_at(pos)
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise WorkbenchError(
                f"{where(path, line_at(exc.pos))}: invalid JSON ({exc.msg})"
            ) from None
        if not isinstance(obj, dict):
            raise WorkbenchError(f"{where(path, line)}: expected a JSON object in the array")
        rows.append((line, obj))
        pos = skip(pos)
        if pos < len(text) and text[pos] == ",":
            pos = skip(pos + 1)
        elif pos >= len(text) or text[pos] != "]":
            raise WorkbenchError(
                f"{where(path, line_at(pos))}: invalid JSON (expected ',' or ']' in the array)"
            )
    if pos >= len(text):
        raise WorkbenchError(f"{path}: invalid JSON (the array is not closed)")
    return rows


def column(obj: dict, name: str, loc: str):
    """``obj[name]``, or a user error naming the missing column and the keys there are."""
    if name not in obj:
        keys = ", ".join(sorted(obj)) or "none"
        raise WorkbenchError(
            f"{loc}: no '{name}' field (fields: {keys}); "
            f"set the column name in the recipe's [data] section"
        )
    return obj[name]

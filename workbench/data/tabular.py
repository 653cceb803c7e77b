"""CSV and TSV files: text[, text_pair], label, with or without a header row."""

from __future__ import annotations

import csv
from pathlib import Path

from workbench.data.text_files import open_text
from workbench.errors import WorkbenchError, where

# Header names recognised when the recipe keeps the default column names.
TEXT_NAMES = ("text", "sentence", "review", "content", "document", "sentence1", "premise")
PAIR_NAMES = ("text_pair", "sentence2", "hypothesis")
LABEL_NAMES = ("label", "labels", "class", "category", "sentiment", "target")


def read_table(
    path: str | Path,
    delimiter: str,
    header: str,
    text_column: str,
    text_pair_column: str | None,
    label_column: str,
) -> list[dict]:
    """Read rows into ``[{"text", "text_pair", "label", "line"}]``.

    ``header`` is 'yes', 'no' or 'auto' (a first row that names a known text or
    label column is a header). Without a header the columns are positional:
    text, [text_pair,] label.
    """
    with open_text(path) as handle:
        rows = list(enumerate(csv.reader(handle, delimiter=delimiter), start=1))
    rows = [(n, r) for n, r in rows if any(cell.strip() for cell in r)]
    if not rows:
        return []
    first = [cell.strip() for cell in rows[0][1]]
    lowered = [c.lower() for c in first]
    known = {text_column, label_column, *TEXT_NAMES, *LABEL_NAMES}
    has_header = header == "yes" or (header == "auto" and any(c in known for c in lowered))

    if has_header:

        def find(name: str | None, fallbacks: tuple[str, ...], what: str, required=True):
            if name is not None and name.lower() in lowered:
                return lowered.index(name.lower())
            for alt in fallbacks:
                if alt in lowered:
                    return lowered.index(alt)
            if required:
                raise WorkbenchError(
                    f"{where(path, rows[0][0])}: no {what} column named {name!r} in the "
                    f"header ({', '.join(first)}); set data.{what}_column"
                )
            return None

        text_i = find(text_column, TEXT_NAMES, "text")
        label_i = find(label_column, LABEL_NAMES, "label")
        pair_i = find(
            text_pair_column,
            () if text_pair_column is None else PAIR_NAMES,
            "text_pair",
            required=text_pair_column is not None,
        )
        body = rows[1:]
        width = len(first)
    else:
        width = len(first)
        if width < 2:
            raise WorkbenchError(
                f"{where(path, rows[0][0])}: expected text and label "
                f"columns separated by {delimiter!r}, got 1 column"
            )
        text_i, label_i = 0, width - 1
        pair_i = 1 if text_pair_column is not None and width >= 3 else None
        body = rows

    out = []
    for number, row in body:
        if len(row) != width:
            raise WorkbenchError(f"{where(path, number)}: expected {width} columns, got {len(row)}")
        label = row[label_i].strip()
        if not label:
            raise WorkbenchError(f"{where(path, number)}: empty label")
        out.append(
            {
                "text": row[text_i].strip(),
                "text_pair": row[pair_i].strip() if pair_i is not None else None,
                "label": label,
                "line": number,
            }
        )
    return out

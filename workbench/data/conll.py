"""CoNLL column files: one token a line, the tag in the last column, blank lines
between sentences, ``-DOCSTART-`` lines skipped."""

from __future__ import annotations

from pathlib import Path

from workbench.data.schemes import check_tag
from workbench.data.text_files import open_text
from workbench.errors import WorkbenchError, where


def read_conll(path: str | Path) -> list[dict]:
    """Read a CoNLL file into ``[{"tokens": [...], "tags": [...], "line": N}]``.

    Columns may be separated by tabs or spaces; 2-column (token tag) and
    4-column (token pos chunk tag) files both work. A line with one column, or a
    column count that changes within the file, is an error naming the line.
    """
    sentences: list[dict] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    columns = None
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                if tokens:
                    sentences.append({"tokens": tokens, "tags": tags, "line": start})
                    tokens, tags = [], []
                continue
            parts = line.split("\t") if "\t" in line else line.split()
            if parts[0] == "-DOCSTART-":
                continue
            if len(parts) < 2:
                raise WorkbenchError(
                    f"{where(path, number)}: expected a token and a tag, got {line.strip()!r}"
                )
            if columns is None:
                columns = len(parts)
            elif len(parts) != columns:
                raise WorkbenchError(
                    f"{where(path, number)}: expected {columns} columns as on the first "
                    f"line, got {len(parts)}"
                )
            tag = parts[-1].strip()
            check_tag(tag, where(path, number))
            if not tokens:
                start = number
            tokens.append(parts[0])
            tags.append(tag)
    if tokens:
        sentences.append({"tokens": tokens, "tags": tags, "line": start})
    return sentences

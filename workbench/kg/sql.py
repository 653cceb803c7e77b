"""Small helpers for the graph's SQL: statements over many ids go in chunks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

# SQLite allows many more bound parameters, but chunks keep statements small.
CHUNK = 500


def chunks(items: Iterable, size: int = CHUNK) -> Iterator[list]:
    """``items`` in lists of at most ``size``."""
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(items: list) -> str:
    """``?,?,?``: one placeholder per item."""
    return ",".join("?" * len(items))

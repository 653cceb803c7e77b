"""Span-annotated sentences: tokens, entity spans and the relations between them.

The layout of common joint entity/relation releases (SpERT's CoNLL04, ADE, SciERC):
``{"tokens": [...], "entities": [{"type", "start", "end"}], "relations": [{"type",
"head", "tail"}]}`` with token offsets (end exclusive) and relations indexing the
entity list. Examples come out as ``{"tokens", "entities": [{"type", "start",
"end"}], "relations": [{"type", "head", "tail"}], "line"}``, checked.
"""

from __future__ import annotations

from workbench.data.jsonl import column
from workbench.errors import WorkbenchError


def _int(value, what: str, loc: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise WorkbenchError(f"{loc}: {what} must be an integer, got {value!r}")
    return value


def _items(values, name: str, what: str, keys: tuple[str, str, str], loc: str):
    """``(number, item)`` for a list of objects that each hold ``keys``."""
    if not isinstance(values, list):
        raise WorkbenchError(f"{loc}: '{name}' must be a list of {{{', '.join(keys)}}}")
    for number, item in enumerate(values):
        if not isinstance(item, dict) or not set(keys) <= set(item):
            raise WorkbenchError(f"{loc}: {what} {number} needs {keys[0]}, {keys[1]} and {keys[2]}")
        yield number, item


def read_entities(obj: dict, name: str, tokens: list, loc: str) -> list[dict]:
    """The entity spans of one record, checked against its tokens."""
    out = []
    for number, entity in _items(
        column(obj, name, loc), name, "entity", ("type", "start", "end"), loc
    ):
        start = _int(entity["start"], f"entity {number} start", loc)
        end = _int(entity["end"], f"entity {number} end", loc)
        if not 0 <= start < end <= len(tokens):
            raise WorkbenchError(
                f"{loc}: entity {number} span {start}:{end} is outside the "
                f"{len(tokens)} tokens (end is exclusive)"
            )
        out.append({"type": str(entity["type"]), "start": start, "end": end})
    return out


def read_relations(obj: dict, name: str, entities: list[dict], loc: str) -> list[dict]:
    """The relations of one record, checked against its entities."""
    out = []
    for number, relation in _items(
        obj.get(name, []), name, "relation", ("type", "head", "tail"), loc
    ):
        head = _int(relation["head"], f"relation {number} head", loc)
        tail = _int(relation["tail"], f"relation {number} tail", loc)
        for end in (head, tail):
            if not 0 <= end < len(entities):
                raise WorkbenchError(
                    f"{loc}: relation {number} points at entity {end}, but "
                    f"the sentence has {len(entities)} entities"
                )
        if head == tail:
            raise WorkbenchError(f"{loc}: relation {number} links entity {head} to itself")
        out.append({"type": str(relation["type"]), "head": head, "tail": tail})
    return out


def bio_from_spans(length: int, entities: list[dict], loc: str) -> list[str]:
    """BIO tags for ``length`` tokens from entity spans; overlapping spans are an error."""
    tags = ["O"] * length
    for entity in sorted(entities, key=lambda e: e["start"]):
        if any(tag != "O" for tag in tags[entity["start"] : entity["end"]]):
            raise WorkbenchError(
                f"{loc}: entities overlap at tokens "
                f"{entity['start']}:{entity['end']}; BIO tags cannot hold that"
            )
        tags[entity["start"]] = f"B-{entity['type']}"
        for i in range(entity["start"] + 1, entity["end"]):
            tags[i] = f"I-{entity['type']}"
    return tags

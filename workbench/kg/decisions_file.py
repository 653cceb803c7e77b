"""People's decisions as a file another graph can take: ``workbench kg decisions
export`` and ``import``.

JSON lines: a first line naming the format, then one decision a line in the order
they were made, every entity by name (its normalised key and type), as the graph
keeps decisions::

    {"format": "workbench-decisions", "version": 1}
    {"kind": "merge", "from": {"key": "kestrel", "type": "ORG"},
     "into": {"key": "kestrel group", "type": "ORG"}, "time": "..."}
    {"kind": "judgement", "head": {"key": "eve", "type": "PER"}, "relation": "lives_in",
     "tail": {"key": "rome", "type": "LOC"}, "verdict": "accepted",
     "explanation": [...], "time": "..."}

(one line each). Imported into a built graph they apply at once (merges move
mentions as kg merge does); into an empty one they wait for its first build,
which reads every name through them. What a graph holds already is left alone, so
importing a file twice changes nothing.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from workbench.errors import WorkbenchError
from workbench.kg.decisions import VERDICTS
from workbench.runs.files import write_atomic

FORMAT, VERSION = "workbench-decisions", 1
HEADER = {"format": FORMAT, "version": VERSION}
NEEDS = {
    "merge": ("from", "into", "time"),
    "judgement": ("head", "relation", "tail", "verdict", "explanation", "time"),
}


def decision_lines(graph) -> list[dict]:
    """The graph's merges and judgements as file lines, oldest first (the header not
    included). Every one is written, also those about names this graph's documents
    do not mention: they are decisions all the same."""
    found: list[tuple[tuple, dict]] = []
    for r in graph.core.q("SELECT * FROM merges"):
        line = {
            "kind": "merge",
            "from": {"key": r["from_key"], "type": r["from_type"]},
            "into": {"key": r["into_key"], "type": r["into_type"]},
            "time": r["time"],
        }
        found.append(((r["time"], 0, r["id"]), line))
    for r in graph.core.q("SELECT * FROM judgements"):
        line = {
            "kind": "judgement",
            "head": {"key": r["head_key"], "type": r["head_type"]},
            "relation": r["type"],
            "tail": {"key": r["tail_key"], "type": r["tail_type"]},
            "verdict": r["verdict"],
            "explanation": json.loads(r["explanation"]),
            "time": r["time"],
        }
        found.append(((r["time"], 1, r["id"]), line))
    return [line for _, line in sorted(found, key=lambda pair: pair[0])]


def export_decisions(graph, out: Path | str) -> Path | None:
    """Write the decisions file to ``out`` (``-``: standard output); returns the
    file written (None for standard output)."""

    def write(f: TextIO) -> None:
        for line in [HEADER, *decision_lines(graph)]:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")

    if str(out) == "-":
        sys.stdout.flush()
        stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            write(stream)
            stream.flush()
        finally:
            stream.detach()  # stdout's own buffer stays open
        return None
    path = Path(out).expanduser()
    if path.is_dir():
        raise WorkbenchError(f"{path}: a folder; give a file name for the decisions")
    if not path.parent.exists():
        raise WorkbenchError(f"{path.parent}: no such folder")
    return write_atomic(path, write)


def read_decisions(source: Path | str) -> list[dict]:
    """The decisions of a file (``-``: standard input), each checked: anything
    wrong is one WorkbenchError naming the file and line, before anything is
    imported."""
    name = "standard input" if str(source) == "-" else str(source)
    try:
        text = sys.stdin.read() if str(source) == "-" else Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkbenchError(f"{name}: no such file") from None
    except UnicodeDecodeError:
        raise WorkbenchError(f"{name}: not UTF-8 text, so not a decisions file") from None
    except OSError as exc:
        raise WorkbenchError(f"{name}: cannot read it ({exc.strerror or exc})") from None
    lines = text.splitlines()
    header = json.dumps(HEADER)
    if not lines or not lines[0].strip():
        raise WorkbenchError(f"{name}:1: a decisions file starts with the line {header}")
    items = []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        where = f"{name}:{number}"
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise WorkbenchError(f"{where}: not JSON ({getattr(exc, 'msg', exc)})") from None
        if not isinstance(data, dict):
            raise WorkbenchError(f"{where}: a line holds one JSON object, not {raw[:40]!r}")
        if number == 1:
            _check_header(where, data, header)
        else:
            items.append(_item(where, data))
    return items


def _check_header(where: str, data: dict, header: str) -> None:
    if data.get("format") != FORMAT:
        raise WorkbenchError(f"{where}: not a decisions file (its first line must be {header})")
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise WorkbenchError(f"{where}: version must be a whole number (this workbench writes 1)")
    if version > VERSION:
        raise WorkbenchError(
            f"{where}: decisions file version {version} is newer than this workbench "
            f"reads ({VERSION}); upgrade workbench"
        )


def _item(where: str, data: dict) -> dict:
    """One line checked, as {"kind", and its fields}; names are (key, type) pairs."""
    kind = data.get("kind")
    if kind not in NEEDS:
        raise WorkbenchError(f"{where}: unknown kind {kind!r} (merge or judgement)")
    for key in NEEDS[kind]:
        if key not in data:
            raise WorkbenchError(f'{where}: a {kind} line needs "{key}"')
    if not isinstance(data["time"], str):
        raise WorkbenchError(f'{where}: "time" must be text')
    if kind == "merge":
        source, target = _name(where, data, "from"), _name(where, data, "into")
        if source == target:
            raise WorkbenchError(f"{where}: merges {source[0]!r} into itself")
        return {"kind": kind, "from": source, "into": target, "time": data["time"]}
    relation = data["relation"]
    if not isinstance(relation, str) or not relation:
        raise WorkbenchError(f'{where}: "relation" must be a relation type')
    if data["verdict"] not in VERDICTS:
        raise WorkbenchError(f'{where}: "verdict" must be {" or ".join(VERDICTS)}')
    head, tail = _name(where, data, "head"), _name(where, data, "tail")
    return {
        "kind": kind,
        "names": (*head, relation, *tail),
        "verdict": data["verdict"],
        "explanation": data["explanation"],
        "time": data["time"],
    }


def _name(where: str, data: dict, key: str) -> tuple[str, str]:
    value: Any = data[key]
    if not isinstance(value, dict) or not all(
        isinstance(value.get(k), str) and value.get(k) for k in ("key", "type")
    ):
        raise WorkbenchError(f'{where}: "{key}" must be {{"key": NAME, "type": TYPE}}')
    return value["key"], value["type"]


def import_decisions(graph, items: list[dict], source: str) -> dict:
    """Apply checked decisions (read_decisions) to ``graph`` as one journal entry
    (kind "import"; kg undo takes it back whole). Returns {"merges","judgements"
    (how many applied), "already" (how many the graph held already)}."""
    decisions = graph.decisions
    summary: dict[str, Any] = {"file": source, "merges": [], "judgements": []}
    already = 0
    todo = [i for i in items if not _held(graph, i)]
    if todo:
        with decisions.journal.record("import", summary):
            for item in todo:
                if item["kind"] == "merge":
                    if decisions.one_entity(item["from"], item["into"]):
                        already += 1  # an earlier line of the file made it so
                        continue
                    decisions.merge_names(item["from"], item["into"], item["time"])
                    summary["merges"].append([*item["from"], *item["into"]])
                elif decisions.set_judgement(
                    item["names"], item["verdict"], item["explanation"], item["time"]
                ):
                    summary["judgements"].append([*item["names"], item["verdict"]])
                else:
                    already += 1
    return {
        "merges": len(summary["merges"]),
        "judgements": len(summary["judgements"]),
        "already": already + len(items) - len(todo),
    }


def _held(graph, item: dict) -> bool:
    """Whether the graph says what the item says already."""
    if item["kind"] == "merge":
        return graph.decisions.one_entity(item["from"], item["into"])
    return graph.decisions.verdict_of(item["names"]) == item["verdict"]

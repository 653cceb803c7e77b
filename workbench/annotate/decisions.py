"""The decisions file: one JSON line per decided sentence (or entity pair), in
the layout the readers already load as training data.

NER: ``{"tokens", "entities": [{"type", "start", "end"}], ...}`` (``data.train``
or ``data.extra_train`` read it as span-annotated sentences); classification:
``{"text", "label", ...}``; relation: ``{"tokens", "entities": [head, tail],
"relations": [{"type", "head": 0, "tail": 1}], "pair": [h_start, h_end, t_start,
t_end], ...}`` (no relation: an empty list). Each line also says what the person
did (``"decision"``: accepted, fixed or rejected; the readers skip rejected ones)
and for which ``"task"``, where the sentence came from (``"source"``, and
``"position"``: the sentence's number in its document), its ``"text"`` and when
(``"time"``). The example's own keys follow the recipe's column names
(``tokens_column``...), so the recipe that trained the model reads the file
unchanged.

Every decision is appended with one write and fsynced before the next sentence
shows, so a dropped SSH session or a killed process loses at most the sentence
on screen. A last line cut short (a power cut mid-write) is cut off on opening;
undo truncates the file back to where the last line began.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from workbench.annotate.pairs import RELATION, PairItem, pair_key
from workbench.annotate.pool import Item, item_key
from workbench.data import EXTENSIONS, REJECTED
from workbench.errors import WorkbenchError, where

ACCEPTED, FIXED = "accepted", "fixed"


def ner_record(
    item: Item, entities: list[dict], decision: str, columns: dict | None = None
) -> dict:
    """The line for a NER sentence: its words and the entities the person kept
    (``columns``: the recipe's ``tokens_column`` and ``entities_column``, so the
    recipe reads the file as it is)."""
    columns = columns or {}
    kept = [] if decision == REJECTED else sorted(entities, key=lambda e: e["start"])
    return {
        columns.get("tokens_column", "tokens"): item.tokens,
        columns.get("entities_column", "entities"): [
            {"type": e["type"], "start": e["start"], "end": e["end"]} for e in kept
        ],
        **_about(item, decision, "ner"),
    }


def classification_record(
    item: Item, label: str | None, decision: str, columns: dict | None = None
) -> dict:
    """The line for a text: the class the person chose (none when rejected)."""
    columns = columns or {}
    record: dict = {columns.get("text_column", "text"): item.text}
    if decision != REJECTED:
        record[columns.get("label_column", "label")] = label
    return {**record, **_about(item, decision, "classification")}


def relation_record(
    item: PairItem,
    label: str | None,
    decision: str,
    columns: dict | None = None,
    none_label: str = "no_relation",
) -> dict:
    """The line for an entity pair: the sentence's words, the head and the tail
    (entities 0 and 1) and the relation between them, none for the no-relation
    label or a rejected pair. Only those two entities are written: the relation
    reader makes every ordered pair of a line's entities a training pair, and the
    pairs nobody looked at would all become no-relation (the decided pair's
    reverse does, where the model takes that type pair)."""
    columns = columns or {}
    related = decision != REJECTED and label is not None and label != none_label
    return {
        columns.get("tokens_column", "tokens"): item.tokens,
        columns.get("entities_column", "entities"): [
            {"type": e["type"], "start": e["start"], "end": e["end"]} for e in item.entities
        ],
        columns.get("relations_column", "relations"): (
            [{"type": label, "head": 0, "tail": 1}] if related else []
        ),
        "pair": list(item.pair),
        **_about(item, decision, RELATION),
    }


def record_key(record: dict) -> str:
    """The key of the item a line decided (``Item.key``): a pair's line names its pair."""
    source, text = str(record["source"]), str(record["text"])
    pair = record.get("pair")
    if isinstance(pair, list) and len(pair) == 4 and all(isinstance(n, int) for n in pair):
        return pair_key(source, text, pair)
    return item_key(source, text)


def _about(item: Item, decision: str, task: str) -> dict:
    return {
        "task": task,
        "decision": decision,
        "source": item.source,
        "position": item.sentence,
        "text": item.text,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


METADATA = ("task", "decision", "source", "position", "text", "time", "pair")


class DecisionLog:
    """The decisions made so far in one file, and the means to add and take back."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.is_dir():
            raise WorkbenchError(f"{self.path}: a folder; give a file for the decisions")
        if EXTENSIONS.get(self.path.suffix.lower()) != "jsonl":
            # The readers tell a file's format by its name: decisions are JSON lines.
            raise WorkbenchError(f"{self.path}: decisions are JSON lines; name the file *.jsonl")
        self.records: list[dict] = []
        self._starts: list[int] = []  # where each record's line begins, in bytes
        self.repaired = False  # a cut-off last line was removed on opening
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        data = self.path.read_bytes()
        start = 0
        lines = data.split(b"\n")
        for number, line in enumerate(lines, start=1):
            begin, start = start, start + len(line) + 1
            if not line.strip():
                continue
            last = number == len(lines)  # no newline after it
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                if last and self.records:  # the process died mid-write: cut it off
                    self._cut(begin)
                    self.repaired = True
                    return
                raise WorkbenchError(
                    f"{where(self.path, number)}: not a decision (invalid JSON); "
                    f"give another decisions file or fix this line"
                ) from None
            if not isinstance(record, dict) or not {"source", "text", "decision"} <= set(record):
                raise WorkbenchError(
                    f"{where(self.path, number)}: not a decision written by workbench "
                    f"annotate (no source, text and decision); give another decisions file"
                )
            if last:  # whole, but its newline was lost: give it one
                with open(self.path, "ab") as handle:
                    handle.write(b"\n")
            self.records.append(record)
            self._starts.append(begin)

    def _cut(self, size: int) -> None:
        with open(self.path, "r+b") as handle:
            handle.truncate(size)
            os.fsync(handle.fileno())

    @property
    def decided(self) -> set[str]:
        """Keys of the items decided in this file (``record_key``)."""
        return {record_key(r) for r in self.records}

    def task(self) -> str | None:
        """The task the file's decisions are for (None while it is empty)."""
        return self.records[0].get("task") if self.records else None

    def labels(self, columns: dict | None = None) -> set[str]:
        """Every entity type or class the decisions use (to check them against a model)."""
        columns = columns or {}
        found: set[str] = set()
        for record in self.records:
            if record.get("decision") == REJECTED:
                continue
            if record.get("task") == "ner":
                spans = record.get(columns.get("entities_column", "entities")) or []
                found |= {str(e.get("type")) for e in spans if isinstance(e, dict)}
            elif record.get("task") == RELATION:
                related = record.get(columns.get("relations_column", "relations")) or []
                found |= {str(r.get("type")) for r in related if isinstance(r, dict)}
            else:
                label = record.get(columns.get("label_column", "label"))
                if label is not None:
                    found.add(str(label))
        return found

    def counts(self) -> dict[str, int]:
        """How many decisions of each kind."""
        out = {ACCEPTED: 0, FIXED: 0, REJECTED: 0}
        for record in self.records:
            kind = record.get("decision")
            if kind in out:
                out[kind] += 1
        return out

    def append(self, record: dict) -> None:
        """Write one decision at once: a whole line, flushed and fsynced. A write
        that fails (a full disk) leaves the file as it was."""
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as handle:
            handle.seek(0, os.SEEK_END)
            begin = handle.tell()
            try:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
            except OSError:
                handle.truncate(begin)
                raise
        self.records.append(record)
        self._starts.append(begin)

    def undo(self) -> dict | None:
        """Take back the last decision (None when there is none): the file is cut
        back to where its line began."""
        if not self.records:
            return None
        begin = self._starts[-1]
        try:
            with open(self.path, "rb") as handle:
                handle.seek(begin)
                tail = handle.read()
        except OSError as exc:
            raise WorkbenchError(f"{self.path}: cannot read it back ({exc.strerror})") from None
        # The file must still end with that decision's line (and only it).
        try:
            same = json.loads(tail) == self.records[-1] and tail.count(b"\n") <= 1
        except (json.JSONDecodeError, UnicodeDecodeError):
            same = False
        if not same:
            raise WorkbenchError(f"{self.path}: changed outside this session; reopen it to undo")
        self._cut(begin)
        self._starts.pop()
        return self.records.pop()

"""The decisions file: one JSON line per decided sentence, in the layout the
readers already load as training data.

NER: ``{"tokens", "entities": [{"type", "start", "end"}], ...}`` (``data.train``
or ``data.extra_train`` read it as span-annotated sentences); classification:
``{"text", "label", ...}``. Each line also says what the person did
(``"decision"``: accepted, fixed or rejected; the readers skip rejected ones)
and for which ``"task"``,
where the sentence came from (``"source"``, and ``"position"``: the sentence's
number in its document), its ``"text"`` and when (``"time"``). The example's own
keys follow the recipe's column names (``tokens_column``...), so the recipe that
trained the model reads the file unchanged.

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

from workbench.annotate.pool import Item, item_key
from workbench.errors import WorkbenchError, where

ACCEPTED, FIXED, REJECTED = "accepted", "fixed", "rejected"


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


def _about(item: Item, decision: str, task: str) -> dict:
    return {
        "task": task,
        "decision": decision,
        "source": item.source,
        "position": item.sentence,
        "text": item.text,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


class DecisionLog:
    """The decisions made so far in one file, and the means to add and take back."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.records: list[dict] = []
        self._starts: list[int] = []  # where each record's line begins, in bytes
        self.repaired = False  # a cut-off last line was removed on opening
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        if self.path.is_dir():
            raise WorkbenchError(f"{self.path}: a folder; give a file for the decisions")
        data = self.path.read_bytes()
        whole = data.rfind(b"\n") + 1
        if whole < len(data):  # the last line was being written when the process died
            with open(self.path, "r+b") as handle:
                handle.truncate(whole)
                os.fsync(handle.fileno())
            self.repaired = True
        start = 0
        for number, line in enumerate(data[:whole].split(b"\n")[:-1], start=1):
            begin, start = start, start + len(line) + 1
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise WorkbenchError(
                    f"{where(self.path, number)}: not a decision (invalid JSON); "
                    f"give another --out file or fix this line"
                ) from None
            if not isinstance(record, dict) or not {"source", "text"} <= set(record):
                raise WorkbenchError(
                    f"{where(self.path, number)}: not a decision written by workbench "
                    f"annotate (no source and text); give another --out file"
                )
            self.records.append(record)
            self._starts.append(begin)

    @property
    def decided(self) -> set[str]:
        """Keys of the items decided in this file (``pool.item_key``)."""
        return {item_key(str(r["source"]), str(r["text"])) for r in self.records}

    def task(self) -> str | None:
        """The task the file's decisions are for (None while it is empty)."""
        for record in self.records:
            return record.get("task")
        return None

    def counts(self) -> dict[str, int]:
        """How many decisions of each kind."""
        out = {ACCEPTED: 0, FIXED: 0, REJECTED: 0}
        for record in self.records:
            kind = record.get("decision")
            if kind in out:
                out[kind] += 1
        return out

    def append(self, record: dict) -> None:
        """Write one decision at once: a whole line, flushed and fsynced."""
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as handle:
            handle.seek(0, os.SEEK_END)
            begin = handle.tell()
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self.records.append(record)
        self._starts.append(begin)

    def undo(self) -> dict | None:
        """Take back the last decision (None when there is none): the file is cut
        back to where its line began."""
        if not self.records:
            return None
        begin = self._starts.pop()
        with open(self.path, "r+b") as handle:
            handle.truncate(begin)
            os.fsync(handle.fileno())
        return self.records.pop()

"""One annotation session: the queue, the sentence (or entity pair) being decided,
and the edits a person makes to it before deciding. Plain state and methods, no display: the
Annotate screen draws it and maps keys onto it, and tests drive it directly."""

from __future__ import annotations

from collections.abc import Callable

from workbench.annotate.decisions import (
    ACCEPTED,
    FIXED,
    REJECTED,
    DecisionLog,
    classification_record,
    ner_record,
    record_key,
    relation_record,
)
from workbench.annotate.pairs import RELATION, PairItem, pair_from_record
from workbench.annotate.pool import Item, make_item


class Session:
    """Decide the items of ``queue`` one by one into ``log``.

    ``labels`` are what the person may choose from: entity types (NER), classes, or
    relation types (a relation run's items are ``PairItem``s; ``none_label`` is its
    no-relation label, written as a line without a relation). ``columns`` are the
    recipe's data column names, so the file fits the recipe."""

    def __init__(
        self,
        queue: list[Item],
        log: DecisionLog,
        task: str,
        labels: list[str],
        columns: dict | None = None,
        repropose: Callable[[list[Item]], None] | None = None,
        level: str = "words",
        none_label: str | None = None,
    ):
        self.queue = list(queue)
        self.log = log
        self.task = task
        self.labels = labels
        self.level = level  # how a sentence is cut into words (tasks/words.py)
        self.columns = columns or {}
        self.none_label = none_label if none_label is not None else "no_relation"
        # Asks the model again for a sentence an undo brings back from an earlier
        # session (its proposal was not kept): ``pool.propose`` with the loaded model.
        self.repropose = repropose
        self.history: list[Item] = []  # items decided in this session, last last
        self.entities: list[dict] = []  # the current sentence's entities as edited
        self.label: str | None = None  # the current text's class as chosen
        self.cursor = 0  # the word the cursor is on
        self.anchor: int | None = None  # the other end of a selection, if one is made
        self._start()

    # -- where we are ------------------------------------------------------------------
    @property
    def current(self) -> Item | None:
        return self.queue[0] if self.queue else None

    @property
    def selection(self) -> tuple[int, int]:
        """The selected words as ``(start, end)``, end exclusive (the cursor's word
        when nothing is selected)."""
        if self.anchor is None:
            return self.cursor, self.cursor + 1
        low, high = sorted((self.anchor, self.cursor))
        return low, high + 1

    @property
    def changed(self) -> bool:
        """Does the sentence differ from what the model proposed?"""
        item = self.current
        if item is None:
            return False
        if self.task == "ner":
            return _spans(self.entities) != _spans(item.entities)
        return self.label != item.label

    def _start(self, entities: list[dict] | None = None, label: str | None = None) -> None:
        item = self.current
        self.cursor, self.anchor = 0, None
        if item is None:
            self.entities, self.label = [], None
            return
        self.entities = [dict(e) for e in (item.entities if entities is None else entities)]
        self.label = item.label if label is None else label

    # -- editing a sentence ------------------------------------------------------------
    def move(self, delta: int, extend: bool = False) -> None:
        """Move the cursor ``delta`` words; ``extend`` grows the selection instead of
        starting again."""
        item = self.current
        if item is None or not item.words:
            return
        if extend and self.anchor is None:
            self.anchor = self.cursor
        elif not extend:
            self.anchor = None
        self.cursor = max(0, min(len(item.words) - 1, self.cursor + delta))

    def home(self, end: bool = False) -> None:
        """The cursor to the first word (or the last)."""
        item = self.current
        if item is not None and item.words:
            self.anchor, self.cursor = None, (len(item.words) - 1 if end else 0)

    def mark(self, label: str) -> None:
        """NER: the selection becomes an entity of type ``label`` (entities it
        overlaps go). Classification: ``label`` is the chosen class."""
        if label not in self.labels:
            raise ValueError(f"unknown label {label!r}")
        if self.task != "ner":
            self.label = label
            return
        start, end = self.selection
        self.entities = [e for e in self.entities if e["end"] <= start or e["start"] >= end]
        self.entities.append({"type": label, "start": start, "end": end})
        self.entities.sort(key=lambda e: e["start"])
        self.anchor = None

    def entity_at(self, word: int) -> dict | None:
        return next((e for e in self.entities if e["start"] <= word < e["end"]), None)

    def delete(self) -> bool:
        """Remove the entity under the cursor (or every one inside the selection);
        a pair's head and tail are not the person's to remove."""
        if self.task != "ner":
            return False
        start, end = self.selection
        kept = [e for e in self.entities if e["end"] <= start or e["start"] >= end]
        removed = len(kept) != len(self.entities)
        self.entities, self.anchor = kept, None
        return removed

    def reset(self) -> None:
        """Back to the model's proposal."""
        self._start()

    # -- deciding ----------------------------------------------------------------------
    def accept(self) -> str | None:
        """Record the sentence as it is now (``accepted`` if unchanged, else
        ``fixed``); the next one shows. Returns the decision."""
        if self.current is None:
            return None
        if self.task != "ner" and self.label is None:
            raise ValueError(
                "choose a relation type first" if self.task == RELATION else "choose a class first"
            )
        decision = FIXED if self.changed else ACCEPTED
        self._decide(decision)
        return decision

    def reject(self) -> str | None:
        """Record the sentence as not to be learned from (the readers skip it)."""
        if self.current is None:
            return None
        self._decide(REJECTED)
        return REJECTED

    def skip(self) -> None:
        """Put the sentence at the end of the queue, undecided."""
        if len(self.queue) > 1:
            self.queue.append(self.queue.pop(0))
        self._start()

    def _decide(self, decision: str) -> None:
        item = self.queue[0]
        if self.task == "ner":
            record = ner_record(item, self.entities, decision, self.columns)
        elif isinstance(item, PairItem):
            record = relation_record(item, self.label, decision, self.columns, self.none_label)
        else:
            record = classification_record(item, self.label, decision, self.columns)
        self.log.append(record)  # on disk before the next sentence shows
        self.history.append(item)
        self.queue.pop(0)
        self._start()

    def undo(self) -> dict | None:
        """Take back the last decision in the file (this session's or an earlier
        one's): its sentence shows again as it was decided. Returns the record."""
        if not self.log.records:
            return None
        last = self.log.records[-1]
        mine = bool(self.history) and self.history[-1].key == record_key(last)
        # Rebuilt before the file is cut: a line that cannot be shown again stays.
        item = self.history[-1] if mine else self._rebuilt(last)
        record = self.log.undo()
        if record is None:
            return None
        if mine:
            self.history.pop()
        else:
            item.confidence = float("nan")  # the model's proposal was not kept
            if self.repropose is not None:
                self.repropose([item])
        self.queue.insert(0, item)
        if record.get("decision") == REJECTED:
            self._start()
        elif self.task == "ner":
            decided = record.get(self.columns.get("entities_column", "entities")) or []
            self._start(entities=[dict(e) for e in decided])
        elif self.task == RELATION:
            related = record.get(self.columns.get("relations_column", "relations")) or []
            self._start(label=str(related[0]["type"]) if related else self.none_label)
        else:
            self._start(label=record.get(self.columns.get("label_column", "label")))
        return record

    def _rebuilt(self, record: dict) -> Item:
        """The item an earlier session's line decided, unproposed."""
        if self.task == RELATION:
            return pair_from_record(record, self.columns)
        position = int(record.get("position") or 0)
        text, source = str(record["text"]), str(record["source"])
        return make_item(source, position, text, self.task, self.level)


def _spans(entities: list[dict]) -> set[tuple[str, int, int]]:
    return {(e["type"], e["start"], e["end"]) for e in entities}

"""The graph file's core: one SQLite connection (schema in kg/schema.py), its write
transactions, and the bookkeeping that more than one part of store.Graph needs.

The parts (ingest, vectors, queries, decisions) each take a GraphCore; none of them
holds a connection of its own. What lives here is what two or more of them share:

- **names to entities**: ``merged_into`` (people's merges, read at every mention)
  and ``entity_id`` (the entity a mention of a name belongs to), used by ingestion
  and by merges and splits alike;
- **recounts**: ``refresh_relations`` and ``refresh_entities`` re-derive a
  relation's count and score from its evidence and an entity's aliases, name and
  mention count from its mentions, after any write that moved either;
- **rows as callers see them**: ``entity_row`` (one entity or a WorkbenchError)
  and ``summaries`` (the search result dicts).

Every query is parameterised.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.kg.normalize import display_form, normalize_name, surface_form
from workbench.kg.sql import chunks, marks

_MAX_CHAIN = 32  # merge records are kept flat; this only guards a hand-edited file


def brief(row, prefix: str = "") -> dict:
    """An entity row as {"id","name","type"} (columns ``prefix`` + id/name/type)."""
    return {"id": row[f"{prefix}id"], "name": row[f"{prefix}name"], "type": row[f"{prefix}type"]}


def check_limit(what: str, value: int) -> None:
    """A limit people give must be a whole number, at least 1."""
    if not isinstance(value, int) or value < 1:
        raise WorkbenchError(f"{what}: must be at least 1 (got {value!r})")


def insert(conn: sqlite3.Connection, sql: str, params: tuple) -> int:
    """Run an INSERT and return the new row's id (an INSERT always sets one)."""
    row_id = conn.execute(sql, params).lastrowid
    assert row_id is not None
    return row_id


class GraphCore:
    """One open graph file: the connection every part of store.Graph shares."""

    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path = path
        self.conn = conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE takes the write lock up front so two
        builders wait for each other instead of failing half-way. Inside an
        open transaction (store.Graph.transaction) it joins that one."""
        if self.conn.in_transaction:
            yield self.conn
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def q(self, sql: str, params: Iterable = ()) -> list[sqlite3.Row]:
        """All rows of one query."""
        return self.conn.execute(sql, tuple(params)).fetchall()

    # ------------------------------------------------------- names to entities

    def merged_into(self, key: str, type: str) -> tuple[str, str]:
        """The (key, type) a name resolves to after people's merges (itself if none)."""
        for _ in range(_MAX_CHAIN):
            row = self.conn.execute(
                "SELECT into_key, into_type FROM merges WHERE from_key = ? AND from_type = ?",
                (key, type),
            ).fetchone()
            if row is None:
                break
            key, type = row[0], row[1]
        return key, type

    def entity_id(self, key: str, type: str, surface: str) -> int:
        """The entity a mention of (key, type) belongs to, created if needed; a
        person's merge sends it to the entity it was merged into."""
        key, type = self.merged_into(key, type)
        row = self.conn.execute(
            "SELECT id FROM entities WHERE key = ? AND type = ?", (key, type)
        ).fetchone()
        if row is not None:
            return row[0]
        return insert(
            self.conn,
            "INSERT INTO entities(key, type, name) VALUES (?, ?, ?)",
            (key, type, surface),
        )

    def entity_row(self, entity_id: int) -> sqlite3.Row:
        """id, name, type and mentions of one entity; a WorkbenchError when there is none."""
        row = self.conn.execute(
            "SELECT id, name, type, mentions FROM entities WHERE id = ?", (int(entity_id),)
        ).fetchone()
        if row is None:
            raise WorkbenchError(f"no entity #{entity_id} in {self.path}")
        return row

    def summaries(self, entity_ids: list[int]) -> dict[int, dict]:
        """id -> {"id","name","type","mentions","relations"} (relations: degree)."""
        found = {}
        for chunk in chunks(entity_ids):
            for row in self.q(
                "SELECT e.id, e.name, e.type, e.mentions, "
                "(SELECT count(*) FROM relations WHERE head_id = e.id) + "
                "(SELECT count(*) FROM relations WHERE tail_id = e.id) AS degree "
                f"FROM entities e WHERE e.id IN ({marks(chunk)})",
                chunk,
            ):
                found[row["id"]] = {
                    "id": row["id"],
                    "name": row["name"],
                    "type": row["type"],
                    "mentions": row["mentions"],
                    "relations": row["degree"],
                }
        return found

    # ---------------------------------------------------------------- recounts

    def refresh_relations(self, relation_ids: set[int]) -> None:
        """Recount evidence; a relation with none left goes."""
        for chunk in chunks(sorted(relation_ids)):
            self.conn.execute(
                "UPDATE relations SET "
                "count = (SELECT count(*) FROM evidence WHERE relation_id = relations.id), "
                "score = coalesce((SELECT max(score) FROM evidence "
                "                  WHERE relation_id = relations.id), score) "
                f"WHERE id IN ({marks(chunk)})",
                chunk,
            )
            self.conn.execute(
                f"DELETE FROM relations WHERE id IN ({marks(chunk)}) AND count = 0", chunk
            )

    def refresh_entities(self, entity_ids: set[int]) -> None:
        """Recount mentions and aliases, re-pick the display name; an entity
        with no mention left goes (its aliases and embedding cascade)."""
        conn = self.conn
        for entity_id in sorted(entity_ids):
            counts: Counter[str] = Counter()
            shown: dict[str, str] = {}  # alias -> its first-seen display (width as written)
            # First-seen order, so a new alias gets a later id and ties keep the old name.
            for text, n in conn.execute(
                "SELECT text, count(*) FROM mentions WHERE entity_id = ? "
                "GROUP BY text ORDER BY min(id)",
                (entity_id,),
            ):
                surface = surface_form(text)
                counts[surface] += n
                shown.setdefault(surface, display_form(text))
            if not counts:
                conn.execute("DELETE FROM entities WHERE id = ?", (entity_id,))
                continue
            existing = {
                row[1]: row[0]
                for row in conn.execute(
                    "SELECT id, text FROM aliases WHERE entity_id = ?", (entity_id,)
                )
            }
            for text, alias_id in existing.items():
                if text not in counts:
                    conn.execute("DELETE FROM aliases WHERE id = ?", (alias_id,))
            for text, n in counts.items():
                if text in existing:
                    conn.execute("UPDATE aliases SET count = ? WHERE id = ?", (n, existing[text]))
                else:
                    conn.execute(
                        "INSERT INTO aliases(entity_id, text, count) VALUES (?, ?, ?)",
                        (entity_id, text, n),
                    )
            # Most frequent form of the entity's own name (a name merged into it does not
            # rename it), then of any; ties go to the oldest alias so names do not flicker.
            key = conn.execute("SELECT key FROM entities WHERE id = ?", (entity_id,)).fetchone()[0]
            forms = [
                r[0]
                for r in conn.execute(
                    "SELECT text FROM aliases WHERE entity_id = ? ORDER BY count DESC, id",
                    (entity_id,),
                )
            ]
            name = next((f for f in forms if normalize_name(f) == key), forms[0])
            # Aliases are NFKC (search finds either width); the name keeps the width the
            # first mention of that alias was written in ("华为（中国）", "ＩＢＭ").
            name = shown.get(name, name)
            conn.execute(
                "UPDATE entities SET name = ?, mentions = ? WHERE id = ?",
                (name, sum(counts.values()), entity_id),
            )

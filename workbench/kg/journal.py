"""The decision journal: every merge, split, accept, reject and import people make,
and how to take one back exactly (``graph.decisions.journal``, class Journal).

SQLite's "automatic undo using triggers" (https://www.sqlite.org/undoredo.html):
while one decision runs, temporary triggers on every table a decision can change
write, for each row it inserts, updates or deletes, the statement that puts the
row back (table undo_log); the decision itself (table decision_log) keeps what it
was, by names. Undo replays a decision's statements backwards in one transaction,
so the graph is again what it was, row for row, and the code that makes decisions
knows nothing of any of it.

An exact undo holds only while the rows are as the decision left them. A later
decision that touched the same rows must be undone first (``conflicts``); a
build, a document added or removed, or an inference pass since (``epoch``)
makes the statements stale, and kg/undo.py then takes the decision back by
its meaning instead.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from workbench.errors import WorkbenchError
from workbench.kg.core import GraphCore, insert

# What a decision may change: merges move mentions, evidence and aliases, re-count
# and drop entities and relations (their embeddings and proposals cascade), and may
# re-embed the entity kept; judgements take proposals out. Not the FTS index: the
# aliases' own triggers keep it in step when undo puts aliases back.
LOGGED = (
    "entities",
    "aliases",
    "mentions",
    "relations",
    "evidence",
    "embeddings",
    "folded",
    "merges",
    "judgements",
    "inferred",
)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def note_change(conn: sqlite3.Connection) -> None:
    """Count a change the journal does not log (an inference pass, an undo by
    meaning): the exact undo of every earlier decision is stale from now on."""
    conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'changes'")


def epoch(conn: sqlite3.Connection) -> str:
    """What changes outside decisions move: the last build and the count of
    document changes, inference passes and undos by meaning."""
    build = conn.execute("SELECT coalesce(max(id), 0) FROM builds").fetchone()[0]
    row = conn.execute("SELECT value FROM meta WHERE key = 'changes'").fetchone()
    return f"{build}:{row[0] if row else 0}"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _triggers(conn: sqlite3.Connection, decision_id: int) -> list[str]:
    """CREATE TEMP TRIGGER statements logging each change to a LOGGED table as the
    statement that reverses it. A row is named by its rowid (every LOGGED table's
    integer primary key); values are written with quote(), which gives reals back
    bit for bit and blobs as X'..'. An update that changes nothing logs nothing,
    so re-counts that find the same numbers do not make two decisions collide."""
    statements = []
    for table in LOGGED:
        info = conn.execute(f"PRAGMA main.table_info({_q(table)})").fetchall()
        keys = [r for r in info if r[5]]
        alias = keys[0][1] if len(keys) == 1 and str(keys[0][2]).upper() == "INTEGER" else None
        columns = [r[1] for r in info if r[1] != alias]  # the rowid is set apart
        name, t = f"undo_{table}", _q(table)

        def log(row: str, sql: str, table: str = table) -> str:
            return (
                "INSERT INTO undo_log(decision_id, tbl, row_id, sql) "
                f"VALUES ({decision_id}, '{table}', {row}.rowid, {sql});"
            )

        values = " || ',' || ".join(f"quote(old.{_q(c)})" for c in columns)
        inserted = f"'INSERT INTO {t}(rowid, {', '.join(map(_q, columns))}) VALUES (' || old.rowid"
        statements.append(
            f"CREATE TEMP TRIGGER {name}_d AFTER DELETE ON {t} BEGIN "
            + log("old", f"{inserted} || ',' || {values} || ')'")
            + " END"
        )
        statements.append(
            f"CREATE TEMP TRIGGER {name}_i AFTER INSERT ON {t} BEGIN "
            + log("new", f"'DELETE FROM {t} WHERE rowid = ' || new.rowid")
            + " END"
        )
        sets = " || ', ' || ".join(f"'{_q(c)} = ' || quote(old.{_q(c)})" for c in columns)
        changed = " OR ".join(f"old.{_q(c)} IS NOT new.{_q(c)}" for c in columns)
        statements.append(
            f"CREATE TEMP TRIGGER {name}_u AFTER UPDATE ON {t} WHEN {changed} BEGIN "
            + log("old", f"'UPDATE {t} SET ' || {sets} || ' WHERE rowid = ' || old.rowid")
            + " END"
        )
    return statements


class Journal:
    """The decisions made on one graph, and their undo statements."""

    def __init__(self, core: GraphCore):
        self.core = core
        self._recording: dict | None = None  # the summary of the decision running now

    @contextmanager
    def record(self, kind: str, summary: dict) -> Iterator[dict]:
        """Run one decision's writes inside: one transaction, every row change
        logged under a new decision_log entry. Yields ``summary`` (stored when the
        block ends, so it may add what the decision found). Inside a decision
        already recording (an import merging names) it just joins that one."""
        if self._recording is not None:
            yield summary
            return
        conn = self.core.conn
        # REPLACE deletes the row it replaces; only with recursive triggers does that
        # delete fire the trigger that logs it (an embedding re-computed, say).
        recursive = conn.execute("PRAGMA recursive_triggers").fetchone()[0]
        conn.execute("PRAGMA recursive_triggers = ON")
        try:
            with self.core.write():
                decision_id = insert(
                    conn,
                    "INSERT INTO decision_log(kind, summary, time, build_id, epoch) "
                    "VALUES (?, '{}', ?, (SELECT max(id) FROM builds), ?)",
                    (kind, now(), epoch(conn)),
                )
                # Journals a build or the like made stale stay stale (the epoch only
                # grows): their statements are of no more use.
                conn.execute(
                    "DELETE FROM undo_log WHERE decision_id IN "
                    "(SELECT id FROM decision_log WHERE epoch != ?)",
                    (epoch(conn),),
                )
                triggers = _triggers(conn, decision_id)
                for statement in triggers:
                    conn.execute(statement)
                self._recording = summary
                try:
                    yield summary
                finally:
                    self._recording = None
                    for table in LOGGED:
                        for suffix in "diu":
                            conn.execute(f"DROP TRIGGER IF EXISTS temp.undo_{table}_{suffix}")
                conn.execute(
                    "UPDATE decision_log SET summary = ? WHERE id = ?",
                    (json.dumps(summary, ensure_ascii=False), decision_id),
                )
        finally:
            conn.execute(f"PRAGMA recursive_triggers = {int(recursive)}")

    def entries(self, limit: int | None = None) -> list[dict]:
        """Decisions, newest first: {"id","kind","summary" (dict),"time","undone"
        (time or None),"build"}."""
        sql = "SELECT * FROM decision_log ORDER BY id DESC"
        args: tuple = ()
        if limit is not None:
            sql += " LIMIT ?"
            args = (limit,)
        return [self._entry(r) for r in self.core.q(sql, args)]

    def entry(self, decision_id: int | None = None) -> dict:
        """One decision by number, or the newest still standing; a WorkbenchError
        when there is none or it was undone already."""
        if decision_id is None:
            row = self.core.conn.execute(
                "SELECT * FROM decision_log WHERE undone IS NULL ORDER BY id DESC LIMIT 1"
            ).fetchone()
            if row is None:
                raise WorkbenchError(f"{self.core.path}: nothing to undo (no decision stands)")
            return self._entry(row)
        row = self.core.conn.execute(
            "SELECT * FROM decision_log WHERE id = ?", (decision_id,)
        ).fetchone()
        if row is None:
            raise WorkbenchError(
                f"no decision #{decision_id} in {self.core.path} "
                f"(list them with workbench kg decisions list)"
            )
        if row["undone"] is not None:
            raise WorkbenchError(f"decision #{decision_id} was undone already ({row['undone']})")
        return self._entry(row)

    @staticmethod
    def _entry(row: sqlite3.Row) -> dict:
        return {
            "id": row["id"],
            "kind": row["kind"],
            "summary": json.loads(row["summary"]),
            "time": row["time"],
            "undone": row["undone"],
            "build": row["build_id"],
            "epoch": row["epoch"],
        }

    def exact(self, entry: dict) -> bool:
        """Whether the decision's undo statements still apply: nothing outside
        decisions changed the graph since."""
        return entry["epoch"] == epoch(self.core.conn)

    def conflicts(self, decision_id: int) -> list[int]:
        """Later decisions, still standing, that changed a row this one changed."""
        return [
            r[0]
            for r in self.core.q(
                "SELECT DISTINCT later.decision_id FROM undo_log mine "
                "JOIN undo_log later ON later.tbl = mine.tbl AND later.row_id = mine.row_id "
                "JOIN decision_log d ON d.id = later.decision_id "
                "WHERE mine.decision_id = ? AND later.decision_id > ? AND d.undone IS NULL "
                "ORDER BY later.decision_id",
                (decision_id, decision_id),
            )
        ]

    def replay(self, decision_id: int) -> int:
        """Put back every row the decision changed (its statements, newest first),
        inside the caller's transaction; returns how many statements ran."""
        conn = self.core.conn
        # Rows come back in the reverse order they went, a cascade's children
        # before their parent: the keys hold again once the last one is back.
        conn.execute("PRAGMA defer_foreign_keys = ON")
        statements = [
            r[0]
            for r in conn.execute(
                "SELECT sql FROM undo_log WHERE decision_id = ? ORDER BY id DESC", (decision_id,)
            ).fetchall()
        ]
        for sql in statements:
            conn.execute(sql)
        return len(statements)

    def mark_undone(self, decision_id: int) -> None:
        """The decision no longer stands; its statements are of no more use."""
        conn = self.core.conn
        conn.execute("UPDATE decision_log SET undone = ? WHERE id = ?", (now(), decision_id))
        conn.execute("DELETE FROM undo_log WHERE decision_id = ?", (decision_id,))

"""The SQLite schema of a graph file, and opening one safely.

Derived numbers (an entity's mention count and display name, a relation's
count and score, alias counts) are stored rather than computed per query, so
lists sort by them with an index; core.GraphCore recomputes them for every
entity and relation a document touches, which keeps them right when a
document is replaced.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from workbench.errors import WorkbenchError

SCHEMA_VERSION = 3

DECISIONS = """
-- What people decided and what reasoning proposed: kept apart from what the
-- models extracted, and keyed by names (entity key + type), not by row ids, so
-- a rebuild that deletes and re-creates entities leaves them standing.
CREATE TABLE merges (
    id INTEGER PRIMARY KEY,
    from_key TEXT NOT NULL,
    from_type TEXT NOT NULL,
    into_key TEXT NOT NULL,
    into_type TEXT NOT NULL,
    time TEXT NOT NULL,
    UNIQUE (from_key, from_type)
);
CREATE TABLE inferred (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a number once listed means one triple
    head_id INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
    tail_id INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    score REAL NOT NULL,
    method TEXT NOT NULL,                -- rules, embeddings, rules+embeddings
    explanation TEXT NOT NULL,           -- JSON: the rules and chains that fired
    support TEXT NOT NULL,               -- JSON: [[head_id, type, tail_id], ...] it rests on
    time TEXT NOT NULL,
    UNIQUE (head_id, type, tail_id)
);
-- Evidence whose two ends a merge made one entity: out of the relations (a
-- thing is not related to itself), kept so that a split can give it back.
CREATE TABLE folded (
    id INTEGER PRIMARY KEY,
    sentence_id INTEGER NOT NULL REFERENCES sentences(id) ON DELETE CASCADE,
    head_mention_id INTEGER NOT NULL REFERENCES mentions(id) ON DELETE CASCADE,
    tail_mention_id INTEGER NOT NULL REFERENCES mentions(id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    score REAL NOT NULL
);
CREATE INDEX folded_head ON folded(head_mention_id);
CREATE INDEX folded_tail ON folded(tail_mention_id);
CREATE TABLE judgements (
    id INTEGER PRIMARY KEY,
    head_key TEXT NOT NULL,
    head_type TEXT NOT NULL,
    type TEXT NOT NULL,
    tail_key TEXT NOT NULL,
    tail_type TEXT NOT NULL,
    verdict TEXT NOT NULL,               -- accepted, rejected
    explanation TEXT NOT NULL,           -- JSON, as it was when judged
    time TEXT NOT NULL,
    proposal INTEGER,                    -- the inferred triple's number when judged
    UNIQUE (head_key, head_type, type, tail_key, tail_type)
);
"""

JOURNAL = """
-- Each decision as people made it (kg undo, kg decisions list), and the
-- statements that put back every row it changed (kg/journal.py fills them with
-- temporary triggers while the decision runs).
CREATE TABLE decision_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: `kg undo 7` means one decision
    kind TEXT NOT NULL,                  -- merge, split, accept, reject, import
    summary TEXT NOT NULL,               -- JSON, by names: what an undo by meaning reads
    time TEXT NOT NULL,
    undone TEXT,                         -- when it was undone; NULL while it stands
    build_id INTEGER,                    -- the graph's last build when it was made
    epoch TEXT NOT NULL                  -- journal.epoch then: its exact undo needs it unchanged
);
CREATE TABLE undo_log (
    id INTEGER PRIMARY KEY,              -- the order of the changes; undo replays them backwards
    decision_id INTEGER NOT NULL REFERENCES decision_log(id) ON DELETE CASCADE,
    tbl TEXT NOT NULL,                   -- the row changed: which later decisions touch it too
    row_id INTEGER NOT NULL,
    sql TEXT NOT NULL                    -- the statement that puts the row back as it was
);
CREATE INDEX undo_log_decision ON undo_log(decision_id);
CREATE INDEX undo_log_row ON undo_log(tbl, row_id);
-- Documents added, replaced or removed (a build, kg remove, any other writer):
-- each makes the exact undo logs of earlier decisions stale.
INSERT INTO meta(key, value) VALUES ('changes', '0');
CREATE TRIGGER documents_changes_ai AFTER INSERT ON documents BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'changes';
END;
CREATE TRIGGER documents_changes_au AFTER UPDATE ON documents BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'changes';
END;
CREATE TRIGGER documents_changes_ad AFTER DELETE ON documents BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'changes';
END;
"""

SCHEMA = (
    """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE builds (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    ner_run TEXT NOT NULL,
    relation_run TEXT,
    corpus TEXT NOT NULL,
    settings TEXT NOT NULL,              -- JSON
    documents_added INTEGER,
    documents_skipped INTEGER,
    sentences INTEGER
);
CREATE TABLE documents (
    id INTEGER PRIMARY KEY,
    doc_key TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    sha TEXT NOT NULL,
    build_id INTEGER REFERENCES builds(id)
);
CREATE TABLE sentences (
    id INTEGER PRIMARY KEY,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,           -- order within the document
    start INTEGER NOT NULL,              -- char offset in the document
    text TEXT NOT NULL
);
CREATE INDEX sentences_document ON sentences(document_id, position);
CREATE TABLE entities (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,                   -- normalize.normalize_name
    type TEXT NOT NULL,
    name TEXT NOT NULL,                  -- most frequent surface form
    mentions INTEGER NOT NULL DEFAULT 0,
    UNIQUE (key, type)
);
CREATE INDEX entities_mentions ON entities(mentions DESC);
CREATE INDEX entities_type ON entities(type);
CREATE TABLE aliases (
    id INTEGER PRIMARY KEY,
    entity_id INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
    text TEXT NOT NULL,                  -- normalize.surface_form of mentions
    count INTEGER NOT NULL,
    UNIQUE (entity_id, text)
);
CREATE TABLE mentions (
    id INTEGER PRIMARY KEY,
    entity_id INTEGER NOT NULL REFERENCES entities(id),
    sentence_id INTEGER NOT NULL REFERENCES sentences(id) ON DELETE CASCADE,
    start INTEGER NOT NULL,              -- char offsets in the sentence
    end INTEGER NOT NULL,
    text TEXT NOT NULL,                  -- as written
    score REAL NOT NULL,
    type TEXT                            -- the type the model gave (a merge may move it)
);
CREATE INDEX mentions_entity ON mentions(entity_id, sentence_id);
CREATE INDEX mentions_sentence ON mentions(sentence_id);
CREATE TABLE relations (
    id INTEGER PRIMARY KEY,
    head_id INTEGER NOT NULL REFERENCES entities(id),
    tail_id INTEGER NOT NULL REFERENCES entities(id),
    type TEXT NOT NULL,
    score REAL NOT NULL,                 -- best evidence score
    count INTEGER NOT NULL,              -- evidence sentences
    UNIQUE (head_id, type, tail_id)      -- also the index for walking out of head_id
);
CREATE INDEX relations_tail ON relations(tail_id);
CREATE TABLE evidence (
    id INTEGER PRIMARY KEY,
    relation_id INTEGER NOT NULL REFERENCES relations(id) ON DELETE CASCADE,
    sentence_id INTEGER NOT NULL REFERENCES sentences(id) ON DELETE CASCADE,
    head_mention_id INTEGER NOT NULL REFERENCES mentions(id) ON DELETE CASCADE,
    tail_mention_id INTEGER NOT NULL REFERENCES mentions(id) ON DELETE CASCADE,
    score REAL NOT NULL
);
CREATE INDEX evidence_relation ON evidence(relation_id);
CREATE INDEX evidence_sentence ON evidence(sentence_id);
CREATE INDEX evidence_head_mention ON evidence(head_mention_id);
CREATE INDEX evidence_tail_mention ON evidence(tail_mention_id);
CREATE TABLE embeddings (
    entity_id INTEGER PRIMARY KEY REFERENCES entities(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    dim INTEGER NOT NULL,
    text_sha TEXT NOT NULL,              -- sha1 of the profile text (and model)
    vector BLOB NOT NULL                 -- float32, L2-normalised
);
CREATE INDEX embeddings_model ON embeddings(model);

-- Names and aliases for search. External content: the text lives once, in
-- aliases; the triggers keep the index in step with every insert, delete and
-- rename, whichever code path (or cascade) makes it.
CREATE VIRTUAL TABLE alias_fts USING fts5(
    text, content='aliases', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER aliases_ai AFTER INSERT ON aliases BEGIN
    INSERT INTO alias_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER aliases_ad AFTER DELETE ON aliases BEGIN
    INSERT INTO alias_fts(alias_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER aliases_au AFTER UPDATE OF text ON aliases BEGIN
    INSERT INTO alias_fts(alias_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO alias_fts(rowid, text) VALUES (new.id, new.text);
END;
"""
    + DECISIONS
    + JOURNAL
)


def connect(path: Path, create: bool) -> sqlite3.Connection:
    """Open (or create) a graph file with foreign keys on and WAL journalling.

    Anything wrong with the file (missing with create=False, not SQLite, a
    newer schema, no FTS5 in this Python) is a WorkbenchError naming it.
    """
    if not path.exists():
        if not create:
            raise WorkbenchError(f"{path}: no graph here; build one with workbench kg build")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkbenchError(
                f"{path}: cannot create the graph's folder ({exc.strerror or exc})"
            ) from None
    elif path.is_dir():
        raise WorkbenchError(f"{path}: a folder, not a graph file")
    # Autocommit mode: core.GraphCore opens its own transactions (BEGIN IMMEDIATE),
    # so a reader never holds a lock longer than one query.
    # check_same_thread=False lets the TUI query from a worker thread; one
    # Graph is still meant to be used by one thread at a time.
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise WorkbenchError(f"{path}: cannot open the graph ({exc})") from None
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        # A build writing while the TUI reads: wait for the lock instead of failing.
        conn.execute("PRAGMA busy_timeout = 5000")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if version == 0 and tables == 0:
            if not create:
                raise WorkbenchError(
                    f"{path}: an empty file, not a graph; build one with workbench kg build"
                )
            _create(conn)
        elif version == 0:
            raise WorkbenchError(f"{path}: an SQLite file, but not a workbench graph")
        elif version < SCHEMA_VERSION:
            _migrate(conn, version)
        elif version > SCHEMA_VERSION:
            raise WorkbenchError(
                f"{path}: graph schema version {version} is newer than this "
                f"workbench reads ({SCHEMA_VERSION}); upgrade workbench"
            )
        conn.execute("PRAGMA journal_mode = WAL")
        # With WAL, NORMAL never corrupts the file; a power cut may only lose the
        # last commits, which the next build redoes (documents are idempotent).
        # FULL would fsync every document's transaction.
        conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.DatabaseError as exc:
        conn.close()
        if "not a database" in str(exc) or "malformed" in str(exc):
            raise WorkbenchError(f"{path}: not a graph file ({exc})") from None
        # Locked for longer than busy_timeout, read-only, a full disk...
        raise WorkbenchError(f"{path}: cannot open the graph ({exc})") from None
    except BaseException:
        conn.close()
        raise
    return conn


def _create(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("BEGIN IMMEDIATE")
        # executescript would commit first; run statement by statement instead
        # so the whole schema lands in one transaction or not at all.
        for statement in _statements(SCHEMA):
            conn.execute(statement)
        conn.execute(
            "INSERT INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        conn.execute("ROLLBACK")
        if "fts5" in str(exc).lower():
            raise WorkbenchError(
                "this Python's SQLite has no FTS5; the graph needs it "
                "(install a Python built with a recent SQLite)"
            ) from None
        raise


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    """Bring an older graph file up to SCHEMA_VERSION in one transaction.

    1 -> 2: the people's and reasoning's tables, and each mention's own type
    (the type its entity had, which was the mention's until merges existed).
    2 -> 3: the decision journal (kg undo) and the count of document changes."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have upgraded the file while this one waited for the lock.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version < 2:
            conn.execute("ALTER TABLE mentions ADD COLUMN type TEXT")
            conn.execute(
                "UPDATE mentions SET type = (SELECT type FROM entities e "
                "WHERE e.id = mentions.entity_id)"
            )
            for statement in _statements(DECISIONS):
                conn.execute(statement)
        if version < 3:
            for statement in _statements(JOURNAL):
                conn.execute(statement)
        conn.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    """Split the schema into statements; trigger bodies keep their inner ';'."""
    statements, buffer = [], ""
    for line in script.splitlines():
        line = line.split("--", 1)[0].rstrip()
        if not line:
            continue
        buffer += line + "\n"
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    return statements

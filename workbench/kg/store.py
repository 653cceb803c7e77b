"""The knowledge graph file: class Graph over SQLite (schema in kg/schema.py).

Ingestion is per document and idempotent: a document already stored with the
same content hash is skipped, a changed one is replaced (its sentences,
mentions and evidence removed; entities and relations left with nothing
deleted) in the same transaction that adds the new content, so a failed build
never leaves half a document behind.

Every query is parameterised. Search text never reaches FTS5 syntax as
written: search() builds the MATCH expression from the text's word tokens,
each quoted.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from workbench.errors import WorkbenchError
from workbench.kg import paths as _paths
from workbench.kg import profiles
from workbench.kg.decisions import GraphDecisions
from workbench.kg.normalize import canonical_key, normalize_name, surface_form
from workbench.kg.schema import connect
from workbench.kg.sql import chunks as _chunks
from workbench.kg.sql import marks as _marks

_WORDS = re.compile(r"\w+")
_POSSESSIVE = re.compile(r"(\w)['’]s\b")
_MAX_QUERY_WORDS = 16
_EVIDENCE_SHOWN = 5  # per relation in entity(); "count" tells how many there are


def _brief(row, prefix: str = "") -> dict:
    return {"id": row[f"{prefix}id"], "name": row[f"{prefix}name"], "type": row[f"{prefix}type"]}


def _check_limit(what: str, value: int) -> None:
    if not isinstance(value, int) or value < 1:
        raise WorkbenchError(f"{what}: must be at least 1 (got {value!r})")


def _insert(conn: sqlite3.Connection, sql: str, params: tuple) -> int:
    """Run an INSERT and return the new row's id (an INSERT always sets one)."""
    row_id = conn.execute(sql, params).lastrowid
    assert row_id is not None
    return row_id


class Graph(GraphDecisions):
    """One graph file. Open with ``Graph.open(path)``; use as a context manager.

    One Graph is meant for one thread at a time; several processes may open
    the same file (WAL: readers do not block the writer).
    """

    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path = path
        self._conn = conn

    @classmethod
    def open(cls, path: str | Path, create: bool = True) -> Graph:
        """Open a graph file; ``create=False`` makes a missing file a WorkbenchError."""
        path = Path(path).expanduser()
        return cls(path, connect(path, create))

    def close(self) -> None:
        """Close the connection (safe to call twice)."""
        self._conn.close()  # sqlite3 lets it close twice

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def transaction(self):
        """Group many writes (say, a few hundred add_document calls) into one
        transaction: much faster than one commit each. If anything inside
        fails, all of it is rolled back."""
        with self._write():
            yield self

    @contextmanager
    def _write(self):
        """One write transaction; IMMEDIATE takes the write lock up front so two
        builders wait for each other instead of failing half-way. Inside an
        open transaction() it joins that one."""
        if self._conn.in_transaction:
            yield self._conn
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _q(self, sql: str, params: Iterable = ()) -> list[sqlite3.Row]:
        return self._conn.execute(sql, tuple(params)).fetchall()

    # ------------------------------------------------------------------ builds

    def begin_build(
        self, ner_run: str, relation_run: str | None, corpus: str, settings: dict
    ) -> int:
        """Record the start of a build (its provenance); returns the build id."""
        with self._write() as conn:
            return _insert(
                conn,
                "INSERT INTO builds(time, ner_run, relation_run, corpus, settings) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    str(ner_run),
                    None if relation_run is None else str(relation_run),
                    str(corpus),
                    json.dumps(settings, default=str, sort_keys=True),
                ),
            )

    def finish_build(
        self, build_id: int, documents_added: int, documents_skipped: int, sentences: int
    ) -> None:
        """Record what a build did."""
        with self._write() as conn:
            conn.execute(
                "UPDATE builds SET documents_added = ?, documents_skipped = ?, "
                "sentences = ? WHERE id = ?",
                (documents_added, documents_skipped, sentences, build_id),
            )

    # --------------------------------------------------------------- ingestion

    def document_state(self, doc_key: str, sha: str) -> str:
        """``"new"``, ``"same"`` (stored with this sha) or ``"changed"``."""
        row = self._conn.execute(
            "SELECT sha FROM documents WHERE doc_key = ?", (doc_key,)
        ).fetchone()
        if row is None:
            return "new"
        return "same" if row[0] == sha else "changed"

    def add_document(
        self, doc_key: str, source: str, sha: str, sentences: list[dict], build_id: int
    ) -> bool:
        """Store one document's sentences, entity mentions and relations.

        Same key and sha: nothing happens, returns False. A changed sha
        replaces the document's old content first. Returns True when stored.
        Each sentence is ``{"text", "start" (its offset in the document),
        "entities": [{"text", "type", "start", "end", "score"}], "relations":
        [{"head", "tail", "type", "score"}]}`` (``kg.build.analyse`` makes them):
        entity offsets are in the sentence text, relations index its entities.
        """
        state = self.document_state(doc_key, sha)
        if state == "same":
            return False
        touched_entities: set[int] = set()
        touched_relations: set[int] = set()
        with self._write() as conn:
            if state == "changed":
                doc_id = conn.execute(
                    "SELECT id FROM documents WHERE doc_key = ?", (doc_key,)
                ).fetchone()[0]
                self._clear_document(doc_id, touched_entities, touched_relations)
                conn.execute(
                    "UPDATE documents SET source = ?, sha = ?, build_id = ? WHERE id = ?",
                    (str(source), sha, build_id, doc_id),
                )
            else:
                doc_id = _insert(
                    conn,
                    "INSERT INTO documents(doc_key, source, sha, build_id) VALUES (?, ?, ?, ?)",
                    (doc_key, str(source), sha, build_id),
                )
            for position, sentence in enumerate(sentences):
                self._add_sentence(
                    doc_key, doc_id, position, sentence, touched_entities, touched_relations
                )
            self._refresh_relations(touched_relations)
            self._refresh_entities(touched_entities)
        return True

    def documents_from(self, source_prefix: str | None) -> list[str]:
        """Keys of the documents whose source (as a resolved path) starts with
        ``source_prefix`` (kg.corpus.corpus_prefix: resolved too, so "." and the
        folder's full path are one corpus)."""
        if not source_prefix:
            return []
        found = []
        for key, source in self._q("SELECT doc_key, source FROM documents ORDER BY doc_key"):
            path, colon, line = source.rpartition(":")
            where = (
                f"{Path(path).resolve()}:{line}"
                if colon and line.isdigit()
                else str(Path(source).resolve())
            )
            if where.startswith(source_prefix):
                found.append(key)
        return found

    def find_document(self, ref: str) -> str:
        """A document as people name it (its key, or the file it was read from)
        -> its key; an error naming the closest keys otherwise."""
        row = self._conn.execute(
            "SELECT doc_key FROM documents WHERE doc_key = ? OR source = ? ORDER BY id LIMIT 1",
            (ref, ref),
        ).fetchone()
        if row is None:
            tail = Path(ref).name
            close = [
                r[0]
                for r in self._q(
                    "SELECT doc_key FROM documents WHERE instr(doc_key, ?) > 0 "
                    "ORDER BY doc_key LIMIT 5",
                    (tail,),
                )
            ]
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise WorkbenchError(f"no document {ref!r} in {self.path}{hint}")
        return row[0]

    def remove_document(self, doc_key: str, withdraw: bool = True) -> bool:
        """Remove a document and whatever only it supported; False when absent.
        ``withdraw``: also withdraw the proposals that lost their support (a
        caller removing many documents does that once, after the last)."""
        row = self._conn.execute(
            "SELECT id FROM documents WHERE doc_key = ?", (doc_key,)
        ).fetchone()
        if row is None:
            return False
        touched_entities: set[int] = set()
        touched_relations: set[int] = set()
        with self._write() as conn:
            self._clear_document(row[0], touched_entities, touched_relations)
            conn.execute("DELETE FROM documents WHERE id = ?", (row[0],))
            self._refresh_relations(touched_relations)
            self._refresh_entities(touched_entities)
            if withdraw:
                self.withdraw_unsupported()
        return True

    def _clear_document(self, doc_id: int, entities: set[int], relations: set[int]) -> None:
        conn = self._conn
        entities.update(
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT m.entity_id FROM mentions m JOIN sentences s "
                "ON s.id = m.sentence_id WHERE s.document_id = ?",
                (doc_id,),
            )
        )
        relations.update(
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT e.relation_id FROM evidence e JOIN sentences s "
                "ON s.id = e.sentence_id WHERE s.document_id = ?",
                (doc_id,),
            )
        )
        # Cascades take the sentences' mentions and evidence with them.
        conn.execute("DELETE FROM sentences WHERE document_id = ?", (doc_id,))

    def _add_sentence(
        self,
        doc_key: str,
        doc_id: int,
        position: int,
        sentence: dict,
        entities: set[int],
        relations: set[int],
    ) -> None:
        conn = self._conn
        try:
            text = str(sentence["text"])
            sentence_id = _insert(
                conn,
                "INSERT INTO sentences(document_id, position, start, text) VALUES (?, ?, ?, ?)",
                (doc_id, position, int(sentence.get("start", 0)), text),
            )
            # Per entity of the sentence: (mention id, entity id), None when the
            # span normalises to nothing ("'s", a lone quote).
            mentions: list[tuple[int, int] | None] = []
            for ent in sentence.get("entities", ()):
                key, entity_type = canonical_key(str(ent["text"]), str(ent["type"]))
                if not key or not entity_type:
                    mentions.append(None)
                    continue
                entity_id = self._entity_id(key, entity_type, surface_form(str(ent["text"])))
                mention_id = _insert(
                    conn,
                    "INSERT INTO mentions(entity_id, sentence_id, start, end, text, score, type) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        entity_id,
                        sentence_id,
                        int(ent["start"]),
                        int(ent["end"]),
                        str(ent["text"]),
                        float(ent.get("score", 1.0)),
                        entity_type,
                    ),
                )
                mentions.append((mention_id, entity_id))
                entities.add(entity_id)
            for rel in sentence.get("relations", ()):
                head, tail = int(rel["head"]), int(rel["tail"])
                if not (0 <= head < len(mentions) and 0 <= tail < len(mentions)):
                    raise WorkbenchError(
                        f"{doc_key}: sentence {position}: relation {rel['type']!r} points "
                        f"at entity {head} or {tail}, but the sentence has {len(mentions)}"
                    )
                head_pair, tail_pair = mentions[head], mentions[tail]
                if head_pair is None or tail_pair is None:
                    continue
                (head_mention, head_id), (tail_mention, tail_id) = head_pair, tail_pair
                if head_id == tail_id:
                    # "X is part of X" says nothing and clutters paths; kept folded, as a
                    # merge keeps it, so a split of a merged name gives it back.
                    conn.execute(
                        "INSERT INTO folded(sentence_id, head_mention_id, tail_mention_id, "
                        "type, score) VALUES (?, ?, ?, ?, ?)",
                        (
                            sentence_id,
                            head_mention,
                            tail_mention,
                            str(rel["type"]),
                            float(rel.get("score", 1.0)),
                        ),
                    )
                    continue
                score = float(rel.get("score", 1.0))
                conn.execute(
                    "INSERT INTO relations(head_id, tail_id, type, score, count) "
                    "VALUES (?, ?, ?, ?, 0) ON CONFLICT DO NOTHING",
                    (head_id, tail_id, str(rel["type"]), score),
                )
                relation_id = conn.execute(
                    "SELECT id FROM relations WHERE head_id = ? AND type = ? AND tail_id = ?",
                    (head_id, str(rel["type"]), tail_id),
                ).fetchone()[0]
                conn.execute(
                    "INSERT INTO evidence(relation_id, sentence_id, head_mention_id, "
                    "tail_mention_id, score) VALUES (?, ?, ?, ?, ?)",
                    (relation_id, sentence_id, head_mention, tail_mention, score),
                )
                relations.add(relation_id)
        except (KeyError, TypeError, ValueError) as exc:
            raise WorkbenchError(
                f"{doc_key}: sentence {position}: malformed sentence record "
                f"({type(exc).__name__}: {exc})"
            ) from None

    def _entity_id(self, key: str, type: str, surface: str) -> int:
        """The entity a mention of (key, type) belongs to, created if needed; a
        person's merge sends it to the entity it was merged into."""
        key, type = self.merged_into(key, type)
        row = self._conn.execute(
            "SELECT id FROM entities WHERE key = ? AND type = ?", (key, type)
        ).fetchone()
        if row is not None:
            return row[0]
        return _insert(
            self._conn,
            "INSERT INTO entities(key, type, name) VALUES (?, ?, ?)",
            (key, type, surface),
        )

    def _refresh_relations(self, relation_ids: set[int]) -> None:
        """Recount evidence; a relation with none left goes."""
        for chunk in _chunks(sorted(relation_ids)):
            self._conn.execute(
                "UPDATE relations SET "
                "count = (SELECT count(*) FROM evidence WHERE relation_id = relations.id), "
                "score = coalesce((SELECT max(score) FROM evidence "
                "                  WHERE relation_id = relations.id), score) "
                f"WHERE id IN ({_marks(chunk)})",
                chunk,
            )
            self._conn.execute(
                f"DELETE FROM relations WHERE id IN ({_marks(chunk)}) AND count = 0", chunk
            )

    def _refresh_entities(self, entity_ids: set[int]) -> None:
        """Recount mentions and aliases, re-pick the display name; an entity
        with no mention left goes (its aliases and embedding cascade)."""
        conn = self._conn
        for entity_id in sorted(entity_ids):
            counts: Counter[str] = Counter()
            # First-seen order, so a new alias gets a later id and ties keep the old name.
            for text, n in conn.execute(
                "SELECT text, count(*) FROM mentions WHERE entity_id = ? "
                "GROUP BY text ORDER BY min(id)",
                (entity_id,),
            ):
                counts[surface_form(text)] += n
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
            conn.execute(
                "UPDATE entities SET name = ?, mentions = ? WHERE id = ?",
                (name, sum(counts.values()), entity_id),
            )

    # -------------------------------------------------------------- embeddings

    def refresh_embeddings(self, embedder, batch_size: int = 64) -> int:
        """(Re)embed the entities whose profile text (or the model) changed.

        ``embedder`` has ``.name`` and ``.encode(texts, batch_size)`` returning
        L2-normalised float32 rows (kg.embed.Embedder). Returns how many were
        embedded. Writes in slices, so an interrupted refresh keeps its work.
        """
        _check_limit("batch size", batch_size)
        model = embedder.name
        stored = {
            row[0]: row[1]
            for row in self._q(
                "SELECT entity_id, text_sha FROM embeddings WHERE model = ?", (model,)
            )
        }
        todo = []
        for entity_id, text in profiles.all_profiles(self._conn).items():
            digest = profiles.profile_hash(model, text)
            if stored.get(entity_id) != digest:
                todo.append((entity_id, text, digest))
        for chunk in _chunks(todo, max(batch_size * 8, 256)):
            vectors = np.asarray(
                embedder.encode([text for _, text, _ in chunk], batch_size=batch_size),
                dtype=np.float32,
            )
            with self._write() as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO embeddings(entity_id, model, dim, text_sha, vector) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [
                        (entity_id, model, int(vector.shape[0]), digest, vector.tobytes())
                        for (entity_id, _, digest), vector in zip(chunk, vectors)
                    ],
                )
        return len(todo)

    def entity_vectors(self, model: str, entity_ids: list[int]) -> dict[int, np.ndarray]:
        """id -> its stored unit vector from ``model`` (for those that have one)."""
        found = {}
        for chunk in _chunks(entity_ids):
            for row in self._q(
                "SELECT entity_id, vector FROM embeddings WHERE model = ? "
                f"AND entity_id IN ({_marks(chunk)})",
                [model, *chunk],
            ):
                found[row[0]] = np.frombuffer(row[1], dtype=np.float32)
        return found

    def entity_keys(self) -> dict[int, str]:
        """id -> normalised name (the key mentions are matched on)."""
        return {r[0]: r[1] for r in self._q("SELECT id, key FROM entities")}

    def embedding_models(self) -> list[str]:
        """Models the stored entity vectors came from, most vectors first."""
        return [
            r[0]
            for r in self._q(
                "SELECT model, count(*) AS n FROM embeddings GROUP BY model ORDER BY n DESC, model"
            )
        ]

    # ----------------------------------------------------------------- queries

    def _summaries(self, entity_ids: list[int]) -> dict[int, dict]:
        """id -> {"id","name","type","mentions","relations"} (relations: degree)."""
        found = {}
        for chunk in _chunks(entity_ids):
            for row in self._q(
                "SELECT e.id, e.name, e.type, e.mentions, "
                "(SELECT count(*) FROM relations WHERE head_id = e.id) + "
                "(SELECT count(*) FROM relations WHERE tail_id = e.id) AS degree "
                f"FROM entities e WHERE e.id IN ({_marks(chunk)})",
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

    def briefs(self, entity_ids: list[int]) -> dict[int, dict]:
        """id -> {"id","name","type"} for the ids that exist."""
        found = {}
        for chunk in _chunks(entity_ids):
            for row in self._q(
                f"SELECT id, name, type FROM entities WHERE id IN ({_marks(chunk)})", chunk
            ):
                found[row["id"]] = _brief(row)
        return found

    def entity_types(self, entity_ids: list[int]) -> dict[int, str]:
        """id -> type."""
        return {i: b["type"] for i, b in self.briefs(entity_ids).items()}

    def search(self, text: str, limit: int = 20, type: str | None = None) -> list[dict]:
        """Entities whose name or an alias contains every word of ``text`` as a
        word prefix (any word, if none has all); exact names first, then FTS rank.

        Result dicts: {"id","name","type","mentions","relations","match"}.
        """
        _check_limit("search: limit", limit)
        words = _WORDS.findall(_POSSESSIVE.sub(r"\1", text or ""))[:_MAX_QUERY_WORDS]
        if not words:
            raise WorkbenchError(
                f"search: nothing to search for in '{text}' (give a word of a name)"
            )
        wanted = normalize_name(text)
        # Each word double-quoted (\w+ holds no quote) with * for prefix match:
        # FTS5 operators in the user's text are only ever words to look for.
        phrases = [f'"{word}"*' for word in words]
        expressions = [" ".join(phrases)] + ([" OR ".join(phrases)] if len(phrases) > 1 else [])
        type_sql, type_args = ("AND e.type = ? COLLATE NOCASE", [type]) if type else ("", [])
        rows: list = []
        for expression in expressions:
            try:
                rows = self._q(
                    "SELECT a.entity_id, a.text, bm25(alias_fts) AS rank, e.mentions "
                    "FROM alias_fts JOIN aliases a ON a.id = alias_fts.rowid "
                    "JOIN entities e ON e.id = a.entity_id "
                    f"WHERE alias_fts MATCH ? {type_sql} ORDER BY rank LIMIT ?",
                    [expression, *type_args, max(limit * 20, 200)],
                )
            except sqlite3.Error as exc:  # a safety net; the expression is built to parse
                raise WorkbenchError(f"search: cannot search for '{text}' ({exc})") from None
            if rows:
                break
        best: dict[int, tuple] = {}
        for row in rows:
            exact = normalize_name(row["text"]) == wanted
            rank = (not exact, row["rank"], -row["mentions"], row["entity_id"])
            if row["entity_id"] not in best or rank < best[row["entity_id"]][0]:
                best[row["entity_id"]] = (rank, row["text"])
        ordered = sorted(best.items(), key=lambda item: item[1][0])[:limit]
        summaries = self._summaries([entity_id for entity_id, _ in ordered])
        return [{**summaries[entity_id], "match": alias} for entity_id, (_, alias) in ordered]

    def search_semantic(
        self, text: str, embedder, limit: int = 20, type: str | None = None
    ) -> list[dict]:
        """Entities whose profile is nearest in meaning to ``text`` (cosine);
        the same dicts as search() plus "score".

        Ranks with numpy over every stored vector of the embedder's model: a
        full scan, fine up to ~1e5 entities (a vector index beyond that).
        """
        _check_limit("search: limit", limit)
        if not (text or "").strip():
            raise WorkbenchError(f"search: nothing to search for in '{text}' (give a few words)")
        model = embedder.name
        type_sql, type_args = ("AND e.type = ? COLLATE NOCASE", [type]) if type else ("", [])
        rows = self._q(
            "SELECT m.entity_id, m.dim, m.vector FROM embeddings m "
            f"JOIN entities e ON e.id = m.entity_id WHERE m.model = ? {type_sql}",
            [model, *type_args],
        )
        if not rows:
            if (
                self._conn.execute(
                    "SELECT 1 FROM embeddings WHERE model = ? LIMIT 1", (model,)
                ).fetchone()
                is None
            ):
                raise WorkbenchError(
                    f"{self.path}: no entity embeddings for model '{model}'; "
                    f"run workbench kg build without --no-embeddings"
                )
            return []
        dim = rows[0]["dim"]
        matrix = np.frombuffer(b"".join(row["vector"] for row in rows), dtype=np.float32).reshape(
            len(rows), dim
        )
        query = np.asarray(embedder.encode([text], batch_size=1), dtype=np.float32)[0]
        if query.shape[0] != dim:
            raise WorkbenchError(
                f"{self.path}: stored embeddings have {dim} dimensions, "
                f"model '{model}' gives {query.shape[0]}"
            )
        scores = matrix @ query  # rows and query are unit length: dot = cosine
        top = np.argsort(-scores, kind="stable")[:limit]
        ids = [rows[i]["entity_id"] for i in top]
        summaries = self._summaries(ids)
        return [
            {
                **summaries[entity_id],
                "match": summaries[entity_id]["name"],
                "score": float(scores[i]),
            }
            for entity_id, i in zip(ids, top)
        ]

    def resolve(self, ref: str) -> dict:
        """An entity reference as people type it -> {"id","name","type"}:
        "#12" (an id), an exact name (any type; most mentions wins), "12" (an id,
        when no entity is named "12"), else a name or alias holding every word typed.
        Anything else is an error naming the closest entities, never a silent guess."""
        ref = str(ref).strip()
        digits = ref[1:] if ref.startswith("#") else ref
        if ref.startswith("#") and digits.isdigit():
            return self._by_id(int(digits), ref)
        key = normalize_name(ref)
        if key:
            row = self._conn.execute(
                "SELECT id, name, type FROM entities WHERE key = ? "
                "ORDER BY mentions DESC, id LIMIT 1",
                (key,),
            ).fetchone()
            if row is not None:
                return _brief(row)
        if digits.isdigit():
            return self._by_id(int(digits), ref)
        try:
            hits = self.search(ref, limit=5)
        except WorkbenchError:
            hits = []
        words = set(re.findall(r"\w+", key))
        for hit in hits:
            if words <= set(re.findall(r"\w+", normalize_name(hit["match"] or hit["name"]))):
                return {k: hit[k] for k in ("id", "name", "type")}
        closest = "; closest: " + ", ".join(h["name"] for h in hits) if hits else ""
        raise WorkbenchError(f"no entity named '{ref}' in {self.path}{closest}")

    def _by_id(self, entity_id: int, ref: str) -> dict:
        row = self._conn.execute(
            "SELECT id, name, type FROM entities WHERE id = ?", (entity_id,)
        ).fetchone()
        if row is None:
            raise WorkbenchError(f"no entity {ref} in {self.path}")
        return _brief(row)

    def _entity_row(self, entity_id: int) -> sqlite3.Row:
        row = self._conn.execute(
            "SELECT id, name, type, mentions FROM entities WHERE id = ?", (int(entity_id),)
        ).fetchone()
        if row is None:
            raise WorkbenchError(f"no entity #{entity_id} in {self.path}")
        return row

    def entity(self, entity_id: int, mentions: int = 50) -> dict:
        """Everything about one entity: aliases, relations both ways with up to
        five evidence sentences each, and its first ``mentions`` mentions."""
        row = self._entity_row(entity_id)
        aliases = [
            {"text": r["text"], "count": r["count"]}
            for r in self._q(
                "SELECT text, count FROM aliases WHERE entity_id = ? ORDER BY count DESC, id",
                (entity_id,),
            )
        ]
        outgoing = self._relations_of(entity_id, "head_id", "tail_id")
        incoming = self._relations_of(entity_id, "tail_id", "head_id")
        evidence = self._evidence([r["relation_id"] for r in outgoing + incoming])
        for relation in outgoing + incoming:
            relation["evidence"] = evidence.get(relation["relation_id"], [])
        shown = [
            {
                "document": r["doc_key"],
                "sentence": r["sentence"],
                "start": r["start"],
                "end": r["end"],
                "text": r["text"],
                "score": r["score"],
            }
            for r in self._q(
                "SELECT d.doc_key, s.text AS sentence, m.start, m.end, m.text, m.score "
                "FROM mentions m JOIN sentences s ON s.id = m.sentence_id "
                "JOIN documents d ON d.id = s.document_id WHERE m.entity_id = ? "
                "ORDER BY d.doc_key, s.position, m.start LIMIT ?",
                (entity_id, max(0, mentions)),
            )
        ]
        return {
            "id": row["id"],
            "name": row["name"],
            "type": row["type"],
            "aliases": aliases,
            "mentions_total": row["mentions"],
            "outgoing": outgoing,
            "incoming": incoming,
            "mentions": shown,
            # Kept apart from the extracted relations: what people accepted, what
            # reasoning proposes (kg infer), each with its explanation.
            "accepted": self.accepted(entity_id),
            "inferred": self.inferred(entity_id=entity_id),
        }

    def _relations_of(self, entity_id: int, this: str, other: str) -> list[dict]:
        return [
            {
                "relation_id": r["id"],
                "type": r["type"],
                "other": _brief(r, "o_"),
                "score": r["score"],
                "count": r["count"],
            }
            for r in self._q(
                f"SELECT r.id, r.type, r.score, r.count, o.id AS o_id, o.name AS o_name, "
                f"o.type AS o_type FROM relations r JOIN entities o ON o.id = r.{other} "
                f"WHERE r.{this} = ? ORDER BY r.count DESC, r.score DESC, r.id",
                (entity_id,),
            )
        ]

    def _evidence(self, relation_ids: list[int]) -> dict[int, list[dict]]:
        """relation id -> its best few evidence sentences. start/end span both
        mentions in the sentence; head_*/tail_* give each one's offsets."""
        found: dict[int, list[dict]] = {}
        for chunk in _chunks(relation_ids):
            for r in self._q(
                "SELECT * FROM (SELECT ev.relation_id, ev.score, s.text, d.doc_key, "
                "hm.start AS hs, hm.end AS he, tm.start AS ts, tm.end AS te, "
                "ROW_NUMBER() OVER (PARTITION BY ev.relation_id "
                "                   ORDER BY ev.score DESC, ev.id) AS rank "
                "FROM evidence ev JOIN sentences s ON s.id = ev.sentence_id "
                "JOIN documents d ON d.id = s.document_id "
                "JOIN mentions hm ON hm.id = ev.head_mention_id "
                "JOIN mentions tm ON tm.id = ev.tail_mention_id "
                f"WHERE ev.relation_id IN ({_marks(chunk)})) "
                f"WHERE rank <= {_EVIDENCE_SHOWN} ORDER BY relation_id, rank",
                chunk,
            ):
                found.setdefault(r["relation_id"], []).append(
                    {
                        "sentence": r["text"],
                        "document": r["doc_key"],
                        "start": min(r["hs"], r["ts"]),
                        "end": max(r["he"], r["te"]),
                        "head_start": r["hs"],
                        "head_end": r["he"],
                        "tail_start": r["ts"],
                        "tail_end": r["te"],
                        "score": r["score"],
                    }
                )
        return found

    def neighbours(self, entity_id: int) -> list[dict]:
        """Relations of one entity both ways, strongest first:
        {"relation_id","type","forward","other","score","count"}."""
        self._entity_row(entity_id)
        both = [
            {**r, "forward": True} for r in self._relations_of(entity_id, "head_id", "tail_id")
        ] + [{**r, "forward": False} for r in self._relations_of(entity_id, "tail_id", "head_id")]
        both.sort(key=lambda r: (-r["count"], -r["score"], r["relation_id"]))
        return [
            {key: r[key] for key in ("relation_id", "type", "forward", "other", "score", "count")}
            for r in both
        ]

    def _edges_touching(self, nodes: set[int]) -> list[_paths.Edge]:
        edges: list[_paths.Edge] = []
        for chunk in _chunks(sorted(nodes)):
            marks = _marks(chunk)
            # Two indexed lookups (head, tail) rather than an OR SQLite may scan for.
            edges.extend(
                _paths.Edge(*row)
                for row in self._conn.execute(
                    f"SELECT id, head_id, tail_id, type, score FROM relations "
                    f"WHERE head_id IN ({marks}) UNION "
                    f"SELECT id, head_id, tail_id, type, score FROM relations "
                    f"WHERE tail_id IN ({marks})",
                    chunk + chunk,
                )
            )
        return edges

    def paths(self, a: int, b: int, max_hops: int = 4, limit: int = 5) -> list[list[dict]]:
        """Up to ``limit`` shortest chains from a to b (at most ``max_hops``
        relations, each walked either way). A step:
        {"from","type","to","forward","score","relation_id"}."""
        _check_limit("path: max hops", max_hops)
        _check_limit("path: limit", limit)
        ends = {a: self._entity_row(a), b: self._entity_row(b)}
        chains = _paths.shortest_chains(self._edges_touching, a, b, max_hops, limit)
        needed = {
            node for chain in chains for step in chain for node in (step.source, step.target)
        } - set(ends)
        briefs = {i: _brief(row) for i, row in ends.items()}
        briefs.update(self.briefs(sorted(needed)))
        return [
            [
                {
                    "from": briefs[step.source],
                    "type": step.edge.type,
                    "to": briefs[step.target],
                    "forward": step.forward,
                    "score": step.edge.score,
                    "relation_id": step.edge.id,
                }
                for step in chain
            ]
            for chain in chains
        ]

    # ------------------------------------------------------------- questions

    def by_name(self, key: str) -> list[dict]:
        """Entities whose normalised name is ``key`` (or a name merged into them),
        most mentioned first: {"id","name","type","mentions"}."""
        if not key:
            return []
        keys = {(key, r[0]) for r in self._q("SELECT type FROM entities WHERE key = ?", (key,))}
        keys |= {
            self.merged_into(key, r[0])
            for r in self._q("SELECT from_type FROM merges WHERE from_key = ?", (key,))
        }
        found = []
        for k, t in keys:
            row = self._conn.execute(
                "SELECT id, name, type, mentions FROM entities WHERE key = ? AND type = ?", (k, t)
            ).fetchone()
            if row is not None:
                found.append({**_brief(row), "mentions": row["mentions"]})
        found.sort(key=lambda e: (-e["mentions"], e["id"]))
        return found

    def relation_signatures(self, min_share: float = 0.1) -> list[tuple[str, str, str]]:
        """(relation, head type, tail type) for the pairings that hold at least
        ``min_share`` of a relation's triples (a mistyped entity or two do not
        make "a company lives in a city" a pairing of the graph)."""
        counts: dict[str, list[tuple[str, str, int]]] = {}
        for r in self._q(
            "SELECT r.type, h.type, t.type, count(*) FROM relations r "
            "JOIN entities h ON h.id = r.head_id JOIN entities t ON t.id = r.tail_id "
            "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        ):
            counts.setdefault(r[0], []).append((r[1], r[2], r[3]))
        return [
            (relation, h, t)
            for relation, pairs in counts.items()
            for h, t, n in pairs
            if n >= min_share * sum(p[2] for p in pairs)
        ]

    def relation_phrasings(self, per_relation: int = 6) -> dict[tuple[str, bool], list[str]]:
        """How the documents word each relation: the text between its two
        mentions in evidence sentences, most frequent first, keyed by
        (relation, True) when the head comes first, (relation, False) when the tail does."""
        counts: dict[tuple[str, bool], Counter[str]] = {}
        for r in self._q(
            "SELECT rel.type, s.text, hm.start AS hs, hm.end AS he, tm.start AS ts, tm.end AS te "
            "FROM evidence ev JOIN relations rel ON rel.id = ev.relation_id "
            "JOIN sentences s ON s.id = ev.sentence_id "
            "JOIN mentions hm ON hm.id = ev.head_mention_id "
            "JOIN mentions tm ON tm.id = ev.tail_mention_id"
        ):
            forward = r["he"] <= r["ts"]
            middle = r["text"][r["he"] : r["ts"]] if forward else r["text"][r["te"] : r["hs"]]
            words = _WORDS.findall(middle)
            if 0 < len(words) <= 6:
                counts.setdefault((r["type"], forward), Counter())[" ".join(words).lower()] += 1
        return {k: [p for p, _ in c.most_common(per_relation)] for k, c in counts.items()}

    def follow(self, entity_id: int, chain: list[tuple[str, bool]], limit: int = 20) -> list[dict]:
        """The entities at the end of ``chain`` (relation, forward) from
        ``entity_id``, most confident first: {"entity","confidence","kind",
        "steps": [{"from","type","to","forward","kind","evidence"|"explanation"}]}.
        A step uses the graph's extracted relations and the triples people
        accepted; where a node has neither, reasoning's proposals (kind "inferred")."""
        start = self._entity_row(entity_id)
        accepted = self.accepted()  # once, not once a node: each resolves names through merges
        frontier: dict[int, tuple[float, list[dict]]] = {entity_id: (1.0, [])}
        for relation, forward in chain:
            reached: dict[int, tuple[float, list[dict]]] = {}
            for node, (confidence, steps) in frontier.items():
                for edge in self._edges_from(node, relation, forward, accepted):
                    if edge["other"] == entity_id:
                        continue
                    value = confidence * edge["confidence"]
                    if edge["other"] not in reached or value > reached[edge["other"]][0]:
                        reached[edge["other"]] = (value, steps + [edge])
            frontier = reached
        best = sorted(frontier.items(), key=lambda item: (-item[1][0], item[0]))[:limit]
        briefs = self.briefs(
            [start["id"]]
            + [e for e, _ in best]
            + [s["other"] for _, (_, steps) in best for s in steps]
        )
        evidence = self._evidence(
            [s["relation_id"] for _, (_, steps) in best for s in steps if s.get("relation_id")]
        )
        answers = []
        for other, (confidence, steps) in best:
            shown, here = [], start["id"]
            for s in steps:
                step = {
                    "from": briefs[here],
                    "type": s["type"],
                    "to": briefs[s["other"]],
                    "forward": s["forward"],
                    "kind": s["kind"],
                }
                if s["kind"] == "extracted":
                    step["evidence"] = evidence.get(s["relation_id"], [])[:2]
                else:
                    step["explanation"] = s.get("explanation", [])
                shown.append(step)
                here = s["other"]
            kinds = {s["kind"] for s in steps}
            answers.append(
                {
                    "entity": briefs[other],
                    "confidence": round(confidence, 4),
                    "kind": "inferred"
                    if "inferred" in kinds
                    else "accepted"
                    if "accepted" in kinds
                    else "extracted",
                    "steps": shown,
                }
            )
        return answers

    def _edges_from(
        self, node: int, relation: str, forward: bool, accepted: list[dict]
    ) -> list[dict]:
        """``node``'s edges of ``relation`` one way: extracted ones and those of the
        ``accepted`` triples; reasoning's proposals only where there are neither."""
        this, other = ("head_id", "tail_id") if forward else ("tail_id", "head_id")
        near, far = ("head", "tail") if forward else ("tail", "head")
        edges = [
            {"other": r[0], "relation_id": r[1], "confidence": r[2], "kind": "extracted"}
            for r in self._q(
                f"SELECT {other}, id, score FROM relations WHERE {this} = ? AND type = ?",
                (node, relation),
            )
        ]

        def edges_of(facts: list[dict], kind: str) -> list[dict]:
            return [
                {
                    "other": f[far]["id"],
                    "confidence": f.get("score", 1.0),  # a person's accepted triple: 1
                    "kind": kind,
                    "explanation": f["explanation"],
                }
                for f in facts
                if f["type"] == relation and f[near]["id"] == node
            ]

        edges += edges_of(accepted, "accepted")
        if not edges:
            edges = edges_of(self.inferred(entity_id=node), "inferred")
        return [{**e, "type": relation, "forward": forward} for e in edges]

    def stats(self) -> dict:
        """Counts, the biggest types and entities, the builds, and the file."""

        def count(table: str) -> int:
            return self._conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

        top = [r[0] for r in self._q("SELECT id FROM entities ORDER BY mentions DESC, id LIMIT 10")]
        summaries = self._summaries(top)
        builds = [
            {**dict(r)}
            for r in self._q(
                "SELECT id, time, ner_run, relation_run, corpus, documents_added, "
                "documents_skipped, sentences FROM builds ORDER BY id"
            )
        ]
        # The database's own size: file bytes would count WAL pages not yet written back.
        size = (
            self._conn.execute("PRAGMA page_count").fetchone()[0]
            * self._conn.execute("PRAGMA page_size").fetchone()[0]
        )
        return {
            "documents": count("documents"),
            "sentences": count("sentences"),
            "entities": count("entities"),
            "mentions": count("mentions"),
            "relations": count("relations"),
            "evidence": count("evidence"),
            "entities_by_type": {
                r[0]: r[1]
                for r in self._q(
                    "SELECT type, count(*) AS n FROM entities GROUP BY type ORDER BY n DESC, type"
                )
            },
            "relations_by_type": {
                r[0]: r[1]
                for r in self._q(
                    "SELECT type, count(*) AS n FROM relations GROUP BY type ORDER BY n DESC, type"
                )
            },
            "top_entities": [summaries[i] for i in top],
            "builds": builds,
            "embedded": count("embeddings"),
            # Kept apart from the counts above: reasoning's proposals, people's decisions.
            "decisions": {
                "inferred": count("inferred"),
                "accepted": self._conn.execute(
                    "SELECT count(*) FROM judgements WHERE verdict = 'accepted'"
                ).fetchone()[0],
                "rejected": self._conn.execute(
                    "SELECT count(*) FROM judgements WHERE verdict = 'rejected'"
                ).fetchone()[0],
                "merges": count("merges"),
            },
            "path": str(self.path),
            "size_bytes": size,
        }

    # ------------------------------------------------------------- for export

    def iter_entities(self) -> Iterator[dict]:
        """Every entity with its aliases: {"id","name","type","mentions","aliases"}."""
        aliases: dict[int, list[dict]] = {}
        for r in self._conn.execute(
            "SELECT entity_id, text, count FROM aliases ORDER BY entity_id, count DESC, id"
        ):
            aliases.setdefault(r[0], []).append({"text": r[1], "count": r[2]})
        for r in self._conn.execute("SELECT id, name, type, mentions FROM entities ORDER BY id"):
            yield {
                "id": r[0],
                "name": r[1],
                "type": r[2],
                "mentions": r[3],
                "aliases": aliases.get(r[0], []),
            }

    def iter_relations(self, evidence: int | None = None) -> Iterator[dict]:
        """Every relation: {"id","head","type","tail","score","count","evidence"}
        with up to ``evidence`` evidence records each (None: all)."""
        rows = self._q("SELECT id, head_id, type, tail_id, score, count FROM relations ORDER BY id")
        for chunk in _chunks(rows, 200):
            ids = [r[0] for r in chunk]
            found: dict[int, list[dict]] = {}
            for r in (
                []
                if evidence == 0
                else self._q(
                    "SELECT ev.relation_id, s.text, d.doc_key, ev.score FROM evidence ev "
                    "JOIN sentences s ON s.id = ev.sentence_id "
                    "JOIN documents d ON d.id = s.document_id "
                    f"WHERE ev.relation_id IN ({_marks(ids)}) "
                    "ORDER BY ev.relation_id, ev.score DESC, ev.id",
                    ids,
                )
            ):
                items = found.setdefault(r[0], [])
                if evidence is None or len(items) < evidence:
                    items.append({"sentence": r[1], "document": r[2], "score": r[3]})
            for r in chunk:
                yield {
                    "id": r[0],
                    "head": r[1],
                    "type": r[2],
                    "tail": r[3],
                    "score": r[4],
                    "count": r[5],
                    "evidence": found.get(r[0], []),
                }

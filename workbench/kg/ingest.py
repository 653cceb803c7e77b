"""Putting documents into the graph: ``graph.ingest`` (class Ingest).

Builds are recorded with their provenance (begin_build, finish_build). Ingestion
is per document and idempotent: a document already stored with the same content
hash is skipped, a changed one is replaced (its sentences, mentions and evidence
removed; entities and relations left with nothing deleted) in the same
transaction that adds the new content, so a failed build never leaves half a
document behind. Removing a document takes whatever only it supported with it.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.kg.core import GraphCore, insert
from workbench.kg.decisions import Decisions
from workbench.kg.normalize import canonical_key, surface_form


class Ingest:
    """Builds, documents, and their sentences and mentions: ``graph.ingest``."""

    def __init__(self, core: GraphCore, decisions: Decisions):
        self.core = core
        # A removal withdraws the proposals that lost their support.
        self.decisions = decisions

    # ------------------------------------------------------------------ builds

    def begin_build(
        self, ner_run: str, relation_run: str | None, corpus: str, settings: dict
    ) -> int:
        """Record the start of a build (its provenance); returns the build id."""
        with self.core.write() as conn:
            return insert(
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
        with self.core.write() as conn:
            conn.execute(
                "UPDATE builds SET documents_added = ?, documents_skipped = ?, "
                "sentences = ? WHERE id = ?",
                (documents_added, documents_skipped, sentences, build_id),
            )

    # --------------------------------------------------------------- ingestion

    def document_state(self, doc_key: str, sha: str) -> str:
        """``"new"``, ``"same"`` (stored with this sha) or ``"changed"``."""
        row = self.core.conn.execute(
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
        with self.core.write() as conn:
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
                doc_id = insert(
                    conn,
                    "INSERT INTO documents(doc_key, source, sha, build_id) VALUES (?, ?, ?, ?)",
                    (doc_key, str(source), sha, build_id),
                )
            for position, sentence in enumerate(sentences):
                self._add_sentence(
                    doc_key, doc_id, position, sentence, touched_entities, touched_relations
                )
            self.core.refresh_relations(touched_relations)
            self.core.refresh_entities(touched_entities)
        return True

    def documents_from(self, source_prefix: str | None) -> list[str]:
        """Keys of the documents whose source (as a resolved path) starts with
        ``source_prefix`` (kg.corpus.corpus_prefix: resolved too, so "." and the
        folder's full path are one corpus)."""
        if not source_prefix:
            return []
        found = []
        for key, source in self.core.q("SELECT doc_key, source FROM documents ORDER BY doc_key"):
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
        row = self.core.conn.execute(
            "SELECT doc_key FROM documents WHERE doc_key = ? OR source = ? ORDER BY id LIMIT 1",
            (ref, ref),
        ).fetchone()
        if row is None:
            tail = Path(ref).name
            close = [
                r[0]
                for r in self.core.q(
                    "SELECT doc_key FROM documents WHERE instr(doc_key, ?) > 0 "
                    "ORDER BY doc_key LIMIT 5",
                    (tail,),
                )
            ]
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise WorkbenchError(f"no document {ref!r} in {self.core.path}{hint}")
        return row[0]

    def remove_document(self, doc_key: str, withdraw: bool = True) -> bool:
        """Remove a document and whatever only it supported; False when absent.
        ``withdraw``: also withdraw the proposals that lost their support (a
        caller removing many documents does that once, after the last)."""
        row = self.core.conn.execute(
            "SELECT id FROM documents WHERE doc_key = ?", (doc_key,)
        ).fetchone()
        if row is None:
            return False
        touched_entities: set[int] = set()
        touched_relations: set[int] = set()
        with self.core.write() as conn:
            self._clear_document(row[0], touched_entities, touched_relations)
            conn.execute("DELETE FROM documents WHERE id = ?", (row[0],))
            self.core.refresh_relations(touched_relations)
            self.core.refresh_entities(touched_entities)
            if withdraw:
                self.decisions.withdraw_unsupported()
        return True

    def _clear_document(self, doc_id: int, entities: set[int], relations: set[int]) -> None:
        conn = self.core.conn
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
        conn = self.core.conn
        try:
            text = str(sentence["text"])
            sentence_id = insert(
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
                entity_id = self.core.entity_id(key, entity_type, surface_form(str(ent["text"])))
                mention_id = insert(
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

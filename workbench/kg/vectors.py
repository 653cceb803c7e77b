"""Search by meaning: ``graph.vectors`` (class Vectors).

Each entity's profile (kg/profiles.py: name, type, relations in words, first
mentions) is embedded once per model and kept in the graph (table embeddings),
re-embedded only when its text or the model changes. search_semantic ranks with
numpy over every stored vector of one model.
"""

from __future__ import annotations

import numpy as np

from workbench.errors import WorkbenchError
from workbench.kg import profiles
from workbench.kg.core import GraphCore, check_limit
from workbench.kg.sql import chunks as _chunks
from workbench.kg.sql import marks as _marks


class Vectors:
    """Entity embeddings and the search over them: ``graph.vectors``."""

    def __init__(self, core: GraphCore):
        self.core = core

    def refresh_embeddings(self, embedder, batch_size: int = 64) -> int:
        """(Re)embed the entities whose profile text (or the model) changed.

        ``embedder`` has ``.name`` and ``.encode(texts, batch_size)`` returning
        L2-normalised float32 rows (kg.embed.Embedder). Returns how many were
        embedded. Writes in slices, so an interrupted refresh keeps its work.
        """
        check_limit("batch size", batch_size)
        model = embedder.name
        stored = {
            row[0]: row[1]
            for row in self.core.q(
                "SELECT entity_id, text_sha FROM embeddings WHERE model = ?", (model,)
            )
        }
        todo = []
        for entity_id, text in profiles.all_profiles(self.core.conn).items():
            digest = profiles.profile_hash(model, text)
            if stored.get(entity_id) != digest:
                todo.append((entity_id, text, digest))
        for chunk in _chunks(todo, max(batch_size * 8, 256)):
            vectors = np.asarray(
                embedder.encode([text for _, text, _ in chunk], batch_size=batch_size),
                dtype=np.float32,
            )
            with self.core.write() as conn:
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
            for row in self.core.q(
                "SELECT entity_id, vector FROM embeddings WHERE model = ? "
                f"AND entity_id IN ({_marks(chunk)})",
                [model, *chunk],
            ):
                found[row[0]] = np.frombuffer(row[1], dtype=np.float32)
        return found

    def embedding_models(self) -> list[str]:
        """Models the stored entity vectors came from, most vectors first."""
        return [
            r[0]
            for r in self.core.q(
                "SELECT model, count(*) AS n FROM embeddings GROUP BY model ORDER BY n DESC, model"
            )
        ]

    def search_semantic(
        self, text: str, embedder, limit: int = 20, type: str | None = None
    ) -> list[dict]:
        """Entities whose profile is nearest in meaning to ``text`` (cosine);
        the same dicts as search() plus "score".

        Ranks with numpy over every stored vector of the embedder's model: a
        full scan, fine up to ~1e5 entities (a vector index beyond that).
        """
        check_limit("search: limit", limit)
        if not (text or "").strip():
            raise WorkbenchError(f"search: nothing to search for in '{text}' (give a few words)")
        model = embedder.name
        type_sql, type_args = ("AND e.type = ? COLLATE NOCASE", [type]) if type else ("", [])
        rows = self.core.q(
            "SELECT m.entity_id, m.dim, m.vector FROM embeddings m "
            f"JOIN entities e ON e.id = m.entity_id WHERE m.model = ? {type_sql}",
            [model, *type_args],
        )
        if not rows:
            if (
                self.core.conn.execute(
                    "SELECT 1 FROM embeddings WHERE model = ? LIMIT 1", (model,)
                ).fetchone()
                is None
            ):
                raise WorkbenchError(
                    f"{self.core.path}: no entity embeddings for model '{model}'; "
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
                f"{self.core.path}: stored embeddings have {dim} dimensions, "
                f"model '{model}' gives {query.shape[0]}"
            )
        scores = matrix @ query  # rows and query are unit length: dot = cosine
        top = np.argsort(-scores, kind="stable")[:limit]
        ids = [rows[i]["entity_id"] for i in top]
        summaries = self.core.summaries(ids)
        return [
            {
                **summaries[entity_id],
                "match": summaries[entity_id]["name"],
                "score": float(scores[i]),
            }
            for entity_id, i in zip(ids, top)
        ]

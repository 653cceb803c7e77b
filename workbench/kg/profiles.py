"""Entity profiles: the text that semantic search embeds for each entity.

A name alone says little to a sentence encoder ("Kestrel Analytics"), so the
profile adds the type, the entity's relations in words and a sentence or two
where it is mentioned:

    Kestrel Analytics (ORG): based in Lisbon; Maria Rossi works for it.
    Kestrel Analytics opened an office in Lisbon.
"""

from __future__ import annotations

import hashlib
import sqlite3

from workbench.kg.normalize import relation_words

MAX_RELATIONS = 8  # the strongest few; a hub's hundredth relation adds nothing
MAX_SENTENCES = 2
MAX_CHARS = 1200  # the encoder truncates near 256 tokens anyway


def profile_text(name: str, type: str, relations: list[str], sentences: list[str]) -> str:
    """``"Name (TYPE): rel; rel. sentence sentence"`` (relations and sentences optional)."""
    text = f"{name} ({type})"
    if relations:
        text += ": " + "; ".join(relations[:MAX_RELATIONS])
    text += "."
    for sentence in sentences[:MAX_SENTENCES]:
        text += " " + sentence.strip()
    return text[:MAX_CHARS]


def profile_hash(model: str, text: str) -> str:
    """What refresh_embeddings compares: a new model or a new profile re-embeds."""
    return hashlib.sha1(f"{model}\n{text}".encode()).hexdigest()


def all_profiles(conn: sqlite3.Connection) -> dict[int, str]:
    """Every entity's profile, built with three queries over the whole graph.

    Holds one string per entity in memory: fine up to ~1e5 entities.
    """
    entities = {
        row[0]: (row[1], row[2]) for row in conn.execute("SELECT id, name, type FROM entities")
    }
    relations: dict[int, list[str]] = {}
    rows = conn.execute(
        "SELECT r.head_id, h.name, r.type, r.tail_id, t.name FROM relations r "
        "JOIN entities h ON h.id = r.head_id JOIN entities t ON t.id = r.tail_id "
        "ORDER BY r.count DESC, r.score DESC, r.id"
    )
    for head_id, head_name, rel_type, tail_id, tail_name in rows:
        words = relation_words(rel_type)
        relations.setdefault(head_id, []).append(f"{words} {tail_name}")
        relations.setdefault(tail_id, []).append(f"{head_name} {words} it")
    sentences: dict[int, list[str]] = {}
    rows = conn.execute(
        "SELECT entity_id, text FROM ("
        "  SELECT f.entity_id, s.text, ROW_NUMBER() OVER ("
        "    PARTITION BY f.entity_id ORDER BY f.first) AS rank"
        "  FROM (SELECT entity_id, sentence_id, min(id) AS first FROM mentions"
        "        GROUP BY entity_id, sentence_id) f"
        "  JOIN sentences s ON s.id = f.sentence_id)"
        f" WHERE rank <= {MAX_SENTENCES}"
    )
    for entity_id, text in rows:
        sentences.setdefault(entity_id, []).append(text)
    return {
        entity_id: profile_text(
            name, type, relations.get(entity_id, []), sentences.get(entity_id, [])
        )
        for entity_id, (name, type) in entities.items()
    }

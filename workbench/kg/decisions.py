"""What people decide about a graph, and what reasoning proposes to it.

``graph.decisions`` (class Decisions) over the tables schema.DECISIONS creates:

- **merges**: "these two names are one entity". Recorded by name (entity key and
  type), so when a rebuild deletes and re-creates entities, the next mention of
  the merged name goes straight to the entity it was merged into; a split takes
  the decision back and moves the name's mentions out again. (Reading a name
  through the merges, GraphCore.merged_into, is in core.py: every ingested
  mention needs it too.)
- **inferred**: triples reasoning proposed (kg/infer.py), each with its score,
  its explanation and the extracted facts it rests on; never counted as
  evidence. Proposals whose support is gone are withdrawn after every change.
- **judgements**: a person's accept or reject of a proposal, by name. An
  accepted triple is a fact a person stated; a rejected one is not proposed again.

Each merge, split and judgement is also a journal entry (kg/journal.py,
``graph.decisions.journal``) that kg/undo.py can take back.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from workbench.errors import WorkbenchError
from workbench.kg.core import GraphCore
from workbench.kg.journal import Journal, note_change
from workbench.kg.normalize import normalize_name, surface_form
from workbench.kg.sql import chunks as _chunks
from workbench.kg.sql import marks as _marks

VERDICTS = ("accepted", "rejected")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


Triple = tuple[int, str, int]


class Decisions:
    """Merges, splits, proposals and judgements: ``graph.decisions``."""

    def __init__(self, core: GraphCore):
        self.core = core
        self.journal = Journal(core)

    # ------------------------------------------------------------------ merges

    def merge(self, source_id: int, target_id: int, any_type: bool = False, embedder=None) -> dict:
        """Merge entity ``source_id`` into ``target_id``: its mentions, aliases and
        relations move, and the decision is kept for every later build (and in the
        journal, for kg undo). Entities of two types merge only with ``any_type`` (a
        person is rarely a city). With an ``embedder`` (kg.embed.Embedder) the
        changed profiles are re-embedded when the graph has vectors of its model.
        Returns {"from", "into", "mentions"} (entity briefs, mentions moved)."""
        source, target = self.core.entity_row(source_id), self.core.entity_row(target_id)
        if source_id == target_id:
            raise WorkbenchError(
                f"merge: {source['name']} ({source['type']}) #{source_id} is one entity "
                f"already (names merged into it lead to it)"
            )
        if source["type"] != target["type"] and not any_type:
            raise WorkbenchError(
                f"merge: {source['name']} is {source['type']} and {target['name']} is "
                f"{target['type']}; merge entities of two types with --any-type"
            )
        src_key, tgt_key = self._key_of(source_id), self._key_of(target_id)
        summary: dict[str, Any] = {
            "from": {
                "id": source_id,
                "key": src_key[0],
                "type": src_key[1],
                "name": source["name"],
            },
            "into": {
                "id": target_id,
                "key": tgt_key[0],
                "type": tgt_key[1],
                "name": target["name"],
            },
        }
        with self.journal.record("merge", summary):
            moved = self.merge_names(src_key, tgt_key)
            summary["mentions"] = moved
            if embedder is not None:
                self._reembed(embedder)
        return {
            "from": {"id": source["id"], "name": source["name"], "type": source["type"]},
            "into": {"id": target["id"], "name": target["name"], "type": target["type"]},
            "mentions": moved,
        }

    def merge_names(
        self, src_key: tuple[str, str], tgt_key: tuple[str, str], time: str | None = None
    ) -> int:
        """Record "the name ``src_key`` (key, type) is ``tgt_key``" and apply it now:
        the mentions of the entity the name leads to move where their own names
        lead. What merge does once it has the two names, and what an import and an
        undo by meaning do with names alone (either may name no entity of this
        graph: the record then waits for a build). Returns the mentions moved."""
        # Merge records are kept flat: into where the target's name leads, unless
        # that is back to the source (a merge the other way, which this one undoes).
        if (resolved := self.core.merged_into(*tgt_key)) != src_key:
            tgt_key = resolved
        # The mentions to move: the source entity's, or when the name has none of its
        # own (merged elsewhere before), those of the entity it led to until now.
        own = self.core.conn.execute(
            "SELECT 1 FROM entities WHERE key = ? AND type = ?", src_key
        ).fetchone()
        before = src_key if own else self.core.merged_into(*src_key)
        with self.core.write() as conn:
            # The source's own name, and every name merged into it, now lead to the target.
            conn.execute(
                "UPDATE merges SET into_key = ?, into_type = ? "
                "WHERE into_key = ? AND into_type = ?",
                (*tgt_key, *src_key),
            )
            # Merging back a name that was merged the other way: the newer decision wins.
            conn.execute("DELETE FROM merges WHERE from_key = ? AND from_type = ?", tgt_key)
            conn.execute(
                "INSERT OR REPLACE INTO merges(from_key, from_type, into_key, into_type, time) "
                "VALUES (?, ?, ?, ?, ?)",
                (*src_key, *tgt_key, time or _now()),
            )
            moved = self._rehome(self._mentions_named(before))
            self.withdraw_unsupported()
        return moved

    def unmerge_name(self, key: str, type: str) -> bool:
        """Take back the merge of the name (key, type), wherever it leads now: its
        mentions go back to an entity of their own (a split of that one name, by
        names alone). False when the name is not merged."""
        row = self.core.conn.execute(
            "SELECT id, into_key, into_type FROM merges WHERE from_key = ? AND from_type = ?",
            (key, type),
        ).fetchone()
        if row is None:
            return False
        with self.core.write() as conn:
            conn.execute("DELETE FROM merges WHERE id = ?", (row[0],))
            self._rehome(self._mentions_named((row[1], row[2])))
            self.withdraw_unsupported()
        return True

    def _mentions_named(self, name: tuple[str, str]) -> list[int]:
        """The mentions of the entity whose (key, type) is ``name``."""
        return [
            r[0]
            for r in self.core.conn.execute(
                "SELECT m.id FROM mentions m JOIN entities e ON e.id = m.entity_id "
                "WHERE e.key = ? AND e.type = ?",
                name,
            )
        ]

    def one_entity(self, a: tuple[str, str], b: tuple[str, str]) -> bool:
        """Whether the names (key, type) ``a`` and ``b`` lead to one entity (merges)."""
        return self.core.merged_into(*a) == self.core.merged_into(*b)

    def _reembed(self, embedder) -> None:
        """Profiles a merge or split changed (the entity kept, its neighbours) get
        new vectors, in the decision's transaction so an undo puts the old ones
        back; only in a graph that has vectors from ``embedder``'s model."""
        from workbench.kg.vectors import Vectors

        vectors = Vectors(self.core)
        if embedder.name in vectors.embedding_models():
            vectors.refresh_embeddings(embedder)

    def merges(self, entity_id: int | None = None) -> list[dict]:
        """Merge decisions, newest first: {"id","from","from_type","into","into_type",
        "time"} (names as keys); only those into ``entity_id`` when given."""
        sql = "SELECT * FROM merges"
        args: tuple[str, ...] = ()
        if entity_id is not None:
            sql += " WHERE into_key = ? AND into_type = ?"
            args = self._key_of(entity_id)
        return [
            {
                "id": r["id"],
                "from": r["from_key"],
                "from_type": r["from_type"],
                "into": r["into_key"],
                "into_type": r["into_type"],
                "time": r["time"],
            }
            for r in self.core.conn.execute(sql + " ORDER BY id DESC", args).fetchall()
        ]

    def split(self, entity_id: int, name: str | None = None, embedder=None) -> list[dict]:
        """Undo merges into ``entity_id``: all of them, or the one of ``name`` (a
        name that was merged in). Its mentions go back to entities of their own
        (``embedder``: as in merge). Returns the entities the names now have
        ({"id","name","type"})."""
        target_key = self._key_of(entity_id)
        decisions = self.merges(entity_id)
        if name is not None:
            wanted = normalize_name(name)
            decisions = [d for d in decisions if d["from"] == wanted]
            if not decisions:
                merged = ", ".join(repr(d["from"]) for d in self.merges(entity_id))
                raise WorkbenchError(
                    f"split: no merge of {name!r} into #{entity_id}"
                    + (f"; merged into it: {merged}" if merged else "; nothing was merged into it")
                )
        if not decisions:
            raise WorkbenchError(f"split: nothing was merged into #{entity_id}")
        entity = self.core.entity_row(entity_id)
        summary = {
            "entity": {
                "id": entity_id,
                "key": target_key[0],
                "type": target_key[1],
                "name": entity["name"],
            },
            "names": [[d["from"], d["from_type"], d["into"], d["into_type"]] for d in decisions],
        }
        with self.journal.record("split", summary), self.core.write() as conn:
            conn.executemany("DELETE FROM merges WHERE id = ?", [(d["id"],) for d in decisions])
            mentions = [
                r[0]
                for r in conn.execute("SELECT id FROM mentions WHERE entity_id = ?", (entity_id,))
            ]
            self._rehome(mentions)
            self.withdraw_unsupported()
            if embedder is not None:
                self._reembed(embedder)
        found = []
        for d in decisions:
            key, type = self.core.merged_into(d["from"], d["from_type"])
            row = self.core.conn.execute(
                "SELECT id, name, type FROM entities WHERE key = ? AND type = ?", (key, type)
            ).fetchone()
            if row is not None and (key, type) != target_key:
                found.append({"id": row["id"], "name": row["name"], "type": row["type"]})
        return found

    def _key_of(self, entity_id: int) -> tuple[str, str]:
        row = self.core.conn.execute(
            "SELECT key, type FROM entities WHERE id = ?", (entity_id,)
        ).fetchone()
        if row is None:
            raise WorkbenchError(f"no entity #{entity_id} in {self.core.path}")
        return row[0], row[1]

    def _rehome(self, mention_ids: list[int]) -> int:
        """Move each mention to the entity its own name and type resolve to now,
        then regroup the evidence that cites it; returns how many moved. Evidence
        whose ends become one entity is folded away (kept for a split), and folded
        evidence whose ends are two entities again comes back."""
        conn = self.core.conn
        touched_entities: set[int] = set()
        moved: list[int] = []
        for chunk in _chunks(mention_ids):
            for mention_id, entity_id, text, type in conn.execute(
                f"SELECT id, entity_id, text, coalesce(type, '') FROM mentions "
                f"WHERE id IN ({_marks(chunk)})",
                chunk,
            ).fetchall():
                owner = self.core.entity_id(normalize_name(text), type, surface_form(text))
                if owner != entity_id:
                    conn.execute(
                        "UPDATE mentions SET entity_id = ? WHERE id = ?", (owner, mention_id)
                    )
                    touched_entities.update((entity_id, owner))
                    moved.append(mention_id)
        touched_relations: set[int] = set()
        for chunk in _chunks(moved, 400):
            marks = _marks(chunk)
            rows = conn.execute(
                "SELECT ev.id, ev.relation_id, r.type, hm.entity_id, tm.entity_id "
                "FROM evidence ev JOIN relations r ON r.id = ev.relation_id "
                "JOIN mentions hm ON hm.id = ev.head_mention_id "
                "JOIN mentions tm ON tm.id = ev.tail_mention_id "
                f"WHERE ev.head_mention_id IN ({marks}) OR ev.tail_mention_id IN ({marks})",
                chunk + chunk,
            ).fetchall()
            for evidence_id, relation_id, rtype, head, tail in rows:
                touched_relations.add(relation_id)
                if head == tail:  # the two ends are one entity now: nothing to say
                    conn.execute(
                        "INSERT INTO folded(sentence_id, head_mention_id, tail_mention_id, "
                        "type, score) SELECT sentence_id, head_mention_id, tail_mention_id, ?, "
                        "score FROM evidence WHERE id = ?",
                        (rtype, evidence_id),
                    )
                    conn.execute("DELETE FROM evidence WHERE id = ?", (evidence_id,))
                    continue
                new_id = self._relation_id(head, rtype, tail)
                conn.execute(
                    "UPDATE evidence SET relation_id = ? WHERE id = ?", (new_id, evidence_id)
                )
                touched_relations.add(new_id)
            for fold_id, sentence_id, hm_id, tm_id, rtype, score, head, tail in conn.execute(
                "SELECT f.id, f.sentence_id, f.head_mention_id, f.tail_mention_id, f.type, "
                "f.score, hm.entity_id, tm.entity_id FROM folded f "
                "JOIN mentions hm ON hm.id = f.head_mention_id "
                "JOIN mentions tm ON tm.id = f.tail_mention_id "
                f"WHERE f.head_mention_id IN ({marks}) OR f.tail_mention_id IN ({marks})",
                chunk + chunk,
            ).fetchall():
                if head == tail:
                    continue
                relation_id = self._relation_id(head, rtype, tail)
                conn.execute(
                    "INSERT INTO evidence(relation_id, sentence_id, head_mention_id, "
                    "tail_mention_id, score) VALUES (?, ?, ?, ?, ?)",
                    (relation_id, sentence_id, hm_id, tm_id, score),
                )
                conn.execute("DELETE FROM folded WHERE id = ?", (fold_id,))
                touched_relations.add(relation_id)
        self.core.refresh_relations(touched_relations)
        self.core.refresh_entities(touched_entities)
        return len(moved)

    def _relation_id(self, head: int, type: str, tail: int) -> int:
        """The relation row (head, type, tail), created empty when missing (its
        count and score come from its evidence in _refresh_relations)."""
        self.core.conn.execute(
            "INSERT INTO relations(head_id, tail_id, type, score, count) "
            "VALUES (?, ?, ?, 0, 0) ON CONFLICT DO NOTHING",
            (head, tail, type),
        )
        return self.core.conn.execute(
            "SELECT id FROM relations WHERE head_id = ? AND type = ? AND tail_id = ?",
            (head, type, tail),
        ).fetchone()[0]

    # ------------------------------------------------------------ reasoning

    def triples(self, accepted: bool = True) -> list[Triple]:
        """Every extracted relation as (head id, type, tail id), and the triples a
        person accepted (when ``accepted``): what reasoning reasons from."""
        found = [
            (r[0], r[1], r[2])
            for r in self.core.conn.execute("SELECT head_id, type, tail_id FROM relations")
        ]
        if accepted:
            found += [(f["head"]["id"], f["type"], f["tail"]["id"]) for f in self.accepted()]
        return sorted(set(found))

    def replace_inferred(self, proposals: Iterable[dict]) -> int:
        """Store a reasoning pass's proposals in place of the last pass's. Each is
        {"head","type","tail" (ids),"score","method","explanation","support"}.
        Triples a person judged, or that the graph already holds, are left out.
        Returns how many were stored."""
        judged = {(h, r, t) for h, r, t in self._judged_ids()}
        known = set(self.triples(accepted=False))
        rows = []
        for p in proposals:
            triple = (int(p["head"]), str(p["type"]), int(p["tail"]))
            if triple in judged or triple in known or triple[0] == triple[2]:
                continue
            rows.append(
                (
                    triple[0],
                    triple[2],
                    triple[1],
                    float(p["score"]),
                    str(p["method"]),
                    json.dumps(p.get("explanation", []), ensure_ascii=False),
                    json.dumps(p.get("support", [])),
                    _now(),
                )
            )
        with self.core.write() as conn:
            conn.execute("DELETE FROM inferred")
            # A new pass: undo must not bring the old pass's proposals back among these.
            note_change(conn)
            conn.executemany(
                "INSERT OR REPLACE INTO inferred(head_id, tail_id, type, score, method, "
                "explanation, support, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def _judgements(self, verdict: str | None = None) -> Iterator[tuple[dict, dict, sqlite3.Row]]:
        """Judgements as the entities they are about now: a name merged into
        another is that entity (and a split gives it back), since judgements are
        kept under the names judged. Those about an entity not in the graph, or
        whose two ends are one entity now, are left out."""
        sql = "SELECT * FROM judgements"
        args: tuple[str, ...] = ()
        if verdict is not None:
            sql += " WHERE verdict = ?"
            args = (verdict,)
        for row in self.core.conn.execute(sql + " ORDER BY id", args).fetchall():
            ends = []
            for end in ("head", "tail"):
                key, type = self.core.merged_into(row[f"{end}_key"], row[f"{end}_type"])
                found = self.core.conn.execute(
                    "SELECT id, name, type FROM entities WHERE key = ? AND type = ?", (key, type)
                ).fetchone()
                if found is None:
                    break
                ends.append({"id": found[0], "name": found[1], "type": found[2]})
            if len(ends) == 2 and ends[0]["id"] != ends[1]["id"]:
                yield ends[0], ends[1], row

    def _judged_ids(self) -> Iterator[Triple]:
        for head, tail, row in self._judgements():
            yield head["id"], row["type"], tail["id"]

    def inferred(
        self, limit: int | None = None, entity_id: int | None = None, min_score: float = 0.0
    ) -> list[dict]:
        """Proposals, best first: {"id","head","type","tail" (briefs),"score",
        "method","explanation","support"}; those touching ``entity_id`` when given."""
        where, args = ["i.score >= ?"], [min_score]
        if entity_id is not None:
            where.append("(i.head_id = ? OR i.tail_id = ?)")
            args += [entity_id, entity_id]
        sql = (
            "SELECT i.*, h.name AS h_name, h.type AS h_type, t.name AS t_name, "
            "t.type AS t_type FROM inferred i JOIN entities h ON h.id = i.head_id "
            f"JOIN entities t ON t.id = i.tail_id WHERE {' AND '.join(where)} "
            "ORDER BY i.score DESC, i.id"
        )
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [
            {
                "id": r["id"],
                "head": {"id": r["head_id"], "name": r["h_name"], "type": r["h_type"]},
                "type": r["type"],
                "tail": {"id": r["tail_id"], "name": r["t_name"], "type": r["t_type"]},
                "score": r["score"],
                "method": r["method"],
                "explanation": json.loads(r["explanation"]),
                "support": json.loads(r["support"]),
            }
            for r in self.core.conn.execute(sql, args).fetchall()
        ]

    def judge(self, inferred_id: int, verdict: str) -> dict:
        """Accept or reject proposal ``inferred_id``: the judgement is kept by name
        (it survives rebuilds), the proposal leaves the list. Returns the proposal."""
        if verdict not in VERDICTS:
            raise WorkbenchError(f"verdict must be one of {', '.join(VERDICTS)}")
        found = [p for p in self.inferred() if p["id"] == inferred_id]
        if not found:
            judged = self.core.conn.execute(
                "SELECT verdict, time FROM judgements WHERE proposal = ?", (inferred_id,)
            ).fetchone()
            if judged is not None:
                raise WorkbenchError(f"#{inferred_id} was {judged[0]} already ({judged[1]})")
            raise WorkbenchError(
                f"no inferred triple #{inferred_id} in {self.core.path} "
                f"(list them with workbench kg infer --list)"
            )
        proposal = found[0]
        head, tail = self._key_of(proposal["head"]["id"]), self._key_of(proposal["tail"]["id"])
        summary = {
            "head": {"key": head[0], "type": head[1], "name": proposal["head"]["name"]},
            "type": proposal["type"],
            "tail": {"key": tail[0], "type": tail[1], "name": proposal["tail"]["name"]},
            "verdict": verdict,
            "proposal": inferred_id,
        }
        kind = "accept" if verdict == "accepted" else "reject"
        with self.journal.record(kind, summary), self.core.write() as conn:
            names = (*head, proposal["type"], *tail)
            self._keep_judgement(names, verdict, proposal["explanation"], _now(), inferred_id)
            conn.execute("DELETE FROM inferred WHERE id = ?", (inferred_id,))
        return {**proposal, "verdict": verdict}

    def set_judgement(self, names: tuple, verdict: str, explanation, time: str) -> bool:
        """Keep a verdict on the triple ``names`` (head key, head type, relation, tail
        key, tail type) as judge does, without a proposal to point at (an import):
        a proposal of that triple leaves the list. False when it was so judged already."""
        if self.verdict_of(names) == verdict:
            return False
        with self.core.write() as conn:
            self._keep_judgement(names, verdict, explanation, time, None)
            judged = set(self._judged_ids())
            gone = [
                (r[0],)
                for r in conn.execute("SELECT id, head_id, type, tail_id FROM inferred")
                if (r[1], r[2], r[3]) in judged
            ]
            conn.executemany("DELETE FROM inferred WHERE id = ?", gone)
            self.withdraw_unsupported()  # an accepted triple may state what one proposes
        return True

    def verdict_of(self, names: tuple) -> str | None:
        """The verdict kept on the triple ``names`` (as in set_judgement), or None."""
        row = self.core.conn.execute(
            "SELECT verdict FROM judgements WHERE head_key = ? AND head_type = ? AND type = ? "
            "AND tail_key = ? AND tail_type = ?",
            names,
        ).fetchone()
        return None if row is None else row[0]

    def _keep_judgement(
        self, names: tuple, verdict: str, explanation, time: str, proposal: int | None
    ) -> None:
        """Write (or replace) the verdict on ``names``, in the caller's transaction."""
        self.core.conn.execute(
            "INSERT OR REPLACE INTO judgements(head_key, head_type, type, tail_key, "
            "tail_type, verdict, explanation, time, proposal) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*names, verdict, json.dumps(explanation, ensure_ascii=False), time, proposal),
        )

    def forget_judgement(self, names: tuple, verdict: str) -> bool:
        """Drop the ``verdict`` on the triple ``names`` (as in set_judgement), so the
        next kg infer may propose it again; False when there is no such verdict."""
        with self.core.write() as conn:
            gone = conn.execute(
                "DELETE FROM judgements WHERE head_key = ? AND head_type = ? AND type = ? "
                "AND tail_key = ? AND tail_type = ? AND verdict = ?",
                (*names, verdict),
            ).rowcount
            if gone:
                self.withdraw_unsupported()  # what rested on an accepted triple
        return bool(gone)

    def judgements(self) -> list[dict]:
        """Every accept and reject, newest first, as the entities they are about now:
        {"proposal","verdict","time","head","type","tail","explanation"}."""
        return [
            {
                "proposal": row["proposal"],
                "verdict": row["verdict"],
                "time": row["time"],
                "head": head,
                "type": row["type"],
                "tail": tail,
                "explanation": json.loads(row["explanation"]),
            }
            for head, tail, row in reversed(list(self._judgements()))
        ]

    def accepted(self, entity_id: int | None = None) -> list[dict]:
        """Triples a person accepted whose two entities are in the graph now:
        {"head","type","tail" (briefs),"explanation"}; those touching
        ``entity_id`` when given."""
        return [
            {
                "head": head,
                "type": row["type"],
                "tail": tail,
                "explanation": json.loads(row["explanation"]),
            }
            for head, tail, row in self._judgements("accepted")
            if entity_id is None or entity_id in (head["id"], tail["id"])
        ]

    def withdraw_unsupported(self) -> int:
        """Drop proposals no longer standing: the graph now states them, or none
        of the chains that explained them is whole any more (a proposal from
        embeddings alone rests on its two entities, which cascade). Returns how many."""
        known = set(self.triples())
        gone = []
        for r in self.core.conn.execute(
            "SELECT id, head_id, type, tail_id, support FROM inferred"
        ).fetchall():
            chains = json.loads(r["support"])
            if (r["head_id"], r["type"], r["tail_id"]) in known or (
                chains and not any(all(tuple(e) in known for e in c) for c in chains)
            ):
                gone.append((r["id"],))
        if gone:
            with self.core.write() as conn:
                conn.executemany("DELETE FROM inferred WHERE id = ?", gone)
        return len(gone)

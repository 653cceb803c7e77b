"""Reading the graph: ``graph.queries`` (class Queries).

Entities by name (search: FTS5 over names and aliases; resolve: a reference as
people type it; by_name: a normalised name, through people's merges), one
entity with everything about it, its neighbours, the shortest chains between
two, the counts (stats), and every entity and relation for export.

Search text never reaches FTS5 syntax as written: search() builds the MATCH
expression from the text's word tokens, each quoted.

Text in a script written without spaces (Chinese, Japanese, Thai...) is one
FTS5 token per run of letters ("华为技术有限公司"), so a word prefix finds
"华为" in it but never "技术". A query holding such letters is matched by
substring instead: every word of it inside a name or alias (instr over the
aliases, parameterised; a scan: about 10 ms per 100,000 aliases, 60 ms for
670,000, measured on two busy cores).
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Iterator

from workbench.errors import WorkbenchError
from workbench.kg import paths as _paths
from workbench.kg.core import GraphCore, brief, check_limit
from workbench.kg.decisions import Decisions
from workbench.kg.normalize import UNSPACED, has_unspaced, normalize_name, surface_form
from workbench.kg.sql import chunks as _chunks
from workbench.kg.sql import marks as _marks

_WORDS = re.compile(r"\w+")
# Words of a query with unspaced letters: runs of those letters (\w would miss Thai
# and Myanmar vowel signs) and runs of other word characters, so "IBM中国" is
# two words, each looked for on its own.
_UNSPACED_WORDS = re.compile(f"[{UNSPACED}]+|[^\\W{UNSPACED}]+")
_POSSESSIVE = re.compile(r"(\w)['’]s\b")
_MAX_QUERY_WORDS = 16
_EVIDENCE_SHOWN = 5  # per relation in entity(); "count" tells how many there are


def holds_words(name: str, key: str) -> bool:
    """Whether ``name`` holds every word of ``key`` (a normalised name): as a
    whole word, or as a substring where ``key`` has unspaced letters ("华为" in
    "华为技术有限公司")."""
    held = normalize_name(name)
    if has_unspaced(key):
        return all(word in held for word in _UNSPACED_WORDS.findall(key))
    return set(_WORDS.findall(key)) <= set(_WORDS.findall(held))


def _as_named(alias: str, name: str) -> str:
    """An alias as people see it: the entity's own name in the width it is shown
    in ("华为（中国）" for its NFKC alias "华为(中国)"); any other alias as stored."""
    return name if alias != name and alias == surface_form(name) else alias


def _needle(word: str) -> str:
    """The longest run of ``word`` that SQLite's instr(lower(...)) compares as
    casefold does: ASCII and letters without case ("" if none)."""
    best, run = "", ""
    for char in word:
        if char.isascii() or char.lower() == char.upper() == char.casefold():
            run += char
            best = max(best, run, key=len)
        else:
            run = ""
    return best


def _column(needle: str) -> str:
    """The alias text as instr() should see it for ``needle`` (lower-cased when
    the needle has ASCII letters; SQLite's lower() folds only those)."""
    return "lower(a.text)" if re.search("[a-z]", needle) else "a.text"


class Queries:
    """Search, entities, neighbours, paths, counts and export: ``graph.queries``."""

    def __init__(self, core: GraphCore, decisions: Decisions):
        self.core = core
        # entity() shows what people accepted and what reasoning proposes about it.
        self.decisions = decisions

    # -------------------------------------------------------- entities by name

    def briefs(self, entity_ids: list[int]) -> dict[int, dict]:
        """id -> {"id","name","type"} for the ids that exist."""
        found = {}
        for chunk in _chunks(entity_ids):
            for row in self.core.q(
                f"SELECT id, name, type FROM entities WHERE id IN ({_marks(chunk)})", chunk
            ):
                found[row["id"]] = brief(row)
        return found

    def entity_types(self, entity_ids: list[int]) -> dict[int, str]:
        """id -> type."""
        return {i: b["type"] for i, b in self.briefs(entity_ids).items()}

    def entity_keys(self) -> dict[int, str]:
        """id -> normalised name (the key mentions are matched on)."""
        return {r[0]: r[1] for r in self.core.q("SELECT id, key FROM entities")}

    def search(self, text: str, limit: int = 20, type: str | None = None) -> list[dict]:
        """Entities whose name or an alias contains every word of ``text`` as a
        word prefix (any word, if none has all); exact names first, then FTS rank.
        Text in a script written without spaces ("华为") is found anywhere in a
        name instead ("华为技术有限公司", "中国华为"): _search_unspaced. Either
        width finds a name: the query is NFKC, as aliases are.

        Result dicts: {"id","name","type","mentions","relations","match"}.
        """
        check_limit("search: limit", limit)
        # NFKC as the aliases are: "ＩＢＭ" finds IBM, "华为（中国）" finds 华为(中国).
        folded = unicodedata.normalize("NFKC", text or "")
        if has_unspaced(folded):
            return self._search_unspaced(text, folded, limit, type)
        words = _WORDS.findall(_POSSESSIVE.sub(r"\1", folded))[:_MAX_QUERY_WORDS]
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
                rows = self.core.q(
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
        return self._hits(best, limit)

    def _hits(self, best: dict[int, tuple], limit: int) -> list[dict]:
        """entity id -> (rank, alias matched) as search's result dicts, best rank first."""
        ordered = sorted(best.items(), key=lambda item: item[1][0])[:limit]
        summaries = self.core.summaries([entity_id for entity_id, _ in ordered])
        return [
            {**summaries[entity_id], "match": _as_named(alias, summaries[entity_id]["name"])}
            for entity_id, (_, alias) in ordered
        ]

    def _search_unspaced(self, text: str, folded: str, limit: int, type: str | None) -> list[dict]:
        """search() for a query with letters of a script written without spaces:
        names and aliases holding every word of it as a substring (any word, if
        none holds all); exact names first, then those the first word starts, then
        earlier and shorter matches, then the most mentioned."""
        words = list(dict.fromkeys(_UNSPACED_WORDS.findall(folded.casefold())))
        words = words[:_MAX_QUERY_WORDS]
        wanted = normalize_name(text)
        type_sql, type_args = ("AND e.type = ? COLLATE NOCASE", [type]) if type else ("", [])
        # SQL narrows by the part of each word instr() compares exactly (the
        # exact test, casefolded, is made below on what comes back); a word with
        # unspaced letters always has one.
        needles = [n for n in map(_needle, words) if n]
        tests = [f"instr({_column(n)}, ?) > 0" for n in needles]
        rows: list = []
        for joiner in (" AND ", " OR "):
            if joiner == " OR " and len(words) < 2:
                break
            try:
                rows = self.core.q(
                    "SELECT a.entity_id, a.text, e.mentions FROM aliases a "
                    "JOIN entities e ON e.id = a.entity_id "
                    f"WHERE ({joiner.join(tests)}) {type_sql} "
                    # Rows without the first word (instr 0: the any-word pass) last.
                    f"ORDER BY instr({_column(needles[0])}, ?) = 0, "
                    f"instr({_column(needles[0])}, ?), length(a.text), "
                    "e.mentions DESC, a.entity_id LIMIT ?",
                    [*needles, *type_args, needles[0], needles[0], max(limit * 20, 200)],
                )
            except sqlite3.Error as exc:  # a safety net; every value is a parameter
                raise WorkbenchError(f"search: cannot search for '{text}' ({exc})") from None
            held = all if joiner == " AND " else any
            rows = [
                r
                for r in rows
                if held(w in unicodedata.normalize("NFKC", r["text"]).casefold() for w in words)
            ]
            if rows:
                break
        best: dict[int, tuple] = {}
        for row in rows:
            name = unicodedata.normalize("NFKC", row["text"]).casefold()
            at = name.find(words[0])
            rank = (
                normalize_name(row["text"]) != wanted,
                at != 0,
                at if at >= 0 else len(name),
                len(name),
                -row["mentions"],
                row["entity_id"],
            )
            if row["entity_id"] not in best or rank < best[row["entity_id"]][0]:
                best[row["entity_id"]] = (rank, row["text"])
        return self._hits(best, limit)

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
            row = self.core.conn.execute(
                "SELECT id, name, type FROM entities WHERE key = ? "
                "ORDER BY mentions DESC, id LIMIT 1",
                (key,),
            ).fetchone()
            if row is not None:
                return brief(row)
        if digits.isdigit():
            return self._by_id(int(digits), ref)
        try:
            hits = self.search(ref, limit=5)
        except WorkbenchError:
            hits = []
        for hit in hits:
            if holds_words(hit["match"] or hit["name"], key):
                return {k: hit[k] for k in ("id", "name", "type")}
        closest = "; closest: " + ", ".join(h["name"] for h in hits) if hits else ""
        raise WorkbenchError(f"no entity named '{ref}' in {self.core.path}{closest}")

    def _by_id(self, entity_id: int, ref: str) -> dict:
        row = self.core.conn.execute(
            "SELECT id, name, type FROM entities WHERE id = ?", (entity_id,)
        ).fetchone()
        if row is None:
            raise WorkbenchError(f"no entity {ref} in {self.core.path}")
        return brief(row)

    def by_name(self, key: str) -> list[dict]:
        """Entities whose normalised name is ``key`` (or a name merged into them),
        most mentioned first: {"id","name","type","mentions"}."""
        if not key:
            return []
        keys = {(key, r[0]) for r in self.core.q("SELECT type FROM entities WHERE key = ?", (key,))}
        keys |= {
            self.core.merged_into(key, r[0])
            for r in self.core.q("SELECT from_type FROM merges WHERE from_key = ?", (key,))
        }
        found = []
        for k, t in keys:
            row = self.core.conn.execute(
                "SELECT id, name, type, mentions FROM entities WHERE key = ? AND type = ?", (k, t)
            ).fetchone()
            if row is not None:
                found.append({**brief(row), "mentions": row["mentions"]})
        found.sort(key=lambda e: (-e["mentions"], e["id"]))
        return found

    # ------------------------------------------------ one entity and around it

    def entity(self, entity_id: int, mentions: int = 50) -> dict:
        """Everything about one entity: aliases, relations both ways with up to
        five evidence sentences each, and its first ``mentions`` mentions."""
        row = self.core.entity_row(entity_id)
        aliases = [
            {"text": _as_named(r["text"], row["name"]), "count": r["count"]}
            for r in self.core.q(
                "SELECT text, count FROM aliases WHERE entity_id = ? ORDER BY count DESC, id",
                (entity_id,),
            )
        ]
        outgoing = self._relations_of(entity_id, "head_id", "tail_id")
        incoming = self._relations_of(entity_id, "tail_id", "head_id")
        evidence = self.evidence([r["relation_id"] for r in outgoing + incoming])
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
            for r in self.core.q(
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
            "accepted": self.decisions.accepted(entity_id),
            "inferred": self.decisions.inferred(entity_id=entity_id),
        }

    def _relations_of(self, entity_id: int, this: str, other: str) -> list[dict]:
        return [
            {
                "relation_id": r["id"],
                "type": r["type"],
                "other": brief(r, "o_"),
                "score": r["score"],
                "count": r["count"],
            }
            for r in self.core.q(
                f"SELECT r.id, r.type, r.score, r.count, o.id AS o_id, o.name AS o_name, "
                f"o.type AS o_type FROM relations r JOIN entities o ON o.id = r.{other} "
                f"WHERE r.{this} = ? ORDER BY r.count DESC, r.score DESC, r.id",
                (entity_id,),
            )
        ]

    def evidence(self, relation_ids: list[int]) -> dict[int, list[dict]]:
        """relation id -> its best few evidence sentences (entity() and kg ask show
        them). start/end span both
        mentions in the sentence; head_*/tail_* give each one's offsets."""
        found: dict[int, list[dict]] = {}
        for chunk in _chunks(relation_ids):
            for r in self.core.q(
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
        self.core.entity_row(entity_id)
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
                for row in self.core.conn.execute(
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
        check_limit("path: max hops", max_hops)
        check_limit("path: limit", limit)
        ends = {a: self.core.entity_row(a), b: self.core.entity_row(b)}
        chains = _paths.shortest_chains(self._edges_touching, a, b, max_hops, limit)
        needed = {
            node for chain in chains for step in chain for node in (step.source, step.target)
        } - set(ends)
        briefs = {i: brief(row) for i, row in ends.items()}
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

    # ------------------------------------------------------------------ counts

    def stats(self) -> dict:
        """Counts, the biggest types and entities, the builds, and the file."""

        def count(table: str) -> int:
            return self.core.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

        top = [
            r[0] for r in self.core.q("SELECT id FROM entities ORDER BY mentions DESC, id LIMIT 10")
        ]
        summaries = self.core.summaries(top)
        builds = [
            {**dict(r)}
            for r in self.core.q(
                "SELECT id, time, ner_run, relation_run, corpus, documents_added, "
                "documents_skipped, sentences FROM builds ORDER BY id"
            )
        ]
        # The database's own size: file bytes would count WAL pages not yet written back.
        size = (
            self.core.conn.execute("PRAGMA page_count").fetchone()[0]
            * self.core.conn.execute("PRAGMA page_size").fetchone()[0]
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
                for r in self.core.q(
                    "SELECT type, count(*) AS n FROM entities GROUP BY type ORDER BY n DESC, type"
                )
            },
            "relations_by_type": {
                r[0]: r[1]
                for r in self.core.q(
                    "SELECT type, count(*) AS n FROM relations GROUP BY type ORDER BY n DESC, type"
                )
            },
            "top_entities": [summaries[i] for i in top],
            "builds": builds,
            "embedded": count("embeddings"),
            # Kept apart from the counts above: reasoning's proposals, people's decisions.
            "decisions": {
                "inferred": count("inferred"),
                "accepted": self.core.conn.execute(
                    "SELECT count(*) FROM judgements WHERE verdict = 'accepted'"
                ).fetchone()[0],
                "rejected": self.core.conn.execute(
                    "SELECT count(*) FROM judgements WHERE verdict = 'rejected'"
                ).fetchone()[0],
                "merges": count("merges"),
            },
            "path": str(self.core.path),
            "size_bytes": size,
        }

    # -------------------------------------------------------------- for export

    def iter_entities(self) -> Iterator[dict]:
        """Every entity with its aliases: {"id","name","type","mentions","aliases"}."""
        aliases: dict[int, list[dict]] = {}
        for r in self.core.conn.execute(
            "SELECT entity_id, text, count FROM aliases ORDER BY entity_id, count DESC, id"
        ):
            aliases.setdefault(r[0], []).append({"text": r[1], "count": r[2]})
        for r in self.core.conn.execute(
            "SELECT id, name, type, mentions FROM entities ORDER BY id"
        ):
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
        rows = self.core.q(
            "SELECT id, head_id, type, tail_id, score, count FROM relations ORDER BY id"
        )
        for chunk in _chunks(rows, 200):
            ids = [r[0] for r in chunk]
            found: dict[int, list[dict]] = {}
            for r in (
                []
                if evidence == 0
                else self.core.q(
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

"""Taking a decision back: ``workbench kg undo [ID]``.

Exactly when its journal still applies (kg/journal.py): every row it changed is put
back as it was. When a build, a document change or an inference pass came since,
the rows it changed may have been rebuilt, so the decision is taken back by what it
meant instead: a merge becomes a split of that name, a split merges the names
again, a verdict is forgotten (the triple may be proposed again), an import does
each of these for what it brought in.
"""

from __future__ import annotations

import sqlite3

from workbench.errors import WorkbenchError
from workbench.kg.journal import note_change
from workbench.kg.normalize import entity_label


def describe(entry: dict) -> str:
    """One decision in words: ``Kestrel (ORG) into The Kestrel Group (ORG)``."""
    s, kind = entry["summary"], entry["kind"]
    if kind == "merge":
        return (
            f"{entity_label(s['from']['name'], s['from']['type'])} into "
            f"{entity_label(s['into']['name'], s['into']['type'])}"
        )
    if kind == "split":
        names = ", ".join(entity_label(n[0], n[1]) for n in s["names"])
        return f"{names} out of {entity_label(s['entity']['name'], s['entity']['type'])}"
    if kind in ("accept", "reject"):
        return (
            f"{entity_label(s['head']['name'], s['head']['type'])} —{s['type']}→ "
            f"{entity_label(s['tail']['name'], s['tail']['type'])}"
        )
    if kind == "import":
        return f"{len(s['merges'])} merges and {len(s['judgements'])} judgements from {s['file']}"
    return kind  # a kind a newer workbench wrote


def undo(graph, decision_id: int | None = None) -> dict:
    """Undo decision ``decision_id`` (default: the newest still standing). Returns
    {"id","kind","text" (describe),"exact" (row for row, or by meaning),"why"
    (why not exact, or None),"done" (by meaning: what was done)}.

    An exact undo of an older decision is refused (a WorkbenchError naming them)
    while a later decision that changed the same rows still stands."""
    journal = graph.decisions.journal
    entry = journal.entry(decision_id)
    result = {"id": entry["id"], "kind": entry["kind"], "text": describe(entry)}
    why = _stale(graph, entry)
    if why is None:
        later = journal.conflicts(entry["id"])
        if later:
            first = ", then ".join(f"#{n}" for n in reversed(later))
            raise WorkbenchError(
                f"decision #{entry['id']} ({entry['kind']} {result['text']}) changed rows "
                f"that later decisions changed again; undo {first} first"
            )
        conn = graph.core.conn
        try:
            with graph.core.write():
                journal.replay(entry["id"])
                journal.mark_undone(entry["id"])
        except sqlite3.IntegrityError as exc:
            # A deferred key checked at COMMIT fails after core.write has let go.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            why = f"its recorded changes no longer fit the graph ({exc})"
        else:
            return {**result, "exact": True, "why": None, "done": []}
    with graph.core.write() as conn:
        done = _by_meaning(graph.decisions, entry)
        journal.mark_undone(entry["id"])
        # The rows are not what the later decisions' journals expect any more.
        note_change(conn)
    return {**result, "exact": False, "why": why, "done": done}


def _stale(graph, entry: dict) -> str | None:
    """Why the decision's recorded changes no longer apply, or None when they do."""
    if graph.decisions.journal.exact(entry):
        return None
    build = graph.core.conn.execute("SELECT max(id) FROM builds").fetchone()[0]
    if build != entry["build"]:
        return "the graph was built again since"
    return "documents were removed or proposals re-inferred since"


def _by_meaning(decisions, entry: dict) -> list[str]:
    """Take the decision back by names; returns what was done, in words."""
    s, kind = entry["summary"], entry["kind"]
    if kind == "merge":
        return [_unmerge(decisions, s["from"]["key"], s["from"]["type"], s["from"]["name"])]
    if kind == "split":
        done = []
        for from_key, from_type, into_key, into_type in s["names"]:
            name = entity_label(from_key, from_type)
            if decisions.one_entity((from_key, from_type), (into_key, into_type)):
                done.append(f"{name} was merged into {into_key} already")
                continue
            decisions.merge_names((from_key, from_type), (into_key, into_type))
            done.append(f"merged {name} into {into_key} again")
        return done
    if kind in ("accept", "reject"):
        names = (
            s["head"]["key"],
            s["head"]["type"],
            s["type"],
            s["tail"]["key"],
            s["tail"]["type"],
        )
        if decisions.forget_judgement(names, s["verdict"]):
            return [f"the {s['verdict']} verdict is gone; kg infer may propose the triple again"]
        return [f"the {s['verdict']} verdict was gone already"]
    if kind == "import":
        done = []
        for from_key, from_type, into_key, into_type in s["merges"]:
            if decisions.one_entity((from_key, from_type), (into_key, into_type)):
                done.append(_unmerge(decisions, from_key, from_type, from_key))
        forgotten = sum(decisions.forget_judgement(tuple(j[:5]), j[5]) for j in s["judgements"])
        return done + [f"{forgotten} imported verdicts forgotten"]
    raise WorkbenchError(f"decision #{entry['id']}: cannot undo a {kind!r} decision")


def _unmerge(decisions, key: str, type: str, name: str) -> str:
    if decisions.unmerge_name(key, type):
        return f"split {entity_label(name, type)} out again"
    return f"{entity_label(name, type)} was not merged any more"

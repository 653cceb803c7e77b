"""Export a graph to formats other tools read: JSON lines, the CSV layout of
neo4j-admin import, and GraphML (through networkx). Each format carries the three
kinds of facts, marked by ``kind``: extracted relations, triples people accepted,
and those reasoning inferred (with their score).

Each file is written beside its destination and renamed into place, so a
failed export never leaves a half-written file under the final name.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import TextIO

from workbench.errors import WorkbenchError
from workbench.runs.files import write_atomic

FORMATS = ("jsonl", "csv", "graphml")
CSV_EVIDENCE = 3  # sentences quoted per relation in relationships.csv


def default_output(graph_path: Path, fmt: str) -> Path:
    """graph.sqlite -> graph.jsonl / graph-csv/ / graph.graphml (in the current folder)."""
    stem = Path(graph_path).stem
    return Path(f"{stem}-csv") if fmt == "csv" else Path(f"{stem}.{fmt}")


def export_graph(graph, fmt: str, out: Path | str) -> list[Path]:
    """Write ``graph`` as ``fmt`` to ``out`` (a folder for csv; ``-``: standard output,
    for jsonl and graphml); returns the files written."""
    if fmt not in FORMATS:
        raise WorkbenchError(f"export: unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    writer = {"jsonl": _write_jsonl, "graphml": _write_graphml}.get(fmt)
    if str(out) == "-":
        if writer is None:
            raise WorkbenchError(
                "--output -: csv export writes a folder of two files; give a folder name"
            )
        # UTF-8 with \n whatever the platform's console encoding, as the files are
        sys.stdout.flush()
        stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            writer(graph, stream)
            stream.flush()
        finally:
            stream.detach()  # stdout's own buffer stays open
        return []
    out = Path(out).expanduser()
    if fmt == "csv":
        if out.exists() and not out.is_dir():
            raise WorkbenchError(f"{out}: csv export writes a folder, and this is a file")
        out.mkdir(parents=True, exist_ok=True)
        return [
            write_atomic(out / "nodes.csv", lambda f: _write_nodes_csv(graph, f)),
            write_atomic(out / "relationships.csv", lambda f: _write_relationships_csv(graph, f)),
        ]
    if out.is_dir():
        raise WorkbenchError(f"{out}: a folder; give a file name for {fmt} export")
    if not out.parent.exists():
        raise WorkbenchError(f"{out.parent}: no such folder")
    assert writer is not None  # csv returned above
    return [write_atomic(out, lambda f: writer(graph, f))]


def _write_jsonl(graph, f: TextIO) -> None:
    for entity in graph.queries.iter_entities():
        f.write(json.dumps({"kind": "entity", **entity}, ensure_ascii=False) + "\n")
    for relation in graph.queries.iter_relations():
        f.write(json.dumps({"kind": "relation", **relation}, ensure_ascii=False) + "\n")
    # Kept apart from the extracted relations, as in the graph: what people accepted,
    # what reasoning proposes (entity ids as above, each with its explanation).
    for fact in graph.decisions.accepted():
        line = {**fact, "head": fact["head"]["id"], "tail": fact["tail"]["id"]}
        f.write(json.dumps({"kind": "accepted", **line}, ensure_ascii=False) + "\n")
    for p in graph.decisions.inferred():
        line = {**p, "head": p["head"]["id"], "tail": p["tail"]["id"]}
        f.write(json.dumps({"kind": "inferred", **line}, ensure_ascii=False) + "\n")


def _write_nodes_csv(graph, f: TextIO) -> None:
    rows = csv.writer(f)
    rows.writerow(["id:ID", "name", ":LABEL", "mentions:int", "aliases"])
    for e in graph.queries.iter_entities():
        # ';' is neo4j-admin's default array delimiter, should aliases
        # be imported as an array (aliases:string[]).
        rows.writerow(
            [
                e["id"],
                e["name"],
                e["type"],
                e["mentions"],
                ";".join(a["text"] for a in e["aliases"]),
            ]
        )


def _people_and_reasoning(graph) -> list[dict]:
    """The triples people accepted, then those reasoning proposes, as
    {"kind","id","head","tail" (ids),"type","score" (inferred only)}: after the
    extracted relations in the CSV and GraphML exports, marked by their kind."""
    found = [
        {
            "kind": "accepted",
            "id": n,
            "head": a["head"]["id"],
            "tail": a["tail"]["id"],
            "type": a["type"],
            "score": None,
        }
        for n, a in enumerate(graph.decisions.accepted(), 1)
    ]
    found += [
        {
            "kind": "inferred",
            "id": p["id"],
            "head": p["head"]["id"],
            "tail": p["tail"]["id"],
            "type": p["type"],
            "score": p["score"],
        }
        for p in graph.decisions.inferred()
    ]
    return found


def _write_relationships_csv(graph, f: TextIO) -> None:
    rows = csv.writer(f)
    # "kind" last, so readers of the first six columns read on unchanged.
    rows.writerow([":START_ID", ":END_ID", ":TYPE", "score:float", "count:int", "evidence", "kind"])
    for r in graph.queries.iter_relations(evidence=CSV_EVIDENCE):
        rows.writerow(
            [
                r["head"],
                r["tail"],
                r["type"],
                r["score"],
                r["count"],
                " | ".join(e["sentence"] for e in r["evidence"]),
                "extracted",
            ]
        )
    for t in _people_and_reasoning(graph):  # no evidence sentences, no count
        score = "" if t["score"] is None else t["score"]
        rows.writerow([t["head"], t["tail"], t["type"], score, "", "", t["kind"]])


def _write_graphml(graph, f: TextIO) -> None:
    import networkx as nx

    g = nx.MultiDiGraph()
    for e in graph.queries.iter_entities():
        g.add_node(str(e["id"]), name=e["name"], type=e["type"], mentions=int(e["mentions"]))
    for r in graph.queries.iter_relations(evidence=0):
        g.add_edge(
            str(r["head"]),
            str(r["tail"]),
            key=str(r["id"]),
            type=r["type"],
            score=float(r["score"]),
            count=int(r["count"]),
            kind="extracted",
        )
    for t in _people_and_reasoning(graph):
        score = {} if t["score"] is None else {"score": float(t["score"])}
        g.add_edge(
            str(t["head"]),
            str(t["tail"]),
            key=f"{t['kind']}-{t['id']}",  # apart from the relations' own numbers
            type=t["type"],
            kind=t["kind"],
            **score,
        )
    f.write("<?xml version='1.0' encoding='utf-8'?>\n")  # as nx.write_graphml writes it
    for line in nx.generate_graphml(g):
        f.write(line + "\n")

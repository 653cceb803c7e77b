"""`workbench kg ...` through workbench.cli.main: output, --json, exit codes."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import types

import networkx as nx
import numpy as np
import pytest

from helpers.fake_runs import write_run
from helpers.kg_graphs import CHAIN, add, kestrel_graph
from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.kg.build import BuildProgress
from workbench.kg.present import HIGHLIGHT, highlighted


@pytest.fixture
def graph_file(tmp_path):
    path = tmp_path / "graph.sqlite"
    with kestrel_graph(path) as g:
        add(g, CHAIN)
    return str(path)


def kg(capsys, *argv):
    """Run `workbench kg ARGV`; returns (exit code, stdout, stderr)."""
    code = main(["kg", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_missing_graph_is_one_line_naming_the_file(capsys, tmp_path):
    missing = tmp_path / "nowhere.sqlite"
    for argv in (
        ["stats"],
        ["search", "x"],
        ["show", "x"],
        ["path", "a", "b"],
        ["export", "--format", "jsonl"],
    ):
        code, out, err = kg(capsys, *argv, "--graph", str(missing))
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and err.startswith("error: ") and str(missing) in err
    assert not missing.exists()


def test_kg_without_a_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["kg"])
    assert exc.value.code == 2


def test_stats(capsys, graph_file):
    code, out, _ = kg(capsys, "stats", "--graph", graph_file)
    assert code == 0 and "3 documents" in out and "The Kestrel Group" in out
    # the full view: tables by type, top entities with their ids, one row per build
    assert "entity type" in out and "relation type" in out and "ner run" in out
    code, out, _ = kg(capsys, "stats", "--graph", graph_file, "--json")
    stats = json.loads(out)
    assert stats["documents"] == 3 and stats["entities_by_type"]["ORG"] == 4


def test_search(capsys, graph_file):
    code, out, _ = kg(capsys, "search", "kestrel", "--graph", graph_file)
    assert code == 0 and "The Kestrel Group" in out and "ORG" in out
    code, out, _ = kg(capsys, "search", "jordan", "--graph", graph_file, "--json", "--type", "LOC")
    hits = [json.loads(line) for line in out.splitlines()]
    assert [(h["name"], h["type"]) for h in hits] == [("Jordan", "LOC")]
    code, out, _ = kg(capsys, "search", "atlantis", "--graph", graph_file)
    assert code == 0 and "no entity matches" in out
    code, _, err = kg(capsys, "search", "x", "--graph", graph_file, "--limit", "0")
    assert code == 2 and "--limit" in err


@pytest.mark.parametrize(
    "text",
    [
        "'; DROP TABLE entities; --",
        "name:foo OR NEAR(a b)",
        '"unbalanced',
        "*",
        "()",
        "[/x]",
        "[bold]kestrel",
    ],
)
def test_nasty_search_text(capsys, graph_file, text):
    code, out, err = kg(capsys, "search", text, "--graph", graph_file)
    assert code in (0, 2) and "Traceback" not in err
    if code == 2:
        assert err.startswith("error: search:") and err.count("\n") == 1


class FakeEmbedder:
    """Stands in for the MiniLM Embedder (the store tests use the real one)."""

    def __init__(self, model="minilm", device=None):
        self._name = model

    @property
    def name(self):
        return self._name

    def encode(self, texts, batch_size=64):
        rows = np.array(
            [[t.lower().count("bank"), t.lower().count("paint"), 1] for t in texts],
            dtype=np.float32,
        )
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_semantic_search(capsys, graph_file, monkeypatch):
    code, _, err = kg(capsys, "search", "a bank", "--semantic", "--graph", graph_file)
    assert code == 2 and "no entity embeddings" in err
    import workbench.kg.embed
    from workbench.kg.store import Graph

    monkeypatch.setattr(workbench.kg.embed, "Embedder", FakeEmbedder)
    with Graph.open(graph_file) as g:
        g.vectors.refresh_embeddings(FakeEmbedder("word-counter"))
    code, out, _ = kg(
        capsys, "search", "paint", "--semantic", "--graph", graph_file, "--json", "--limit", "3"
    )
    hits = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(hits) == 3 and all("score" in h for h in hits)
    code, out, _ = kg(capsys, "search", "paint", "--semantic", "--graph", graph_file)
    assert code == 0 and "score" in out


def test_show(capsys, graph_file):
    code, out, _ = kg(capsys, "show", "kestrel group's", "--graph", graph_file)
    assert code == 0
    assert "The Kestrel Group (ORG)" in out and "3 mentions" in out
    assert "based_in" in out and "Lisbon (LOC)" in out and "Maria Rossi works for" in out
    code, out, _ = kg(capsys, "show", "kestrel", "--graph", graph_file, "--json", "--mentions", "1")
    detail = json.loads(out)
    assert detail["mentions_total"] == 3 and len(detail["mentions"]) == 1
    code, _, err = kg(capsys, "show", "#999", "--graph", graph_file)
    assert code == 2 and "#999" in err


def test_show_never_guesses_a_different_entity(capsys, graph_file):
    code, _, err = kg(capsys, "show", "Jon Smith", "--graph", graph_file)
    assert code == 2 and "no entity named 'Jon Smith'" in err and "closest: Jon Berg" in err
    code, out, _ = kg(capsys, "show", "jon", "--graph", graph_file)  # every word typed: found
    assert code == 0 and "Jon Berg" in out


def test_mentions_are_highlighted_in_their_sentence():
    text = highlighted("Maria Rossi works for The Kestrel Group.", (22, 39), (50, 60))
    assert [(s.start, s.end, str(s.style)) for s in text.spans] == [(22, 39, HIGHLIGHT)]


def test_path(capsys, graph_file):
    code, out, _ = kg(capsys, "path", "Ana", "Dax", "--graph", graph_file)
    assert code == 0
    assert (
        "Ana (PER) —works_for→ Beta (ORG) —based_in→ Cora (LOC) ←lives_in— "
        "Dax (PER)" in out.replace("\n", " ").replace("  ", " ")
    )
    code, out, _ = kg(capsys, "path", "Ana", "Dax", "--graph", graph_file, "--json")
    chains = [json.loads(line) for line in out.splitlines()]
    assert len(chains) == 2 and [s["forward"] for s in chains[0]] == [True, True, False]
    code, out, _ = kg(capsys, "path", "Ana", "Fay", "--graph", graph_file)
    assert code == 0 and "no path between Ana (PER) and Fay (PER)" in out
    code, _, err = kg(capsys, "path", "Ana", "ana", "--graph", graph_file)
    assert code == 2 and "same entity" in err
    code, _, err = kg(capsys, "path", "Ana", "Atlantis", "--graph", graph_file)
    assert code == 2 and "Atlantis" in err


def test_exports(capsys, graph_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = kg(capsys, "export", "--format", "jsonl", "--graph", graph_file)
    assert code == 0 and "graph.jsonl" in out
    lines = [json.loads(x) for x in (tmp_path / "graph.jsonl").read_text().splitlines()]
    assert {x["kind"] for x in lines} == {"entity", "relation"}
    code, out, _ = kg(
        capsys,
        "export",
        "--format",
        "csv",
        "--graph",
        graph_file,
        "--output",
        str(tmp_path / "neo4j"),
    )
    with (tmp_path / "neo4j" / "relationships.csv").open(newline="") as f:
        assert next(csv.reader(f))[:3] == [":START_ID", ":END_ID", ":TYPE"]
    code, out, _ = kg(capsys, "export", "--format", "graphml", "--graph", graph_file)
    g = nx.read_graphml(tmp_path / "graph.graphml")
    assert g.number_of_nodes() == 13 and g.number_of_edges() == 10
    code, _, err = kg(
        capsys,
        "export",
        "--format",
        "graphml",
        "--graph",
        graph_file,
        "--output",
        str(tmp_path / "nowhere" / "g.graphml"),
    )
    assert code == 2 and "nowhere" in err


def test_export_to_standard_output(capsys, graph_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = kg(capsys, "export", "--format", "jsonl", "--graph", graph_file, "--output", "-")
    assert code == 0 and not (tmp_path / "-").exists()
    assert {json.loads(line)["kind"] for line in out.splitlines()} == {"entity", "relation"}
    code, out, _ = kg(
        capsys, "export", "--format", "graphml", "--graph", graph_file, "--output", "-"
    )
    (tmp_path / "out.graphml").write_text(out)
    assert nx.read_graphml(tmp_path / "out.graphml").number_of_edges() == 10
    code, out, err = kg(capsys, "export", "--format", "csv", "--graph", graph_file, "--output", "-")
    assert code == 2 and "folder" in err and not (tmp_path / "-").exists()


def test_a_closed_pipe_ends_quietly(graph_file):
    """`workbench kg stats --json | head -1`: exit 0 and nothing on stderr, every time."""
    for _ in range(5):
        reader, writer = os.pipe()
        process = subprocess.Popen(
            [sys.executable, "-m", "workbench", "kg", "stats", "--json", "--graph", graph_file],
            stdout=writer,
            stderr=subprocess.PIPE,
        )
        os.close(writer)
        os.close(reader)  # before the command writes: its first write meets a closed pipe
        _, err = process.communicate(timeout=60)
        assert (process.returncode, err.decode()) == (0, "")


def test_build_calls_the_builder(capsys, tmp_path, monkeypatch):
    calls = []

    def build_graph(**kwargs):
        calls.append(kwargs)
        kwargs["progress"](BuildProgress(done=3, total=3, seconds=0.5))  # the CLI's bar hears it
        return {
            "added": 2,
            "skipped": 1,
            "documents_per_s": 12.345,
            "stats": {
                "path": kwargs["graph_path"],
                "documents": 3,
                "sentences": 9,
                "entities": 7,
                "mentions": 20,
                "relations": 4,
                "evidence": 5,
                "embedded": 0,
                "size_bytes": 4096,
            },
        }

    monkeypatch.setitem(
        sys.modules, "workbench.kg.build", types.SimpleNamespace(build_graph=build_graph)
    )
    # Several runs of each recipe: a recipe name means its latest completed run with a model.
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    for name, recipe, status in [
        ("20261101-090000-demo-ner", "demo-ner", "completed"),
        ("20261101-100000-demo-ner", "demo-ner", "completed"),
        ("20261101-110000-demo-ner", "demo-ner", "failed"),
        ("20261101-120000-demo-relations", "demo-relations", "completed"),
    ]:
        (write_run(runs, name, recipe=recipe, status=status) / "model").mkdir()
        (runs / name / "model" / "config.json").write_text("{}")
    graph = str(tmp_path / "g.sqlite")
    code, out, err = kg(
        capsys,
        "build",
        "--ner",
        "demo-ner",
        "--relations",
        "demo-relations",
        "--corpus",
        "docs/",
        "--graph",
        graph,
        "--no-embeddings",
        "--threshold",
        "0.7",
    )
    assert code == 0 and "added" in out and "documents per s" in out and "12.35" in out
    assert "7 entities" in out
    [call] = calls
    assert {k: v for k, v in call.items() if k != "progress"} == {
        "graph_path": graph,
        "ner": "runs/20261101-100000-demo-ner",
        "relations": "runs/20261101-120000-demo-relations",
        "corpus": "docs/",
        "threshold": 0.7,
        "batch_size": 32,
        "device": "auto",
        "embeddings": False,
    }
    assert "demo-ner: using runs/20261101-100000-demo-ner" in err
    code, _, err = kg(capsys, "build", "--ner", "r", "--corpus", "c", "--threshold", "2")
    assert code == 2 and "--threshold" in err and len(calls) == 1


def test_builder_errors_are_user_errors(capsys, tmp_path, monkeypatch):
    def build_graph(**kwargs):
        raise WorkbenchError("docs/: no such corpus")

    monkeypatch.setitem(
        sys.modules, "workbench.kg.build", types.SimpleNamespace(build_graph=build_graph)
    )
    code, out, err = kg(
        capsys,
        "build",
        "--ner",
        str(tmp_path),
        "--corpus",
        "docs/",
        "--graph",
        str(tmp_path / "g.sqlite"),
    )
    assert code == 2 and err == "error: docs/: no such corpus\n"

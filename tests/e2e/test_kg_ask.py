"""`kg ask` and the reasoning and people's commands through the CLI, on a
hand-made graph with the bundled MiniLM encoder."""

from __future__ import annotations

import json

import pytest

from helpers.kg_graphs import WORLD, add, fact_documents, proposal_about, sentence
from workbench.cli import main
from workbench.kg.ask import ask
from workbench.kg.embed import Embedder
from workbench.kg.infer import InferSettings, run_inference
from workbench.kg.store import Graph


@pytest.fixture(scope="module")
def embedder():
    return Embedder()


@pytest.fixture
def graph_file(tmp_path):
    path = tmp_path / "world.sqlite"
    with Graph.open(path) as graph:
        add(graph, fact_documents(WORLD))
    return str(path)


def kg(capsys, *argv):
    code = main(["kg", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def answer_names(reply) -> set[str]:
    return {a["entity"]["name"] for a in reply.answers}


def test_one_hop_questions_both_ways_with_evidence(graph_file, embedder):
    with Graph.open(graph_file) as graph:
        reply = ask(graph, "Where does Ann live?", embedder)
        assert answer_names(reply) == {"Oslo"}
        step = reply.answers[0]["steps"][0]
        assert step["evidence"][0]["sentence"] == "Ann lives in Oslo."
        assert ask(graph, "Who works for Acme?", embedder).answers
        assert answer_names(ask(graph, "Who works for Acme?", embedder)) == {"Ann", "Ben", "Cid"}
        assert answer_names(ask(graph, "which company employs dan", embedder)) == {"Bolt"}
        assert answer_names(ask(graph, "Where is Bolt headquartered?", embedder)) == {"Rome"}


def test_names_in_capitals_and_type_words_inside_names(tmp_path, embedder):
    with Graph.open(tmp_path / "g.sqlite") as graph:
        add(
            graph,
            fact_documents(
                [
                    ("Ann", "works_for", "WHO"),
                    ("WHO", "based_in", "Geneva"),
                    ("Bo", "works_for", "City Group"),
                ]
            ),
        )
        assert answer_names(ask(graph, "Who works for WHO?", embedder)) == {"Ann"}
        # "Group" and "City" in the name do not make it ask for a company or a place.
        assert answer_names(ask(graph, "Who works for City Group?", embedder)) == {"Bo"}


def test_two_hops_when_the_question_walks_a_path(graph_file, embedder):
    with Graph.open(graph_file) as graph:
        reply = ask(graph, "In which city is the company Eve works for based?", embedder)
        assert answer_names(reply) == {"Rome"}
        assert [s.relation for s in reply.chain] == ["works_for", "based_in"]


def test_it_says_when_it_does_not_know(graph_file, embedder):
    with Graph.open(graph_file) as graph:
        for question, why in (
            ("Where does Zoltan Kaminski live?", "no entity"),
            ("When was Ann born?", "date"),
            ("How many people does Acme employ?", "number"),
            ("Where does Eve live?", "nothing in the graph fits Eve —lives_in→ ?"),
        ):
            reply = ask(graph, question, embedder)
            assert not reply.known and why in reply.reason, (question, reply.reason)
        # Once reasoning proposes it, the answer comes marked as inferred, with its chain.
        run_inference(graph)
        reply = ask(graph, "Where does Eve live?", embedder)
        assert answer_names(reply) == {"Rome"} and reply.answers[0]["kind"] == "inferred"
        assert reply.answers[0]["steps"][0]["explanation"][0]["rule"].startswith("works_for")


def described_world(path) -> str:
    """WORLD, and what the text says of its entities beyond the graph's relations."""
    with Graph.open(path) as graph:
        add(graph, fact_documents(WORLD))
        add(
            graph,
            {
                "acme.txt": [
                    sentence(
                        "Acme cut 130 jobs at its factory in Rome.",
                        [("Acme", "ORG"), ("Rome", "LOC")],
                    ),
                    sentence("Shares rose 18 percent.", [], start=42),
                ],
                "bolt.txt": [
                    sentence(
                        "Bolt cut 200 jobs at its factory in Oslo.",
                        [("Bolt", "ORG"), ("Oslo", "LOC")],
                    )
                ],
                "born.txt": [
                    sentence("Ann was born in Lima.", [("Ann", "PER"), ("Lima", "LOC")]),
                    sentence("Ben was born in Lima.", [("Ben", "PER"), ("Lima", "LOC")], start=22),
                ],
            },
        )
    return str(path)


def test_an_entity_described_instead_of_named(tmp_path, embedder):
    with Graph.open(described_world(tmp_path / "d.sqlite")) as graph:
        # Rome is in the description, not what is asked about: Bolt (based in
        # Rome) employs Dan and Eve, the company that cut 130 jobs there is Acme.
        reply = ask(
            graph, "Who works for the company that cut 130 jobs at its factory in Rome?", embedder
        )
        assert answer_names(reply) == {"Ann", "Ben", "Cid"}
        assert reply.entity["name"] == "Acme"
        assert reply.described == "the company that cut 130 jobs at its factory in Rome"
        assert "Acme being “the company that cut 130 jobs" in reply.reason
        # A sentence that names nobody is about the entity of the sentence before.
        assert answer_names(
            ask(graph, "Who works for the firm whose shares rose 18 percent?", embedder)
        ) == {"Ann", "Ben", "Cid"}
        # Several fit: not guessed, the candidates are given.
        reply = ask(graph, "Where does the Lima-born person live?", embedder)
        assert not reply.known and "which person you mean" in reply.reason
        assert {c["name"] for c in reply.candidates} == {"Ann", "Ben"}
        # None fits (no company cut 900 jobs in Madrid): "I don't know".
        reply = ask(
            graph, "Who works for the company that cut 900 jobs at its factory in Madrid?", embedder
        )
        assert not reply.known and not reply.candidates
        # A description that is only a relation to a name is a chain from the name.
        assert answer_names(ask(graph, "Who works for the company based in Rome?", embedder)) == {
            "Dan",
            "Eve",
        }


@pytest.mark.parametrize(
    "question",
    [
        "<script>alert('Ann')</script> where does Ann live?",
        "[bold red]Who[/] works for [link=x]Acme[/link]?",
        "'; DROP TABLE entities; -- where does Ann live",
        "Ann\x00 lives\u202e where?",
        "?" * 50,
        "Ann " * 240,
    ],
)
def test_hostile_questions_get_an_answer_or_a_clear_line(capsys, graph_file, question):
    code, out, err = kg(capsys, "ask", question, "--graph", graph_file)
    assert code == 0 and "Traceback" not in err and out.strip()
    code, out, err = kg(capsys, "ask", question, "--graph", graph_file, "--json")
    assert code == 0 and "known" in json.loads(out)
    with Graph.open(graph_file) as graph:
        assert graph.queries.stats()["entities"] == 10  # nothing was run as SQL


@pytest.mark.parametrize(
    "question, message", [("", "empty"), ("   ", "empty"), ("x" * 10_000, "10,000 characters")]
)
def test_empty_and_huge_questions_are_one_line(capsys, graph_file, question, message):
    code, out, err = kg(capsys, "ask", question, "--graph", graph_file)
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err


def test_infer_accept_reject_merge_split_remove_through_the_cli(capsys, graph_file):
    code, out, _ = kg(capsys, "infer", "--graph", graph_file, "--rules")
    assert code == 0 and "Eve (PER) —lives_in→ Rome (LOC)" in out
    assert "works_for(X, Z) ∧ based_in(Z, Y) ⇒ lives_in(X, Y)" in out
    assert (
        "because Eve (PER) —works_for→ Bolt (ORG) and Bolt (ORG) —based_in→ Rome (LOC)"
        in " ".join(out.split())
    )
    code, out, _ = kg(capsys, "infer", "--list", "--json", "--graph", graph_file)
    number = json.loads(out.splitlines()[0])["id"]
    code, out, _ = kg(capsys, "accept", str(number), "--graph", graph_file)
    assert code == 0 and "accepted" in out
    code, out, err = kg(capsys, "accept", str(number), "--graph", graph_file)
    assert code == 2 and f"#{number} was accepted already" in err
    code, out, _ = kg(capsys, "infer", "--list", "--graph", graph_file)
    assert "no inferred triples" in out
    # People's merges: Ann into Ben (silly, but the graph must take it and give it back).
    code, out, _ = kg(capsys, "merge", "Ann", "Ben", "--graph", graph_file)
    assert code == 0 and "merged Ann (PER)" in out
    code, out, _ = kg(capsys, "show", "Ann", "--graph", graph_file, "--json")
    assert json.loads(out)["name"] == "Ben"
    code, out, _ = kg(capsys, "split", "Ben", "--graph", graph_file)
    assert code == 0 and "split Ann (PER)" in out
    code, out, err = kg(capsys, "split", "Ben", "--graph", graph_file)
    assert code == 2 and "nothing was merged" in err
    code, out, err = kg(capsys, "remove", "f00.txt", "nope.txt", "--graph", graph_file)
    assert code == 2 and "nope.txt" in err  # every name checked before anything goes
    code, out, _ = kg(capsys, "remove", "f00.txt", "--graph", graph_file)
    assert code == 0 and "removed f00.txt" in out
    code, out, _ = kg(capsys, "merge-candidates", "--graph", graph_file, "--json")
    assert code == 0
    for bad in ("1.5", "nan", "-0.1"):
        code, out, err = kg(capsys, "infer", "--min-confidence", bad, "--graph", graph_file)
        assert code == 2 and "--min-confidence" in err and "between 0 and 1" in err


def test_merges_and_judgements_say_what_they_refuse(capsys, tmp_path):
    path = tmp_path / "g.sqlite"
    with Graph.open(path) as graph:
        add(graph, fact_documents(WORLD + [("Rome", "works_for", "Acme")], prefix="x"))
    graph_file = str(path)
    # Two entities named Rome (a PER, a LOC): a name that fits both is not guessed.
    code, _, err = kg(capsys, "merge", "Rome", "Oslo", "--graph", graph_file)
    assert code == 2 and "'Rome' names 2 entities" in err and "give an #id" in err
    with Graph.open(path) as graph:
        ann, oslo = graph.queries.resolve("Ann"), graph.queries.resolve("Oslo")
    code, _, err = kg(capsys, "merge", "Ann", "Oslo", "--graph", graph_file)
    assert code == 2 and "Ann is PER and Oslo is LOC" in err and "--any-type" in err
    code, out, _ = kg(capsys, "merge", "Ann", "Oslo", "--any-type", "--graph", graph_file)
    assert code == 0 and f"#{ann['id']} into Oslo (LOC) #{oslo['id']}" in out
    code, _, err = kg(capsys, "merge", "Ann", "Oslo", "--any-type", "--graph", graph_file)
    assert code == 2 and "one entity already" in err
    kg(capsys, "split", "Oslo", "--graph", graph_file)
    # A verdict given twice says so; --judged lists them.
    kg(capsys, "infer", "--graph", graph_file)
    code, out, _ = kg(capsys, "infer", "--list", "--json", "--graph", graph_file)
    number = json.loads(out.splitlines()[0])["id"]
    assert kg(capsys, "reject", str(number), "--graph", graph_file)[0] == 0
    code, _, err = kg(capsys, "accept", str(number), "--graph", graph_file)
    assert code == 2 and f"#{number} was rejected already" in err
    code, out, _ = kg(capsys, "infer", "--judged", "--graph", graph_file)
    assert code == 0 and out.startswith("rejected Eve (PER) —lives_in→ Rome (LOC)")


def test_a_chain_through_an_accepted_triple_says_so(tmp_path):
    from workbench.kg.present import explanation_lines

    with Graph.open(tmp_path / "g.sqlite") as graph:
        add(graph, fact_documents(WORLD + [("Eve", "works_for", "Cato")], prefix="x"))
        run_inference(graph)
        eve = proposal_about(graph, "Eve")
        graph.decisions.judge(eve["id"], "accepted")  # Eve lives in Rome, a person says
        run_inference(graph, InferSettings(min_score=0.0))
        cato = proposal_about(graph, "Cato")
        lines = [" ".join(line.plain.split()) for line in explanation_lines(cato["explanation"])]
    # Cato is based in Rome because Eve works there and lives in Rome: the second
    # step is a person's, not the text's, and the explanation says so.
    assert any(
        "Eve (PER) —works_for→ Cato (ORG) and Eve (PER) —lives_in→ Rome (LOC) "
        "(accepted by a person)" in line
        for line in lines
    ), lines


def test_decisions_carried_to_a_fresh_graph_give_the_same_answers(capsys, tmp_path, embedder):
    docs = fact_documents(WORLD + [("Ann B", "lives_in", "Oslo")], prefix="w")
    first, second = tmp_path / "first.sqlite", tmp_path / "second.sqlite"
    with Graph.open(first) as graph:
        add(graph, docs)
        run_inference(graph)
        graph.decisions.judge(proposal_about(graph, "Eve")["id"], "accepted")
        ann, ann_b = (graph.queries.by_name(n)[0]["id"] for n in ("ann", "ann b"))
        graph.decisions.merge(ann_b, ann)  # "Ann B" is Ann, a person says
    questions = ["Where does Eve live?", "Who lives in Oslo?", "Where does Ann B work?"]
    with Graph.open(first) as graph:
        before = [ask(graph, q, embedder).to_dict() for q in questions]
    exported = tmp_path / "decisions.jsonl"
    assert kg(capsys, "decisions", "export", str(exported), "--graph", str(first))[0] == 0
    with Graph.open(second) as graph:
        add(graph, docs)  # the same documents, built into a new file
    assert kg(capsys, "decisions", "import", str(exported), "--graph", str(second))[0] == 0
    with Graph.open(second) as graph:
        after = [ask(graph, q, embedder).to_dict() for q in questions]

    def answers(reply):
        return sorted((a["entity"]["name"], a["kind"]) for a in reply["answers"])

    assert [answers(r) for r in after] == [answers(r) for r in before]
    assert answers(before[0]) == [("Rome", "accepted")]
    assert ("Ann B", "extracted") not in answers(before[1])  # merged into Ann

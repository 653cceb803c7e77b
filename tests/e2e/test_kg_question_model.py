"""`kg ask`'s learned reading of questions: the model trained from the graph's
schema (kg/question_forms.py, kg/question_model.py), with the bundled MiniLM."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.kg_graphs import add, fact_documents
from workbench.kg import question_forms as forms
from workbench.kg import question_model
from workbench.kg.ask import ask
from workbench.kg.embed import Embedder
from workbench.kg.store import Graph

FACTS = [
    ("Ann Lee", "works_for", "Acme Robotics"),
    ("Bob Lee", "works_for", "Bolt Motors"),
    ("Cid Moreau", "founded", "Bolt Motors"),
    ("Acme Robotics", "based_in", "Oslo"),
    ("Bolt Motors", "based_in", "Lyon"),
    ("Ann Lee", "lives_in", "Oslo"),
    ("Bob Lee", "lives_in", "Lyon"),
    ("Cid Moreau", "lives_in", "Paris"),
    ("Oslo", "located_in", "Norway"),
    ("Lyon", "located_in", "France"),
    ("Paris", "located_in", "France"),
    ("Acme Robotics", "makes", "Tern X"),
    ("Bolt Motors", "makes", "Volt S"),
]


@pytest.fixture(scope="module")
def embedder():
    return Embedder()


@pytest.fixture(scope="module")
def graph_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("questions") / "world.sqlite"
    with Graph.open(path) as graph:
        add(graph, fact_documents(FACTS))
    return path


def names(reply) -> set[str]:
    return {a["entity"]["name"] for a in reply.answers}


def test_the_questions_come_from_the_graphs_own_schema(graph_file):
    with Graph.open(graph_file) as graph:
        schema = question_model.schema_of(graph)
    labels = {label for _, label in forms.questions(schema, per_chain=5)}
    # Every chain of one to three relations the types allow, and "none".
    assert "PER lives_in>" in labels and "PER works_for> based_in> located_in>" in labels
    assert forms.NONE in labels
    assert not any("lives_in> lives_in<" in label for label in labels)  # no walking straight back
    # A place reached by lives_in sits below located_in: questions call it a city.
    assert schema.levels[("lives_in", True)] == "lower"
    assert schema.levels[("located_in", True)] == "upper"


def test_phrasings_the_templates_never_used_still_find_their_chain(graph_file, embedder):
    with Graph.open(graph_file) as graph:
        schema = question_model.schema_of(graph)
        written = " ".join(q.lower() for q, _ in forms.questions(schema))
        held_out = {
            # (question, what the templates never wrote, answers)
            "I'd like to know where Ann Lee lives": ("i'd like to know", {"Oslo"}),
            "Ann Lee draws a salary from which company?": ("draws a salary", {"Acme Robotics"}),
            "Could you say which country Bob Lee lives in?": ("could you", {"France"}),
            "Do you know who started Bolt Motors?": ("do you know", {"Cid Moreau"}),
        }
        for question, (unseen, answers) in held_out.items():
            assert unseen not in written, unseen
            assert names(ask(graph, question, embedder)) == answers, question


def test_three_phrasings_of_one_fact_get_one_answer(graph_file, embedder):
    # Words the graph's documents never use ("employs", "set up", "head office",
    # "manufactured"), a noun for the relation ("employer", "founders"), keywords.
    groups = {
        (
            "Who does Ann Lee work for?",
            "Which company employs Ann Lee?",
            "Name Ann Lee's employer.",
        ): {"Acme Robotics"},
        (
            "Who founded Bolt Motors?",
            "Bolt Motors was set up by whom?",
            "who are the founders of bolt motors",
        ): {"Cid Moreau"},
        (
            "Which products does Acme Robotics make?",
            "What is manufactured by Acme Robotics?",
            "acme robotics products",
        ): {"Tern X"},
        (
            "In which country is Bolt Motors based?",
            "What country is Bolt Motors headquartered in?",
            "bolt motors head office country",
        ): {"France"},
        (
            "Where is the maker of the Volt S based?",
            "In which city is the Volt S manufacturer headquartered?",
            "volt s maker head office city",
        ): {"Lyon"},
    }
    with Graph.open(graph_file) as graph:
        for questions, answers in groups.items():
            got = [names(ask(graph, question, embedder)) for question in questions]
            assert got == [answers] * 3, list(zip(questions, got))


def test_a_place_named_by_its_adjective(graph_file, embedder):
    with Graph.open(graph_file) as graph:
        reply = ask(graph, "Which companies are based in Norwegian cities?", embedder)
        assert names(reply) == {"Acme Robotics"} and reply.entity["name"] == "Norway"
        reply = ask(graph, "Which people live in French cities?", embedder)  # irregular
        assert names(reply) == {"Bob Lee", "Cid Moreau"}
        # "Where" asks for a place, or for an organisation one is at.
        assert names(ask(graph, "Where does Bob Lee work?", embedder)) == {"Bolt Motors"}


def test_the_answer_type_picks_between_a_city_and_a_country(graph_file, embedder):
    with Graph.open(graph_file) as graph:
        assert names(ask(graph, "In which city does Cid Moreau live?", embedder)) == {"Paris"}
        reply = ask(graph, "Which country does Cid Moreau live in?", embedder)
        assert names(reply) == {"France"}
        assert [(s.relation, s.forward) for s in reply.chain] == [
            ("lives_in", True),
            ("located_in", True),
        ]
        # Three relations: the country of the city of the company that makes the Volt S.
        reply = ask(graph, "In which country is the maker of the Volt S based?", embedder)
        assert names(reply) == {"France"} and len(reply.chain) == 3


def test_who_lives_in_a_country_walks_through_its_cities(graph_file, embedder):
    with Graph.open(graph_file) as graph:
        reply = ask(graph, "Who lives in France?", embedder)
        assert names(reply) == {"Bob Lee", "Cid Moreau"}
        assert [s.relation for s in reply.chain] == ["located_in", "lives_in"]


def test_a_name_that_fits_several_entities_is_declined_with_them(graph_file, embedder):
    with Graph.open(graph_file) as graph:
        reply = ask(graph, "Where does Lee live?", embedder)
        assert not reply.known and "which person you mean" in reply.reason
        assert {c["name"] for c in reply.candidates} == {"Ann Lee", "Bob Lee"}
        # A part that fits one entity names it: a surname, a company without its suffix.
        assert names(ask(graph, "Where does Moreau live?", embedder)) == {"Paris"}
        assert names(ask(graph, "where is acme based", embedder)) == {"Oslo"}
        assert names(ask(graph, "Where does A. Lee live?", embedder)) == {"Oslo"}
        # A slip of the keyboard in a name: one edit from one entity's words.
        assert names(ask(graph, "Where does Cid Moreua live?", embedder)) == {"Paris"}
        assert names(ask(graph, "who founded bolt motros", embedder)) == {"Cid Moreau"}
        assert not ask(graph, "Where does Zed Quorum live?", embedder).known
        # A possessive and a hyphenated word do not hide the name.
        assert names(ask(graph, "Which country is Moreau's home city in?", embedder)) == {"France"}
        assert names(ask(graph, "Which products come from Oslo-based firms?", embedder)) == {
            "Tern X"
        }


def test_relations_the_graph_lacks_are_declined(graph_file, embedder):
    with Graph.open(graph_file) as graph:
        for question in ("Where was Ann Lee born?", "Who is Bob Lee married to?"):
            reply = ask(graph, question, embedder)
            assert not reply.known and "no relation" in reply.reason, (question, reply.reason)


def test_the_model_is_trained_once_per_graph_state_and_kept_beside_it(
    graph_file, embedder, monkeypatch
):
    with Graph.open(graph_file) as graph:
        question_model.for_graph(graph, embedder)
        cached = list((graph_file.parent / f"{graph_file.name}.ask").glob("*.npz"))
        assert len(cached) == 1

        def no_training(*args, **kwargs):
            raise AssertionError("trained again")

        monkeypatch.setattr(question_model, "fit", no_training)
        question_model.for_graph(graph, embedder)  # from memory
        question_model._MEMORY.clear()
        question_model._SCHEMAS.clear()
        question_model.for_graph(graph, embedder)  # from the file beside the graph
        # A file that would run code when unpickled is never unpickled: trained anew.
        question_model._MEMORY.clear()
        np.save(cached[0].with_suffix(".npy"), np.array([object()], dtype=object))
        cached[0].with_suffix(".npy").replace(cached[0])
        monkeypatch.undo()
        model, _ = question_model.for_graph(graph, embedder)
        assert forms.NONE in model.labels
        # A new relation is a new schema: a new model.
        add(graph, fact_documents([("Ann Lee", "studied_at", "Acme Robotics")], prefix="s"))
        model, _ = question_model.for_graph(graph, embedder)
        assert any("studied_at" in label for label in model.labels)

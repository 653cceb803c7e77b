"""Finding a description in a question (kg/descriptions.py), without a graph."""

from __future__ import annotations

import pytest

from helpers.kg_graphs import add, fact_documents, sentence
from workbench.kg.descriptions import described, find_description, said_beyond
from workbench.kg.store import Graph


def test_a_subject_description_stops_before_the_question_verb():
    d = find_description("Where is the firm whose shares rose 18 percent headquartered?")
    assert d is not None
    assert d.kind == "company" and d.keys == ["18"]
    assert "headquartered" not in d.words and {"shares", "rose", "percent"} <= set(d.words)
    q = "Where does the founder who met Ingrid Sharma in Pune live?"
    d = find_description(q)
    assert q[d.span[0] : d.span[1]] == "the founder who met Ingrid Sharma in Pune"
    assert d.kind == "person" and d.keys == ["ingrid", "sharma", "pune"]
    assert "founder" in d.words  # a role says something of the entity


def test_adjectives_of_places_and_possessives_become_keys():
    d = find_description("Which companies are based in the Swiss city?")
    assert d.kind == "place" and d.keys == ["switzerland"]
    d = find_description("who produces the device Aldous Health's analysts are tipping")
    assert d.kind == "product" and d.keys == ["aldous", "health"]


@pytest.mark.parametrize(
    "question",
    [
        "Where is the company based?",  # nothing said of it
        "Who founded Kestrel Group?",  # a name, no "the"
        "When was the war?",  # no noun of an entity kind
        "Who works for the Falcon Group?",  # a name the graph may not hold
    ],
)
def test_no_description(question):
    assert find_description(question) is None


def test_sets_and_relations_to_a_name_are_left_to_chains(tmp_path):
    d = find_description("List the employees of Northgate Analytics.")
    assert d.plural
    with Graph.open(tmp_path / "g.sqlite") as graph:
        add(
            graph,
            fact_documents([("Saffron Labs", "based_in", "Porto"), ("Ann", "founded", "Acme")]),
        )
        add(
            graph,
            {
                "x.txt": [
                    sentence("Acme cut 130 jobs in Geneva.", [("Acme", "ORG"), ("Geneva", "LOC")]),
                    sentence("Bo was born in Perth.", [("Bo", "PER"), ("Perth", "LOC")], start=29),
                ]
            },
        )
        d = find_description("Who lives in the city where Saffron Labs is headquartered?")
        assert not said_beyond(graph, d, ["Saffron Labs"])
        d = find_description("Who founded the company that cut 130 jobs at its factory in Geneva?")
        assert said_beyond(graph, d, ["Geneva"])
        # "born" is no relation of this graph: being born somewhere describes.
        d = find_description("Which company did the Perth-born founder start?")
        assert said_beyond(graph, d, ["Perth"])
        # Words the graph never uses say nothing it could check.
        d = find_description("Who works for the successful company in Geneva?")
        assert not said_beyond(graph, d, ["Geneva"])


def test_names_and_numbers_are_found_whole(tmp_path):
    with Graph.open(tmp_path / "g.sqlite") as graph:
        add(graph, fact_documents([("Ann", "works_for", "Acme"), ("Acme", "based_in", "Austria")]))
        add(
            graph,
            {
                "x.txt": [
                    sentence(
                        "Acme cut 13000 jobs in Austria.", [("Acme", "ORG"), ("Austria", "LOC")]
                    )
                ]
            },
        )
        assert (
            described(graph, "Who works for the company that cut 13000 jobs?").entity["name"]
            == "Acme"
        )
        for question in (
            "Who works for the company that cut 1300 jobs?",  # not 13000
            "Where is the Austin firm based?",  # not Austria
            "Where does the tallest person live?",  # nothing the graph holds
        ):
            got = described(graph, question)
            assert got.entity is None and not got.candidates, question
        # A place's adjective is its place: the Austrian firm is Acme.
        assert described(graph, "Who works for the Austrian firm?").entity["name"] == "Acme"


def test_a_changed_document_is_read_again(tmp_path):
    with Graph.open(tmp_path / "g.sqlite") as graph:
        doc = [sentence("Acme cut 130 jobs in Oslo.", [("Acme", "ORG"), ("Oslo", "LOC")])]
        add(graph, {"a.txt": doc})
        assert described(graph, "the company that cut 130 jobs").entity["name"] == "Acme"
        doc = [sentence("Acme cut 140 jobs in Oslo.", [("Acme", "ORG"), ("Oslo", "LOC")])]
        add(graph, {"a.txt": doc})  # the same document, rewritten
        assert described(graph, "the company that cut 140 jobs").entity["name"] == "Acme"
        assert described(graph, "the company that cut 130 jobs").entity is None

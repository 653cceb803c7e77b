"""The questions `kg ask` learns to read (kg/question_forms.py), without a model:
common English for a relation, picked by its name and direction, and the
forms a question takes."""

from __future__ import annotations

from collections import Counter

from workbench.kg import question_forms as forms
from workbench.kg.question_forms import Phrase, Verb


def small_schema() -> forms.Schema:
    """People work for companies based in places; the relations worded only by
    their names, as a graph without evidence sentences words them."""
    signatures = [("works_for", "PER", "ORG"), ("based_in", "ORG", "LOC")]
    phrases = {r: forms.relation_phrases(r, {}, set()) for r, _, _ in signatures}
    taken = {p.words for ps in phrases.values() for p in ps}
    synonyms, roles = {}, {}
    for relation in phrases:
        synonyms[relation], nouns = forms.common_phrases(relation, taken)
        roles.update({(relation, f): found for f, found in nouns.items() if found})
    walked = forms.chains(signatures)
    return forms.Schema(signatures, phrases, {}, walked, [], synonyms, roles)


def test_common_english_for_a_relation_follows_its_name_and_its_direction():
    phrases, nouns = forms.common_phrases("works_for", set())
    # "Ann is employed by Acme": the head is the subject; "Acme employs Ann": the tail.
    assert Phrase("is employed by", True) in phrases and Phrase("employs", False) in phrases
    assert ("employer", "employers") in nouns[True]  # the tail, reached going forward
    assert ("employee", "employees") in nouns[False]
    # Named from the other end, the same words turn round: a company founded_by a person.
    phrases, nouns = forms.common_phrases("founded_by", set())
    assert Phrase("set up", False) in phrases and ("founder", "founders") in nouns[True]
    assert not nouns[False]
    # The longest stem decides: headquartered_in is about headquarters, not about heads.
    phrases, _ = forms.common_phrases("headquartered_in", set())
    assert Phrase("has its head office in", True) in phrases
    # The graph's own wordings are not repeated; a relation English has no entry for gets none.
    phrases, _ = forms.common_phrases("based_in", {"is headquartered in"})
    assert "is headquartered in" not in {p.words for p in phrases}
    assert forms.common_phrases("orbits", set()) == ([], {})


def test_a_phrase_in_the_forms_a_question_needs():
    set_up = Verb.of(Phrase("set up", True))
    assert set_up.passive() == "was set up by"
    assert set_up.asked("the person", "which firms") == "which firms did the person set up"
    assert set_up.perfect("the person", "which firms") == "which firms has the person set up"
    lives = Verb.of(Phrase("lives in", True))
    assert lives.with_rest("").progressive("the person", "where") == "where is the person living"
    assert lives.reduced() == "living in" and lives.plural() == "live in"
    office = Verb.of(Phrase("has its head office in", True))  # "has" is the verb here
    assert office.asked("the company", "which city") == (
        "which city does the company have its head office in"
    )
    assert office.passive() is None and office.perfect("the company", "which city") is None
    based = Verb.of(Phrase("is based in", True))
    assert based.reduced() == "based in" and based.passive() is None


def test_the_questions_use_common_english_and_ask_short_chains_most():
    schema = small_schema()
    written = forms.questions(schema, per_chain=20)
    assert written == forms.questions(schema, per_chain=20)  # the same every time
    text = " ".join(q.lower() for q, _ in written)
    assert "employ" in text and "headquarter" in text and "employer" in text
    counts = Counter(label for _, label in written)
    assert counts["PER works_for>"] > counts["PER works_for> based_in>"] > 0
    assert counts[forms.NONE] > 0
    # "how many employees does ..." names a relation of the graph: not a "none" question.
    nones = " ".join(q.lower() for q, label in written if label == forms.NONE)
    assert "employees" not in nones


def test_the_kind_of_answer_a_question_asks_for():
    assert forms.asked_noun("which country is the city in") == ("place", "upper")
    assert forms.asked_noun("where does the person work") == ("where", None)
    assert forms.asked_noun("the company head office country") == ("place", "upper")
    # Keywords start with the entity; a request that ends in a noun asks for no noun.
    assert forms.asked_noun("give me all products from the place-based companies") is None
    assert forms.asked_noun("who works for the company") is None

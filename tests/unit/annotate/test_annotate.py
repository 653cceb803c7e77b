"""Annotation: the queue's order, the decisions file (append, undo, a cut-off
line, what the readers make of it), a session's edits, and the recipe that
trains on the decisions."""

from __future__ import annotations

import pytest

from helpers.files import write
from workbench.annotate.decisions import (
    ACCEPTED,
    FIXED,
    REJECTED,
    DecisionLog,
    classification_record,
    ner_record,
)
from workbench.annotate.pool import Item, corpus_items, item_key, order
from workbench.annotate.session import Session
from workbench.data import read_examples
from workbench.errors import WorkbenchError
from workbench.kg.corpus import read_corpus
from workbench.settings import SCHEMA
from workbench.tasks.ner import entity_types
from workbench.tasks.words import split_words

DEFAULTS = {key: spec.default for key, spec in SCHEMA["data"].items()}


def item(text: str, entities=(), confidence: float = -0.1, source: str = "doc.txt") -> Item:
    return Item(
        source=source,
        sentence=0,
        text=text,
        words=split_words(text),
        entities=[dict(e) for e in entities],
        confidence=confidence,
    )


def maria() -> Item:
    return item(
        "Maria Lindqvist visited Porto .",
        [{"type": "PER", "start": 0, "end": 2, "score": 0.9}],
    )


# -- the queue -----------------------------------------------------------------------------


def test_uncertain_order_is_least_confident_first_with_repeats_held_back():
    items = [
        item("Jon visited Lisbon today .", confidence=-0.05),
        item("The board met in Geneva on Monday .", confidence=-0.9),
        item("The board met in Geneva on Tuesday .", confidence=-0.8),  # a near-repeat
        item("Aiko founded Kestrel in Osaka .", confidence=-0.5),
    ]
    queue = [i.text for i in order(items, "uncertain")]
    assert queue == [
        "The board met in Geneva on Monday .",
        "Aiko founded Kestrel in Osaka .",
        "Jon visited Lisbon today .",
        "The board met in Geneva on Tuesday .",  # after the rest, not second
    ]


def test_random_order_is_seeded():
    items = [item(f"Sentence number {n} .") for n in range(30)]
    first = [i.text for i in order(items, "random", seed=1)]
    assert first == [i.text for i in order(items, "random", seed=1)]
    assert first != [i.text for i in order(items, "random", seed=2)]
    assert sorted(first) == sorted(i.text for i in items)
    with pytest.raises(WorkbenchError, match="choose one of balanced, uncertain, random"):
        order(items, "smart")


def test_corpus_items_are_sentences_for_ner_and_texts_for_classes(tmp_path):
    write(tmp_path / "c" / "a.txt", "Maria visited Porto. She liked it.\n\nJon stayed home.")
    write(tmp_path / "c" / "b.txt", "Great phone.")
    documents = read_corpus(tmp_path / "c")
    sentences = corpus_items(documents, "ner")
    assert [(i.source, i.sentence, i.text) for i in sentences] == [
        ("c/a.txt", 0, "Maria visited Porto."),
        ("c/a.txt", 1, "She liked it."),
        ("c/a.txt", 2, "Jon stayed home."),
        ("c/b.txt", 0, "Great phone."),
    ]
    assert sentences[0].tokens == ["Maria", "visited", "Porto", "."]
    texts = corpus_items(documents, "classification")
    assert [i.text for i in texts] == [
        "Maria visited Porto. She liked it.\n\nJon stayed home.",
        "Great phone.",
    ]


# -- the decisions file ----------------------------------------------------------------------


def test_decisions_are_appended_undone_and_read_as_training_data(tmp_path):
    path = tmp_path / "out" / "decisions.jsonl"
    log = DecisionLog(path)
    first, second, third = maria(), item("Jon went home ."), item("Kestrel hired Aiko .")
    log.append(ner_record(first, first.entities, ACCEPTED))
    log.append(ner_record(second, [], REJECTED))
    log.append(ner_record(third, [{"type": "ORG", "start": 0, "end": 1}], FIXED))
    assert log.undo()["text"] == "Kestrel hired Aiko ."
    assert len(path.read_text().splitlines()) == 2  # cut back, not marked
    again = DecisionLog(path)
    assert again.counts() == {ACCEPTED: 1, FIXED: 0, REJECTED: 1}
    assert again.decided == {first.key, second.key}
    assert again.task() == "ner"
    # The readers take it as span-annotated training sentences; the rejected one is skipped.
    examples = read_examples(str(path), DEFAULTS, "tokens")
    assert [(e["tokens"], e["tags"]) for e in examples] == [
        (["Maria", "Lindqvist", "visited", "Porto", "."], ["B-PER", "I-PER", "O", "O", "O"])
    ]


def test_a_cut_off_last_line_is_removed_on_opening(tmp_path):
    path = tmp_path / "d.jsonl"
    log = DecisionLog(path)
    log.append(ner_record(maria(), maria().entities, ACCEPTED))
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"tokens": ["Jon", "we')  # the process died mid-write
    reopened = DecisionLog(path)
    assert reopened.repaired and len(reopened.records) == 1
    assert path.read_text().endswith("}\n")
    assert len(read_examples(str(path), DEFAULTS, "tokens")) == 1


def test_a_whole_last_line_without_its_newline_is_kept(tmp_path):
    path = tmp_path / "d.jsonl"
    DecisionLog(path).append(ner_record(maria(), maria().entities, ACCEPTED))
    path.write_text(path.read_text().rstrip("\n"))  # an editor dropped the newline
    reopened = DecisionLog(path)
    assert len(reopened.records) == 1 and not reopened.repaired
    reopened.append(ner_record(item("Jon went home ."), [], REJECTED))
    assert len(DecisionLog(path).records) == 2


def test_a_file_that_is_not_decisions_is_refused_untouched(tmp_path):
    text = '{"tokens": ["a"], "tags": ["O"]}\n{"tokens": ["b"], "tags": ["O"]}'
    other = write(tmp_path / "train.jsonl", text)  # no newline at the end
    with pytest.raises(WorkbenchError, match=r"train.jsonl:1: not a decision written by"):
        DecisionLog(other)
    assert other.read_text() == text
    with pytest.raises(WorkbenchError, match=r"name the file \*.jsonl"):
        DecisionLog(tmp_path / "decisions.txt")
    garbage = write(tmp_path / "g.jsonl", "not json\n")
    with pytest.raises(WorkbenchError, match=r"g.jsonl:1: not a decision \(invalid JSON\)"):
        DecisionLog(garbage)
    with pytest.raises(WorkbenchError, match="a folder"):
        DecisionLog(tmp_path)


def test_a_datasets_own_decision_column_is_not_taken_for_a_rejection(tmp_path):
    reviews = write(
        tmp_path / "reviews.jsonl",
        '{"text": "ok", "decision": "rejected"}\n{"text": "fine", "decision": "accepted"}\n',
    )
    examples = read_examples(str(reviews), {**DEFAULTS, "label_column": "decision"}, "text")
    assert [e["label"] for e in examples] == ["rejected", "accepted"]


def test_classification_decisions_use_the_recipe_columns(tmp_path):
    path = tmp_path / "d.jsonl"
    log = DecisionLog(path)
    review = Item(source="r.jsonl", sentence=0, text="love it", label="positive")
    columns = {"text_column": "review", "label_column": "stars"}
    log.append(classification_record(review, "positive", ACCEPTED, columns))
    log.append(classification_record(Item("r.jsonl", 0, "spam spam"), None, REJECTED, columns))
    data = {**DEFAULTS, **columns}
    examples = read_examples(str(path), data, "text")
    assert [(e["text"], e["label"]) for e in examples] == [("love it", "positive")]
    assert DecisionLog(path).task() == "classification"


# -- a session -------------------------------------------------------------------------------


def test_a_session_fixes_spans_and_takes_decisions_back(tmp_path):
    log = DecisionLog(tmp_path / "d.jsonl")
    labels = entity_types(["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"])
    assert labels == ["LOC", "ORG", "PER"]
    session = Session([maria(), item("Jon went to Lisbon .")], log, "ner", labels)
    assert not session.changed
    session.move(3)  # Porto
    session.mark("LOC")
    assert session.changed and session.entity_at(3)["type"] == "LOC"
    session.home()
    session.move(1, extend=True)  # "Maria Lindqvist" selected
    session.mark("ORG")  # replaces the PER span it overlaps
    assert [(e["type"], e["start"], e["end"]) for e in session.entities] == [
        ("ORG", 0, 2),
        ("LOC", 3, 4),
    ]
    session.home()
    assert session.delete()
    assert session.accept() == FIXED
    assert session.current.text == "Jon went to Lisbon ."
    assert session.undo()["decision"] == FIXED
    # Back as it was decided, not as the model proposed.
    assert session.current.text.startswith("Maria")
    assert [(e["type"], e["start"]) for e in session.entities] == [("LOC", 3)]
    session.reset()
    assert not session.changed
    assert session.accept() == ACCEPTED
    session.skip()  # a one-item queue keeps it
    assert session.reject() == REJECTED
    assert session.current is None
    assert [r["decision"] for r in DecisionLog(log.path).records] == [ACCEPTED, REJECTED]


def test_undo_reaches_a_decision_of_an_earlier_session(tmp_path):
    path = tmp_path / "d.jsonl"
    columns = {"entities_column": "spans"}
    DecisionLog(path).append(ner_record(maria(), maria().entities, ACCEPTED, columns))

    def repropose(items):  # the model, asked again: it proposes what was accepted
        for again in items:
            again.entities, again.confidence = [dict(e) for e in maria().entities], -0.2

    session = Session([], DecisionLog(path), "ner", ["PER"], columns, repropose=repropose)
    assert session.current is None
    session.undo()
    assert session.current.key == item_key("doc.txt", "Maria Lindqvist visited Porto .")
    assert session.entities == [{"type": "PER", "start": 0, "end": 2}]
    assert path.read_text() == ""
    assert not session.changed  # as the model proposed: accepting it again is "accepted"
    assert session.accept() == ACCEPTED


def test_a_classification_session_chooses_classes(tmp_path):
    log = DecisionLog(tmp_path / "d.jsonl")
    texts = [
        Item("r.jsonl", 0, "love it", label="positive", probabilities={"positive": 0.6}),
        Item("r.jsonl", 1, "meh", label="positive", probabilities={"positive": 0.4}),
    ]
    session = Session(texts, log, "classification", ["negative", "neutral", "positive"])
    assert session.label == "positive" and not session.changed
    assert session.accept() == ACCEPTED
    session.mark("neutral")
    assert session.changed
    with pytest.raises(ValueError, match="unknown label"):
        session.mark("great")
    assert session.accept() == FIXED
    examples = read_examples(str(log.path), DEFAULTS, "text")
    assert [(e["text"], e["label"]) for e in examples] == [
        ("love it", "positive"),
        ("meh", "neutral"),
    ]
    session.undo()
    assert session.current.text == "meh" and session.label == "neutral"


def test_a_held_back_repeat_returns_once_it_leaves_the_window():
    template = [
        item(f"Resident {name} won the prize .", confidence=-2.0 + n / 100)
        for n, name in enumerate(["Zara", "Chloe", "Tariq"])
    ]
    words = (
        "apple bread cloud dance eagle flame grape house igloo jelly kite lemon mango "
        "night ocean piano queen river stone tiger umbra violin water xenon yacht zebra "
        "amber basil cedar delta"
    )
    others = [
        item(f"the {word} was here", confidence=-1.0 + n / 100)
        for n, word in enumerate(words.split())
    ]
    queue = [i.text for i in order(template + others, "uncertain")]
    # The first of the template leads; the next waits until it is no longer one of
    # the last 20 shown; the last comes when nothing else is left.
    assert queue[0] == "Resident Zara won the prize ."
    assert queue.index("Resident Chloe won the prize .") == 21
    assert queue[-1] == "Resident Tariq won the prize ." and len(queue) == 33


@pytest.mark.parametrize("fixture", ["ner_recipe", "classification_recipe"])
def test_a_saved_recipe_gives_its_columns(fixture, request, tmp_path):
    from workbench.annotate.setup import recipe_columns
    from workbench.recipe import load_recipe

    recipe = load_recipe(request.getfixturevalue(fixture))
    run = tmp_path / "runs" / "20261130-120000-x"
    write(run / "recipe.toml", recipe.to_toml())  # as a run folder keeps it: every key written
    columns = recipe_columns(run / "model")  # a run's model folder means the run
    assert columns["text_column"] == "text" and columns["entities_column"] == "entities"
    pair = recipe.to_dict()
    pair["data"]["text_pair_column"] = "hypothesis"
    import tomli_w

    write(run / "recipe.toml", tomli_w.dumps(pair))
    with pytest.raises(WorkbenchError, match="a text-pair classifier"):
        recipe_columns(run)
    key = "tokens_column" if recipe.task == "ner" else "label_column"  # what its lines hold
    clash = recipe.to_dict()
    clash["data"][key] = "source"
    write(run / "recipe.toml", tomli_w.dumps(clash))
    with pytest.raises(WorkbenchError, match=f"data.{key} = 'source' is a key"):
        recipe_columns(run)


def test_a_character_level_session_selects_characters(tmp_path):
    """A model trained on character-level data (Chinese) is annotated character by
    character, and the decision is read back as that data."""
    from workbench.kg.corpus import Document
    from workbench.tui.screens.annotate import sentence_text

    text = "王伟在深圳工作。"
    [chinese] = corpus_items([Document("doc.txt", "doc.txt", text)], "ner", "characters")
    assert chinese.tokens == list(text)
    path = tmp_path / "d.jsonl"
    session = Session([chinese], DecisionLog(path), "ner", ["LOC", "PER"], level="characters")
    session.move(1, extend=True)  # 王伟
    session.mark("PER")
    session.move(2)
    session.move(1, extend=True)  # 深圳
    session.mark("LOC")
    assert sentence_text(session).plain == "[王伟]PER在[深圳]LOC工作。"
    assert session.accept() == FIXED
    data = {**DEFAULTS, "format": "jsonl"}
    [example] = read_examples(str(path), data, "tokens")
    assert example["tokens"] == list(text)
    assert example["tags"] == ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "O", "O"]


def test_a_character_level_sentence_keeps_its_spaces_on_screen(tmp_path):
    from workbench.tasks.words import split_characters
    from workbench.tui.screens.annotate import sentence_text

    text = "我在 New York 工作"
    mixed = Item("doc.txt", 0, text, words=split_characters(text))
    session = Session(
        [mixed], DecisionLog(tmp_path / "d.jsonl"), "ner", ["LOC"], level="characters"
    )
    session.move(2)
    session.move(6, extend=True)  # N e w Y o r k
    session.mark("LOC")
    assert sentence_text(session).plain == "我在 [New York]LOC 工作"

"""Annotating a relation run: entity pairs as items (from a file with entities, or
raw text and an NER model), the decisions file in the relation readers' layout,
a session that accepts, fixes, rejects, undoes and is killed and reopened, and
the arguments that cannot work said in one line. The relation model is a
stand-in whose answers are known (tests/helpers/models.py); the e2e tests use a
real one."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from helpers.data import RELATION_LINES
from helpers.files import write
from helpers.models import relation_stand_in
from workbench.annotate.decisions import (
    ACCEPTED,
    FIXED,
    REJECTED,
    DecisionLog,
    record_key,
    relation_record,
)
from workbench.annotate.pairs import (
    PairItem,
    build_pair_queue,
    is_span_corpus,
    pair_key,
    propose_pairs,
    read_relation_corpus,
    span_sentences,
)
from workbench.annotate.session import Session
from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.kg.corpus import read_corpus
from workbench.models.saved import SavedModel
from workbench.tasks.words import split_words

LABELS = ["no_relation", "works_for", "founded", "based_in", "lives_in"]
GUESSES = {("PER", "ORG"): ("works_for", 0.6), ("ORG", "LOC"): ("based_in", 0.45)}


def guesses(head: str, tail: str) -> dict[str, float]:
    """works_for for PER -> ORG (0.6), based_in for ORG -> LOC (0.45), else
    no_relation (0.8); the rest spread evenly."""
    label, top = GUESSES.get((head, tail), ("no_relation", 0.8))
    rest = (1 - top) / (len(LABELS) - 1)
    return {name: top if name == label else rest for name in LABELS}


@pytest.fixture
def model():
    return relation_stand_in(LABELS, guesses, ["LOC", "ORG", "PER"])


@pytest.fixture
def corpus(tmp_path) -> Path:
    """The four hand-made relation sentences: 6 + 2 + 6 + 6 ordered entity pairs."""
    return write(tmp_path / "sentences.jsonl", "\n".join(RELATION_LINES) + "\n")


def session_on(path: Path, queue, model: SavedModel) -> Session:
    return Session(
        queue,
        DecisionLog(path),
        "relation",
        LABELS,
        repropose=lambda items: propose_pairs(items, model),
        none_label="no_relation",
    )


def described(item: PairItem) -> tuple[str, str, str]:
    """(sentence start, head words, tail words)"""
    head, tail = item.entities
    words = item.tokens
    return (
        " ".join(words[:2]),
        " ".join(words[head["start"] : head["end"]]),
        " ".join(words[tail["start"] : tail["end"]]),
    )


# -- the items -------------------------------------------------------------------------------


def test_pairs_are_the_tasks_candidates_least_confident_first(corpus, model):
    assert is_span_corpus(corpus)
    _, ner, queue = build_pair_queue("rel-run", corpus, how="uncertain", loaded=model)
    assert ner is None and len(queue) == 20  # every ordered pair: no type pairs learned
    assert queue[0].confidence == min(i.confidence for i in queue)
    first = next(i for i in queue if described(i) == ("Maria Rossi", "Maria Rossi", "Kestrel Bank"))
    assert first.label == "works_for" and first.probabilities["works_for"] == 0.6
    assert math.isclose(first.confidence, math.log(0.6))
    assert first.entities == [
        {"type": "PER", "start": 0, "end": 2},
        {"type": "ORG", "start": 4, "end": 6},
    ]
    assert first.key == pair_key("sentences.jsonl", first.text, (0, 2, 4, 6))
    assert len({i.key for i in queue}) == 20
    # A model trained with relation.type_pairs reads only the type pairs it learned.
    model.task.type_pairs = {("PER", "ORG")}
    _, _, queue = build_pair_queue("rel-run", corpus, how="uncertain", loaded=model)
    assert sorted(described(i) for i in queue) == [
        ("Jon Berg", "Jon Berg", "Nordwind Labs"),
        ("Maria Rossi", "Maria Rossi", "Kestrel Bank"),
        ("Nordwind Labs", "Aiko Sato", "Nordwind Labs"),
    ]


def test_raw_text_takes_its_entities_from_the_ner_model(tmp_path, model):
    known = {"Maria": "PERSON", "Kestrel": "ORGANIZATION", "Porto": "GPE"}

    def predict_tokens(_model, _tokenizer, sentences, *_args):
        return [
            [
                {"type": known[w], "start": i, "end": i + 1, "score": 0.9}
                for i, w in enumerate(words)
                if w in known
            ]
            for words in sentences
        ]

    ner = SavedModel(
        task=SimpleNamespace(split=split_words, level="words", predict_tokens=predict_tokens),
        model=None,
        tokenizer=None,
        meta={},
        folder=Path("ner-run"),
    )
    write(tmp_path / "c" / "a.txt", "Maria works for Kestrel in Porto. Nobody Else is here.")
    documents = read_relation_corpus(tmp_path / "c", None, with_ner=True)
    _, used, queue = build_pair_queue(
        "rel-run", documents, how="uncertain", loaded=model, ner_loaded=ner
    )
    assert used is ner and len(queue) == 6
    # The NER model's types, as the relation model names them (PERSON ~ PER).
    assert {tuple(e["type"] for e in i.entities) for i in queue} >= {("PER", "ORG"), ("ORG", "LOC")}
    assert {i.source for i in queue} == {"c/a.txt"} and {i.sentence for i in queue} == {0}
    assert queue[0].words[1] == ("works", 6, 11)  # offsets in the sentence's own text


def test_where_the_entities_come_from_is_said_in_one_sentence(tmp_path, corpus):
    raw = write(tmp_path / "notes.txt", "Maria works for Kestrel.")
    with pytest.raises(WorkbenchError, match=r"notes.txt: raw text, .*\(--ner RUN\)"):
        read_relation_corpus(raw, None, with_ner=False)
    with pytest.raises(WorkbenchError, match=r"sentences.jsonl: already holds tokens"):
        read_relation_corpus(corpus, None, with_ner=True)
    records = write(tmp_path / "docs.jsonl", '{"id": "d1", "text": "Maria works."}\n')
    assert not is_span_corpus(records)  # JSON records of text: raw text, for an NER model
    assert [d.key for d in read_relation_corpus(records, None, True)] == ["d1"]
    # The recipe's own column names find the tokens and entities.
    renamed = write(
        tmp_path / "renamed.jsonl",
        json.dumps({"words": ["Jon", "Berg"], "spans": [{"type": "PER", "start": 0, "end": 2}]}),
    )
    columns = {"tokens_column": "words", "entities_column": "spans"}
    [sentence] = span_sentences(renamed, columns)
    assert sentence.text == "Jon Berg" and sentence.entities[0]["end"] == 2


# -- the decisions file ----------------------------------------------------------------------


def test_a_pairs_line_holds_the_two_entities_and_the_decided_relation(tmp_path, corpus, model):
    _, _, queue = build_pair_queue("rel-run", corpus, how="uncertain", loaded=model)
    pair = next(i for i in queue if described(i) == ("Maria Rossi", "Kestrel Bank", "Porto"))
    line = relation_record(pair, "based_in", ACCEPTED)
    assert " ".join(line["tokens"]) == "Maria Rossi works for Kestrel Bank in Porto ."
    assert line["entities"] == [
        {"type": "ORG", "start": 4, "end": 6},
        {"type": "LOC", "start": 7, "end": 8},
    ]
    assert line["relations"] == [{"type": "based_in", "head": 0, "tail": 1}]
    assert line["pair"] == [4, 6, 7, 8] and line["task"] == "relation"
    assert {"decision", "source", "position", "text", "time"} <= set(line)
    assert relation_record(pair, "no_relation", FIXED)["relations"] == []
    assert relation_record(pair, "based_in", REJECTED)["relations"] == []
    columns = {"relations_column": "links", "entities_column": "spans"}
    renamed = relation_record(pair, "based_in", ACCEPTED, columns)
    assert renamed["links"] and renamed["spans"] and "relations" not in renamed
    assert record_key(line) == pair.key


def test_a_relation_session_decides_pairs_and_survives_being_killed(tmp_path, corpus, model):
    out = tmp_path / "annotations" / "pairs.jsonl"
    _, _, queue = build_pair_queue("rel-run", corpus, how="uncertain", loaded=model)
    session = session_on(out, queue, model)
    first = session.current  # the least certain: an ORG -> LOC pair, based_in at 0.45
    assert session.label == first.label == "based_in" and not session.changed
    assert session.accept() == ACCEPTED  # 1. as proposed
    second = session.current
    session.mark("founded")  # 2. another relation
    assert session.changed
    assert session.accept() == FIXED
    third = session.current
    session.mark("no_relation")
    session.reset()  # p: back to the model's proposal
    assert session.label == third.label
    assert session.reject() == REJECTED  # 3. not a pair to learn from
    fourth = session.current
    session.mark("lives_in")
    assert session.accept() == FIXED  # 4. ...
    assert session.undo()["decision"] == FIXED  # ... taken back: it shows as decided
    assert session.current is fourth and session.label == "lives_in" and session.changed
    assert not session.delete()  # a pair's head and tail are not the person's to remove
    session.skip()  # it waits at the end; nothing written
    # The process dies here: the file holds exactly the three decisions.
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["decision"], r["relations"]) for r in records] == [
        (ACCEPTED, [{"type": "based_in", "head": 0, "tail": 1}]),
        (FIXED, [{"type": "founded", "head": 0, "tail": 1}]),
        (REJECTED, []),
    ]
    assert [r["pair"] for r in records] == [list(i.pair) for i in (first, second, third)]

    log = DecisionLog(out)  # a new process on the same file
    assert log.counts() == {ACCEPTED: 1, FIXED: 1, REJECTED: 1}
    assert log.labels() == {"based_in", "founded"}
    _, _, again = build_pair_queue(
        "rel-run", corpus, how="uncertain", loaded=model, skip=log.decided
    )
    assert len(again) == 17  # the sentence's other pairs stay undecided
    assert {i.key for i in again}.isdisjoint({first.key, second.key, third.key})
    assert fourth.key in {i.key for i in again}


def test_undo_brings_back_a_pair_decided_in_an_earlier_session(tmp_path, corpus, model):
    out = tmp_path / "pairs.jsonl"
    _, _, queue = build_pair_queue("rel-run", corpus, how="uncertain", loaded=model)
    pair = next(i for i in queue if described(i) == ("Jon Berg", "Jon Berg", "Nordwind Labs"))
    earlier = session_on(out, [pair], model)
    earlier.mark("founded")
    assert earlier.accept() == FIXED

    later = session_on(out, [], model)  # reopened: nothing left to decide
    record = later.undo()
    assert record["decision"] == FIXED and out.read_text() == ""
    back = later.current
    assert isinstance(back, PairItem) and back.key == pair.key
    assert back.tokens == pair.tokens and back.entities == pair.entities
    assert later.label == "founded"  # as decided, over the model's works_for
    assert back.label == "works_for" and math.isclose(back.confidence, math.log(0.6))
    later.reset()
    assert later.accept() == ACCEPTED
    rejected = session_on(out, [], model)
    assert rejected.undo()["decision"] == ACCEPTED
    assert rejected.reject() == REJECTED
    assert DecisionLog(out).decided == {pair.key}


def test_the_relation_recipe_reads_the_decisions_as_training_data(tmp_path, relation_recipe, model):
    from workbench.experiment import prepare
    from workbench.recipe import load_recipe

    out = tmp_path / "annotations" / "pairs.jsonl"
    sentences = span_sentences(tmp_path / "data" / "rel.jsonl")  # the recipe's own sentences
    _, _, queue = build_pair_queue("rel-run", sentences, how="uncertain", loaded=model)
    session = session_on(out, queue, model)
    decided = []
    for label in ("lives_in", "no_relation", None):
        decided.append(session.current)
        if label is None:
            session.reject()
        else:
            session.mark(label)
            session.accept()
    recipe = load_recipe(relation_recipe, [f"data.extra_train=['{out}']"])
    experiment = prepare(recipe)
    train = experiment.splits["train"]
    assert len(train) == len(RELATION_LINES) + 2  # the rejected pair is left out
    extra = train[len(RELATION_LINES) :]
    for example, item, label in zip(extra, decided, ("lives_in", "no_relation")):
        assert example["tokens"] == item.tokens
        assert example["entities"] == item.entities
        related = [] if label == "no_relation" else [{"type": label, "head": 0, "tail": 1}]
        assert example["relations"] == related
    # Two entities a line: the decided pair (and its reverse, where the recipe's type
    # pairs take it) is all a line trains, never a pair of the sentence nobody decided.
    assert all(len(e["entities"]) == 2 for e in extra)
    assert (0, 1) in experiment.task.candidates(extra[0])  # a relation decided is learned
    assert {r["type"] for e in train for r in e["relations"]} >= {"lives_in"}


def test_annotate_says_what_cannot_work_for_a_relation_run(tmp_path, corpus, capsys):
    def run(name: str, task: str) -> Path:
        folder = tmp_path / "runs" / name
        write(folder / "model" / "config.json", "{}")
        write(folder / "model" / "workbench.json", json.dumps({"task": task}))
        return folder

    relation, ner = run("20261130-rel", "relation"), run("20261130-ner", "ner")
    raw = write(tmp_path / "notes.txt", "Maria works for Kestrel.")
    cases = [
        (["--model", str(relation), "--corpus", str(raw)], "notes.txt: raw text"),
        (["--model", str(relation), "--corpus", str(corpus), "--ner", str(ner)], "already holds"),
        (["--model", str(relation), "--corpus", str(raw), "--ner", str(relation)], "not an NER"),
        (["--model", str(ner), "--corpus", str(raw), "--ner", str(ner)], "only a relation run"),
        # Everything in order: only the missing terminal is left to say.
        (["--model", str(relation), "--corpus", str(corpus)], "needs a terminal"),
    ]
    for args, said in cases:
        code = main(["annotate", *args])
        err = capsys.readouterr().err
        assert code == 2 and said in err and len(err.strip().splitlines()) == 1, (args, err)
    assert read_corpus(raw)  # the raw corpus itself is fine: it is the missing NER run

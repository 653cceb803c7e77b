"""The Annotate screen on a relation run: entity pairs decided by keyboard, a label
past the ninth chosen through the picker (l), undo, quit, reopen. The relation
model is a stand-in whose answers are known (tests/helpers/models.py)."""

from __future__ import annotations

import asyncio
import json

import pytest

import workbench.annotate.pairs as pairs
from helpers.data import RELATION_LINES
from helpers.files import write
from helpers.models import relation_stand_in
from helpers.tui import app_for, text_of, wait_for
from helpers.tui import opened_annotate as opened
from workbench.annotate.decisions import DecisionLog
from workbench.tui.screens.label_picker import LabelPicker, matching

SIZE = (100, 30)
RUN = "20261130-120000-demo-relations"
# Twelve labels: the number keys reach nine; "owns" is the eleventh.
LABELS = [
    "no_relation",
    "works_for",
    "founded",
    "based_in",
    "lives_in",
    "located_in",
    "makes",
    "born_in",
    "studied_at",
    "married_to",
    "owns",
    "member_of",
]
GUESSES = {("PER", "ORG"): ("works_for", 0.5), ("ORG", "LOC"): ("based_in", 0.4)}


def guesses(head: str, tail: str) -> dict[str, float]:
    label, top = GUESSES.get((head, tail), ("no_relation", 0.7))
    rest = (1 - top) / (len(LABELS) - 1)
    return {name: top if name == label else rest for name in LABELS}


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "sentences.jsonl", "\n".join(RELATION_LINES[:2]) + "\n")  # 6 + 2 pairs
    model = tmp_path / "runs" / RUN / "model"
    write(model / "config.json", "{}")
    write(model / "workbench.json", json.dumps({"task": "relation"}))
    stand_in = relation_stand_in(LABELS, guesses, ["LOC", "ORG", "PER"])
    monkeypatch.setattr(pairs, "load_saved", lambda path: stand_in)
    return tmp_path


def annotate_app(project, out):
    return app_for(
        project,
        annotate={
            "model": str(project / "runs" / RUN),
            "corpus": "sentences.jsonl",
            "out": str(out),
            "order": "uncertain",
        },
    )


def shown(screen, part: str) -> str:
    return text_of(screen.query_one(f"#annotate-{part}")).strip()


def test_pairs_are_decided_by_keyboard_a_label_past_the_ninth_through_the_picker(project):
    out = project / "annotations" / "pairs.jsonl"
    decided = []

    async def first_visit():
        async with annotate_app(project, out).run_test(size=SIZE) as pilot:
            screen = await opened(pilot)
            session = screen.session
            assert len(session.queue) == 8 and session.labels == LABELS
            # The least certain pair: the two based_in guesses (0.4) come first.
            assert session.current.label == "based_in"
            sentence = shown(screen, "sentence")
            assert sentence == "Maria Rossi works for [Kestrel Bank]head in [Porto]tail ."
            assert "relation: based_in" in shown(screen, "entities")
            assert "head  Kestrel Bank  (ORG)" in shown(screen, "entities")
            labels = shown(screen, "labels")
            assert "9  studied_at" in labels and "married_to" not in labels
            assert "… 3 more: l lists all" in labels
            assert "sentence 1 · model 40% sure" in shown(screen, "meta")

            decided.append(session.current.key)
            await pilot.press("enter")  # 1. accepted as proposed
            decided.append(session.current.key)
            await pilot.press("3")  # 2. founded, by its number key
            assert "changed from the model's proposal" in shown(screen, "meta")
            await pilot.press("enter")
            decided.append(session.current.key)
            await pilot.press("l")  # 3. the picker: the eleventh label, typed
            await pilot.pause()
            assert isinstance(pilot.app.screen, LabelPicker)
            await pilot.press("o", "w", "n")
            await pilot.press("enter")
            await pilot.pause()
            assert pilot.app.screen is screen and session.label == "owns"
            assert "relation: owns" in shown(screen, "entities")
            await pilot.press("enter")
            before = session.label
            await pilot.press("l")  # 4. the picker again, but Escape: nothing changes
            await pilot.pause()
            await pilot.press("down", "escape")
            await pilot.pause()
            assert pilot.app.screen is screen and session.label == before
            await pilot.press("r", "u")  # rejected, then taken back
            assert "Took back the rejected pair" in shown(screen, "status")
            title = shown(screen, "title")
            assert "pairs.jsonl · 3 decided: 1 accepted, 2 fixed, 0 rejected · 5 to go" in title
            await pilot.press("q")

    asyncio.run(first_visit())
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["decision"], r["relations"]) for r in records] == [
        ("accepted", [{"type": "based_in", "head": 0, "tail": 1}]),
        ("fixed", [{"type": "founded", "head": 0, "tail": 1}]),
        ("fixed", [{"type": "owns", "head": 0, "tail": 1}]),
    ]
    assert all(len(r["entities"]) == 2 and r["task"] == "relation" for r in records)

    async def second_visit():
        async with annotate_app(project, out).run_test(size=SIZE) as pilot:
            screen = await opened(pilot)
            keys = {i.key for i in screen.session.queue}
            assert len(keys) == 5 and keys.isdisjoint(decided)
            assert "5 to decide, 3 decided before" in shown(screen, "status")

    asyncio.run(second_visit())
    assert DecisionLog(out).counts() == {"accepted": 1, "fixed": 2, "rejected": 0}


def test_a_raw_corpus_without_an_ner_run_is_said_in_the_form(project):
    write(project / "notes.txt", "Maria Rossi works for Kestrel Bank.")

    async def scenario():
        app = annotate_app(project, project / "d.jsonl")
        app.annotate_options["corpus"] = "notes.txt"
        async with app.run_test(size=SIZE) as pilot:
            screen = pilot.app.screen
            status = screen.query_one("#annotate-status")
            await wait_for(pilot, lambda: "raw text" in text_of(status), 30, "the refusal")
            assert "name an NER run whose model finds them (the NER run box)" in text_of(status)
            assert screen.session is None and pilot.app.is_running

    asyncio.run(scenario())


def test_the_picker_filters_by_start_first_then_anywhere():
    assert matching(LABELS, "") == LABELS
    assert matching(LABELS, "IN") == ["based_in", "lives_in", "located_in", "born_in"]
    assert matching(LABELS, "o") == ["owns", *[x for x in LABELS if "o" in x and x != "owns"]]
    assert matching(LABELS, "zzz") == []

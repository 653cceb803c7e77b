"""The Annotate screen driven as a person would: decide, fix, reject, undo, quit,
reopen. The model's part (loading, proposing) is a fixed stand-in here, so the
test knows what each sentence proposes; test_annotate_training.py uses a real one."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

import workbench.annotate.pool as pool
from helpers.files import write
from helpers.tui import app_for, footer_keys, text_of, wait_for
from helpers.tui import opened_annotate as opened
from workbench.annotate.decisions import DecisionLog
from workbench.models.pretrained import load_tokenizer
from workbench.models.saved import SavedModel
from workbench.tasks.ner import NerTask
from workbench.tui.screens.annotate import AnnotateScreen

SIZE = (100, 30)
NAMES = {"Maria": "PER", "Porto": "LOC", "Kestrel": "ORG", "Lisbon": "LOC", "Jon": "PER"}
CORPUS = {
    "a.txt": "Maria visited Porto yesterday with friends. Kestrel hired Jon.",
    "b.txt": "Jon flew to Lisbon on a Monday morning. The weather was fine.",
    "c.txt": "Kestrel opened an office in Porto last year for its staff. Rain fell.",
}


def fake_loaded():
    labels = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    model = SimpleNamespace(config=SimpleNamespace(id2label=dict(enumerate(labels))))
    # The real task and tokenizer: the screen cuts sentences and measures coverage with them.
    return SavedModel(
        task=NerTask(),
        model=model,
        tokenizer=load_tokenizer("minilm"),
        meta={"labels": labels},
        folder=Path(),
    )


def fake_propose(items, loaded, batch_size=32):
    """Known names become one-word entities; longer sentences count as less certain."""
    for item in items:
        item.entities = [
            {"type": NAMES[w], "start": i, "end": i + 1, "score": 0.8}
            for i, w in enumerate(item.tokens)
            if w in NAMES
        ]
        item.confidence = -len(item.text) / 100


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, text in CORPUS.items():
        write(tmp_path / "corpus" / name, text)
    (tmp_path / "runs" / "20261130-120000-demo-ner" / "model").mkdir(parents=True)
    monkeypatch.setattr(pool, "load_saved", lambda path: fake_loaded())
    monkeypatch.setattr(pool, "propose", fake_propose)
    return tmp_path


def annotate_app(project, out):
    return app_for(
        project,
        annotate={
            "model": str(project / "runs" / "20261130-120000-demo-ner"),
            "corpus": "corpus",
            "out": str(out),
            "order": "uncertain",
        },
    )


def sentence(screen) -> str:
    return text_of(screen.query_one("#annotate-sentence")).strip()


def test_decide_fix_reject_undo_then_reopen_and_go_on(project):
    out = project / "annotations" / "d.jsonl"

    async def first_visit():
        async with annotate_app(project, out).run_test(size=SIZE) as pilot:
            screen = await opened(pilot)
            # Longest (least certain) first; proposals bracketed with their type.
            assert sentence(screen) == (
                "[Kestrel]ORG opened an office in [Porto]LOC last year for its staff ."
            )
            assert {"⏎", "u", "t"} <= footer_keys(pilot.app)
            assert "F1" in footer_keys(pilot.app)  # 1-9 are labels here
            await pilot.press("enter")  # 1. accept as proposed
            assert sentence(screen) == "[Maria]PER visited [Porto]LOC yesterday with friends ."
            await pilot.press("right", "shift+right", "1")  # 2. "visited Porto" -> LOC (1)
            assert "changed from the model's proposal" in text_of(
                screen.query_one("#annotate-meta")
            )
            await pilot.press("enter")
            assert sentence(screen) == "[Jon]PER flew to [Lisbon]LOC on a Monday morning ."
            await pilot.press("end", *["left"] * 5, "x")  # 3. drop Lisbon
            assert "no entity there" not in text_of(screen.query_one("#annotate-status")).lower()
            await pilot.press("enter")
            assert sentence(screen) == "The weather was fine ."
            await pilot.press("r")  # 4. reject
            assert sentence(screen) == "[Kestrel]ORG hired [Jon]PER ."
            await pilot.press("enter", "u")  # 5. accept, then take it back
            assert sentence(screen) == "[Kestrel]ORG hired [Jon]PER ."
            assert "Took back the accepted sentence" in text_of(
                screen.query_one("#annotate-status")
            )
            title = text_of(screen.query_one("#annotate-title"))
            assert "d.jsonl · 4 decided: 1 accepted, 2 fixed, 1 rejected · 2 to go" in title
            await pilot.press("q")

    asyncio.run(first_visit())
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["text"], r["decision"], r["entities"]) for r in records] == [
        (
            "Kestrel opened an office in Porto last year for its staff.",
            "accepted",
            [{"type": "ORG", "start": 0, "end": 1}, {"type": "LOC", "start": 5, "end": 6}],
        ),
        (
            "Maria visited Porto yesterday with friends.",
            "fixed",
            [{"type": "PER", "start": 0, "end": 1}, {"type": "LOC", "start": 1, "end": 3}],
        ),
        (
            "Jon flew to Lisbon on a Monday morning.",
            "fixed",
            [{"type": "PER", "start": 0, "end": 1}],
        ),
        ("The weather was fine.", "rejected", []),
    ]
    assert {r["source"] for r in records} == {"corpus/a.txt", "corpus/b.txt", "corpus/c.txt"}

    async def second_visit():
        async with annotate_app(project, out).run_test(size=SIZE) as pilot:
            screen = await opened(pilot)
            # The undone sentence is the first undecided one; nothing decided comes back.
            assert [i.text for i in screen.session.queue] == ["Kestrel hired Jon.", "Rain fell."]
            assert "2 to decide, 4 decided before" in text_of(screen.query_one("#annotate-status"))
            await pilot.press("enter", "enter")
            assert "Every sentence of the queue is decided" in sentence(screen)

    asyncio.run(second_visit())
    assert DecisionLog(out).counts() == {"accepted": 3, "fixed": 2, "rejected": 1}


def test_the_form_says_what_is_wrong_in_place(project):
    async def scenario():
        app = app_for(project)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("5")
            screen = pilot.app.screen
            assert isinstance(screen, AnnotateScreen)
            await pilot.pause()
            model = screen.query_one("#annotate-model")
            assert model.value == ""  # no completed run with a model to offer
            model.value = "nonexistent-run"
            screen.query_one("#annotate-corpus").value = "corpus"
            await pilot.press("enter")
            status = text_of(screen.query_one("#annotate-status"))
            assert status.startswith("✖ nonexistent-run")
            model.value = str(project / "runs" / "20261130-120000-demo-ner")
            screen.query_one("#annotate-corpus").value = "missing-folder"
            await pilot.press("enter")
            await wait_for(
                pilot,
                lambda: "missing-folder" in text_of(screen.query_one("#annotate-status")),
                10,
                "the corpus error",
            )
            assert screen.session is None and pilot.app.is_running

    asyncio.run(scenario())


def test_t_asks_then_writes_the_taught_recipe_and_launches_it(project):
    run = project / "runs" / "20261130-120000-demo-ner"
    write(run / "model" / "config.json", "{}")
    write(project / "data" / "train.conll", "Maria B-PER\nvisited O\nPorto B-LOC\n")
    write(
        run / "recipe.toml",
        f'task = "ner"\nname = "demo-ner"\n[data]\ntrain = "{project / "data" / "train.conll"}"\n',
    )
    out = project / "annotations" / "d.jsonl"
    recipe = project / "annotations" / "d-taught.toml"
    launched = []

    async def scenario():
        app = annotate_app(project, out)
        app.launch = lambda path, overrides: launched.append((path, overrides))
        async with app.run_test(size=SIZE) as pilot:
            screen = await opened(pilot)
            await pilot.press("t")
            assert "nothing to train on" in text_of(screen.query_one("#annotate-status"))
            await pilot.press("enter", "t")
            await pilot.pause()
            question = text_of(pilot.app.screen.query_one("#question"))
            assert "Train from 20261130-120000-demo-ner with your 1 sentences?" in question
            await pilot.press("escape")  # not now: nothing written, nothing started
            await pilot.pause()
            assert pilot.app.screen is screen and not recipe.exists() and launched == []
            await pilot.press("t")  # the keys still reach the screen after a dialog
            await pilot.pause()
            await pilot.press("y")
            await pilot.pause()

    asyncio.run(scenario())
    assert launched == [(recipe, [])]
    text = recipe.read_text()
    assert f'name = "{run}"' in text and str(out) in text and 'name = "demo-ner-taught"' in text


def test_a_decisions_file_with_labels_the_model_lacks_is_refused(project):
    out = project / "annotations" / "old.jsonl"
    write(
        out,
        json.dumps(
            {
                "tokens": ["Nimbus", "X2"],
                "entities": [{"type": "GADGET", "start": 0, "end": 2}],
                "task": "ner",
                "decision": "fixed",
                "source": "x.txt",
                "position": 0,
                "text": "Nimbus X2",
            }
        )
        + "\n",
    )

    async def scenario():
        async with annotate_app(project, out).run_test(size=SIZE) as pilot:
            screen = pilot.app.screen
            status = screen.query_one("#annotate-status")
            await wait_for(pilot, lambda: "GADGET" in text_of(status), 30, "the refusal")
            assert "labels this model does not know (GADGET)" in text_of(status)
            assert screen.session is None

    asyncio.run(scenario())


def test_l_picks_a_label_by_name_as_its_number_key_would(project):
    out = project / "annotations" / "d.jsonl"

    async def scenario():
        async with annotate_app(project, out).run_test(size=SIZE) as pilot:
            screen = await opened(pilot)
            assert "more: l lists all" not in text_of(screen.query_one("#annotate-labels"))
            await pilot.press("right", "right", "right", "shift+right")  # "office in"
            await pilot.press("l")
            await pilot.pause()
            await pilot.press("o", "r", "g", "enter")
            await pilot.pause()
            assert sentence(screen) == (
                "[Kestrel]ORG opened an [office in]ORG [Porto]LOC last year for its staff ."
            )
            await pilot.press("l")  # Escape leaves the sentence as it was
            await pilot.pause()
            await pilot.press("p", "escape")
            await pilot.pause()
            assert "[office in]ORG" in sentence(screen)

    asyncio.run(scenario())

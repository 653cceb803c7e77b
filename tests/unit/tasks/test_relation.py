"""The relation task: markers and span mapping, pair sampling, scoring, and a
tiny model trained, saved, reloaded and scored end to end."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from helpers.data import RELATION_LINES, relation_line
from helpers.files import write
from workbench.cli import main
from workbench.data import read_examples
from workbench.errors import WorkbenchError
from workbench.models.pretrained import load_tokenizer
from workbench.recipe import load_recipe
from workbench.settings import SCHEMA, ModelSettings, RelationSettings, TrainSettings
from workbench.tasks.relation import RelationTask, keep_words, map_type, parse_marked
from workbench.tasks.relation_scores import end_to_end, triple_report

DATA = {key: spec.default for key, spec in SCHEMA["data"].items()}


def configured(
    tmp_path, lines=RELATION_LINES, casing=False, **relation
) -> tuple[RelationTask, list[dict]]:
    path = write(tmp_path / "rel.jsonl", "\n".join(lines) + "\n")
    examples = read_examples(str(path), DATA, "spans")
    task = RelationTask()
    recipe = SimpleNamespace(
        relation=RelationSettings(**relation),
        train=TrainSettings(seed=1),
        model=ModelSettings(casing=casing),
    )
    task.configure(recipe, {"train": examples})
    return task, examples


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("minilm")


def test_typed_markers_wrap_head_and_tail_and_positions_point_at_start_markers(tmp_path, tokenizer):
    task, examples = configured(tmp_path)
    tok = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    task.prepare_tokenizer(tok)
    label2id = {"no_relation": 0, "based_in": 1, "founded": 2, "lives_in": 3, "works_for": 4}
    features = task.encode(examples[:1], tok, label2id, 64)
    # PER->ORG, PER->LOC (lives_in occurs in training), ORG->LOC: three candidates;
    # ORG->PER, LOC->* are not type pairs any training relation has.
    assert task.candidates(examples[0]) == [(0, 1), (0, 2), (1, 2)]
    first = features[0]
    words = tok.convert_ids_to_tokens(first["input_ids"])
    assert " ".join(words).replace(" ##", "") == (
        "[CLS] <h:PER> maria rossi </h:PER> works for <t:ORG> kestrel bank </t:ORG> in "
        "porto . [SEP]"
    )
    assert (first["head_pos"], first["tail_pos"]) == (1, 7)
    assert first["labels"] == label2id["works_for"]
    # The tail before the head in the sentence: positions still point at each start marker.
    third = tok.convert_ids_to_tokens(features[2]["input_ids"])
    assert third[features[2]["head_pos"]] == "<h:ORG>"
    assert third[features[2]["tail_pos"]] == "<t:LOC>"
    assert features[1]["labels"] == 0  # Maria Rossi - Porto: no relation


@pytest.mark.parametrize("encoding", ["pairs", "shared"])
def test_casing_gives_capitalised_words_token_type_one_and_markers_zero(
    tmp_path, tokenizer, encoding
):
    task, examples = configured(tmp_path, casing=True, encoding=encoding)
    tok = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    task.prepare_tokenizer(tok)
    label2id = {"no_relation": 0, "based_in": 1, "founded": 2, "lives_in": 3, "works_for": 4}
    (first, *_) = task.encode(examples[:1], tok, label2id, 64)
    words = tok.convert_ids_to_tokens(first["input_ids"])
    assert len(first["token_type_ids"]) == len(words)
    capital = {w for w in examples[0]["tokens"] if w[:1].isupper()}
    capital_pieces = {p for w in capital for p in tok.tokenize(w)}
    for piece, kind in zip(words, first["token_type_ids"]):
        if piece.startswith("<") or piece in ("[CLS]", "[SEP]"):
            assert kind == 0, piece
        else:
            assert kind == (1 if piece in capital_pieces else 0), piece
    # Saved and loaded again, the model is given the same inputs.
    again = RelationTask()
    again.from_meta(task.meta())
    assert again.encode(examples[:1], tok, label2id, 64)[0] == first
    task.casing = False
    assert "token_type_ids" not in task.encode(examples[:1], tok, label2id, 64)[0]


def test_plain_markers_and_unknown_types(tmp_path, tokenizer):
    task, examples = configured(tmp_path, markers="plain", type_pairs=False)
    tok = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    task.prepare_tokenizer(tok)
    features = task.encode(examples[:1], tok, {"no_relation": 0}, 64)
    assert len(features) == 6  # every ordered pair of three entities
    words = tok.convert_ids_to_tokens(features[0]["input_ids"])
    assert words[1] == "<h>" and "</t>" in words


def test_types_from_another_dataset_map_by_synonym():
    assert map_type("PER", ["Loc", "Org", "Other", "Peop"]) == "Peop"
    assert map_type("org", ["Loc", "Org"]) == "Org"
    assert map_type("GPE", ["Loc", "Org"]) == "Loc"
    assert map_type("MISC", ["Loc", "Other"]) == "Other"
    assert map_type("DATE", ["Loc", "Org"]) is None


def test_long_sentences_keep_the_entities_and_their_nearest_words():
    pieces = [[1]] * 10
    pieces[2] = [1, 1, 1]  # a word of three sub-tokens
    # head = word 1, tail = word 8: the entity words (2 sub-tokens), then the words at
    # distance 1 in order 0, 2, 7, 9: word 0 -> 3, word 2 (three pieces) -> 6, word 7 -> 7.
    assert keep_words(pieces, [(1, 2), (8, 9)], 6) == [0, 1, 2, 8]
    assert keep_words(pieces, [(1, 2), (8, 9)], 5) == [0, 1, 8]  # word 2 does not fit
    assert keep_words(pieces, [(1, 2), (8, 9)], 100) == list(range(10))


def test_long_sentence_feature_fits_max_length(tmp_path, tokenizer):
    words = " ".join(["filler"] * 80)
    line = relation_line(
        f"Maria Rossi {words} Kestrel Bank .",
        [("PER", 0, 2), ("ORG", 82, 84)],
        [("works_for", 0, 1)],
    )
    task, examples = configured(tmp_path, [line])
    tok = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    task.prepare_tokenizer(tok)
    (feature,) = task.encode(examples, tok, {"no_relation": 0, "works_for": 1}, 32)
    assert len(feature["input_ids"]) <= 32
    text = tok.convert_ids_to_tokens(feature["input_ids"])
    assert text[feature["head_pos"]] == "<h:PER>" and text[feature["tail_pos"]] == "<t:ORG>"
    assert "maria" in text and "bank" in text  # both entities survive the cut


def test_negative_sampling_keeps_every_related_pair_and_is_seeded(tmp_path, tokenizer):
    task, examples = configured(tmp_path, type_pairs=False, negative_ratio=1.0)
    tok = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    task.prepare_tokenizer(tok)
    label2id = {"no_relation": 0, "based_in": 1, "founded": 2, "lives_in": 3, "works_for": 4}
    every = task.encode(examples, tok, label2id, 64)
    assert len(every) == 6 + 2 + 6 + 6  # all ordered pairs
    sampled = task.encode(examples, tok, label2id, 64, train=True)
    related = [f for f in every if f["labels"] != 0]
    assert len(related) == 5
    assert len(sampled) == 10  # five related pairs + five sampled no_relation pairs
    assert all(f in sampled for f in related)
    assert sampled == task.encode(examples, tok, label2id, 64, train=True)  # same seed
    # Evaluation never samples.
    assert len(task.encode(examples, tok, label2id, 64, train=False)) == len(every)


def test_triple_scores_by_hand():
    gold = [{(0, 1, "A"), (2, 3, "B")}]
    pred = [{(0, 1, "A"), (2, 3, "A"), (4, 5, "B")}]
    report = triple_report(gold, pred, ["A", "B"])
    # A: tp 1, fp 1, fn 0; B: tp 0, fp 1, fn 1; micro: tp 1, fp 2, fn 1.
    assert report["per_label"]["A"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1}
    )
    assert report["per_label"]["B"]["f1"] == 0.0 and report["per_label"]["B"]["support"] == 1
    assert report["metrics"]["precision"] == pytest.approx(1 / 3)
    assert report["metrics"]["recall"] == pytest.approx(1 / 2)
    assert report["metrics"]["micro_f1"] == pytest.approx(0.4)
    assert report["metrics"]["macro_f1"] == pytest.approx(1 / 3)


def test_scorer_counts_gold_relations_outside_the_candidates_as_missed(tmp_path):
    # Training has no LOC->PER relation, so a test relation of that type pair is
    # never a candidate, and must still count against recall.
    task, _ = configured(tmp_path)
    test = [
        {
            "tokens": ["Porto", "hosts", "Maria"],
            "entities": [
                {"type": "LOC", "start": 0, "end": 1},
                {"type": "PER", "start": 2, "end": 3},
            ],
            "relations": [{"type": "hosts", "head": 0, "tail": 1}],
        }
    ]
    assert task.candidates(test[0]) == [(1, 0)]
    scorer = task.scorer(test, {0: "no_relation", 1: "lives_in"})
    scorer.add(torch.tensor([1]), torch.tensor([0]), torch.tensor([0]), torch.tensor([0]))
    report = scorer.result()
    assert report["metrics"]["recall"] == 0.0
    assert report["metrics"]["precision"] == 0.0  # (1, 0, lives_in) is not gold either
    assert report["relations"] == 1


def test_end_to_end_is_strict_about_spans_and_types():
    examples = [
        {
            "tokens": ["Maria", "Rossi", "works", "for", "Kestrel", "Bank"],
            "entities": [
                {"type": "PER", "start": 0, "end": 2},
                {"type": "ORG", "start": 4, "end": 6},
            ],
            "relations": [{"type": "works_for", "head": 0, "tail": 1}],
        },
        {
            "tokens": ["Jon", "founded", "Nordwind"],
            "entities": [
                {"type": "PER", "start": 0, "end": 1},
                {"type": "ORG", "start": 2, "end": 3},
            ],
            "relations": [{"type": "founded", "head": 0, "tail": 1}],
        },
    ]
    predicted_entities = [
        [
            {"type": "PER", "start": 0, "end": 2, "score": 1},
            {"type": "ORG", "start": 4, "end": 6, "score": 1},
        ],
        # The right relation between a cut-short span: wrong under strict scoring.
        [
            {"type": "PER", "start": 0, "end": 1, "score": 1},
            {"type": "ORG", "start": 2, "end": 4, "score": 1},
        ],
    ]
    ner_task = SimpleNamespace(predict_tokens=lambda *a: predicted_entities)
    rel_task = SimpleNamespace(
        none_label="no_relation",
        predict_pairs=lambda model, tok, items, *a: [
            [{"head": 0, "tail": 1, "type": "works_for", "score": 0.9}],
            [{"head": 0, "tail": 1, "type": "founded", "score": 0.9}],
        ],
    )
    model = SimpleNamespace(
        config=SimpleNamespace(id2label={0: "no_relation", 1: "founded", 2: "works_for"})
    )
    report = end_to_end((ner_task, None, None), (rel_task, model, None), examples, (32, 32))
    assert report["metrics"]["precision"] == 0.5
    assert report["metrics"]["recall"] == 0.5
    assert report["per_label"]["works_for"]["f1"] == 1.0
    assert report["per_label"]["founded"]["f1"] == 0.0
    assert report["entity_metrics"]["micro_f1"] == pytest.approx(0.75)


def test_marked_text_becomes_words_and_entities():
    item = parse_marked("[[Maria Rossi|PER]] works for [[Kestrel Bank|ORG]].")
    assert item["text"] == "Maria Rossi works for Kestrel Bank."
    assert item["tokens"] == ["Maria", "Rossi", "works", "for", "Kestrel", "Bank", "."]
    assert item["entities"] == [
        {"type": "PER", "start": 0, "end": 2},
        {"type": "ORG", "start": 4, "end": 6},
    ]
    assert item["char_entities"][1] == {
        "text": "Kestrel Bank",
        "label": "ORG",
        "start": 22,
        "end": 34,
    }


def test_json_array_files_keep_line_numbers_in_errors(tmp_path):
    bad = tmp_path / "data.json"
    bad.write_text(
        '[\n  {"tokens": ["a", "b"], "entities": [], "relations": []},\n'
        '  {"tokens": ["a"], "entities": [{"type": "X", "start": 0, "end": 3}]}\n]\n'
    )
    with pytest.raises(WorkbenchError, match=r"data\.json:3: entity 0 span 0:3 is outside"):
        read_examples(str(bad), DATA, "spans")
    bad.write_text(
        '[{"tokens": ["a", "b"], "entities": [{"type": "X", "start": 0, "end": 1}],'
        ' "relations": [{"type": "r", "head": 0, "tail": 4}]}]'
    )
    with pytest.raises(WorkbenchError, match=r"data\.json:1: relation 0 points at entity 4"):
        read_examples(str(bad), DATA, "spans")


def test_span_records_train_ner_as_bio(tmp_path):
    path = write(tmp_path / "rel.jsonl", "\n".join(RELATION_LINES) + "\n")
    examples = read_examples(str(path), DATA, "tokens")
    assert examples[0]["tags"] == ["B-PER", "I-PER", "O", "O", "B-ORG", "I-ORG", "O", "B-LOC", "O"]


@pytest.mark.parametrize("encoding", ["pairs", "shared"])
def test_train_save_reload_predict_and_score(relation_recipe, tmp_path, capsys, encoding):
    assert (
        main(["run", str(relation_recipe), "--plain", "--set", f"relation.encoding={encoding}"])
        == 0
    )
    run = next((tmp_path / "runs").iterdir())
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    test = [e for e in events if e["type"] == "eval" and e["split"] == "test"][-1]
    assert set(test["report"]["per_label"]) == {"based_in", "founded", "lives_in", "works_for"}
    assert test["report"]["relations"] == 5
    meta = json.loads((run / "model" / "workbench.json").read_text())
    marker = "<e:PER>" if encoding == "shared" else "<h:PER>"
    assert meta["task"] == "relation" and marker in (run / "model" / "tokenizer.json").read_text()
    assert meta["relation"]["encoding"] == encoding
    capsys.readouterr()
    assert main(["predict", str(run), "[[Maria Rossi|PER]] works for [[Kestrel Bank|ORG]]"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [e["text"] for e in result["entities"]] == ["Maria Rossi", "Kestrel Bank"]
    assert all(r["type"] in meta["labels"] for r in result["relations"])
    # Reloaded model scores the same data the same way as the run's own test evaluation.
    from workbench.evaluate import evaluate_saved

    _task, report = evaluate_saved(run, str(tmp_path / "data" / "rel.jsonl"))
    assert report["metrics"] == pytest.approx(
        {k: v for k, v in test["metrics"].items() if k != "loss"}
    )


def test_recipe_rejects_unknown_relation_keys(tmp_path):
    recipe = write(
        tmp_path / "r.toml",
        'task = "relation"\n[data]\ntrain = "x.jsonl"\n[relation]\nnegative_ratoi = 2\n',
    )
    with pytest.raises(WorkbenchError, match="negative_ratio"):
        load_recipe(recipe, check_files=False)


def test_types_without_a_trained_marker_make_no_candidates(tmp_path):
    task, _ = configured(tmp_path, type_pairs=False)
    example = {
        "tokens": ["Maria", "met", "Kestrel", "on", "Monday"],
        "entities": [
            {"type": "PER", "start": 0, "end": 1},
            {"type": "ORG", "start": 2, "end": 3},
            {"type": "DATE", "start": 4, "end": 5},
        ],
        "relations": [],
    }
    assert task.candidates(example) == [(0, 1), (1, 0)]  # DATE: no marker was ever trained


def test_jsonl_text_may_hold_unicode_line_separators(tmp_path):
    record = {
        "tokens": ["Maria\u2028Rossi", "works", "for", "Kestrel"],
        "entities": [{"type": "PER", "start": 0, "end": 1}, {"type": "ORG", "start": 3, "end": 4}],
        "relations": [{"type": "works_for", "head": 0, "tail": 1}],
    }
    line = json.dumps(record, ensure_ascii=False)  # leaves U+2028 unescaped
    assert "\u2028" in line
    path = write(tmp_path / "u.jsonl", line + "\n" + RELATION_LINES[1] + "\n")
    examples = read_examples(str(path), DATA, "spans")
    assert [e["line"] for e in examples] == [1, 2]


def shared_task(tmp_path, tokenizer, lines=RELATION_LINES, **relation):
    task, examples = configured(tmp_path, lines, encoding="shared", **relation)
    tok = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    task.prepare_tokenizer(tok)
    label2id = {"no_relation": 0, "based_in": 1, "founded": 2, "lives_in": 3, "works_for": 4}
    return task, examples, tok, label2id


def test_shared_encoding_marks_every_entity_once_and_lists_the_sentences_pairs(tmp_path, tokenizer):
    task, examples, tok, label2id = shared_task(tmp_path, tokenizer)
    features = task.encode(examples, tok, label2id, 64)
    assert len(features) == len(examples)  # one row per sentence, not per pair
    first = features[0]
    words = tok.convert_ids_to_tokens(first["input_ids"])
    assert " ".join(words).replace(" ##", "") == (
        "[CLS] <e:PER> maria rossi </e:PER> works for <e:ORG> kestrel bank </e:ORG> in "
        "<e:LOC> porto </e:LOC> . [SEP]"
    )
    # The candidates (0, 1), (0, 2), (1, 2) in order: start markers, the words between
    # the pair, and the gold label of each.
    assert [words[i] for i in first["head_pos"]] == ["<e:PER>", "<e:PER>", "<e:ORG>"]
    assert [words[i] for i in first["tail_pos"]] == ["<e:ORG>", "<e:LOC>", "<e:LOC>"]
    between = [words[s:e] for s, e in zip(first["between_start"], first["between_end"])]
    assert between[0] == ["works", "for"]
    assert between[2] == ["in"]
    assert first["labels"] == [label2id["works_for"], 0, label2id["based_in"]]
    # Head after tail in the sentence: the words between are still the ones between.
    third = features[2]
    words = tok.convert_ids_to_tokens(third["input_ids"])
    pair = task.candidates(examples[2]).index((2, 1))  # Aiko Sato lives in Lisbon
    assert words[third["head_pos"][pair]] == "<e:PER>"
    assert words[third["between_start"][pair] : third["between_end"][pair]] == [",", "where"]
    assert third["labels"][pair] == label2id["lives_in"]


def test_shared_long_sentence_is_read_in_stretches(tmp_path, tokenizer):
    """Pairs whose entities fit one stretch of the sentence share its row; a pair
    too far apart for any stretch gets a row cut around it."""
    words = " ".join(["filler"] * 80)
    line = relation_line(
        f"Maria Rossi {words} Kestrel Bank in Porto .",
        [("PER", 0, 2), ("ORG", 82, 84), ("LOC", 85, 86)],
        [("works_for", 0, 1), ("based_in", 1, 2)],
    )
    task, examples, tok, label2id = shared_task(tmp_path, tokenizer, [line], type_pairs=False)
    features = task.encode(examples, tok, label2id, 32)
    candidates = task.candidates(examples[0])
    assert sorted(w for f in features for w in f["window"]) == list(range(len(candidates)))
    kinds = [e["type"] for e in examples[0]["entities"]]
    for feature in features:
        assert len(feature["input_ids"]) <= 32
        text = tok.convert_ids_to_tokens(feature["input_ids"])
        for window, h, t in zip(feature["window"], feature["head_pos"], feature["tail_pos"]):
            head, tail = candidates[window]
            assert [text[h], text[t]] == [f"<e:{kinds[head]}>", f"<e:{kinds[tail]}>"]
    # Kestrel Bank and Porto are near: their two pairs share one stretch's row.
    shared = [f for f in features if len(f["window"]) == 2]
    assert len(shared) == 1 and "maria" not in tok.convert_ids_to_tokens(shared[0]["input_ids"])
    assert {candidates[w] for w in shared[0]["window"]} == {(1, 2), (2, 1)}
    assert len(features) == 1 + 4  # and the four pairs with Maria Rossi, cut one by one
    labels = {candidates[w]: label for f in features for w, label in zip(f["window"], f["labels"])}
    assert labels[(0, 1)] == label2id["works_for"] and labels[(1, 2)] == label2id["based_in"]


def test_shared_rows_never_pass_max_length(tmp_path, tokenizer):
    """A word that cannot fit a row with its markers is in no stretch: its pairs
    are cut rows, which always fit."""
    line = relation_line(
        "Supercalifragilisticexpialidocious Bank hired Maria .",
        [("ORG", 0, 1), ("PER", 0, 1), ("PER", 3, 4)],
        [("works_for", 2, 0)],
    )
    task, examples, tok, label2id = shared_task(tmp_path, tokenizer, [line], type_pairs=False)
    for max_length in (8, 10, 12, 16, 64):
        features = task.encode(examples, tok, label2id, max_length)
        assert max(len(f["input_ids"]) for f in features) <= max_length, max_length
        assert sorted(w for f in features for w in f["window"]) == list(range(6))


def test_shared_negative_sampling_trains_on_the_pairs_per_pair_encoding_keeps(tmp_path, tokenizer):
    task, examples, tok, label2id = shared_task(
        tmp_path, tokenizer, type_pairs=False, negative_ratio=1.0
    )
    sampled = task.encode(examples, tok, label2id, 64, train=True)
    task_pairs, _ = configured(tmp_path, type_pairs=False, negative_ratio=1.0)
    tok_pairs = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    task_pairs.prepare_tokenizer(tok_pairs)
    per_pair = task_pairs.encode(examples, tok_pairs, label2id, 64, train=True)
    trained = [
        (f["example"], window, label)
        for f in sampled
        for window, label in zip(f["window"], f["labels"])
    ]
    assert sorted(trained) == sorted((f["example"], f["window"], f["labels"]) for f in per_pair)
    assert len(trained) == 10 and len(sampled) < len(trained)  # still a row per sentence


def test_shared_rows_mark_only_types_the_model_knows_and_split_many_pairs(
    tmp_path, tokenizer, monkeypatch
):
    import workbench.tasks.relation as relation

    task, _, tok, label2id = shared_task(tmp_path, tokenizer, type_pairs=False)
    example = {
        "tokens": ["Maria", "met", "Jon", "and", "Aiko", "on", "Monday"],
        "entities": [
            {"type": "PER", "start": 0, "end": 1},
            {"type": "PER", "start": 2, "end": 3},
            {"type": "PER", "start": 4, "end": 5},
            {"type": "DATE", "start": 6, "end": 7},
        ],
        "relations": [{"type": "works_for", "head": 0, "tail": 1}],
    }
    monkeypatch.setattr(relation, "PAIRS_PER_ROW", 4)
    rows = task.encode([example], tok, label2id, 64)
    words = tok.convert_ids_to_tokens(rows[0]["input_ids"])
    assert " ".join(words) == (
        "[CLS] <e:PER> maria </e:PER> met <e:PER> jon </e:PER> and "
        "<e:PER> ai ##ko </e:PER> on monday [SEP]"
    )  # DATE: unmarked
    # Six candidates among three people: rows of four and two over the same text.
    assert [r["window"] for r in rows] == [[0, 1, 2, 3], [4, 5]]
    assert rows[0]["input_ids"] == rows[1]["input_ids"]
    heads = [h for r in rows for h in r["head_pos"]]
    tails = [t for r in rows for t in r["tail_pos"]]
    starts = [i for i, w in enumerate(words) if w == "<e:PER>"]
    assert list(zip(heads, tails)) == [(starts[h], starts[t]) for h, t in task.candidates(example)]
    assert rows[0]["labels"][0] == label2id["works_for"]


def test_shared_model_scores_each_pair_as_if_alone(tmp_path, tokenizer, tiny_model):
    """Padding a sentence's pairs and tokens into a batch changes no pair's
    probabilities, and the context vector is the mean of the words between."""
    from workbench.tasks.base import batched_probabilities, make_collate
    from workbench.tasks.relation_model import SharedRelationModel

    task, examples, tok, label2id = shared_task(tmp_path, tokenizer, type_pairs=False)
    features = task.encode(examples, tok, label2id, 64)
    torch.manual_seed(0)
    model = SharedRelationModel.from_pretrained(str(tiny_model), num_labels=len(label2id))
    model.resize_token_embeddings(len(tok))
    model.eval()
    together = {}
    for indices, _batch, probs in batched_probabilities(model, tok, features, 8):
        for i, row in zip(indices, probs):
            together[i] = row[: len(features[i]["labels"])]
    for i, feature in enumerate(features):
        [(_, _, alone)] = list(batched_probabilities(model, tok, [feature], 1))
        assert torch.allclose(alone[0], together[i], atol=1e-5)
    batch = make_collate(tok.pad_token_id)([features[0]])
    inputs = {k: v for k, v in batch.items() if k not in ("labels", "example", "window")}
    hidden = model.encode(batch["input_ids"], batch["attention_mask"])
    start, end = features[0]["between_start"][0], features[0]["between_end"][0]
    expected = torch.cat(
        [
            hidden[0, features[0]["head_pos"][0]],
            hidden[0, features[0]["tail_pos"][0]],
            hidden[0, start:end].mean(dim=0),
        ]
    )
    with torch.no_grad():
        logits = model(**inputs).logits[0, 0]
    assert torch.allclose(logits, model.classifier(expected), atol=1e-5)


def test_shared_predictions_come_back_for_the_pairs_asked(relation_recipe, tmp_path):
    """``predict_pairs`` (kg build's path) gives each sentence the same relations in
    a batch of many sentences as alone, long sentences included."""
    from workbench.models.saved import load_saved

    assert (
        main(
            [
                "run",
                str(relation_recipe),
                "--plain",
                "--set",
                "relation.encoding=shared",
                "--set",
                "train.learning_rate=0.01",
                "--set",
                "train.epochs=4",
            ]
        )
        == 0
    )
    run = next((tmp_path / "runs").iterdir())
    saved = load_saved(run)
    task, model, tok = saved.task, saved.model, saved.tokenizer
    assert type(model).__name__ == "SharedRelationModel" and task.shared
    filler = " ".join(["and"] * 40)
    texts = [
        "[[Maria Rossi|PER]] works for [[Kestrel Bank|ORG]] in [[Porto|LOC]] .",
        f"[[Jon Berg|PER]] {filler} founded [[Nordwind Labs|ORG]] in [[Oslo|LOC]] .",
        "[[Aiko Sato|PER]] lives in [[Lisbon|LOC]] .",
    ]
    items = [parse_marked(text) for text in texts]
    together = task.predict_pairs(model, tok, items, 32, batch_size=8)
    alone = [task.predict_pairs(model, tok, [item], 32)[0] for item in items]
    assert [[{k: r[k] for k in ("head", "tail", "type")} for r in rels] for rels in together] == [
        [{k: r[k] for k in ("head", "tail", "type")} for r in rels] for rels in alone
    ]
    assert any(together), "the trained tiny model finds some relation"
    for rels, item in zip(together, items):
        assert all((r["head"], r["tail"]) in task.candidates(item) for r in rels)


def test_models_saved_before_the_encoding_choice_load_as_per_pair():
    task = RelationTask()
    task.from_meta(
        {
            "relation": {
                "none_label": "no_relation",
                "typed": True,
                "entity_types": ["ORG", "PER"],
                "type_pairs": None,
            }
        }
    )
    assert task.encoding == "pairs" and task.model_class().__name__ == ("EntityMarkerRelationModel")
    assert "<h:PER>" in task.markers()

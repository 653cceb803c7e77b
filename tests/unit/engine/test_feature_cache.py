"""Tokenised features kept across runs: a second run of the same data reads them
back and trains the same; anything that changes the features misses; the cache
can be turned off, and a damaged entry is only a miss."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import workbench.engine.feature_cache as feature_cache
from helpers.runs import train_run
from workbench.runs.folder import read_events
from workbench.tasks import get_task


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A cache of this test's own that keeps every split, however fast to encode."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("WORKBENCH_CACHE", str(folder))
    monkeypatch.setattr(feature_cache, "MIN_SECONDS", 0.0)
    return folder / "features"


def start_of(run_dir: Path):
    return next(e for e in read_events(run_dir) if e.type == "start")


def evals_of(run_dir: Path) -> list[tuple]:
    return [(e.step, e.value, e.metrics["loss"]) for e in read_events(run_dir) if e.type == "eval"]


def test_a_second_run_reads_its_features_back_and_trains_the_same(ner_recipe, cache):
    first = train_run(ner_recipe)
    # The test split is the validation file: read from the entry validation just left.
    assert start_of(first).cached_features == ["test"]
    entries = sorted(cache.glob("*.safetensors"))
    assert len(entries) == 2

    second = train_run(ner_recipe)
    assert start_of(second).cached_features == ["train", "validation", "test"]
    assert evals_of(second) == evals_of(first)
    assert sorted(cache.glob("*.safetensors")) == entries  # nothing new written


def test_what_changes_the_features_misses(ner_recipe, cache):
    train_run(ner_recipe)
    # Another max_length (test reads only what validation wrote in the same run),
    # then one word of the training file changed.
    assert start_of(train_run(ner_recipe, "model.max_length=24")).cached_features == ["test"]
    data = ner_recipe.parent / "data" / "train.conll"
    data.write_text(data.read_text().replace("Porto", "Braga"), encoding="utf-8")
    assert start_of(train_run(ner_recipe)).cached_features == ["validation", "test"]


def test_the_key_covers_the_tokenizer_the_task_settings_and_the_labels(tiny_model):
    from workbench.models.pretrained import load_tokenizer

    task = get_task("relation")
    tokenizer = load_tokenizer(str(tiny_model))
    examples = [{"tokens": ["Jon", "visited", "Porto"], "entities": [], "relations": []}]

    def key(labels=None, train=True, rows=examples):
        cache = feature_cache.FeatureCache(task, tokenizer)
        return cache.key(rows, labels or {"no_relation": 0}, 32, train)

    base = key()
    assert key() == base and len(base) == 64
    assert key(labels={"no_relation": 0, "lives_in": 1}) != base
    assert key(train=False) != base
    assert key(rows=[{**examples[0], "tokens": ["Jon", "visited", "Braga"]}]) != base
    assert key(rows=[{**examples[0], "line": 7}]) == base  # where it was read is not content
    task.negative_ratio = 2.0
    assert key() != base
    task.negative_ratio = None
    assert key() == base
    tokenizer.model_input_names = ["input_ids", "attention_mask"]
    assert key() != base  # the features would lose token_type_ids
    tokenizer.add_tokens(["<e:PER>"])
    assert key() != base


def test_a_tokenizer_that_cannot_be_written_down_is_simply_not_cached(tiny_model, cache):
    from tokenizers import pre_tokenizers

    from workbench.models.pretrained import load_tokenizer

    class Whole:
        def pre_tokenize(self, pretok):
            pretok.split(lambda i, piece: [piece])

    task = get_task("classification")
    tokenizer = load_tokenizer(str(tiny_model))
    tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.PreTokenizer.custom(Whole())
    examples = [{"text": "fine", "label": "positive"}]
    fc = feature_cache.FeatureCache(task, tokenizer)
    assert fc.key(examples, {"positive": 0}, 16, True) is None
    features, cached = fc.features(examples, {"positive": 0}, 16, True, lambda: [{"x": 1}])
    assert (features, cached) == ([{"x": 1}], False)
    assert not cache.exists()


def test_the_key_does_not_depend_on_the_process(tiny_model, tmp_path):
    # A task keeps sets (the relation type pairs); string hashing differs between
    # processes, so the key must not follow a set's iteration order.
    script = tmp_path / "key.py"
    script.write_text(
        "from workbench.engine.feature_cache import FeatureCache\n"
        "from workbench.models.pretrained import load_tokenizer\n"
        "from workbench.tasks import get_task\n"
        "task = get_task('relation')\n"
        "task.type_pairs = {(a, b) for a in ('PER', 'ORG', 'LOC', 'GPE') for b in ('LOC', 'ORG')}\n"
        f"tok = load_tokenizer({str(tiny_model)!r})\n"
        "print(FeatureCache(task, tok).key([{'tokens': ['a']}], {'x': 0}, 32, True))\n",
        encoding="utf-8",
    )
    keys = {
        subprocess.run(
            [sys.executable, str(script)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert len(keys) == 1 and len(keys.pop()) == 64


def test_the_cache_can_be_turned_off(ner_recipe, cache, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE", "off")
    assert start_of(train_run(ner_recipe)).cached_features == []
    assert not cache.exists()


def test_a_damaged_entry_is_a_miss_and_is_written_again(ner_recipe, cache):
    first = train_run(ner_recipe)
    for entry in cache.glob("*.safetensors"):
        entry.write_bytes(entry.read_bytes()[:20])
    second = train_run(ner_recipe)
    assert start_of(second).cached_features == ["test"]  # validation's fresh entry
    assert evals_of(second) == evals_of(first)
    assert start_of(train_run(ner_recipe)).cached_features == ["train", "validation", "test"]


def test_an_entry_that_cannot_be_written_is_only_a_miss(ner_recipe, tmp_path, monkeypatch):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be", encoding="utf-8")
    monkeypatch.setenv("WORKBENCH_CACHE", str(blocked))
    monkeypatch.setattr(feature_cache, "MIN_SECONDS", 0.0)
    run_dir = train_run(ner_recipe)
    assert start_of(run_dir).cached_features == []
    assert not list(tmp_path.rglob("*.tmp"))


def test_fast_encodings_leave_no_file(ner_recipe, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    assert feature_cache.MIN_SECONDS >= 1  # the tiny data encodes in milliseconds
    train_run(ner_recipe)
    assert not (tmp_path / "cache").exists()


def test_the_console_says_when_features_came_from_the_cache(ner_recipe, cache):
    train_run(ner_recipe)
    result = subprocess.run(
        [sys.executable, "-m", "workbench", "run", str(ner_recipe), "--quiet-reports"],
        cwd=ner_recipe.parent,
        env={**os.environ, "WORKBENCH_CACHE": str(cache.parent)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "tokenised features of train, validation, test read from the cache" in result.stdout
    latest = max((ner_recipe.parent / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
    assert start_of(latest).cached_features == ["train", "validation", "test"]


def test_the_cache_command_shows_and_clears_the_entries(ner_recipe, cache, capsys, monkeypatch):
    from workbench.cli import main

    train_run(ner_recipe)
    assert main(["cache"]) == 0
    assert capsys.readouterr().out.startswith(f"{cache}: 2 entries, ")
    assert main(["cache", "--clear"]) == 0
    assert f"{cache}: deleted 2 entries" in capsys.readouterr().out
    assert not list(cache.iterdir())
    assert start_of(train_run(ner_recipe)).cached_features == ["test"]  # written afresh
    monkeypatch.setenv("WORKBENCH_CACHE", "off")
    assert main(["cache"]) == 0
    assert "the feature cache is off" in capsys.readouterr().out


class _Payload:
    """Unpickling this runs code: it writes a file (what a hostile entry would do)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "ran"))


def test_an_entry_crafted_to_run_code_never_runs(ner_recipe, cache, tmp_path):
    import pickle

    first = train_run(ner_recipe)
    marker = tmp_path / "ran.txt"
    entries = sorted(cache.glob("*.safetensors"))
    for entry in entries:
        # Someone sharing the folder swaps each entry for a pickle, under the
        # entry's own name and under the earlier format's.
        payload = pickle.dumps(_Payload(marker))
        entry.write_bytes(payload)
        entry.with_suffix(".pkl").write_bytes(payload)
    second = train_run(ner_recipe)
    assert not marker.exists()
    assert start_of(second).cached_features == ["test"]  # read as misses, encoded again
    assert evals_of(second) == evals_of(first)
    assert not list(cache.glob("*.pkl"))  # the old format's files are gone


def test_the_folder_stays_under_its_bound_oldest_first(ner_recipe, cache, monkeypatch):
    train_run(ner_recipe)
    entries = sorted(cache.glob("*.safetensors"), key=lambda p: p.stat().st_mtime)
    sizes = [p.stat().st_size for p in entries]
    # Room for what is there now: the next writes make the entries used longest
    # ago go first, and the folder never holds more than the bound.
    old = entries[0]
    os.utime(old, (1, 1))
    monkeypatch.setenv("WORKBENCH_CACHE_LIMIT", str(sum(sizes)))
    train_run(ner_recipe, "model.max_length=24")  # new entries to write
    left = list(cache.glob("*.safetensors"))
    assert sum(p.stat().st_size for p in left) <= sum(sizes)
    assert old not in left and left


def test_a_bad_limit_is_one_clear_line(ner_recipe, cache, monkeypatch):
    from workbench.errors import WorkbenchError

    monkeypatch.setenv("WORKBENCH_CACHE_LIMIT", "lots")
    with pytest.raises(WorkbenchError, match="WORKBENCH_CACHE_LIMIT='lots' is not a size"):
        feature_cache.limit()
    monkeypatch.setenv("WORKBENCH_CACHE_LIMIT", "1.5G")
    assert feature_cache.limit() == int(1.5 * 2**30)


def test_columns_hold_exactly_what_was_encoded():
    rows = [
        {"input_ids": [101, 7, 102], "labels": 2, "window": 0},
        {"input_ids": [], "labels": 0, "head_pos": [3, 4]},  # a field only some rows have
    ]
    arrays, layout = feature_cache._columns(rows)
    assert feature_cache._rows(arrays, layout, len(rows)) == rows
    # What is not integers is not cached rather than written some other way.
    assert feature_cache._columns([{"input_ids": [1], "score": 0.5}]) is None
    assert feature_cache._columns([{"input_ids": [1], "text": "a"}]) is None

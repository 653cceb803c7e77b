"""Chinese end to end with the tiny model (the bundled MiniLM tokenizer, which
reads most Chinese characters as [UNK]): the coverage warning where data meets
the tokenizer, the vocabulary extension, and character offsets from raw text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.files import write
from helpers.runs import train_run
from workbench.cli import main
from workbench.models.saved import load_saved
from workbench.runs.events import Start
from workbench.runs.folder import read_events

ROOT = Path(__file__).resolve().parents[2]
ZH = ROOT / "data" / "demo" / "zh"
SENTENCE = "王伟是星河科技的首席执行官，2024年在深圳发布了极光手机。"

# Real trainings (or processes that train): deselect with -m "not slow".
pytestmark = pytest.mark.slow


@pytest.fixture
def zh_recipe(tmp_path, tiny_model) -> Path:
    """The bundled Chinese NER demo data on the tiny model, a few steps."""
    return write(
        tmp_path / "zh.toml",
        f"""
task = "ner"
name = "tiny-zh"

[model]
name = "{tiny_model}"
max_length = 64
extend_vocabulary = "characters"

[data]
train = "{ZH / "ner" / "train.char.bmes"}"
validation = "{ZH / "ner" / "dev.char.bmes"}"
max_train_samples = 120
max_eval_samples = 30

[train]
max_steps = 6
batch_size = 8
learning_rate = 1e-3
embedding_learning_rate = 1e-2
log_every = 1

[output]
dir = "{tmp_path / "runs"}"
""",
    )


def start_of(run: Path) -> Start:
    return next(e for e in read_events(run) if isinstance(e, Start))


def test_validate_warns_when_the_tokenizer_cannot_read_the_data(zh_recipe, capsys):
    assert main(["validate", str(zh_recipe), "--set", "model.extend_vocabulary=off"]) == 0
    err = capsys.readouterr().err
    assert "warning: train: 5" in err and "of the characters" in err
    assert 'model.extend_vocabulary = "characters"' in err
    assert main(["validate", str(zh_recipe)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_the_start_event_says_what_the_model_cannot_read(zh_recipe):
    blind = start_of(train_run(zh_recipe, "model.extend_vocabulary=off"))
    assert blind.vocabulary_added == 0
    assert blind.coverage["train"]["share"] > 0.4
    assert blind.coverage_warnings and blind.coverage_warnings[0].startswith("train: ")
    taught = start_of(train_run(zh_recipe))
    assert taught.vocabulary_added > 100
    assert taught.coverage["train"]["unknown"] == 0
    assert taught.coverage_warnings == []


def test_an_extended_vocabulary_survives_save_predict_export_predict(zh_recipe, tmp_path, capsys):
    run = train_run(zh_recipe)
    saved = load_saved(run)
    assert saved.task.level == "characters"  # raw text is cut one character a word
    assert len(saved.tokenizer) == saved.model.get_input_embeddings().num_embeddings
    assert saved.tokenizer.unk_token_id not in saved.tokenizer(SENTENCE)["input_ids"]

    assert main(["predict", str(run), SENTENCE]) == 0
    before = json.loads(capsys.readouterr().out)
    for entity in before["entities"]:  # every span is the characters it names
        assert SENTENCE[entity["start"] : entity["end"]] == entity["text"]

    out = tmp_path / "onnx"
    assert main(["export", str(run), "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["predict", str(out), SENTENCE]) == 0
    after = json.loads(capsys.readouterr().out)
    assert [(e["start"], e["end"], e["label"]) for e in after["entities"]] == [
        (e["start"], e["end"], e["label"]) for e in before["entities"]
    ]


def test_chinese_classification_warns_and_extends_the_same_way(tmp_path, tiny_model, capsys):
    recipe = write(
        tmp_path / "cls.toml",
        f"""
task = "classification"
name = "tiny-zh-cls"

[model]
name = "{tiny_model}"
max_length = 48

[data]
train = "{ZH / "sentiment" / "train.csv"}"
validation = "{ZH / "sentiment" / "dev.csv"}"

[train]
max_steps = 3
batch_size = 8

[output]
dir = "{tmp_path / "runs"}"
""",
    )
    assert main(["validate", str(recipe)]) == 0
    assert "warning: train: " in capsys.readouterr().err
    run = train_run(recipe, "model.extend_vocabulary=characters")
    assert start_of(run).coverage_warnings == []
    saved = load_saved(run)
    [result] = saved.task.predict(saved.model, saved.tokenizer, ["质量太差，非常失望。"], 48)
    assert result["label"] in ("正面", "负面", "中性")


def test_predict_on_a_file_warns_about_unreadable_text(tmp_path, tiny_model, monkeypatch, capsys):
    import io

    run = train_run(
        write(
            tmp_path / "en.toml",
            f"""
task = "ner"
[model]
name = "{tiny_model}"
[data]
train = "{ROOT / "data" / "demo" / "ner" / "dev.conll"}"
max_train_samples = 20
[train]
max_steps = 2
[output]
dir = "{tmp_path / "runs"}"
""",
        )
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(SENTENCE + "\n" + SENTENCE + "\n"))
    assert main(["predict", str(run)]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2
    assert "warning: input: " in captured.err and "unknown to the model's tokenizer" in captured.err


def test_lora_keeps_the_new_rows_trainable_and_saves_them(zh_recipe):
    run = train_run(zh_recipe, "peft.method=lora")
    start = start_of(run)
    assert start.tuning == "lora" and start.vocabulary_added > 100
    base = start_of(train_run(zh_recipe, "peft.method=lora", "model.extend_vocabulary=off"))
    # The added rows train beside the adapter: more trainable parameters, by whole rows.
    hidden = load_saved(run).model.config.hidden_size
    extra = start.trainable_params - base.trainable_params
    assert extra == start.vocabulary_added * hidden
    saved = load_saved(run)  # the merged model: its embeddings hold the trained rows
    assert len(saved.tokenizer) == saved.model.get_input_embeddings().num_embeddings


def test_eval_on_data_the_model_cannot_read_says_so(zh_recipe, capsys):
    dev = str(ZH / "ner" / "dev.char.bmes")
    blind = train_run(zh_recipe, "model.extend_vocabulary=off")
    capsys.readouterr()
    assert main(["eval", str(blind), "--data", dev, "--json"]) == 0
    captured = capsys.readouterr()
    assert f"warning: {dev}: " in captured.err and "of the characters" in captured.err
    assert json.loads(captured.out)["coverage"]["share"] > 0.4
    taught = train_run(zh_recipe)
    capsys.readouterr()
    assert main(["eval", str(taught), "--data", dev]) == 0
    assert "warning" not in capsys.readouterr().err


def test_an_extended_run_resumes_with_the_same_tokens_only(zh_recipe, capsys, monkeypatch):
    import threading

    from workbench.experiment import prepare
    from workbench.models import vocabulary
    from workbench.recipe import load_recipe
    from workbench.runner import run_experiment
    from workbench.runs.events import Step

    stop = threading.Event()
    stopper = lambda event: stop.set() if isinstance(event, Step) else None  # noqa: E731
    run, end = run_experiment(prepare(load_recipe(zh_recipe)), [stopper], stop=stop)
    assert end.status == "stopped"
    # A tokenizer (or library) that now reads other characters as unknown: refused.
    found = vocabulary.uncovered
    monkeypatch.setattr(vocabulary, "uncovered", lambda *a, **k: found(*a, **k)[:-1])
    assert main(["run", "--resume", str(run)]) == 2
    assert "the tokens model.extend_vocabulary adds are not" in capsys.readouterr().err
    monkeypatch.setattr(vocabulary, "uncovered", found)
    assert main(["run", "--resume", str(run), "--plain"]) == 0
    assert read_events(run)[-1].status == "completed"

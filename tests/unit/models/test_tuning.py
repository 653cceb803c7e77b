"""[peft]: LoRA, BitFit and frozen layers train only what they should, save
models that load (merged and adapter alike), resume, and explain bad settings."""

from __future__ import annotations

import json
import threading

import pytest
import torch
from safetensors.torch import load_file

from helpers.runs import train_run
from workbench.cli import main
from workbench.experiment import prepare
from workbench.models.saved import load_saved
from workbench.recipe import load_recipe
from workbench.runner import run_experiment
from workbench.runs.events import Resumed, Start, Step
from workbench.runs.folder import read_events

HEAD = 32 * 7 + 7  # the token classifier: hidden 32 x 7 labels (O, B-/I- PER LOC ORG)
TEXTS = ["Jon visited Lisbon .", "Kestrel Analytics hired Maria Lindqvist in Porto ."]


def base_weights(tiny_model) -> dict[str, torch.Tensor]:
    """The pretrained encoder's weights, named as inside a BertForTokenClassification."""
    return {f"bert.{k}": v for k, v in load_file(str(tiny_model / "model.safetensors")).items()}


def trained(recipe, *settings: str):
    run = train_run(recipe, "train.max_steps=6", *settings)
    [start] = [e for e in read_events(run) if isinstance(e, Start)]
    saved = load_file(str(run / "model" / "model.safetensors"))
    return run, start, saved


def changed(before: dict, after: dict) -> set[str]:
    return {k for k, v in before.items() if k in after and not torch.equal(v, after[k])}


def encoder_names(before: dict) -> set[str]:
    return {k for k in before if not k.startswith("bert.pooler.")}  # no pooler in NER


def test_lora_changes_only_the_adapted_layers_and_the_head(ner_recipe, tiny_model):
    before = base_weights(tiny_model)
    run, start, saved = trained(ner_recipe, "peft.method=lora", "peft.r=4")
    # Merged: the LoRA product is folded into query and value; nothing else moved.
    adapted = {k for k in encoder_names(before) if k.endswith(("query.weight", "value.weight"))}
    assert changed(before, saved) == adapted and len(adapted) == 4
    assert not any("lora" in k for k in saved)  # a plain transformers folder
    # Trainable: r x (in + out) per adapted matrix, plus the head.
    assert start.tuning == "lora"
    assert start.trainable_params == 4 * 4 * (32 + 32) + HEAD
    assert start.total_params > start.trainable_params
    adapter = run / "model" / "adapter"
    assert (adapter / "adapter_config.json").is_file()


def test_bitfit_changes_only_biases(ner_recipe, tiny_model):
    before = base_weights(tiny_model)
    _run, start, saved = trained(ner_recipe, "peft.method=bitfit")
    moved = changed(before, saved)
    assert moved and all(k.endswith(".bias") for k in moved)
    biases = sum(
        v.numel() for k, v in before.items() if k.endswith(".bias") and k in encoder_names(before)
    )
    assert start.trainable_params == biases + HEAD


def test_freeze_keeps_the_embeddings_and_lowest_layers(ner_recipe, tiny_model):
    before = base_weights(tiny_model)
    _run, start, saved = trained(ner_recipe, "peft.method=freeze", "peft.layers=1")
    moved = changed(before, saved)
    assert moved and all(k.startswith("bert.encoder.layer.1.") for k in moved)
    upper = sum(v.numel() for k, v in before.items() if k.startswith("bert.encoder.layer.1."))
    assert start.trainable_params == upper + HEAD


def test_a_lora_run_reloads_merged_and_as_adapter_with_the_same_predictions(ner_recipe):
    run, _, _ = trained(ner_recipe, "peft.method=lora", "train.learning_rate=0.01")
    outputs = []
    for folder in (run, run / "model" / "adapter"):
        saved = load_saved(folder)
        task, model, tokenizer, meta = saved.task, saved.model, saved.tokenizer, saved.meta
        assert meta["peft"] == "lora"
        features = task.encode(
            [{"tokens": t.split(), "tags": ["O"] * len(t.split())} for t in TEXTS],
            tokenizer,
            model.config.label2id,
            32,
        )
        batch = {
            k: torch.tensor([f[k] for f in features[:1]]) for k in ("input_ids", "attention_mask")
        }
        with torch.inference_mode():
            outputs.append(model(**batch).logits)
        outputs.append(task.predict(model, tokenizer, TEXTS, 32))
    assert torch.allclose(outputs[0], outputs[2], atol=1e-5)
    assert outputs[1] == outputs[3]


def test_lora_without_merge_saves_the_adapter_alone(classification_recipe, capsys):
    run, end = run_experiment(
        prepare(
            load_recipe(
                classification_recipe, ["peft.method=lora", "peft.merge=false", "train.max_steps=2"]
            )
        )
    )
    assert end.status == "completed"
    names = {p.name for p in (run / "model").iterdir()}
    assert "adapter_config.json" in names and "config.json" not in names
    assert main(["predict", str(run), "love it"]) == 0
    assert '"label"' in capsys.readouterr().out


def test_relation_markers_train_under_every_method(relation_recipe, tiny_model):
    """New marker tokens start as the mean of the vocabulary: frozen, all markers
    would read the same. Each method trains their rows (and only theirs)."""
    vocabulary = load_file(str(tiny_model / "model.safetensors"))[
        "embeddings.word_embeddings.weight"
    ]
    for method in ("lora", "bitfit", "freeze"):
        run, end = run_experiment(
            prepare(
                load_recipe(
                    relation_recipe,
                    [
                        f"peft.method={method}",
                        "peft.layers=1",
                        "train.max_steps=4",
                        "train.learning_rate=0.01",
                    ],
                )
            )
        )
        assert end.status == "completed", (method, end.error)
        saved = load_saved(run)
        task, model, tokenizer = saved.task, saved.model, saved.tokenizer
        rows = model.get_input_embeddings().weight.detach()
        markers = tokenizer.convert_tokens_to_ids(task.added_tokens())
        assert not torch.allclose(rows[markers[0]], rows[markers[1]]), method
        assert torch.equal(rows[: len(vocabulary)], vocabulary), method
        assert task.predict(model, tokenizer, ["Jon Berg founded Nordwind Labs ."], 32)


def test_a_lora_run_stopped_and_resumed_ends_as_one_never_stopped(ner_recipe):
    settings = [
        "peft.method=lora",
        "train.max_steps=8",
        "train.deterministic=true",
        "eval.every=steps",
        "eval.steps=4",
    ]
    reference, end = run_experiment(
        prepare(
            load_recipe(ner_recipe, settings + [f"output.dir={ner_recipe.parent / 'reference'}"])
        )
    )
    stop = threading.Event()
    # Stopped after the evaluation at step 4: the checkpoint carries the best weights
    # (PEFT-named) whenever they are not its own.
    stopper = lambda e: stop.set() if isinstance(e, Step) and e.step >= 5 else None  # noqa: E731
    run, end = run_experiment(prepare(load_recipe(ner_recipe, settings)), [stopper], stop=stop)
    assert end.status == "stopped" and 5 <= end.steps < 8
    assert main(["run", "--resume", str(run)]) == 0
    [resumed] = [e for e in read_events(run) if isinstance(e, Resumed)]
    assert resumed.tuning == "lora" and resumed.trainable_params > 0
    ours = load_file(str(run / "model" / "model.safetensors"))
    theirs = load_file(str(reference / "model" / "model.safetensors"))
    for key, value in theirs.items():
        assert torch.allclose(ours[key], value, atol=1e-6), key


@pytest.mark.parametrize(
    "setting, message",
    [
        (
            'peft.target_modules=["qury"]',
            "peft.target_modules: model '{model}' has no linear layer 'qury' "
            "(did you mean 'query'?); its linear layers are: dense, key, query, value",
        ),
        ("peft.layers=5", "peft.layers: 5 is more than the 2 layers of model '{model}'"),
        (
            "peft.target_modules=[]",
            "peft.target_modules: empty; name some of the linear layers of "
            "model '{model}' (dense, key, query, value), or leave it unset",
        ),
        (
            "peft.method=lorra",
            "'peft.method' must be one of 'full', 'lora', 'bitfit', 'freeze', "
            "got 'lorra' (did you mean 'lora'?)",
        ),
    ],
)
def test_a_bad_peft_section_is_one_line(ner_recipe, tiny_model, capsys, setting, message):
    method = (
        []
        if "method" in setting
        else ["--set", "peft.method=" + ("freeze" if "layers" in setting else "lora")]
    )
    assert main(["run", str(ner_recipe), "--set", setting, *method]) == 2
    assert not (ner_recipe.parent / "runs").exists()  # refused before a run folder
    err = capsys.readouterr().err
    assert message.format(model=tiny_model) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_the_console_says_what_trains(ner_recipe, capsys):
    assert (
        main(
            ["run", str(ner_recipe), "--plain", "--set", "peft.method=bitfit", "train.max_steps=1"]
        )
        == 0
    )
    header = capsys.readouterr().out.splitlines()[1]
    # Biases of a 2-layer BERT of width 32 (embedding norm 32, 288 a layer) and the
    # head (231) train: 839 of 998,247 (embeddings 980,928, layers 8,544 each).
    assert "(BitFit 839/998.2k params train (0.08%))" in header


def test_an_adapter_whose_base_is_gone_or_used_as_a_base_is_one_line(ner_recipe, tmp_path, capsys):
    run, _end = run_experiment(
        prepare(
            load_recipe(ner_recipe, ["peft.method=lora", "peft.merge=false", "train.max_steps=1"])
        )
    )
    meta_file = run / "model" / "workbench.json"
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "base_model": str(tmp_path / "gone")}))
    assert main(["predict", str(run), "Jon visited Lisbon ."]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: {run / 'model'}: cannot load the adapter's base model: model "
        f"'{tmp_path / 'gone'}': no such folder"
    )
    # An adapter is no model to train from.
    assert main(["run", str(ner_recipe), "--set", f"model.name={run / 'model'}"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {run / 'model'}: a LoRA adapter, not a model; name its run's merged model "
        f"folder or its base model"
    )

"""Batches a user pays for: training batches of similar length (little padding,
every example once an epoch, reproducible), and inference that sorts by length
yet answers in the order it was asked."""

from __future__ import annotations

import random

import pytest
import torch

from workbench.engine.data import EpochSampler, length_split, train_loader
from workbench.engine.loop import Engine
from workbench.experiment import prepare
from workbench.recipe import load_recipe
from workbench.runner import run_experiment
from workbench.runs.folder import read_events
from workbench.tasks.base import make_collate


def padded_tokens(order: list[int], lengths: list[int], batch_size: int) -> int:
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return sum(max(lengths[i] for i in b) * len(b) for b in batches)


def sentence_lengths(count: int = 1000, seed: int = 0) -> list[int]:
    # Like sentences: mostly short, a long tail.
    rng = random.Random(seed)
    return [max(3, min(128, int(rng.lognormvariate(3.0, 0.7)))) for _ in range(count)]


def groups(order: list[int], size: int) -> list[set[int]]:
    return [set(order[i : i + size]) for i in range(0, len(order), size)]


def test_length_sorted_steps_cut_padding_and_train_the_same_examples_together():
    lengths = sentence_lengths()
    grouped = list(EpochSampler(len(lengths), seed=3, lengths=lengths, group_size=32))
    plain = list(EpochSampler(len(lengths), seed=3))
    assert sorted(grouped) == list(range(len(lengths)))  # every example once an epoch
    # Each optimizer step (32 examples) trains the examples random batches would:
    # no step of nothing but short lines, which bucketing whole batches made.
    assert groups(grouped, 32) == groups(plain, 32)
    # ...run as micro-batches of 8 that carry far less padding.
    real = sum(lengths)
    assert padded_tokens(grouped, lengths, 8) < 1.6 * real
    assert padded_tokens(plain, lengths, 8) > 2 * real
    assert padded_tokens(plain, lengths, 32) > 3 * real


def test_length_grouped_order_depends_on_seed_and_epoch_alone():
    lengths = sentence_lengths(203)  # not a multiple of the group: one short group
    sampler = EpochSampler(len(lengths), seed=5, lengths=lengths, group_size=8)
    first = list(sampler)
    assert list(EpochSampler(len(lengths), 5, lengths, 8)) == first  # a resumed run's order
    sampler.use_epoch(1)
    assert list(sampler) != first
    assert list(EpochSampler(len(lengths), 6, lengths, 8)) != first
    # Each group of 8 is sorted longest first; the short group comes last, so group
    # boundaries are the same for everyone.
    for start in range(0, 200, 8):
        group = [lengths[i] for i in first[start : start + 8]]
        assert group == sorted(group, reverse=True)
    assert set(first[200:]) == set(list(EpochSampler(len(lengths), 5))[200:])


def test_batches_split_only_where_padding_costs_more_than_a_call():
    sentences = sentence_lengths(2000)
    # On a CPU a call costs ~80 tokens: random batches of long-tailed sentences
    # split into micro-batches of 4-8, but a batch of 4 is not worth splitting...
    assert length_split(sentences, 32, "cpu") == 4
    assert length_split(sentences, 16, "cpu") == 4
    assert length_split(sentences, 4, "cpu") == 1
    # ...examples of one length have no padding to save...
    assert length_split([40] * 2000, 32, "cpu") == 1
    # ...and a GPU's calls cost more than short sentences' padding.
    assert length_split(sentences, 32, "cuda") == 1
    assert length_split([5] * 1900 + [512] * 100, 256, "cuda") > 1


def test_halving_the_micro_batch_keeps_the_epoch_order():
    # auto_batch halves the micro-batch and doubles accumulation mid-epoch; the run
    # then skips the examples it trained on, so the order must not change.
    features = [
        {"input_ids": [1] * n, "labels": [0] * n, "example": i, "window": 0}
        for i, n in enumerate(sentence_lengths(300, seed=4))
    ]

    def order(micro: int) -> list[int]:
        loader, sampler = train_loader(
            features, micro, seed=2, collate=make_collate(0), group_by_length=True, group_size=16
        )
        sampler.use_epoch(1)
        return [i for batch in loader for i in batch["example"].tolist()]

    assert order(16) == order(8) == order(4)
    assert sorted(order(16)) == list(range(300))


def test_evaluations_say_how_long_they_took(ner_recipe):
    run_dir, _ = run_experiment(prepare(load_recipe(ner_recipe)))
    evals = [e for e in read_events(run_dir) if e.type == "eval"]
    assert evals and all(e.seconds is not None and e.seconds > 0 for e in evals)


def test_inference_batches_are_capped_in_tokens_on_a_cpu():
    from workbench.tasks.base import CPU_BATCH_TOKENS, batch_tokens, length_batches

    lengths = sentence_lengths(500) + [300, 700]  # two rows past any sensible cap
    features = [{"input_ids": [0] * n} for n in lengths]
    plain = length_batches(features, 64)
    capped = length_batches(features, 64, 1024)
    for batches in (plain, capped):
        assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
        assert all(len(b) <= 64 for b in batches)
        flat = [lengths[i] for b in batches for i in b]
        assert flat == sorted(flat)  # shortest first
    # Every capped batch fits 1,024 tokens, padding included, but a longer row alone.
    for b in capped:
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 1024
    assert [len(b) for b in capped[-2:]] == [1, 1]

    def padded(batches):
        return sum(len(b) * max(lengths[i] for i in b) for b in batches)

    assert padded(capped) < padded(plain)
    assert all(len(b) == 64 for b in plain[:-1])  # what sharding across processes needs
    assert batch_tokens(torch.device("cpu")) == CPU_BATCH_TOKENS
    assert batch_tokens(torch.device("meta")) is None  # any accelerator: whole batches


def test_a_cpu_evaluation_runs_token_capped_batches(ner_recipe, monkeypatch):
    import workbench.engine.prepare as engine_prepare

    monkeypatch.setattr(engine_prepare, "batch_tokens", lambda device: 24)
    engine = Engine(prepare(load_recipe(ner_recipe, ["train.eval_batch_size=64"])), lambda e: None)
    engine.setup()
    batches = list(engine.prepared.loaders["validation"])
    shapes = [tuple(b["input_ids"].shape) for b in batches]
    assert sum(rows for rows, _ in shapes) == len(engine.prepared.features["validation"])
    assert len(batches) > 1 and all(rows == 1 or rows * width <= 24 for rows, width in shapes)
    before = torch.get_rng_state()
    capped = engine.evaluate("validation")
    # Evaluating draws nothing from the global RNG: the training after it is the same.
    assert torch.equal(torch.get_rng_state(), before)
    monkeypatch.setattr(engine_prepare, "batch_tokens", lambda device: None)
    engine.prepared.state.eval_batch_size = 64
    engine.prepared.build_eval_loaders()
    assert len(list(engine.prepared.loaders["validation"])) == 1
    whole = engine.evaluate("validation")
    assert capped["examples"] == whole["examples"] == len(engine.exp.splits["validation"])
    assert capped["per_label"] == whole["per_label"]  # the same predictions, batched otherwise
    assert abs(capped["metrics"]["loss"] - whole["metrics"]["loss"]) < 1e-5


def predicted_together_and_alone(recipe, texts, max_length):
    from workbench.models.saved import load_saved

    run_dir, _ = run_experiment(prepare(load_recipe(recipe)))
    saved = load_saved(run_dir / "model")
    task, model, tokenizer = saved.task, saved.model, saved.tokenizer
    together = task.predict(model, tokenizer, texts, max_length, batch_size=3)
    alone = [task.predict(model, tokenizer, [t], max_length, batch_size=1)[0] for t in texts]
    assert [r["text"] for r in together] == texts
    return together, alone


def test_predictions_come_back_in_the_order_asked(classification_recipe):
    from workbench.evaluate import encode_for, score_features
    from workbench.models.saved import load_saved

    # Lengths deliberately out of order: the batches run shortest first.
    texts = [
        "love it",
        "terrible battery and slow, and the screen is awful and dim too",
        "ok",
        "works fine, nothing special about it",
    ]
    together, alone = predicted_together_and_alone(classification_recipe, texts, 64)
    for a, b in zip(together, alone):
        assert a["label"] == b["label"]
        for label, p in a["probabilities"].items():
            assert abs(p - b["probabilities"][label]) < 1e-3

    # workbench eval's per-position predictions (compared between two models) too.
    run_dir = next((classification_recipe.parent / "runs").iterdir())
    saved = load_saved(run_dir / "model")
    task, model, tokenizer = saved.task, saved.model, saved.tokenizer
    examples = [{"text": t, "text_pair": None, "label": "positive"} for t in texts]
    features, id2label = encode_for(saved, examples, "test")
    _report, batched = score_features(task, model, tokenizer, examples, features, id2label, 3)
    one_by_one = [
        score_features(task, model, tokenizer, examples, [f], id2label, 1)[1] for f in features
    ]
    assert batched.tolist() == torch.cat(one_by_one).tolist()


def test_train_loader_batches_hold_whole_examples():
    features = [
        {"input_ids": [1] * n, "labels": [0] * n, "example": i, "window": 0}
        for i, n in enumerate(sentence_lengths(40, seed=2))
    ]
    loader, sampler = train_loader(
        features, 4, seed=1, collate=make_collate(0), group_by_length=True
    )
    sampler.use_epoch(0)
    batches = list(loader)
    assert sorted(torch.cat([b["example"] for b in batches]).tolist()) == list(range(40))
    for batch in batches:  # labels line up with their tokens after padding
        assert torch.equal(batch["labels"] == -100, batch["input_ids"] == 0)


@pytest.mark.filterwarnings("ignore:.*pin_memory")  # pinned memory needs a GPU; not here
def test_loader_workers_see_each_epochs_order():
    # On a GPU, batches are padded in persistent worker processes; the sampler stays in
    # this process, so each epoch's order is still the one use_epoch asked for.
    features = [
        {"input_ids": [1] * n, "labels": [0] * n, "example": i, "window": 0}
        for i, n in enumerate(sentence_lengths(64, seed=5))
    ]

    def orders(workers: bool) -> list[list[int]]:
        loader, sampler = train_loader(
            features, 4, seed=3, collate=make_collate(0), group_by_length=True, workers=workers
        )
        seen = []
        for epoch in (0, 1):
            sampler.use_epoch(epoch)
            seen.append([i for batch in loader for i in batch["example"].tolist()])
        return seen

    plain = orders(False)
    assert plain[0] != plain[1]
    assert orders(True) == plain

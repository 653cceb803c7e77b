"""Faults a long run meets, each injected: running out of memory (the error the
CUDA allocator raises, raised on the CPU), a loss that becomes NaN, an output
folder that cannot be written, a disk too small, a disk that fills up."""

from __future__ import annotations

import errno

import pytest
import torch
import transformers

from workbench.cli import main
from workbench.experiment import prepare
from workbench.recipe import load_recipe
from workbench.runner import run_experiment
from workbench.runs.events import BatchAdjusted, Checkpoint, Eval, Step
from workbench.runs.folder import checkpoints, read_events

CUDA_OOM = (
    "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
    "79.10 GiB of which 1.19 GiB is free."
)


@pytest.fixture
def memory_limit(monkeypatch):
    """Make the tiny BERT run out of "memory" above a number of rows per forward pass;
    the limit for training and for evaluation is set by the test."""
    limits = {"train": None, "eval": None}
    forward = transformers.BertForTokenClassification.forward

    def limited(self, input_ids=None, **kwargs):
        limit = limits["train" if self.training else "eval"]
        if limit is not None and input_ids.shape[0] > limit:
            raise torch.OutOfMemoryError(CUDA_OOM)
        return forward(self, input_ids=input_ids, **kwargs)

    monkeypatch.setattr(transformers.BertForTokenClassification, "forward", limited)
    return limits


def test_out_of_memory_fails_with_what_did_not_fit_and_what_to_try(ner_recipe, memory_limit):
    memory_limit["train"] = 1
    run, end = run_experiment(prepare(load_recipe(ner_recipe)))
    assert end.status == "failed" and end.traceback is None
    assert end.error.startswith("out of memory at step 1 on cpu: a micro-batch of 2 sequences")
    assert "lower train.batch_size" in end.error and "train.auto_batch = true" in end.error


def test_auto_batch_halves_the_micro_batch_and_trains_the_same_run(ner_recipe, memory_limit):
    # The micro-batch of 2 does not fit: it becomes 1 with 2 accumulated...
    memory_limit["train"] = 1
    run, end = run_experiment(prepare(load_recipe(ner_recipe, ["train.auto_batch=true"])))
    assert end.status == "completed" and end.steps == 4
    [adjusted] = [e for e in read_events(run) if isinstance(e, BatchAdjusted)]
    assert (adjusted.step, adjusted.batch_size, adjusted.gradient_accumulation) == (1, 1, 2)
    # ...and the run is the one that batch 1 x 2 from the start gives: same examples per
    # step, same loss normalisation, nothing consumed by the step that failed.
    memory_limit["train"] = None
    _, planned = run_experiment(
        prepare(load_recipe(ner_recipe, ["train.batch_size=1", "train.gradient_accumulation=2"]))
    )
    assert end.best_value == pytest.approx(planned.best_value, abs=1e-6)
    assert end.test == pytest.approx(planned.test, abs=1e-5)


def test_auto_batch_halves_the_evaluation_batch(ner_recipe, memory_limit):
    memory_limit["eval"] = 2
    run, end = run_experiment(
        prepare(load_recipe(ner_recipe, ["train.auto_batch=true", "train.eval_batch_size=8"]))
    )
    assert end.status == "completed", end.error
    sizes = [e.eval_batch_size for e in read_events(run) if isinstance(e, BatchAdjusted)]
    # The failing batch held all 4 validation rows (fewer than 8): halved to 2 at once,
    # not 8 -> 4 (the same 4 rows again) -> 2.
    assert sizes == [2]
    assert [e.split for e in read_events(run) if isinstance(e, Eval)][-1] == "test"


def test_auto_batch_cannot_halve_an_odd_batch(ner_recipe, memory_limit):
    memory_limit["train"] = 2
    run, end = run_experiment(
        prepare(load_recipe(ner_recipe, ["train.auto_batch=true", "train.batch_size=3"]))
    )
    assert end.status == "failed"
    assert "a micro-batch of 3 cannot be halved into the same effective batch" in end.error


def test_a_nan_loss_names_its_step_and_is_never_checkpointed(ner_recipe, monkeypatch):
    forward = transformers.BertForTokenClassification.forward
    calls = {"train": 0}

    def poisoned(self, *args, **kwargs):
        out = forward(self, *args, **kwargs)
        if self.training:
            calls["train"] += 1
            if calls["train"] >= 3:  # the third training step, and every one after
                out.logits = out.logits * float("nan")
        return out

    monkeypatch.setattr(transformers.BertForTokenClassification, "forward", poisoned)
    run, end = run_experiment(
        prepare(
            load_recipe(
                ner_recipe, ["train.epochs=4", "train.log_every=50", "train.checkpoint_every=1"]
            )
        )
    )
    assert end.status == "failed"
    assert "the training loss became NaN or infinite at step 3" in end.error
    # Found before the checkpoint of step 3 was written (logging is every 50 steps).
    assert [p.name for p in checkpoints(run)] == ["step-1", "step-2"]
    assert not [e for e in read_events(run) if isinstance(e, Step)]


def test_an_output_folder_that_cannot_be_written_is_named(ner_recipe, capsys):
    blocker = ner_recipe.parent / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    assert main(["run", str(ner_recipe), "--set", f"output.dir={blocker}/runs"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: output.dir {blocker}/runs: cannot create a run folder there")
    assert len(err.strip().splitlines()) == 1


def test_a_disk_too_small_is_refused_before_training(ner_recipe, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    run, end = run_experiment(prepare(load_recipe(ner_recipe, ["train.checkpoint_every=1"])))
    assert end.status == "failed" and "not enough free disk space" in end.error
    assert "train.keep_checkpoints" in end.error
    assert not [e for e in read_events(run) if e.type in ("start", "step")]


def test_a_disk_that_fills_up_keeps_the_last_checkpoint(ner_recipe, monkeypatch):
    from accelerate import Accelerator

    save_state = Accelerator.save_state
    calls = {"n": 0}

    def filling(self, output_dir=None, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            (__import__("pathlib").Path(output_dir) / "partial.bin").write_bytes(b"x")
            raise OSError(errno.ENOSPC, "No space left on device")
        return save_state(self, output_dir, **kwargs)

    monkeypatch.setattr(Accelerator, "save_state", filling)
    run, end = run_experiment(
        prepare(
            load_recipe(
                ner_recipe,
                ["train.epochs=3", "train.checkpoint_every=1", "train.keep_checkpoints=5"],
            )
        )
    )
    assert end.status == "failed"
    assert "cannot write checkpoint" in end.error and "No space left on device" in end.error
    assert "the last complete checkpoint, step-2, is kept" in end.error
    assert [p.name for p in checkpoints(run)] == ["step-1", "step-2"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-1", "step-2"]
    assert end.checkpoint == "checkpoints/step-2"
    assert [e.step for e in read_events(run) if isinstance(e, Checkpoint)] == [1, 2]
    # ...and the run goes on from it.
    monkeypatch.setattr(Accelerator, "save_state", save_state)
    assert main(["run", "--resume", str(run)]) == 0
    assert read_events(run)[-1].status == "completed"

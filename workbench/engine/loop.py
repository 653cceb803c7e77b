"""The training loop, on 🤗 Accelerate.

It owns the steps, evaluation, the best model, checkpoints and early stopping,
and nothing task-specific: the task adapter encodes, scores and decodes. It never
prints; it emits typed events (``workbench.runs.events``) and checks a stop flag
between steps. What it trains with is made once by ``engine.prepare`` and held in
one typed object, ``Prepared``.

Its state is explicit (``TrainState``) and each part of a step is a method of
its own: ``train_step``, ``_after_step`` (log, evaluate, stop, checkpoint) and
``finish``. The hot loop reads nothing back from the device except once per
``train.log_every`` steps, evaluation or checkpoint.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from workbench.engine import faults
from workbench.engine.auto_batch import halve_eval_batch, halve_micro_batch
from workbench.engine.checkpoints import load_best_weights, load_checkpoint, save_checkpoint
from workbench.engine.compiling import warm_up
from workbench.engine.devices import memory_mb
from workbench.engine.evaluation import evaluate_batches, lower_is_better
from workbench.engine.loss import labelled, summed_loss
from workbench.engine.packing import first_tokens_only
from workbench.engine.prepare import Prepared, prepare
from workbench.engine.saving import cpu_weights, save_trained
from workbench.engine.timing import Timing
from workbench.experiment import Experiment
from workbench.models.folder import saved_step
from workbench.runs.events import Checkpoint, Eval, Event, Resumed, Start, Status, Step
from workbench.tasks.base import model_inputs

Emit = Callable[[Event], None]


@dataclass
class TrainResult:
    """What a finished loop hands back to the runner."""

    status: Status  # completed or stopped
    steps: int
    best_metric: str
    best_value: float | None = None
    best_step: int | None = None
    reports: dict[str, dict] = field(default_factory=dict)
    model_saved: bool = False
    early_stopped: bool = False


def examples_in(batch: dict) -> int:
    """The examples a batch holds: a packed row holds several, one per ``example``."""
    return len(batch["example"]) if "example" in batch else int(batch["input_ids"].shape[0])


class Engine:
    """Trains one experiment. ``run()`` emits start (or resumed), step, eval,
    model and checkpoint events and returns a ``TrainResult``; the runner writes
    the end event. ``resume_from`` is a checkpoint folder of ``run_dir``."""

    def __init__(
        self,
        experiment: Experiment,
        emit: Emit,
        run_dir: Path | None = None,
        stop: threading.Event | None = None,
        resume_from: Path | None = None,
    ):
        self.exp = experiment
        self.recipe = experiment.recipe
        # Each section's settings built once: _after_step reads them every step.
        self.train = experiment.recipe.train
        self.every = experiment.recipe.eval
        self.emit = emit
        self.run_dir = Path(run_dir) if run_dir else None
        self.stop = stop or threading.Event()
        self.resume_from = Path(resume_from) if resume_from else None
        self.metric = experiment.metric
        self.save = self.recipe.output.save_model and self.run_dir is not None
        self.prepared: Prepared  # set by setup()
        self.done = self.stopped = self.early_stopped = False
        self.best_report: dict | None = None
        self.best_weights: dict | None = None  # on the CPU
        self.model_step: int | None = None  # the step of the model in run_dir/model
        self.grad_norm = None
        self.timing = Timing()
        self.compile_seconds: float | None = None  # torch.compile's warm-up (engine/compiling.py)
        self._evaluating: dict | None = None  # the batch being scored (for error messages)

    # -- set-up ------------------------------------------------------------------------
    def setup(self) -> None:
        """Everything ``prepare`` makes; a resumed run's state restored."""
        p = self.prepared = prepare(self.exp, self.resume_from, self.stop)
        if p.acc.is_main_process and self.run_dir is not None and self.resume_from is None:
            keep = self.train.keep_checkpoints if self.train.checkpoint_every else 1
            faults.check_disk_space(self.run_dir, p.tuned.total, keep)
        if self.resume_from is not None:
            self._restore()
        if self.train.compile and p.state.step < p.state.total_steps:
            self.compile_seconds = warm_up(p)  # before the clock: not a slow first step

    def _restore(self) -> None:
        """Load the checkpoint into the prepared objects, and what the loop had found."""
        p = self.prepared
        assert self.resume_from is not None and p.checkpoint is not None  # only when resuming
        load_checkpoint(p.acc, self.resume_from, p.checkpoint)
        self.best_report = p.checkpoint.get("best_report")
        # A model saved after the checkpoint is from steps this run will do again.
        saved = saved_step(self.run_dir)
        self.model_step = saved if saved is not None and saved <= p.state.step else None
        patience = self.every.patience
        if patience > 0 and p.state.bad_evals >= patience:  # it had stopped early
            self.early_stopped = self.done = True
        # Each process's share of the loss summed since the last logged step.
        p.loss_since_log.fill_(p.state.log_loss / p.acc.num_processes)
        if any(
            o.split("=", 1)[0].strip() == "train.eval_batch_size" for o in self.recipe.overrides
        ):  # --set on resume wins over the checkpoint
            p.state.eval_batch_size = self.train.eval_batch_size
            p.build_eval_loaders()
        if p.state.best_step == p.state.step:
            self._keep_best()  # the checkpoint's own weights are the best
        else:
            self.best_weights = load_best_weights(self.resume_from)

    # -- the loop ----------------------------------------------------------------------
    def run(self) -> TrainResult:
        """Train to the end (or a stop, or patience running out); see ``finish``."""
        self.setup()
        p = self.prepared
        fields_ = {**p.start_fields(self.exp), "compile_s": self.compile_seconds}
        if self.resume_from is None:
            self.emit(Start(**fields_))
        else:
            checkpoint = (
                self.resume_from.relative_to(self.run_dir) if self.run_dir else self.resume_from
            )
            self.emit(
                Resumed(
                    **fields_,
                    from_step=p.state.step,
                    checkpoint=str(checkpoint),
                    pid=os.getpid(),
                    host=socket.gethostname(),
                    overrides=self.recipe.overrides,
                )
            )
        self.timing.start(p.state)
        p.model.train()
        self.done = self.done or p.state.step >= p.state.total_steps
        while not self.done:
            self._train_epoch()
        return self.finish()

    def _train_epoch(self) -> None:
        """Train from the current position to the end of the epoch (or until done).
        After an out-of-memory error it returns early, and the next call goes on
        from the same step with the smaller micro-batch."""
        p, s = self.prepared, self.prepared.state
        assert p.sampler is not None
        p.sampler.use_epoch(s.epoch)
        batches = len(p.train_loader)
        position = s.steps_in_epoch * s.gradient_accumulation
        loader = p.acc.skip_first_batches(p.train_loader, position) if position else p.train_loader
        window: list[dict] = []
        for batch in loader:
            window.append(batch)
            position += 1
            if len(window) < s.gradient_accumulation and position < batches:
                continue
            failed = None
            try:
                self.train_step(window)
            except Exception as exc:  # noqa: BLE001 - only out-of-memory is handled here
                if not faults.is_out_of_memory(exc):
                    raise
                failed = faults.batch_shape(max(window, key=lambda b: b["input_ids"].numel()))
            if failed is not None:  # outside the except block: its frames hold the tensors
                window = []
                self._train_out_of_memory(failed)
                return
            window = []
            s.steps_in_epoch += 1
            end_of_epoch = position >= batches
            if end_of_epoch:
                s.epoch, s.steps_in_epoch = s.epoch + 1, 0
            self._after_step(end_of_epoch)
            if self.done:
                return
        if s.steps_in_epoch:  # the loader ran short of what it promised
            s.epoch, s.steps_in_epoch = s.epoch + 1, 0

    def train_step(self, window: list[dict]) -> None:
        """One optimizer step over an accumulation window of micro-batches."""
        p = self.prepared
        mean = self.backward_window(window)
        if self.train.max_grad_norm > 0:
            self.grad_norm = p.acc.clip_grad_norm_(p.model.parameters(), self.train.max_grad_norm)
        p.optimizer.step()
        if not p.optimizer.step_was_skipped:  # fp16 skips steps with inf gradients
            p.scheduler.step()
        p.optimizer.zero_grad(set_to_none=True)
        p.loss_since_log += mean
        p.watch.observe(mean, p.state.step + 1)
        if self.grad_norm is not None:  # NaN gradients make NaN weights, whatever the loss
            p.watch.observe(self.grad_norm, p.state.step + 1)
        p.state.samples += sum(examples_in(b) for b in window) * p.acc.num_processes

    def backward_window(self, window: list[dict]):
        """Gradients of a window of micro-batches, as one batch of them would give.

        The loss of every micro-batch is summed over its labelled positions and
        divided by those of the whole window on every process, so any split of
        the same examples into micro-batches and processes gives the same
        gradients (DDP averages over processes: times their count). Returns this
        process's share of the window's mean loss (on the device).
        """
        acc, model = self.prepared.acc, self.prepared.model
        count = sum(labelled(batch["labels"]) for batch in window)
        if acc.num_processes > 1:
            count = acc.reduce(count, reduction="sum")
        count = count.clamp(min=1)
        scale = acc.num_processes / count
        window_loss = torch.zeros((), device=acc.device)
        for index, batch in enumerate(window):
            last = index == len(window) - 1
            with nullcontext() if last else acc.no_sync(model):
                with first_tokens_only(self.prepared.encoder, batch):
                    logits = model(**model_inputs(batch)).logits
                loss = summed_loss(logits, batch["labels"])
                acc.backward(loss * scale)
            window_loss += loss.detach()
        return window_loss / count

    def _after_step(self, end_of_epoch: bool) -> None:
        """Log, evaluate, stop and checkpoint, as due after an optimizer step."""
        s, train, every = self.prepared.state, self.train, self.every
        s.step += 1
        if s.step % train.log_every == 0 or s.step == s.total_steps:
            self._log()
        if "validation" in self.prepared.features and (
            (every.every == "steps" and s.step % every.steps == 0)
            or (every.every == "epoch" and end_of_epoch)
        ):
            self._validate()
        if s.step >= s.total_steps:
            self.done = True
        stop = self.prepared.vote.poll()  # every step, in every process, whatever else happened
        if stop and not self.done:
            self.stopped = self.done = True
        if self.stopped or (train.checkpoint_every and s.step % train.checkpoint_every == 0):
            self._checkpoint()

    def _summed_loss(self) -> torch.Tensor:
        """The loss summed since the last logged step, all processes together."""
        acc, loss = self.prepared.acc, self.prepared.loss_since_log
        return acc.reduce(loss, reduction="sum") if acc.num_processes > 1 else loss

    def _log(self) -> None:
        p, s = self.prepared, self.prepared.state
        p.watch.check(p.acc)  # reads the device anyway: no extra sync
        total = self._summed_loss()
        steps = s.step - s.last_log_step  # the loss sums these (some before a resume)
        self.emit(
            Step(
                step=s.step,
                epoch=self._epoch(),
                loss=float(total) / max(1, steps),
                learning_rate=p.scheduler.get_last_lr()[0],
                grad_norm=float(self.grad_norm) if self.grad_norm is not None else None,
                memory_mb=memory_mb(p.acc.device),
                total_steps=s.total_steps,
                **self.timing.logged(s),
            )
        )
        p.loss_since_log.zero_()
        s.last_log_step = s.step

    def _epoch(self) -> float:
        return round(self.prepared.state.step / self.prepared.steps_per_epoch, 4)

    # -- evaluation --------------------------------------------------------------------
    def evaluate(self, split: str) -> dict[str, Any]:
        """Score ``split`` (``engine.evaluation``)."""
        p = self.prepared
        assert p.loaders is not None
        scorer = self.exp.task.scorer(self.exp.splits[split], p.id2label)
        report = evaluate_batches(p.acc, p.model, self._tracked(p.loaders[split]), scorer)
        report["split"] = split
        return report

    def _tracked(self, batches) -> Iterator[dict]:
        """The batches, each kept while it is scored: an out-of-memory error names it."""
        for batch in batches:
            self._evaluating = batch
            yield batch

    def _evaluate(self, split: str) -> tuple[dict[str, Any], float]:
        """``evaluate``, with the batch halved on running out of memory (auto_batch);
        the report and the seconds it took."""
        began = time.perf_counter()
        while True:
            failed = None
            try:
                return self.evaluate(split), time.perf_counter() - began
            except Exception as exc:  # noqa: BLE001 - only out-of-memory is handled here
                if not faults.is_out_of_memory(exc):
                    raise
                failed = faults.batch_shape(self._evaluating)
            finally:
                self._evaluating = None
            self._eval_out_of_memory(failed)

    def _validate(self) -> None:
        """Evaluate on validation, keep the best, count patience."""
        p, s = self.prepared, self.prepared.state
        p.watch.check(p.acc)  # a NaN model is never evaluated, nor saved as the best
        with self.timing.not_training():
            report, seconds = self._evaluate("validation")
        value = report["metrics"][self.metric]
        lower = lower_is_better(self.metric)
        improved = s.best_value is None or (value < s.best_value if lower else value > s.best_value)
        if improved:
            s.best_value, s.best_step, s.bad_evals = value, s.step, 0
            self.best_report = report
            self._keep_best()
        else:
            s.bad_evals += 1
        s.last_eval_step = s.step
        self._emit_eval(
            "validation",
            s.step,
            report,
            seconds,
            best=improved,
            best_value=s.best_value,
            best_step=s.best_step,
        )
        if improved and self.save:
            with self.timing.not_training():
                self._save_model(s.step, value)
        patience = self.every.patience
        if patience > 0 and s.bad_evals >= patience:
            self.early_stopped = self.done = True

    def _emit_eval(self, split: str, step: int, report: dict, seconds: float, **best) -> None:
        """An eval event; ``best`` (validation only) says whether it improved."""
        self.emit(
            Eval(
                step=step,
                epoch=self._epoch(),
                split=split,
                metric=self.metric,
                value=report["metrics"][self.metric],
                metrics=report["metrics"],
                report=report,
                seconds=seconds,
                **best,
            )
        )

    def _keep_best(self) -> None:
        self.best_weights = cpu_weights(self.prepared)

    def _save_model(self, step: int, value: float | None) -> None:
        assert self.run_dir is not None  # models are saved only into a run folder
        self.emit(save_trained(self.prepared, self.exp, self.run_dir, step, value))
        self.model_step = step

    # -- out of memory (auto_batch) ------------------------------------------------------
    def _train_out_of_memory(self, shape: tuple[int, int]) -> None:
        self.emit(halve_micro_batch(self.prepared, self.train, shape))

    def _eval_out_of_memory(self, shape: tuple[int, int]) -> None:
        self.emit(halve_eval_batch(self.prepared, self.train, shape))

    # -- checkpoints ---------------------------------------------------------------------
    def _checkpoint(self) -> None:
        """A resumable checkpoint of everything, never of a NaN model."""
        if self.run_dir is None:
            return
        p, s = self.prepared, self.prepared.state
        p.watch.check(p.acc)
        saved = replace(
            s,
            train_seconds=self.timing.train_seconds(s),
            log_loss=float(self._summed_loss()),
        )
        extra = {
            "best_report": self.best_report,
            "fingerprint": self.exp.fingerprint(),
            "recipe": self.recipe.to_dict(),
        }
        # The best weights ride along unless they are the checkpoint's own: run_dir/model
        # may be overwritten by steps a resumed run does again.
        best = self.best_weights if s.best_step not in (None, s.step) else None
        with self.timing.not_training():
            path, kept = save_checkpoint(
                p.acc, self.run_dir, saved, extra, self.train.keep_checkpoints, best
            )
        self.emit(Checkpoint(step=s.step, epoch=self._epoch(), path=path, kept=kept))

    # -- the end -------------------------------------------------------------------------
    def finish(self) -> TrainResult:
        """A last evaluation if the last step had none; the best model saved and,
        on a test split, scored."""
        p, s = self.prepared, self.prepared.state
        p.vote.close()
        completed = not self.stopped
        if "validation" in p.features and completed and s.last_eval_step != s.step:
            self._validate()
        if self.best_weights is not None and s.best_step != s.step:
            p.acc.unwrap_model(p.model).load_state_dict(self.best_weights)
        if self.save and self.model_step != (s.best_step if s.best_step is not None else s.step):
            self._save_model(s.best_step or s.step, s.best_value)
        result = TrainResult(
            status=Status.COMPLETED if completed else Status.STOPPED,
            steps=s.step,
            best_metric=self.metric,
            best_value=s.best_value,
            best_step=s.best_step,
            model_saved=self.model_step is not None,
            early_stopped=self.early_stopped,
        )
        if self.best_report is not None:
            result.reports["validation"] = self.best_report
        if "test" in p.features and completed:
            report, seconds = self._evaluate("test")
            result.reports["test"] = report
            self._emit_eval("test", s.best_step or s.step, report, seconds)
        return result

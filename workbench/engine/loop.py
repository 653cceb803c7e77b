"""The training loop, on 🤗 Accelerate.

It owns devices, precision, processes, the optimizer and schedule, evaluation,
the best model, checkpoints and early stopping, and nothing task-specific: the
task adapter encodes, scores and decodes. It never prints; it emits typed
events (``workbench.runs.events``) and checks a stop flag between steps.

Its state is explicit (``TrainState``) and each part of a step is a method of
its own: ``setup``, ``train_step``, ``_after_step`` (log, evaluate, stop,
checkpoint) and ``finish``. The hot loop reads nothing back from the device
except once per ``train.log_every`` steps, evaluation or checkpoint.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import torch

from workbench.engine import faults
from workbench.engine.checkpoints import (
    load_best_weights,
    load_checkpoint,
    read_trainer_state,
    save_checkpoint,
)
from workbench.engine.data import eval_loader, length_split, train_loader
from workbench.engine.devices import device_memory_text, make_accelerator, memory_mb
from workbench.engine.feature_cache import FeatureCache
from workbench.engine.loss import labelled, row_losses, summed_loss
from workbench.engine.packing import (
    encoder_of,
    first_tokens_only,
    packed_collate,
    packing_offset,
)
from workbench.engine.state import TrainState
from workbench.engine.tuning import ADAPTER, apply_tuning, has_adapter, is_peft_model, merged_copy
from workbench.errors import WorkbenchError
from workbench.experiment import Experiment
from workbench.models import META_FILE, load_for_training
from workbench.runs.events import (
    BatchAdjusted,
    Checkpoint,
    Eval,
    Event,
    ModelSaved,
    Resumed,
    Start,
    Status,
    Step,
)
from workbench.runs.files import replace_dir_atomic, write_json_atomic
from workbench.runs.folder import MODEL
from workbench.tasks.base import META_KEYS, batch_tokens, collate_for

Emit = Callable[[Event], None]
EVAL_SPLITS = ("validation", "test")


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


def _model_inputs(batch: dict) -> dict:
    """What the model takes from a batch: not the labels (the engine computes the
    loss) nor where the rows came from."""
    return {k: v for k, v in batch.items() if k not in META_KEYS and k != "labels"}


def examples_in(batch: dict) -> int:
    """The examples a batch holds: a packed row holds several, one per ``example``."""
    return len(batch["example"]) if "example" in batch else int(batch["input_ids"].shape[0])


def _lower_is_better(metric: str) -> bool:
    return metric == "loss"


def save_model(model, tokenizer, target: Path, meta: dict[str, Any], merge: bool = True) -> None:
    """``save_pretrained`` model and tokenizer, plus workbench's own metadata,
    swapped into ``target`` whole. A PEFT model is saved merged (a plain model
    folder); a LoRA model's adapter goes into ``adapter/`` beside it, or, with
    ``merge`` off, is all that is saved."""

    def write(folder: Path, what) -> None:
        what.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
        write_json_atomic(folder / META_FILE, meta)

    def fill(tmp: Path) -> None:
        adapter = has_adapter(model)
        if adapter:
            write(tmp / ADAPTER if merge else tmp, model)
        if merge or not adapter:
            write(tmp, merged_copy(model) if is_peft_model(model) else model)

    replace_dir_atomic(target, fill)


def _saved_model_step(run_dir: Path | None) -> int | None:
    """The step of the model a run folder holds now, if any."""
    import json

    meta = run_dir / MODEL / META_FILE if run_dir else None
    if meta is None or not meta.is_file():
        return None
    try:
        return json.loads(meta.read_text(encoding="utf-8")).get("step")
    except (OSError, ValueError):
        return None


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
        self.train = experiment.recipe["train"]
        self.emit = emit
        self.run_dir = Path(run_dir) if run_dir else None
        self.stop = stop or threading.Event()
        self.resume_from = Path(resume_from) if resume_from else None
        self.metric = experiment.metric
        self.save = self.recipe["output"]["save_model"] and self.run_dir is not None
        self.done = self.stopped = self.early_stopped = False
        self.best_report: dict | None = None
        self.best_weights: dict | None = None  # on the CPU
        self.model_step: int | None = None  # the step of the model in run_dir/model
        self.grad_norm = None
        self.paused_s = 0.0  # evaluation and checkpoint time since the last logged step
        self._evaluating: dict | None = None  # the batch being scored (for error messages)

    # -- set-up ------------------------------------------------------------------------
    def setup(self) -> None:
        """Devices, model, data, optimizer and schedule; a resumed run's state."""
        from accelerate.utils import set_seed

        exp, train = self.exp, self.train
        acc = self.acc = make_accelerator(train["precision"])
        if train["deterministic"]:  # cuBLAS needs this before its first handle
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        set_seed(train["seed"], deterministic=train["deterministic"])
        if not train["deterministic"]:  # a setting of the process: undo an earlier run's
            torch.use_deterministic_algorithms(False)
        self.id2label = dict(enumerate(exp.labels))
        model = load_for_training(exp.task, self.recipe["model"]["name"], exp.labels, exp.tokenizer)
        self._check_max_length(model)
        self.collate = collate_for(model, exp.tokenizer, acc.device)
        added = exp.task.added_tokens()
        self.tuned = apply_tuning(
            model,
            self.recipe["peft"],
            self.recipe["model"]["name"],
            exp.tokenizer.convert_tokens_to_ids(added),
        )
        model = self.tuned.model
        if train["compile"]:  # in place: parameter names, saving and unwrapping unchanged
            model.compile(dynamic=None)
        label2id = {label: i for i, label in enumerate(exp.labels)}
        max_length = self.recipe["model"]["max_length"]
        cache = FeatureCache(exp.task, exp.tokenizer)
        self.features, self.cached_splits = {}, []
        for split, examples in exp.splits.items():
            train_split = split == "train"
            encode = partial(
                exp.task.encode, examples, exp.tokenizer, label2id, max_length, train=train_split
            )
            self.features[split], cached = cache.features(
                examples, label2id, max_length, train_split, encode
            )
            if cached:
                self.cached_splits.append(split)
        self.saved = read_trainer_state(self.resume_from) if self.resume_from else None
        saved = TrainState.from_dict(self.saved["state"]) if self.saved else None
        # Grouped by length, a batch is packed into rows (engine/packing.py), or
        # runs as length-sorted micro-batches whose gradients add up to the whole
        # batch's (engine/data.py says why).
        self.train_collate, self.packed = self.collate, False
        self.encoder = encoder_of(model)
        if train["group_by_length"] and self._may_pack():
            first = exp.task.packing == "first_token"
            pad = exp.tokenizer.pad_token_id
            offset = packing_offset(model, self.features["train"], self.collate, pad, first)
            if offset is not None:
                self.packed = True
                self.train_collate = packed_collate(pad, offset, first)
        parts = 1
        if train["group_by_length"] and saved is None and not self.packed:
            parts = length_split(
                [len(f["input_ids"]) for f in self.features["train"]],
                train["batch_size"],
                acc.device.type,
                train["seed"],
                train["batch_size"] * train["gradient_accumulation"],
            )
        micro = saved.micro_batch_size if saved else train["batch_size"] // parts
        accumulation = (
            saved.gradient_accumulation if saved else train["gradient_accumulation"] * parts
        )
        self.train_loader, self.sampler = self._train_loader(micro, micro * accumulation)
        self.steps_per_epoch = max(1, math.ceil(len(self.train_loader) / accumulation))
        total_steps = train["max_steps"] or max(
            1, math.ceil(train["epochs"] * self.steps_per_epoch)
        )
        self.state = saved or TrainState(
            total_steps=total_steps,
            micro_batch_size=micro,
            gradient_accumulation=accumulation,
            eval_batch_size=train["eval_batch_size"],
        )
        optimizer = self._optimizer(model)
        self.scheduler = self._scheduler(optimizer, self.state.total_steps)
        self.model, self.optimizer = acc.prepare(model, optimizer)
        acc.register_for_checkpointing(self.scheduler)
        self._eval_loaders(self.state.eval_batch_size)
        if acc.is_main_process and self.run_dir is not None and self.resume_from is None:
            keep = train["keep_checkpoints"] if train["checkpoint_every"] else 1
            faults.check_disk_space(self.run_dir, self.tuned.total, keep)
        self.loss_since_log = torch.zeros((), device=acc.device)
        if self.resume_from is not None:
            self._restore()
        self.watch = faults.NonFiniteWatch(acc.device)
        self.vote = faults.StopVote(self.stop, acc)

    def _may_pack(self) -> bool:
        """Packing pays where a padded token costs as much as a real one (a CPU;
        on a GPU it is not yet measured), for tasks whose heads can read a packed
        row, on a model not compiled (a mask per batch shape would recompile)."""
        return (
            self.acc.device.type == "cpu"
            and self.exp.task.packing is not None
            and not self.train["compile"]
        )

    def _check_max_length(self, model) -> None:
        positions = getattr(model.config, "max_position_embeddings", None)
        wanted = self.recipe["model"]["max_length"]
        if positions and wanted > positions:
            raise WorkbenchError(
                f"model.max_length {wanted} is more than the {positions} "
                f"positions model {self.recipe['model']['name']!r} has"
            )

    def _train_loader(self, batch_size: int, group_size: int):
        loader, sampler = train_loader(
            self.features["train"],
            batch_size,
            self.train["seed"],
            self.train_collate,
            self.train["group_by_length"],
            workers=self.acc.device.type == "cuda",
            group_size=group_size,
        )
        return self.acc.prepare_data_loader(loader), sampler

    def _eval_loaders(self, batch_size: int) -> None:
        # Prepared one by one: each process scores its shard, gather_for_metrics
        # drops the duplicated tail of the last batch (so batches are capped in
        # tokens only in a single process).
        single = self.acc.num_processes == 1
        max_tokens = batch_tokens(self.acc.device) if single else None
        self.loaders = {
            split: self.acc.prepare_data_loader(
                eval_loader(self.features[split], batch_size, self.collate, max_tokens)
            )
            for split in EVAL_SPLITS
            if split in self.features
        }

    def _optimizer(self, model):
        decay, no_decay = [], []
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            # The usual exemption: biases and normalisation weights are not decayed.
            (no_decay if param.ndim < 2 or "norm" in name.lower() else decay).append(param)
        groups = [
            {"params": decay, "weight_decay": self.train["weight_decay"]},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        # Fused AdamW (one kernel for all parameters) is 7x faster than the
        # per-parameter loop on a CPU and the fastest on a GPU; the Trainer uses it too.
        # Not under fp16: Accelerate cannot tell when the fused kernel skipped an
        # overflowed step, and would advance the schedule anyway.
        fused = self.acc.device.type in ("cpu", "cuda") and self.acc.mixed_precision != "fp16"
        return torch.optim.AdamW(groups, lr=self.train["learning_rate"], fused=fused or None)

    def _scheduler(self, optimizer, total_steps: int):
        # Stepped by the engine once per optimizer step (not prepared: Accelerate's
        # wrapper would step it once per process).
        from transformers import get_scheduler

        name = self.train["scheduler"]
        return get_scheduler(
            "constant_with_warmup" if name == "constant" else name,
            optimizer,
            num_warmup_steps=int(self.train["warmup_ratio"] * total_steps),
            num_training_steps=total_steps,
        )

    def _restore(self) -> None:
        """Load the checkpoint into the prepared objects, and what the loop had found."""
        assert self.resume_from is not None and self.saved is not None  # only when resuming
        load_checkpoint(self.acc, self.resume_from, self.saved)
        self.best_report = self.saved.get("best_report")
        # A model saved after the checkpoint is from steps this run will do again.
        saved_step = _saved_model_step(self.run_dir)
        self.model_step = (
            saved_step if saved_step is not None and saved_step <= self.state.step else None
        )
        patience = self.recipe["eval"]["patience"]
        if patience > 0 and self.state.bad_evals >= patience:  # it had stopped early
            self.early_stopped = self.done = True
        # Each process's share of the loss summed since the last logged step.
        self.loss_since_log.fill_(self.state.log_loss / self.acc.num_processes)
        if any(
            o.split("=", 1)[0].strip() == "train.eval_batch_size" for o in self.recipe.overrides
        ):  # --set on resume wins over the checkpoint
            self.state.eval_batch_size = self.train["eval_batch_size"]
            self._eval_loaders(self.state.eval_batch_size)
        if self.state.best_step == self.state.step:
            self._keep_best()  # the checkpoint's own weights are the best
        else:
            self.best_weights = load_best_weights(self.resume_from)

    # -- the loop ----------------------------------------------------------------------
    def run(self) -> TrainResult:
        """Train to the end (or a stop, or patience running out); see ``finish``."""
        self.setup()
        self._announce()
        self.started = time.perf_counter()
        self.first_step = self.state.step
        self.last_log_time, self.last_log_samples = self.started, self.state.samples
        self.model.train()
        self.done = self.done or self.state.step >= self.state.total_steps
        while not self.done:
            self._train_epoch()
        return self.finish()

    def _announce(self) -> None:
        acc, state, exp = self.acc, self.state, self.exp
        fields_ = dict(
            task=exp.task.name,
            recipe=self.recipe.name,
            model=self.recipe["model"]["name"],
            labels=exp.labels,
            device=str(acc.device),
            precision=acc.mixed_precision,
            processes=acc.num_processes,
            examples={s: len(e) for s, e in exp.splits.items()},
            features={s: len(f) for s, f in self.features.items()},
            cached_features=self.cached_splits,
            total_steps=state.total_steps,
            steps_per_epoch=self.steps_per_epoch,
            epochs=state.total_steps / self.steps_per_epoch,
            metric=self.metric,
            batch_size=state.effective_batch * acc.num_processes,
            micro_batch_size=state.micro_batch_size,
            gradient_accumulation=state.gradient_accumulation,
            packed=self.packed,
            checkpoint_every=self.train["checkpoint_every"],
            tuning=self.tuned.method,
            trainable_params=self.tuned.trainable,
            total_params=self.tuned.total,
        )
        if self.resume_from is None:
            self.emit(Start(**fields_))
        else:
            checkpoint = (
                self.resume_from.relative_to(self.run_dir) if self.run_dir else self.resume_from
            )
            self.emit(
                Resumed(
                    **fields_,
                    from_step=state.step,
                    checkpoint=str(checkpoint),
                    pid=os.getpid(),
                    host=socket.gethostname(),
                    overrides=self.recipe.overrides,
                )
            )

    def _train_epoch(self) -> None:
        """Train from the current position to the end of the epoch (or until done).
        After an out-of-memory error it returns early, and the next call goes on
        from the same step with the smaller micro-batch."""
        s = self.state
        self.sampler.use_epoch(s.epoch)
        batches = len(self.train_loader)
        position = s.steps_in_epoch * s.gradient_accumulation
        loader = (
            self.acc.skip_first_batches(self.train_loader, position)
            if position
            else self.train_loader
        )
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
        mean = self.backward_window(window)
        if self.train["max_grad_norm"] > 0:
            self.grad_norm = self.acc.clip_grad_norm_(
                self.model.parameters(), self.train["max_grad_norm"]
            )
        self.optimizer.step()
        if not self.optimizer.step_was_skipped:  # fp16 skips steps with inf gradients
            self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.loss_since_log += mean
        self.watch.observe(mean, self.state.step + 1)
        if self.grad_norm is not None:  # NaN gradients make NaN weights, whatever the loss
            self.watch.observe(self.grad_norm, self.state.step + 1)
        self.state.samples += sum(examples_in(b) for b in window) * self.acc.num_processes

    def backward_window(self, window: list[dict]):
        """Gradients of a window of micro-batches, as one batch of them would give.

        The loss of every micro-batch is summed over its labelled positions and
        divided by those of the whole window on every process, so any split of
        the same examples into micro-batches and processes gives the same
        gradients (DDP averages over processes: times their count). Returns this
        process's share of the window's mean loss (on the device).
        """
        acc, model = self.acc, self.model
        count = sum(labelled(batch["labels"]) for batch in window)
        if acc.num_processes > 1:
            count = acc.reduce(count, reduction="sum")
        count = count.clamp(min=1)
        scale = acc.num_processes / count
        window_loss = torch.zeros((), device=acc.device)
        for index, batch in enumerate(window):
            inputs = _model_inputs(batch)
            last = index == len(window) - 1
            with nullcontext() if last else acc.no_sync(model):
                with first_tokens_only(self.encoder, batch):
                    logits = model(**inputs).logits
                loss = summed_loss(logits, batch["labels"])
                acc.backward(loss * scale)
            window_loss += loss.detach()
        return window_loss / count

    def _after_step(self, end_of_epoch: bool) -> None:
        """Log, evaluate, stop and checkpoint, as due after an optimizer step."""
        s, train, every = self.state, self.train, self.recipe["eval"]
        s.step += 1
        if s.step % train["log_every"] == 0 or s.step == s.total_steps:
            self._log()
        if "validation" in self.features and (
            (every["every"] == "steps" and s.step % every["steps"] == 0)
            or (every["every"] == "epoch" and end_of_epoch)
        ):
            self._validate()
        if s.step >= s.total_steps:
            self.done = True
        stop = self.vote.poll()  # every step, in every process, whatever else happened
        if stop and not self.done:
            self.stopped = self.done = True
        if self.stopped or (train["checkpoint_every"] and s.step % train["checkpoint_every"] == 0):
            self._checkpoint()

    def _log(self) -> None:
        acc, s = self.acc, self.state
        self.watch.check(acc)  # reads the device anyway: no extra sync
        total = (
            acc.reduce(self.loss_since_log, reduction="sum")
            if acc.num_processes > 1
            else self.loss_since_log
        )
        now_ = time.perf_counter()
        # Training throughput: the time evaluations and checkpoints took is not training.
        seconds = max(1e-9, now_ - self.last_log_time - self.paused_s)
        steps = s.step - s.last_log_step  # the loss sums these (some before a resume)
        timed = s.step - max(s.last_log_step, self.first_step)  # these were timed here
        per_step = (now_ - self.started) / max(1, s.step - self.first_step)
        self.emit(
            Step(
                step=s.step,
                epoch=round(s.step / self.steps_per_epoch, 4),
                loss=float(total) / max(1, steps),
                learning_rate=self.scheduler.get_last_lr()[0],
                grad_norm=float(self.grad_norm) if self.grad_norm is not None else None,
                samples_per_s=(s.samples - self.last_log_samples) / seconds,
                steps_per_s=timed / seconds,
                elapsed_s=s.train_seconds + now_ - self.started,
                eta_s=per_step * (s.total_steps - s.step),
                memory_mb=memory_mb(acc.device),
                total_steps=s.total_steps,
            )
        )
        self.loss_since_log.zero_()
        s.last_log_step, self.last_log_time, self.last_log_samples = s.step, now_, s.samples
        self.paused_s = 0.0

    # -- evaluation --------------------------------------------------------------------
    def evaluate(self, split: str) -> dict[str, Any]:
        """Score ``split``: argmax per batch on the device, streamed into the scorer;
        the loss is summed per example, so it is exact across processes."""
        acc, model = self.acc, self.model
        scorer = self.exp.task.scorer(self.exp.splits[split], self.id2label)
        loss_sum = torch.zeros((), device=acc.device)
        count = torch.zeros((), device=acc.device)
        model.eval()
        try:
            with torch.inference_mode():
                for batch in self.loaders[split]:
                    self._evaluating = batch
                    logits = model(**_model_inputs(batch)).logits
                    labels = batch["labels"]
                    row_loss, row_count = row_losses(logits, labels)
                    # Per token or per pair: padded to a common width across processes.
                    preds, labels, window = (
                        acc.pad_across_processes(t, dim=1, pad_index=fill) if t.dim() > 1 else t
                        for t, fill in (
                            (logits.argmax(-1), 0),
                            (labels, -100),
                            (batch["window"], -1),
                        )
                    )
                    preds, labels, example, window, row_loss, row_count = acc.gather_for_metrics(
                        (preds, labels, batch["example"], window, row_loss, row_count)
                    )
                    loss_sum += row_loss.sum()
                    count += row_count.sum()
                    scorer.add(preds.cpu(), labels.cpu(), example.cpu(), window.cpu())
        finally:
            model.train()
        report = scorer.result()
        report["metrics"]["loss"] = float(loss_sum / count.clamp(min=1))
        report["split"] = split
        return report

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

    @contextmanager
    def _not_training(self):
        """Time that does not count in training throughput (evaluation, checkpoints)."""
        began = time.perf_counter()
        try:
            yield
        finally:
            self.paused_s += time.perf_counter() - began

    def _validate(self) -> None:
        """Evaluate on validation, keep the best, count patience."""
        s = self.state
        self.watch.check(self.acc)  # a NaN model is never evaluated, nor saved as the best
        with self._not_training():
            report, seconds = self._evaluate("validation")
        value = report["metrics"][self.metric]
        lower = _lower_is_better(self.metric)
        improved = s.best_value is None or (value < s.best_value if lower else value > s.best_value)
        if improved:
            s.best_value, s.best_step, s.bad_evals = value, s.step, 0
            self.best_report = report
            self._keep_best()
        else:
            s.bad_evals += 1
        s.last_eval_step = s.step
        self.emit(
            Eval(
                step=s.step,
                epoch=round(s.step / self.steps_per_epoch, 4),
                split="validation",
                metric=self.metric,
                value=value,
                best=improved,
                best_value=s.best_value,
                best_step=s.best_step,
                metrics=report["metrics"],
                report=report,
                seconds=seconds,
            )
        )
        if improved and self.save:
            with self._not_training():
                self._save_model(s.step, value)
        patience = self.recipe["eval"]["patience"]
        if patience > 0 and s.bad_evals >= patience:
            self.early_stopped = self.done = True

    def _keep_best(self) -> None:
        self.best_weights = {
            k: v.detach().to("cpu", copy=True)
            for k, v in self.acc.unwrap_model(self.model).state_dict().items()
        }

    def _save_model(self, step: int, value: float | None) -> None:
        """The model as it is now into ``run_dir/model`` (the main process writes)."""
        if self.acc.is_main_process:
            assert self.run_dir is not None  # models are saved only into a run folder
            meta = {
                "task": self.exp.task.name,
                "labels": self.exp.labels,
                "max_length": self.recipe["model"]["max_length"],
                "recipe": self.recipe.name,
                "base_model": self.recipe["model"]["name"],
                **self.exp.task.meta(),
                "peft": self.tuned.method,
                "step": step,
                "metric": self.metric,
                "value": value,
            }
            try:
                save_model(
                    self.acc.unwrap_model(self.model),
                    self.exp.tokenizer,
                    self.run_dir / MODEL,
                    meta,
                    merge=self.recipe["peft"]["merge"],
                )
            except OSError as exc:
                raise WorkbenchError(
                    f"cannot save the model to {self.run_dir / MODEL}: {exc.strerror or exc}"
                ) from None
        self.acc.wait_for_everyone()
        self.model_step = step
        self.emit(ModelSaved(step=step, path=MODEL, metric=self.metric, value=value))

    # -- faults --------------------------------------------------------------------------
    def _train_out_of_memory(self, shape: tuple[int, int]) -> None:
        """Halve the micro-batch and double accumulation (auto_batch), or fail."""
        s = self.state
        self.optimizer.zero_grad(set_to_none=True)
        faults.free_device_memory()
        why_not = self._why_not_halve(s.micro_batch_size, even=True)
        if why_not is not None:
            raise WorkbenchError(
                faults.out_of_memory_message(
                    s.step + 1,
                    shape,
                    device_memory_text(self.acc.device),
                    evaluating=False,
                    why_not=why_not,
                )
            )
        s.micro_batch_size //= 2
        s.gradient_accumulation *= 2
        self.train_loader, self.sampler = self._train_loader(s.micro_batch_size, s.effective_batch)
        self._adjusted(f"out of memory with a micro-batch of {shape[0]} x {shape[1]} tokens")

    def _eval_out_of_memory(self, shape: tuple[int, int]) -> None:
        s = self.state
        faults.free_device_memory()
        # Halve the batch that failed: a token-capped one may hold fewer rows than
        # eval_batch_size, and halving that alone would give it back unchanged.
        rows = min(s.eval_batch_size, shape[0])
        why_not = self._why_not_halve(rows, even=False)
        if why_not is not None:
            raise WorkbenchError(
                faults.out_of_memory_message(
                    s.step,
                    shape,
                    device_memory_text(self.acc.device),
                    evaluating=True,
                    why_not=why_not,
                )
            )
        s.eval_batch_size = rows // 2
        self._eval_loaders(s.eval_batch_size)
        self._adjusted(f"out of memory evaluating {shape[0]} x {shape[1]} tokens")

    def _why_not_halve(self, size: int, even: bool) -> str | None:
        """None when auto_batch may halve ``size``; else why it may not."""
        if not self.train["auto_batch"]:
            return "off"
        if self.acc.num_processes > 1:
            return "train.auto_batch works with one process only"
        if size < 2:
            return "even a batch of 1 did not fit"
        if even and size % 2:
            return f"a micro-batch of {size} cannot be halved into the same effective batch"
        return None

    def _adjusted(self, reason: str) -> None:
        s = self.state
        self.emit(
            BatchAdjusted(
                step=s.step + 1,
                batch_size=s.micro_batch_size,
                gradient_accumulation=s.gradient_accumulation,
                eval_batch_size=s.eval_batch_size,
                reason=reason,
            )
        )

    # -- checkpoints ---------------------------------------------------------------------
    def _checkpoint(self) -> None:
        """A resumable checkpoint of everything, never of a NaN model."""
        if self.run_dir is None:
            return
        s = self.state
        self.watch.check(self.acc)
        log_loss = (
            self.acc.reduce(self.loss_since_log, reduction="sum")
            if self.acc.num_processes > 1
            else self.loss_since_log
        )
        saved = replace(
            s,
            train_seconds=s.train_seconds + time.perf_counter() - self.started,
            log_loss=float(log_loss),
        )
        extra = {
            "best_report": self.best_report,
            "fingerprint": self.exp.fingerprint(),
            "recipe": self.recipe.to_dict(),
        }
        # The best weights ride along unless they are the checkpoint's own: run_dir/model
        # may be overwritten by steps a resumed run does again.
        best = self.best_weights if s.best_step not in (None, s.step) else None
        with self._not_training():
            path, kept = save_checkpoint(
                self.acc, self.run_dir, saved, extra, self.train["keep_checkpoints"], best
            )
        self.emit(
            Checkpoint(
                step=s.step, epoch=round(s.step / self.steps_per_epoch, 4), path=path, kept=kept
            )
        )

    # -- the end -------------------------------------------------------------------------
    def finish(self) -> TrainResult:
        """A last evaluation if the last step had none; the best model saved and,
        on a test split, scored."""
        self.vote.close()
        s = self.state
        completed = not self.stopped
        if "validation" in self.features and completed and s.last_eval_step != s.step:
            self._validate()
        if self.best_weights is not None and s.best_step != s.step:
            self.acc.unwrap_model(self.model).load_state_dict(self.best_weights)
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
        if "test" in self.features and completed:
            report, seconds = self._evaluate("test")
            result.reports["test"] = report
            self.emit(
                Eval(
                    step=s.best_step or s.step,
                    epoch=round(s.step / self.steps_per_epoch, 4),
                    split="test",
                    metric=self.metric,
                    value=report["metrics"][self.metric],
                    metrics=report["metrics"],
                    report=report,
                    seconds=seconds,
                )
            )
        return result

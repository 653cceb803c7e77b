"""Everything the training loop needs before its first step, made once and held
in one typed object (``Prepared``): the accelerator, the model made ready for its
tuning method, the encoded splits, the collates (packed or not), the loaders, the
optimizer and schedule, and the loop's state (fresh, or a checkpoint's).

The order of the steps is part of the contract: a run resumed after kill -9 is
bit-identical only if the seed is set, the model built and the loaders made in
the same order every time.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch

from workbench.engine import faults, masks
from workbench.engine.checkpoints import read_trainer_state
from workbench.engine.data import EpochSampler, eval_loader, length_split, train_loader
from workbench.engine.devices import make_accelerator
from workbench.engine.feature_cache import FeatureCache
from workbench.engine.packing import encoder_of, packed_collate, packing_offset
from workbench.engine.state import TrainState
from workbench.errors import WorkbenchError
from workbench.experiment import Experiment
from workbench.models.pretrained import load_for_training
from workbench.models.tuning import Tuned, apply_tuning
from workbench.settings import ModelSettings, TrainSettings
from workbench.tasks.base import batch_tokens, collate_for

EVAL_SPLITS = ("validation", "test")


@dataclass
class Prepared:
    """What set-up hands the loop. ``state`` and the loaders change as it runs
    (auto_batch rebuilds the loaders with smaller batches); the rest is fixed."""

    acc: Any  # accelerate.Accelerator
    model: Any  # prepared by Accelerate (DDP-wrapped with several processes)
    optimizer: Any
    scheduler: Any
    tuned: Tuned
    id2label: dict[int, str]
    features: dict[str, list[dict]]  # encoded examples per split
    cached_splits: list[str]  # the splits read from the feature cache
    collate: Callable  # padded batches (evaluation; training when not packed)
    train_collate: Callable  # the training batches: packed rows or padded
    packed: bool
    encoder: Any  # the module a classification head's packed rows are cut from
    state: TrainState
    steps_per_epoch: int
    checkpoint: dict | None  # the trainer state of the checkpoint resumed from
    watch: faults.NonFiniteWatch  # a loss or gradient that stops being a number
    vote: faults.StopVote  # a stop asked for, agreed by every process
    loss_since_log: torch.Tensor  # this process's summed loss since the last logged step
    train_loader: Any = None
    sampler: EpochSampler | None = None
    loaders: dict[str, Any] | None = None  # evaluation loaders per split

    def build_train_loader(self, train: TrainSettings) -> None:
        """The training loader for the state's micro-batch (again after auto_batch)."""
        loader, self.sampler = train_loader(
            self.features["train"],
            self.state.micro_batch_size,
            train.seed,
            self.train_collate,
            train.group_by_length,
            workers=self.acc.device.type == "cuda",
            group_size=self.state.effective_batch,
        )
        self.train_loader = self.acc.prepare_data_loader(loader)

    def build_eval_loaders(self) -> None:
        """Evaluation loaders for the state's evaluation batch size."""
        # Prepared one by one: each process scores its shard, gather_for_metrics
        # drops the duplicated tail of the last batch (so batches are capped in
        # tokens only in a single process).
        single = self.acc.num_processes == 1
        max_tokens = batch_tokens(self.acc.device) if single else None
        self.loaders = {
            split: self.acc.prepare_data_loader(
                eval_loader(
                    self.features[split], self.state.eval_batch_size, self.collate, max_tokens
                )
            )
            for split in EVAL_SPLITS
            if split in self.features
        }

    def start_fields(self, exp: Experiment) -> dict[str, Any]:
        """What the start (or resumed) event says about the run."""
        acc, state, recipe = self.acc, self.state, exp.recipe
        return dict(
            task=exp.task.name,
            recipe=recipe.name,
            model=recipe.model.name,
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
            metric=exp.metric,
            batch_size=state.effective_batch * acc.num_processes,
            micro_batch_size=state.micro_batch_size,
            gradient_accumulation=state.gradient_accumulation,
            packed=self.packed,
            checkpoint_every=recipe.train.checkpoint_every,
            coverage={split: cov.as_dict() for split, cov in exp.coverage.items()},
            coverage_warnings=exp.coverage_warnings(),
            vocabulary_added=len(exp.added_vocabulary),
            tuning=self.tuned.method,
            trainable_params=self.tuned.trainable,
            total_params=self.tuned.total,
        )


def prepare(
    exp: Experiment, resume_from: Path | None = None, stop: threading.Event | None = None
) -> Prepared:
    """Devices, model, data, optimizer and schedule; a resumed run's state (to be
    restored into them: ``checkpoint``); ``stop`` is the flag a person sets."""
    from accelerate.utils import set_seed

    recipe, train = exp.recipe, exp.recipe.train
    acc = make_accelerator(train.precision)
    if train.deterministic:  # cuBLAS needs this before its first handle
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    set_seed(train.seed, deterministic=train.deterministic)
    if not train.deterministic:  # a setting of the process: undo an earlier run's
        torch.use_deterministic_algorithms(False)
    new_vocabulary = exp.tokenizer.convert_tokens_to_ids(exp.added_vocabulary)
    model = load_for_training(
        exp.task, recipe.model.name, exp.labels, exp.tokenizer, new_vocabulary
    )
    _check_max_length(model, recipe.model)
    # A compiled model pads to a few lengths: one graph serves every batch of a bucket.
    collate = collate_for(model, exp.tokenizer, acc.device, buckets=train.compile)
    tuned = apply_tuning(
        model,
        recipe.peft,
        recipe.model.name,
        exp.tokenizer.convert_tokens_to_ids(exp.task.added_tokens() + exp.added_vocabulary),
    )
    model = tuned.model
    if train.compile:  # in place: parameter names, saving and unwrapping unchanged
        model.compile(dynamic=None)
    features, cached_splits = _encode(exp)
    checkpoint = read_trainer_state(resume_from) if resume_from else None
    saved = TrainState.from_dict(checkpoint["state"]) if checkpoint else None
    # Grouped by length, a batch is packed into rows (engine/packing.py), or
    # runs as length-sorted micro-batches whose gradients add up to the whole
    # batch's (engine/data.py says why).
    train_collate, packed = collate, False
    if train.group_by_length and _may_pack(acc, exp, train):
        first = exp.task.packing == "first_token"
        pad = exp.tokenizer.pad_token_id
        offset = packing_offset(model, features["train"], collate, pad, first)
        if offset is not None:
            packed, train_collate = True, packed_collate(pad, offset, first)
    if not (packed or train.compile) and masks.expansion_agrees(model, features["train"], collate):
        train_collate = masks.expanding(collate)  # no host read a step (engine/masks.py)
    parts = 1
    if train.group_by_length and saved is None and not packed:
        parts = length_split(
            [len(f["input_ids"]) for f in features["train"]],
            train.batch_size,
            acc.device.type,
            train.seed,
            train.batch_size * train.gradient_accumulation,
        )
    micro = saved.micro_batch_size if saved else train.batch_size // parts
    accumulation = saved.gradient_accumulation if saved else train.gradient_accumulation * parts
    # The state is made before the loader: its micro-batch and accumulation size it.
    fresh = TrainState(
        total_steps=0,
        micro_batch_size=micro,
        gradient_accumulation=accumulation,
        eval_batch_size=train.eval_batch_size,
    )
    prepared = Prepared(
        acc=acc,
        model=model,
        optimizer=None,
        scheduler=None,
        tuned=tuned,
        id2label=dict(enumerate(exp.labels)),
        features=features,
        cached_splits=cached_splits,
        collate=collate,
        train_collate=train_collate,
        packed=packed,
        encoder=encoder_of(model),
        state=saved or fresh,
        steps_per_epoch=0,
        checkpoint=checkpoint,
        watch=faults.NonFiniteWatch(acc.device),
        vote=faults.StopVote(stop or threading.Event(), acc),
        loss_since_log=torch.zeros((), device=acc.device),
    )
    prepared.build_train_loader(train)
    prepared.steps_per_epoch = max(1, math.ceil(len(prepared.train_loader) / accumulation))
    if saved is None:
        fresh.total_steps = train.max_steps or max(
            1, math.ceil(train.epochs * prepared.steps_per_epoch)
        )
    optimizer = _optimizer(model, acc, train)
    prepared.scheduler = _scheduler(optimizer, prepared.state.total_steps, train)
    prepared.model, prepared.optimizer = acc.prepare(model, optimizer)
    acc.register_for_checkpointing(prepared.scheduler)
    prepared.build_eval_loaders()
    return prepared


def _encode(exp: Experiment) -> tuple[dict[str, list[dict]], list[str]]:
    """Every split encoded (from the feature cache where it holds them), and the
    splits that came from the cache."""
    label2id = {label: i for i, label in enumerate(exp.labels)}
    max_length = exp.recipe.model.max_length
    cache = FeatureCache(exp.task, exp.tokenizer)
    features, cached_splits = {}, []
    for split, examples in exp.splits.items():
        train_split = split == "train"
        encode = partial(
            exp.task.encode, examples, exp.tokenizer, label2id, max_length, train=train_split
        )
        features[split], cached = cache.features(
            examples, label2id, max_length, train_split, encode
        )
        if cached:
            cached_splits.append(split)
    return features, cached_splits


def _may_pack(acc, exp: Experiment, train: TrainSettings) -> bool:
    """Packing pays where a padded token costs as much as a real one (a CPU;
    on a GPU it is not yet measured), for tasks whose heads can read a packed
    row, on a model not compiled (a mask per batch shape would recompile)."""
    return acc.device.type == "cpu" and exp.task.packing is not None and not train.compile


def _check_max_length(model, settings: ModelSettings) -> None:
    positions = getattr(model.config, "max_position_embeddings", None)
    wanted = settings.max_length
    if positions and wanted > positions:
        raise WorkbenchError(
            f"model.max_length {wanted} is more than the {positions} "
            f"positions model {settings.name!r} has"
        )


def _optimizer(model, acc, train: TrainSettings):
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    embeddings: list[torch.nn.Parameter] = []
    # With train.embedding_learning_rate the input embeddings are a group of their own:
    # whatever of them trains (the whole matrix; under [peft], PEFT's rows for new tokens).
    own = train.embedding_learning_rate is not None
    embedding_ids = {id(p) for p in model.get_input_embeddings().parameters()} if own else set()
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if id(param) in embedding_ids:
            embeddings.append(param)
            continue
        # The usual exemption: biases and normalisation weights are not decayed.
        (no_decay if param.ndim < 2 or "norm" in name.lower() else decay).append(param)
    groups = [
        {"params": decay, "weight_decay": train.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if embeddings:
        groups.append(
            {
                "params": embeddings,
                "weight_decay": train.weight_decay,
                "lr": train.embedding_learning_rate,
            }
        )
    # Fused AdamW (one kernel for all parameters) is 7x faster than the
    # per-parameter loop on a CPU and the fastest on a GPU; the Trainer uses it too.
    # Not under fp16: Accelerate cannot tell when the fused kernel skipped an
    # overflowed step, and would advance the schedule anyway.
    fused = acc.device.type in ("cpu", "cuda") and acc.mixed_precision != "fp16"
    return torch.optim.AdamW(groups, lr=train.learning_rate, fused=fused or None)


def _scheduler(optimizer, total_steps: int, train: TrainSettings):
    # Stepped by the engine once per optimizer step (not prepared: Accelerate's
    # wrapper would step it once per process).
    from transformers import get_scheduler

    name = train.scheduler
    return get_scheduler(
        "constant_with_warmup" if name == "constant" else name,
        optimizer,
        num_warmup_steps=int(train.warmup_ratio * total_steps),
        num_training_steps=total_steps,
    )

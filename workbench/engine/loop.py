"""The training loop, on 🤗 Accelerate.

It owns devices, precision, the optimizer and schedule, evaluation, best
checkpoint and early stopping, and nothing task-specific: the task adapter
encodes, scores and decodes. It never prints; it emits events (plain dicts) to
whatever is attached, and checks a stop flag between steps.

The hot loop reads nothing back from the device except once per
``train.log_every`` steps (the loss, summed on the device in between).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from workbench.errors import WorkbenchError
from workbench.experiment import Experiment
from workbench.models import META_FILE, load_for_training
from workbench.runs.files import replace_dir_atomic, write_json_atomic
from workbench.runs.folder import MODEL, now
from workbench.tasks.base import META_KEYS, make_collate

Emit = Callable[[dict[str, Any]], None]


@dataclass
class TrainResult:
    """What a finished loop hands back to the runner."""

    status: str  # completed or stopped
    steps: int
    best_metric: str
    best_value: float | None = None
    best_step: int | None = None
    reports: dict[str, dict] = field(default_factory=dict)
    model_saved: bool = False
    early_stopped: bool = False


def _lower_is_better(metric: str) -> bool:
    return metric == "loss"


def _mixed_precision(precision: str) -> str:
    import torch

    cuda = torch.cuda.is_available()
    if precision == "auto":
        return "bf16" if cuda and torch.cuda.is_bf16_supported() else "no"
    if precision == "fp16" and not cuda:
        raise WorkbenchError("train.precision = 'fp16' needs a CUDA GPU; use 'auto' or 'bf16'")
    return {"fp32": "no"}.get(precision, precision)


def _fresh_accelerator(mixed_precision: str, accumulation: int):
    """A new Accelerator; earlier runs in this process (tests, the TUI) must not
    leak their precision or accumulation settings into this one."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(True)
    GradientState._reset_state()
    return Accelerator(mixed_precision=mixed_precision, gradient_accumulation_steps=accumulation)


def _memory_mb(device) -> float:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def save_model(model, tokenizer, target: Path, meta: dict[str, Any]) -> None:
    """``save_pretrained`` model and tokenizer, plus workbench's own metadata,
    swapped into ``target`` whole."""

    def fill(tmp: Path) -> None:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        write_json_atomic(tmp / META_FILE, meta)

    replace_dir_atomic(target, fill)


class Engine:
    """Trains one experiment. ``run()`` emits start, step, eval and checkpoint
    events and returns a ``TrainResult``; the runner writes the end event."""

    def __init__(self, experiment: Experiment, emit: Emit, run_dir: Path | None = None,
                 stop: threading.Event | None = None):
        self.exp = experiment
        self.emit = emit
        self.run_dir = Path(run_dir) if run_dir else None
        self.stop = stop or threading.Event()

    # -- setup -----------------------------------------------------------------
    def _loaders(self, tokenizer):
        import torch
        from torch.utils.data import DataLoader

        exp, train = self.exp, self.exp.recipe["train"]
        label2id = {label: i for i, label in enumerate(exp.labels)}
        max_length = exp.recipe["model"]["max_length"]
        collate = make_collate(tokenizer.pad_token_id)
        features = {split: exp.task.encode(examples, tokenizer, label2id, max_length,
                                           train=split == "train")
                    for split, examples in exp.splits.items()}
        generator = torch.Generator().manual_seed(train["seed"])
        loaders = {"train": DataLoader(features["train"], batch_size=train["batch_size"],
                                       shuffle=True, collate_fn=collate, generator=generator)}
        for split in ("validation", "test"):
            if split in features:
                # Sorted by length: far less padding, and the scorer reorders by example id.
                ordered = sorted(features[split], key=lambda f: len(f["input_ids"]))
                loaders[split] = DataLoader(ordered, batch_size=train["eval_batch_size"],
                                            shuffle=False, collate_fn=collate)
        return loaders, features

    def _optimizer(self, model):
        import torch

        train = self.exp.recipe["train"]
        decay, no_decay = [], []
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            # The usual exemption: biases and normalisation weights are not decayed.
            (no_decay if param.ndim < 2 or "norm" in name.lower() else decay).append(param)
        groups = [{"params": decay, "weight_decay": train["weight_decay"]},
                  {"params": no_decay, "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=train["learning_rate"])

    # -- evaluation --------------------------------------------------------------
    def evaluate(self, split: str) -> dict[str, Any]:
        """Score ``split``: argmax per batch on the device, streamed into the scorer."""
        import torch

        acc, model = self.accelerator, self.model
        scorer = self.exp.task.scorer(self.exp.splits[split], self.id2label)
        loss_sum = torch.zeros((), device=acc.device)
        batches = 0
        model.eval()
        with torch.inference_mode():
            for batch in self.loaders[split]:
                example, window = batch.pop("example"), batch.pop("window")
                out = model(**batch)
                loss_sum += out.loss.detach().float()
                batches += 1
                preds, labels = out.logits.argmax(-1), batch["labels"]
                if preds.dim() > 1:  # token tasks: pad to a common length across processes
                    preds = acc.pad_across_processes(preds, dim=1, pad_index=0)
                    labels = acc.pad_across_processes(labels, dim=1, pad_index=-100)
                preds, labels, example, window = acc.gather_for_metrics(
                    (preds, labels, example, window))
                scorer.add(preds.cpu(), labels.cpu(), example.cpu(), window.cpu())
        model.train()
        report = scorer.result()
        report["metrics"]["loss"] = float(loss_sum.item() / max(1, batches))
        report["split"] = split
        return report

    # -- the loop -----------------------------------------------------------------
    def run(self) -> TrainResult:
        import torch
        from accelerate.utils import set_seed
        from transformers import get_scheduler

        exp, recipe = self.exp, self.exp.recipe
        train, evalc = recipe["train"], recipe["eval"]
        acc = self.accelerator = _fresh_accelerator(_mixed_precision(train["precision"]),
                                                    train["gradient_accumulation"])
        set_seed(train["seed"])
        self.id2label = dict(enumerate(exp.labels))
        tokenizer = exp.tokenizer
        model = load_for_training(exp.task, recipe["model"]["name"], exp.labels, tokenizer)
        positions = getattr(model.config, "max_position_embeddings", None)
        if positions and recipe["model"]["max_length"] > positions:
            raise WorkbenchError(
                f"model.max_length {recipe['model']['max_length']} is more than the "
                f"{positions} positions model {recipe['model']['name']!r} has")
        self.loaders, features = self._loaders(tokenizer)

        batches_per_epoch = len(self.loaders["train"])
        steps_per_epoch = max(1, math.ceil(batches_per_epoch / train["gradient_accumulation"]))
        total_steps = train["max_steps"] or max(1, math.ceil(train["epochs"] * steps_per_epoch))
        optimizer = self._optimizer(model)
        scheduler = get_scheduler(
            "constant_with_warmup" if train["scheduler"] == "constant" else train["scheduler"],
            optimizer, num_warmup_steps=int(train["warmup_ratio"] * total_steps),
            num_training_steps=total_steps)
        prepared = acc.prepare(model, optimizer, self.loaders["train"], scheduler,
                               *[self.loaders[s] for s in ("validation", "test") if s in self.loaders])
        model, optimizer, train_loader, scheduler, *eval_loaders = prepared
        for split, loader in zip([s for s in ("validation", "test") if s in self.loaders],
                                 eval_loaders):
            self.loaders[split] = loader
        self.model = model

        metric = exp.metric
        has_validation = "validation" in exp.splits
        self.emit({
            "type": "start", "time": now(), "task": exp.task.name, "recipe": recipe.name,
            "model": recipe["model"]["name"], "labels": exp.labels,
            "device": str(acc.device), "precision": acc.mixed_precision,
            "processes": acc.num_processes,
            "examples": {s: len(e) for s, e in exp.splits.items()},
            "features": {s: len(f) for s, f in features.items()},
            "total_steps": total_steps, "steps_per_epoch": steps_per_epoch,
            "epochs": total_steps / steps_per_epoch, "metric": metric,
            "batch_size": train["batch_size"] * acc.num_processes * train["gradient_accumulation"],
        })

        result = TrainResult(status="completed", steps=0, best_metric=metric)
        best_state = None
        bad_evals = 0
        last_eval_step = None
        lower = _lower_is_better(metric)
        save = recipe["output"]["save_model"] and self.run_dir is not None
        meta = {"task": exp.task.name, "labels": exp.labels,
                "max_length": recipe["model"]["max_length"], "recipe": recipe.name,
                "base_model": recipe["model"]["name"],
                **(exp.task.meta() if hasattr(exp.task, "meta") else {})}

        def checkpoint(step: int, value: float | None) -> None:
            unwrapped = acc.unwrap_model(model)
            save_model(unwrapped, tokenizer, self.run_dir / MODEL,
                       {**meta, "step": step, "metric": metric, "value": value})
            result.model_saved = True
            self.emit({"type": "checkpoint", "time": now(), "step": step, "path": MODEL,
                       "metric": metric, "value": value})

        def run_eval(step: int) -> bool:
            """Evaluate, keep the best; return True when patience has run out."""
            nonlocal best_state, bad_evals, last_eval_step
            last_eval_step = step
            report = self.evaluate("validation")
            value = report["metrics"][metric]
            improved = result.best_value is None or (
                value < result.best_value if lower else value > result.best_value)
            if improved:
                result.best_value, result.best_step = value, step
                result.reports["validation"] = report
                bad_evals = 0
                best_state = {k: v.detach().to("cpu", copy=True)
                              for k, v in acc.unwrap_model(model).state_dict().items()}
            else:
                bad_evals += 1
            self.emit({"type": "eval", "time": now(), "step": step,
                       "epoch": round(step / steps_per_epoch, 4), "split": "validation",
                       "metric": metric, "value": value, "best": improved,
                       "best_value": result.best_value, "best_step": result.best_step,
                       "metrics": report["metrics"], "report": report})
            if improved and save:
                checkpoint(step, value)
            return evalc["patience"] > 0 and bad_evals >= evalc["patience"]

        step = 0
        loss_sum = torch.zeros((), device=acc.device)
        micro_batches = 0
        samples = 0
        grad_norm = None
        started = last_time = time.perf_counter()
        last_step = 0
        done = False
        model.train()
        while not done:
            for batch in train_loader:
                for key in META_KEYS:
                    batch.pop(key)
                with acc.accumulate(model):
                    out = model(**batch)
                    acc.backward(out.loss)
                    if acc.sync_gradients and train["max_grad_norm"] > 0:
                        grad_norm = acc.clip_grad_norm_(model.parameters(), train["max_grad_norm"])
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                loss_sum += out.loss.detach().float()
                micro_batches += 1
                samples += batch["input_ids"].shape[0] * acc.num_processes
                if not acc.sync_gradients:
                    continue
                step += 1
                if step % train["log_every"] == 0 or step == total_steps:
                    current = time.perf_counter()
                    loss = float(loss_sum.item() / micro_batches)
                    if not math.isfinite(loss):  # read here anyway: no extra device sync
                        raise WorkbenchError(
                            f"the training loss became {loss} by step {step}; try a lower "
                            f"train.learning_rate or train.precision = 'fp32'")
                    per_step = (current - started) / step
                    self.emit({
                        "type": "step", "time": now(), "step": step,
                        "epoch": round(step / steps_per_epoch, 4), "loss": loss,
                        "learning_rate": scheduler.get_last_lr()[0],
                        "grad_norm": float(grad_norm) if grad_norm is not None else None,
                        "samples_per_s": samples / max(1e-9, current - last_time),
                        "steps_per_s": (step - last_step) / max(1e-9, current - last_time),
                        "elapsed_s": current - started,
                        "eta_s": per_step * (total_steps - step),
                        "memory_mb": _memory_mb(acc.device), "total_steps": total_steps})
                    loss_sum.zero_()
                    micro_batches = samples = 0
                    last_time, last_step = current, step
                end_of_epoch = step % steps_per_epoch == 0
                if has_validation and (
                        (evalc["every"] == "steps" and step % evalc["steps"] == 0)
                        or (evalc["every"] == "epoch" and end_of_epoch)):
                    if run_eval(step):
                        result.early_stopped = done = True
                if step >= total_steps:
                    done = True
                if self.stop.is_set():
                    result.status = "stopped"
                    done = True
                if done:
                    break

        result.steps = step
        if has_validation and result.status == "completed" and last_eval_step != step:
            run_eval(step)
        if save and not result.model_saved:
            checkpoint(step, result.best_value)
        if "test" in exp.splits and result.status == "completed":
            if best_state is not None:
                acc.unwrap_model(model).load_state_dict(best_state)
            report = self.evaluate("test")
            result.reports["test"] = report
            self.emit({"type": "eval", "time": now(), "step": result.best_step or step,
                       "epoch": round(step / steps_per_epoch, 4), "split": "test",
                       "metric": metric, "value": report["metrics"][metric],
                       "metrics": report["metrics"], "report": report})
        return result

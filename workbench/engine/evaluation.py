"""Scoring a split during training: argmax per batch on the device, gathered
across processes and streamed into the task's scorer; the loss summed per
example, so it is exact whatever the processes and batches."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from workbench.engine.loss import row_losses
from workbench.tasks.base import model_inputs


def lower_is_better(metric: str) -> bool:
    """Is a smaller value of ``metric`` the better one?"""
    return metric == "loss"


def evaluate_batches(acc, model, batches: Iterable[dict], scorer) -> dict[str, Any]:
    """The scorer's report over ``batches`` (the model left in training mode), with
    the mean loss per labelled position as ``metrics.loss``."""
    loss_sum = torch.zeros((), device=acc.device)
    count = torch.zeros((), device=acc.device)
    model.eval()
    try:
        with torch.inference_mode():
            for batch in batches:
                logits = model(**model_inputs(batch)).logits
                labels = batch["labels"]
                row_loss, row_count = row_losses(logits, labels)
                # Per token or per pair: padded to a common width across processes.
                preds, labels, window = (
                    acc.pad_across_processes(t, dim=1, pad_index=fill) if t.dim() > 1 else t
                    for t, fill in (
                        (scorer.decode(logits, labels, batch["window"]), 0),
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
    return report

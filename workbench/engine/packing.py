"""Packed training batches: several short sentences share one padded row.

A random batch of CoNLL-2003 sentences carries more padding than words (its
longest sentence sets every row's length), and on a CPU a padded token costs
as much as a real one. Sorting the batch into micro-batches cuts the padding
but pays a forward and backward call per micro-batch (about 31 ms of fixed
work each for MiniLM, most of it the embedding matrix's gradient). Packing
does both: the batch's sentences are laid first-fit, longest first, into rows
as long as its longest sentence, with an attention mask that lets a token see
only its own sentence and position ids that start again at each sentence. The
model computes, for every sentence, what it computes for that sentence alone,
in one call over about the batch's real tokens.

Tasks say how their heads read a packed row (``Task.packing``): "tokens"
where logits and labels run along the tokens (NER: the loss is a sum over
tokens wherever they sit); "first_token" where a head reads each row's first
token (text classification): while a packed batch runs, the encoder's output is
cut down to each sentence's first token, as rows of their own, so the model's
own pooler and classifier see one row per sentence (``first_tokens_only``).
Whether a model computes the same packed is not taken on trust:
``packing_offset`` runs a few sentences both ways before training and packing
is used only where the logits agree (BERT, ELECTRA, DistilBERT from position 0;
RoBERTa and XLM-R from their padding index + 1; not DeBERTa, whose relative
attention builds a mask of its own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from workbench.tasks.base import model_inputs_on, pad_value

# Features checked packed against alone: a few, so the check costs one small call.
_CHECKED = 4
_TOLERANCE = 1e-4


def pack_rows(lengths: list[int]) -> list[list[int]]:
    """Indices of ``lengths`` laid into rows no longer than the longest, first
    fit in decreasing order of length (a row never holds more than the padded
    batch's longest row, so memory never exceeds the unpacked batch's)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    capacity = lengths[order[0]] if order else 0
    rows: list[list[int]] = []
    free: list[int] = []
    for i in order:
        for r, room in enumerate(free):
            if lengths[i] <= room:
                rows[r].append(i)
                free[r] -= lengths[i]
                break
        else:
            rows.append([i])
            free.append(capacity - lengths[i])
    return rows


def packed_collate(
    pad_id: int, offset: int, first_tokens: bool = False
) -> Callable[[list[dict]], dict]:
    """A training collate that packs its features into rows (``pack_rows``):
    the token lists laid end to end, a boolean attention mask of shape
    (rows, 1, length, length) true within a sentence (and among a row's padding,
    so no row of the mask is empty), position ids from ``offset`` at each
    sentence's start. Numbers of a feature (``example``, a class label) stay one
    per feature, in packed order, so ``len(batch["example"])`` counts the
    examples. With ``first_tokens``, ``batch["first_tokens"]`` holds the (row,
    column) where each sentence starts, for ``first_tokens_only``."""

    def collate(features: list[dict]) -> dict[str, Any]:
        lengths = [len(f["input_ids"]) for f in features]
        rows = pack_rows(lengths)
        width = lengths[rows[0][0]]
        lists = [k for k, v in features[0].items() if isinstance(v, list) and k != "attention_mask"]
        batch: dict[str, Any] = {}
        for key in lists:
            fill = pad_value(key, pad_id)
            batch[key] = torch.tensor(
                [_laid([features[i][key] for i in row], width, fill) for row in rows]
            )
        segment = torch.tensor(
            [_laid([[k] * lengths[i] for k, i in enumerate(row)], width, -1) for row in rows]
        )
        batch["attention_mask"] = (segment[:, :, None] == segment[:, None, :]).unsqueeze(1)
        batch["position_ids"] = (
            torch.tensor([_laid([list(range(lengths[i])) for i in row], width, 0) for row in rows])
            + offset
        )
        for key in features[0]:
            if key not in lists and key != "attention_mask":
                batch[key] = torch.tensor([features[i][key] for row in rows for i in row])
        if first_tokens:
            batch["first_tokens"] = torch.tensor(
                [
                    (r, sum(lengths[j] for j in row[:k]))
                    for r, row in enumerate(rows)
                    for k in range(len(row))
                ]
            )
        return batch

    return collate


def _laid(parts: list[list], width: int, fill) -> list:
    laid = [x for part in parts for x in part]
    return laid + [fill] * (width - len(laid))


def encoder_of(model):
    """The module whose output is the token states a head reads (``encoder`` in
    BERT, RoBERTa, ELECTRA, DeBERTa; ``transformer`` in DistilBERT), under a
    LoRA wrapper too; None where there is none."""
    model = model.get_base_model() if hasattr(model, "get_base_model") else model
    base = getattr(model, "base_model", model)
    for name in ("encoder", "transformer"):
        module = getattr(base, name, None)
        if isinstance(module, torch.nn.Module):
            return module
    return None


@contextmanager
def first_tokens_only(encoder, batch: dict) -> Iterator[None]:
    """While a packed batch with ``first_tokens`` runs, ``encoder`` returns only
    each sentence's first token, as a row of its own: a head that reads position
    0 of each row (BERT's pooler, RoBERTa's classifier) then scores every
    sentence of the row. A batch without them runs as it is."""
    starts = batch.get("first_tokens")
    if starts is None or encoder is None:
        yield
        return

    def cut(module, args, output):
        states = output[0]
        picked = states[starts[:, 0].to(states.device), starts[:, 1].to(states.device)]
        if isinstance(output, tuple):
            return (picked.unsqueeze(1), *output[1:])
        output.last_hidden_state = picked.unsqueeze(1)
        return output

    handle = encoder.register_forward_hook(cut)
    try:
        yield
    finally:
        handle.remove()


def packing_offset(
    model, features: list[dict], collate: Callable, pad_id: int, first_tokens: bool = False
) -> int | None:
    """The first position id with which ``model`` gives a few of ``features``
    packed the logits it gives each alone (0, else the padding index + 1, as
    RoBERTa counts), or None where neither does (or the model takes no position
    ids or 4-d masks, or, with ``first_tokens``, has no encoder to cut). Runs in
    evaluation mode without gradients and leaves the model's mode and the
    random state as they were."""
    sample = sorted(features[: _CHECKED * 4], key=lambda f: len(f["input_ids"]))[:_CHECKED]
    encoder = encoder_of(model)
    if len(sample) < 2 or first_tokens and encoder is None:
        return None
    config = getattr(model, "config", None)
    padding = getattr(config, "pad_token_id", None)
    offsets = [0] + ([padding + 1] if isinstance(padding, int) and padding >= 0 else [])
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            alone = [cpu_logits(model, collate([f]), device)[0] for f in sample]
            if not first_tokens:
                alone = [a[: len(f["input_ids"])] for a, f in zip(alone, sample)]
            rows = pack_rows([len(f["input_ids"]) for f in sample])
            in_rows = [alone[i] for row in rows for i in row]
            reference = torch.stack(in_rows) if first_tokens else torch.cat(in_rows)
            real = torch.zeros(len(rows), len(sample[rows[0][0]]["input_ids"]), dtype=torch.bool)
            for r, row in enumerate(rows):  # a row's sentences, then its padding
                real[r, : sum(len(sample[i]["input_ids"]) for i in row)] = True
            for offset in offsets:
                batch = packed_collate(pad_id, offset, first_tokens)(sample)
                try:
                    with first_tokens_only(encoder, batch):
                        logits = cpu_logits(model, batch, device)
                except (RuntimeError, TypeError, ValueError, IndexError):  # no 4-d masks...
                    return None
                got = logits if first_tokens else logits[real]
                if got.shape == reference.shape and torch.allclose(
                    got, reference, atol=_TOLERANCE, rtol=_TOLERANCE
                ):
                    return offset
        return None
    finally:
        model.train(was_training)


def cpu_logits(model, batch: dict, device) -> torch.Tensor:
    """``model``'s logits for a collated ``batch`` moved to ``device``, as fp32 on the CPU."""
    return model(**model_inputs_on(batch, device)).logits.float().cpu()

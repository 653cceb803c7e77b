"""``train.auto_batch``: after running out of memory, halve the training
micro-batch (doubling accumulation, so the effective batch and the gradients stay
the same) or the evaluation batch, and go on; without it, or when a batch cannot
be halved, fail with one sentence of advice."""

from __future__ import annotations

from workbench.engine import faults
from workbench.engine.devices import device_memory_text
from workbench.engine.prepare import Prepared
from workbench.errors import WorkbenchError
from workbench.runs.events import BatchAdjusted
from workbench.settings import TrainSettings


def halve_micro_batch(p: Prepared, train: TrainSettings, shape: tuple[int, int]) -> BatchAdjusted:
    """After a training step ran out of memory with a micro-batch of ``shape``."""
    s = p.state
    p.optimizer.zero_grad(set_to_none=True)
    faults.free_device_memory()
    _may_halve(p, train, shape, s.micro_batch_size, evaluating=False)
    s.micro_batch_size //= 2
    s.gradient_accumulation *= 2
    p.build_train_loader(train)
    return _adjusted(p, f"out of memory with a micro-batch of {shape[0]} x {shape[1]} tokens")


def halve_eval_batch(p: Prepared, train: TrainSettings, shape: tuple[int, int]) -> BatchAdjusted:
    """After an evaluation batch of ``shape`` ran out of memory."""
    s = p.state
    faults.free_device_memory()
    # Halve the batch that failed: a token-capped one may hold fewer rows than
    # eval_batch_size, and halving that alone would give it back unchanged.
    rows = min(s.eval_batch_size, shape[0])
    _may_halve(p, train, shape, rows, evaluating=True)
    s.eval_batch_size = rows // 2
    p.build_eval_loaders()
    return _adjusted(p, f"out of memory evaluating {shape[0]} x {shape[1]} tokens")


def _may_halve(
    p: Prepared, train: TrainSettings, shape: tuple[int, int], size: int, evaluating: bool
) -> None:
    """Fail with advice unless a batch of ``size`` may be halved."""
    why_not = why_not_halve(size, not evaluating, train.auto_batch, p.acc.num_processes)
    if why_not is not None:
        step = p.state.step + (0 if evaluating else 1)
        raise WorkbenchError(
            faults.out_of_memory_message(
                step, shape, device_memory_text(p.acc.device), evaluating, why_not
            )
        )


def why_not_halve(size: int, even: bool, auto_batch: bool, processes: int) -> str | None:
    """None when auto_batch may halve a batch of ``size`` (``even``: into two
    micro-batches of one effective batch); else why it may not."""
    if not auto_batch:
        return "off"
    if processes > 1:
        return "train.auto_batch works with one process only"
    if size < 2:
        return "even a batch of 1 did not fit"
    if even and size % 2:
        return f"a micro-batch of {size} cannot be halved into the same effective batch"
    return None


def _adjusted(p: Prepared, reason: str) -> BatchAdjusted:
    s = p.state
    return BatchAdjusted(
        step=s.step + 1,
        batch_size=s.micro_batch_size,
        gradient_accumulation=s.gradient_accumulation,
        eval_batch_size=s.eval_batch_size,
        reason=reason,
    )

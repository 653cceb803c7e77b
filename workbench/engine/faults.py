"""What goes wrong in long runs, noticed without slowing the hot loop: running
out of memory, a loss that stops being a number, a stop asked for by a person
or a scheduler, and a disk too small for the checkpoints."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import torch

from workbench.errors import WorkbenchError


def is_out_of_memory(exc: BaseException) -> bool:
    """The error a device allocator raises when memory runs out (CUDA, MPS, CPU)."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    from accelerate.utils.memory import should_reduce_batch_size

    return isinstance(exc, RuntimeError) and should_reduce_batch_size(exc)


def free_device_memory() -> None:
    """Give the allocator's cached blocks back after an out-of-memory error."""
    from accelerate.utils.memory import clear_device_cache

    clear_device_cache(garbage_collection=True)


def batch_shape(batch: dict | None) -> tuple[int, int]:
    """(rows, tokens per row) of a collated batch; (0, 0) when there was none yet."""
    if batch is None:
        return 0, 0
    ids = batch["input_ids"]
    return int(ids.shape[0]), int(ids.shape[1]) if ids.dim() > 1 else 1


def out_of_memory_message(
    step: int, shape: tuple[int, int], device: str, evaluating: bool, why_not: str
) -> str:
    """One sentence: what did not fit, where, and what to try. ``why_not`` says
    why auto_batch did not handle it ("off" when it is not set)."""
    rows, tokens = shape
    if evaluating:
        what = f"an evaluation batch of {rows} sequences of {tokens} tokens"
        advice = "lower train.eval_batch_size"
    else:
        what = f"a micro-batch of {rows} sequences of {tokens} tokens"
        advice = (
            "lower train.batch_size (raising train.gradient_accumulation keeps the "
            "effective batch), lower model.max_length or use train.precision = 'bf16'"
        )
    if why_not == "off":
        advice += (
            ", or set train.auto_batch = true to halve it automatically (a resume "
            "takes it too: --resume RUN_DIR --set train.auto_batch=true)"
        )
    else:
        advice += f" ({why_not})"
    return f"out of memory at step {step} on {device}: {what} did not fit; {advice}"


class NonFiniteWatch:
    """Remembers, on the device, the first step whose loss was NaN or infinite;
    reading it back syncs, so the engine reads it only when it reads anyway
    (a logged step, an evaluation, a checkpoint)."""

    def __init__(self, device):
        self.first = torch.full((1,), -1, dtype=torch.long, device=device)

    def observe(self, loss, step: int) -> None:
        bad = ~torch.isfinite(loss.detach()).reshape(1)
        self.first = torch.where(bad & (self.first < 0), step, self.first)

    def first_bad_step(self, accelerator) -> int | None:
        """The first non-finite step on any process, or None."""
        steps = (
            accelerator.gather(self.first).tolist()
            if accelerator.num_processes > 1
            else self.first.tolist()
        )
        bad = [s for s in steps if s >= 0]
        return min(bad) if bad else None

    def check(self, accelerator) -> None:
        step = self.first_bad_step(accelerator)
        if step is not None:
            raise WorkbenchError(
                f"the training loss became NaN or infinite at step {step}; start again with a "
                f"lower train.learning_rate, train.max_grad_norm = 1.0 or train.precision = "
                f"'fp32' (a resumed run would repeat the same steps)"
            )


class StopVote:
    """Agrees on the step after which every process stops.

    One process reads its flag after each step. Several processes cast their
    flag into an all-reduce they do not wait for; the vote cast after step n is
    read after step n + 1, so the hot loop never stalls on it and every process
    stops after the same step, whichever of them saw the signal."""

    def __init__(self, flag: threading.Event, accelerator):
        self.flag = flag
        self.several = accelerator.num_processes > 1
        self._pending: tuple[Any, Any] | None = None  # (the async all-reduce, its tensor)
        self._group = None
        if self.several:
            import torch.distributed as dist

            # Votes go over a CPU (gloo) group of their own: reading one back waits
            # for that all-reduce alone, never for the kernels queued on a GPU
            # (a CUDA tensor's .item() would sync the device every step).
            self._group = dist.new_group(backend="gloo")

    def poll(self) -> bool:
        """Called after every step, by every process, in step: stop now?"""
        if not self.several:
            return self.flag.is_set()
        import torch.distributed as dist

        decided = self._take()
        vote = torch.tensor([1 if self.flag.is_set() else 0])
        work = dist.all_reduce(vote, op=dist.ReduceOp.MAX, group=self._group, async_op=True)
        self._pending = (work, vote)
        return decided

    def _take(self) -> bool:
        if self._pending is None:
            return False
        work, vote = self._pending
        self._pending = None
        work.wait()
        return bool(vote.item())  # a CPU tensor: no device sync

    def close(self) -> None:
        """Wait for a vote still in flight (no collective left dangling)."""
        self._take()


def check_disk_space(run_dir: Path, parameters: int, checkpoints: int) -> None:
    """Refuse to start when the disk cannot hold the model and the checkpoints
    (fp32 weights, AdamW's two moments and the best weights in each checkpoint),
    with room to rotate one more, and the model folder twice while it is replaced."""
    model_bytes = parameters * 4
    needed = 2 * model_bytes + (checkpoints + 1) * 4 * model_bytes
    free = shutil.disk_usage(run_dir).free
    if free < needed:
        raise WorkbenchError(
            f"{run_dir}: not enough free disk space: the model and {checkpoints} "
            f"checkpoint(s) need about {needed / 2**30:.2f} GB, {free / 2**30:.2f} GB is free; "
            f"free some space, lower train.keep_checkpoints, or set output.dir elsewhere"
        )

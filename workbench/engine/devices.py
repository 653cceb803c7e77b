"""Devices, precision and processes, through 🤗 Accelerate.

One process per device, started by whatever the user starts it with: plain
``workbench run`` (one process), ``torchrun``, ``accelerate launch``, or
``workbench run --devices N`` (which starts torchrun). The launcher's
environment says how many processes there are; Accelerate reads it.
"""

from __future__ import annotations

import os
from typing import Any

from workbench.errors import WorkbenchError


def launched_distributed() -> bool:
    """Was this process started by a launcher as one of several?"""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def _cpu_only() -> bool:
    """Several processes on a machine without a GPU: Accelerate must be told
    (``cpu=True``) or it would run each process alone."""
    import torch

    return launched_distributed() and not torch.cuda.is_available()


def process_state():
    """Accelerate's view of this process (index, count, device), set up once."""
    from accelerate import PartialState

    return PartialState(cpu=_cpu_only())


def is_main_process() -> bool:
    """The process that writes the run folder, events and console output."""
    return process_state().is_main_process


def process_count() -> int:
    return process_state().num_processes


def broadcast(value: Any) -> Any:
    """``value`` as the main process has it, on every process (pickled)."""
    state = process_state()
    if state.num_processes == 1:
        return value
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([value], from_process=0)[0]


def mixed_precision(precision: str) -> str:
    """A recipe's ``train.precision`` as Accelerate's ``mixed_precision``."""
    import torch

    cuda = torch.cuda.is_available()
    if precision == "auto":
        return "bf16" if cuda and torch.cuda.is_bf16_supported() else "no"
    if precision == "fp16" and not cuda:
        raise WorkbenchError("train.precision = 'fp16' needs a CUDA GPU; use 'auto' or 'bf16'")
    return {"fp32": "no"}.get(precision, precision)


def make_accelerator(precision: str):
    """The run's Accelerator. Gradient accumulation is the engine's own (it
    normalises the loss over the whole window), so Accelerate's stays at 1."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration

    wanted = mixed_precision(precision)
    # Batches in pinned memory are copied to the GPU without waiting for it.
    loading = DataLoaderConfiguration(non_blocking=torch.cuda.is_available())
    try:
        return Accelerator(cpu=_cpu_only(), mixed_precision=wanted, dataloader_config=loading)
    except ValueError as exc:  # Accelerate's state is per process and set once
        raise WorkbenchError(
            f"train.precision {precision!r}: this process already trained "
            f"with another precision; start a new process ({exc})"
        ) from None


def memory_mb(device) -> float:
    """Peak GPU memory allocated, or the process's resident memory on a CPU."""
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def device_memory_text(device) -> str:
    """``cuda:0 (79.1 GB)`` for messages about memory."""
    import torch

    if device.type == "cuda":
        total = torch.cuda.get_device_properties(device).total_memory / 2**30
        return f"{device} ({total:.1f} GB)"
    return str(device)

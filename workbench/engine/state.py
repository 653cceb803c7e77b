"""The training loop's own state: everything besides the model, optimizer,
scheduler and RNG states (which Accelerate saves) that a resumed run needs to
go on exactly where the interrupted one was."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class TrainState:
    """Where training is, and what it has found so far."""

    total_steps: int
    micro_batch_size: int  # per process; auto_batch may halve it
    gradient_accumulation: int  # micro-batches per optimizer step; doubles when it halves
    eval_batch_size: int
    step: int = 0  # optimizer steps done
    epoch: int = 0  # the epoch in progress (0-based)
    steps_in_epoch: int = 0  # optimizer steps done in that epoch
    samples: int = 0  # training examples seen, all processes together
    best_value: float | None = None
    best_step: int | None = None
    bad_evals: int = 0  # evaluations since the best (early stopping's patience)
    last_eval_step: int | None = None
    train_seconds: float = 0.0  # training time of earlier processes of this run
    last_log_step: int = 0  # the last step a step event was logged at
    log_loss: float = 0.0  # the summed step losses since then (a resumed log goes on)

    @property
    def effective_batch(self) -> int:
        """Examples per optimizer step on one process (times processes for all)."""
        return self.micro_batch_size * self.gradient_accumulation

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainState:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

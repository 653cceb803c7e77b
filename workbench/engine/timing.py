"""How fast training goes: rates between logged steps, with the time evaluation
and checkpoints took left out (it is not training), and the time to the end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypedDict

from workbench.engine.state import TrainState


class Rates(TypedDict):
    """The rates a step event carries."""

    samples_per_s: float
    steps_per_s: float
    elapsed_s: float
    eta_s: float


class Timing:
    """The clock of one process of a run (a resumed run starts a new one)."""

    def __init__(self) -> None:
        self.started = self.last_log_time = 0.0  # perf_counter() times
        self.first_step = self.last_log_samples = 0
        self.paused_s = 0.0  # evaluation and checkpoint time since the last logged step

    def start(self, state: TrainState) -> None:
        """Training begins (or goes on after a resume) at ``state``."""
        self.started = self.last_log_time = time.perf_counter()
        self.first_step, self.last_log_samples = state.step, state.samples

    @contextmanager
    def not_training(self) -> Iterator[None]:
        """Time that does not count in training throughput (evaluation, checkpoints)."""
        began = time.perf_counter()
        try:
            yield
        finally:
            self.paused_s += time.perf_counter() - began

    def train_seconds(self, state: TrainState) -> float:
        """Training time of the whole run: earlier processes' and this one's."""
        return state.train_seconds + time.perf_counter() - self.started

    def logged(self, state: TrainState) -> Rates:
        """The rates of a step event at ``state``; the next rates start from here."""
        now = time.perf_counter()
        seconds = max(1e-9, now - self.last_log_time - self.paused_s)
        timed = state.step - max(state.last_log_step, self.first_step)  # timed here
        per_step = (now - self.started) / max(1, state.step - self.first_step)
        rates = Rates(
            samples_per_s=(state.samples - self.last_log_samples) / seconds,
            steps_per_s=timed / seconds,
            elapsed_s=state.train_seconds + now - self.started,
            eta_s=per_step * (state.total_steps - state.step),
        )
        self.last_log_time, self.last_log_samples, self.paused_s = now, state.samples, 0.0
        return rates

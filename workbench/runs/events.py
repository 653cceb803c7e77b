"""The events a run writes to ``events.jsonl``: their types and fields, in one place.

The engine and the runner build these; the event log writes them as one JSON
object a line; the console, the TUI, ``workbench runs`` and the tests read them
back through ``parse_event``. A field added here reaches every reader at once.

Schema versions (``Created.schema``):
  1  before the number existed: ``checkpoint`` meant "best model saved".
  2  ``model`` is the best model saved, ``checkpoint`` a resumable training
     state under ``checkpoints/``; ``resumed`` and ``batch`` events.
Readers accept both; writers write the current one.
"""

from __future__ import annotations

import math
import time
import typing
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, ClassVar

SCHEMA = 2


class Status(str, Enum):
    """What a run is, or how it ended."""

    STARTING = "starting"  # created, not yet training
    RUNNING = "running"
    COMPLETED = "completed"
    STOPPED = "stopped"  # by a person or a scheduler (Ctrl-C, SIGTERM)
    FAILED = "failed"  # the end event carries the error
    DIED = "died"  # no end event and its process is gone (SIGKILL, power loss)

    __hash__ = str.__hash__  # a member finds the plain string's dict entry, and back

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def symbol(self) -> str:
        """A symbol that reads without colour."""
        return STATUS_LOOK[self][0]

    @property
    def color(self) -> str:
        return STATUS_LOOK[self][1]

    @property
    def ended(self) -> bool:
        return self in (Status.COMPLETED, Status.STOPPED, Status.FAILED, Status.DIED)

    @property
    def resumable(self) -> bool:
        """A run that can go on from its last checkpoint (if it wrote one)."""
        return self in (Status.STOPPED, Status.FAILED, Status.DIED)

    @classmethod
    def of(cls, value: Any) -> Status:
        """The status named by ``value``; an unknown word counts as failed."""
        try:
            return cls(value)
        except ValueError:
            return cls.FAILED


# One table for the CLI, the console and the TUI: symbol and colour per status.
STATUS_LOOK = {
    Status.STARTING: ("○", "cyan"),
    Status.RUNNING: ("●", "cyan"),
    Status.COMPLETED: ("✔", "green"),
    Status.STOPPED: ("■", "yellow"),
    Status.FAILED: ("✖", "red"),
    Status.DIED: ("✖", "red"),
}


@dataclass(kw_only=True)
class Event:
    """Fields every event has. ``time`` is filled in when the event is written."""

    TYPE: ClassVar[str] = ""
    time: float | None = None
    run: str | None = None  # the run folder's name

    @property
    def type(self) -> str:
        return self.TYPE

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written to the log (non-finite floats become null)."""
        out: dict[str, Any] = {"type": self.TYPE}
        for f in fields(self):
            out[f.name] = finite(getattr(self, f.name))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event | None:
        """Build from a decoded line; ``None`` when a known field has the wrong type
        (a damaged line is skipped, never fatal). Unknown keys are ignored."""
        kwargs = {}
        for name, (types, nullable) in _field_types(cls).items():
            if name not in data:
                continue
            value = data[name]
            if value is None and not nullable or value is not None and not _matches(value, types):
                return None
            kwargs[name] = value
        return cls(**kwargs)


@dataclass(kw_only=True)
class Created(Event):
    """The run folder exists; written once, by the process that created it."""

    TYPE: ClassVar[str] = "created"
    path: str = ""
    pid: int | None = None
    host: str | None = None
    recipe_path: str = ""
    overrides: list = field(default_factory=list)
    recipe_values: dict = field(default_factory=dict)
    schema: int = SCHEMA

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event | None:
        return super().from_dict({"schema": 1, **data})


@dataclass(kw_only=True)
class Start(Event):
    """Training is set up: what trains, where, and for how long."""

    TYPE: ClassVar[str] = "start"
    task: str = ""
    recipe: str = ""
    model: str = ""
    labels: list = field(default_factory=list)
    device: str = ""
    precision: str = ""
    processes: int = 1
    examples: dict = field(default_factory=dict)
    features: dict = field(default_factory=dict)
    cached_features: list = field(default_factory=list)  # splits read from the feature cache
    total_steps: int | None = None
    steps_per_epoch: int | None = None
    epochs: float | None = None
    metric: str | None = None
    batch_size: int | None = None  # the effective batch: micro-batch x processes x accumulation
    micro_batch_size: int | None = None
    gradient_accumulation: int | None = None
    packed: bool = False  # several short examples share a padded row (engine/packing.py)
    compile_s: float | None = None  # torch.compile's warm-up before the first step, if compiled
    checkpoint_every: int | None = None
    tuning: str | None = None  # [peft] method: full, lora, bitfit, freeze
    trainable_params: int | None = None
    total_params: int | None = None
    # What the tokenizer reads of each split (models/vocabulary.py: words, unknown,
    # share, examples...), a line per split it reads poorly, and how many tokens
    # model.extend_vocabulary added.
    coverage: dict = field(default_factory=dict)
    coverage_warnings: list = field(default_factory=list)
    vocabulary_added: int = 0
    # A sweep's trial: {"sweep": its name, "folder", "trial": its number, "params":
    # the values it tries}; None for a run of its own.
    sweep: dict | None = None


@dataclass(kw_only=True)
class Resumed(Start):
    """Training goes on from a checkpoint, in this or another process; the steps
    after ``from_step`` that an earlier process logged are superseded."""

    TYPE: ClassVar[str] = "resumed"
    from_step: int = 0
    checkpoint: str = ""
    pid: int | None = None
    host: str | None = None
    overrides: list = field(default_factory=list)  # --set keys a resume may change


@dataclass(kw_only=True)
class Step(Event):
    """Every ``train.log_every`` optimizer steps."""

    TYPE: ClassVar[str] = "step"
    step: int = 0
    epoch: float = 0.0
    loss: float | None = None
    learning_rate: float | None = None
    grad_norm: float | None = None
    samples_per_s: float | None = None  # all processes together
    steps_per_s: float | None = None
    elapsed_s: float | None = None
    eta_s: float | None = None
    memory_mb: float | None = None  # GPU peak allocated, or the process RSS on a CPU
    total_steps: int | None = None


@dataclass(kw_only=True)
class Eval(Event):
    """An evaluation: validation during training, test once at the end."""

    TYPE: ClassVar[str] = "eval"
    step: int = 0
    epoch: float | None = None
    split: str = "validation"
    metric: str | None = None
    value: float | None = None
    metrics: dict = field(default_factory=dict)
    report: dict | None = None
    best: bool | None = None  # validation only: did it improve on the best so far
    best_value: float | None = None
    best_step: int | None = None
    seconds: float | None = None  # how long the evaluation took (older runs: absent)


@dataclass(kw_only=True)
class ModelSaved(Event):
    """The best model so far is in ``path`` (save_pretrained, tokenizer, label map)."""

    TYPE: ClassVar[str] = "model"
    step: int = 0
    path: str = ""
    metric: str | None = None
    value: float | None = None  # None: saved without an evaluation


@dataclass(kw_only=True)
class Checkpoint(Event):
    """A complete, resumable training state is in ``path``."""

    TYPE: ClassVar[str] = "checkpoint"
    step: int = 0
    epoch: float | None = None
    path: str = ""
    kept: list = field(default_factory=list)  # every checkpoint folder still on disk

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event | None:
        if data.get("path") == "model":  # schema 1: the best model was saved
            return ModelSaved.from_dict(data)
        return super().from_dict(data)


@dataclass(kw_only=True)
class BatchAdjusted(Event):
    """The micro-batch was made smaller after running out of memory (same
    effective batch: gradient accumulation grew to match)."""

    TYPE: ClassVar[str] = "batch"
    step: int = 0
    batch_size: int | None = None
    gradient_accumulation: int | None = None
    eval_batch_size: int | None = None
    reason: str = ""


@dataclass(kw_only=True)
class End(Event):
    """The last event of a run (or of one process's part of it)."""

    TYPE: ClassVar[str] = "end"
    status: str = Status.FAILED.value
    steps: int | None = None
    metric: str | None = None
    best_value: float | None = None
    best_step: int | None = None
    model_saved: bool = False
    early_stopped: bool = False
    test: dict | None = None  # the test metrics, when there is a test split
    checkpoint: str | None = None  # the latest complete checkpoint: where a resume starts
    error: str | None = None
    traceback: str | None = None
    duration_s: float | None = None  # training time, over every resumed part


EVENT_TYPES: dict[str, type[Event]] = {
    cls.TYPE: cls
    for cls in (Created, Start, Resumed, Step, Eval, ModelSaved, Checkpoint, BatchAdjusted, End)
}


def parse_event(data: Any) -> Event | None:
    """A decoded JSON line as its typed event; ``None`` for anything else."""
    if not isinstance(data, dict):
        return None
    cls = EVENT_TYPES.get(str(data.get("type")))
    return cls.from_dict(data) if cls is not None else None


def finite(value: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) with None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def now() -> float:
    """Seconds since the epoch, as events carry them."""
    return time.time()


# -- type checks for reading ----------------------------------------------------------
_BASIC = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "dict": (dict,),
    "list": (list,),
}
_TYPES_CACHE: dict[type, dict[str, tuple[tuple, bool]]] = {}


def _field_types(cls: type[Event]) -> dict[str, tuple[tuple, bool]]:
    """Field name -> (the Python types a JSON value may have for it, may it be null)."""
    if cls not in _TYPES_CACHE:
        hints = typing.get_type_hints(cls)
        out = {}
        for f in fields(cls):
            names = [
                part.strip()
                for part in str(hints[f.name])
                .replace("typing.", "")
                .replace("<class '", "")
                .replace("'>", "")
                .split("|")
            ]
            allowed: tuple = ()
            for name in names:
                allowed += _BASIC.get(name, ())
            out[f.name] = (allowed, "None" in names)
        _TYPES_CACHE[cls] = out
    return _TYPES_CACHE[cls]


def _matches(value: Any, types: tuple) -> bool:
    if not types:
        return True
    if isinstance(value, bool) and bool not in types:
        return False  # JSON true is not a number here
    return isinstance(value, types)

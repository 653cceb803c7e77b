"""The task registry: every task by name, the one place a new task is added
(a module with a ``Task`` subclass, and one line below). The recipe's task choices,
``get_task`` and the architecture lookup for saved models all read it."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, NamedTuple

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.tasks.base import Task


class TaskEntry(NamedTuple):
    module: str
    cls: str
    # The ``config.architectures`` suffix of its saved models, for a model folder
    # saved without workbench.json (None: its models always carry the file).
    architecture: str | None


REGISTRY: dict[str, TaskEntry] = {
    "ner": TaskEntry("workbench.tasks.ner", "NerTask", "ForTokenClassification"),
    "classification": TaskEntry(
        "workbench.tasks.classification", "ClassificationTask", "ForSequenceClassification"
    ),
    "relation": TaskEntry("workbench.tasks.relation", "RelationTask", None),
}
TASK_NAMES = tuple(REGISTRY)
ARCHITECTURE_SUFFIXES = {
    entry.architecture: name for name, entry in REGISTRY.items() if entry.architecture
}


def get_task(name: str) -> Task:
    """A new adapter for the task called ``name`` (its module imported only now)."""
    entry = REGISTRY.get(name)
    if entry is None:
        raise WorkbenchError(f"unknown task {name!r} (known: {', '.join(TASK_NAMES)})")
    return getattr(importlib.import_module(entry.module), entry.cls)()

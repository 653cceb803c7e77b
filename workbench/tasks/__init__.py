"""Task adapters by name. Adding a task: one module here, one entry below."""

from __future__ import annotations

from workbench.errors import WorkbenchError


def get_task(name: str):
    """Return the task adapter called ``name`` ('ner', 'classification' or 'relation')."""
    if name == "ner":
        from workbench.tasks.ner import NerTask

        return NerTask()
    if name == "classification":
        from workbench.tasks.classification import ClassificationTask

        return ClassificationTask()
    if name == "relation":
        from workbench.tasks.relation import RelationTask

        return RelationTask()
    raise WorkbenchError(f"unknown task {name!r} (known: ner, classification, relation)")


# Model architectures (config.architectures) -> task, for loading a saved model.
ARCHITECTURE_SUFFIXES = {
    "ForTokenClassification": "ner",
    "ForSequenceClassification": "classification",
}

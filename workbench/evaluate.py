"""Scoring a saved model on a data file: `workbench eval`."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from workbench.data import read_examples
from workbench.errors import WorkbenchError
from workbench.models import vocabulary
from workbench.models.folder import model_dir_of
from workbench.models.saved import SavedModel, load_saved
from workbench.recipe import load_recipe
from workbench.runs.folder import RECIPE
from workbench.settings import defaults
from workbench.tasks.base import batched_probabilities, check_labels


def data_settings(model_or_run: str | Path, overrides: dict[str, Any]) -> dict[str, Any]:
    """The [data] reading settings: the run's recipe where there is one (a model or
    adapter folder inside a run finds it), else defaults."""
    settings = defaults("data")
    here = Path(model_or_run).expanduser().resolve()
    recipe_file = next(
        (p / RECIPE for p in (here, here.parent, here.parent.parent) if (p / RECIPE).is_file()),
        here / RECIPE,
    )
    if recipe_file.is_file():
        with contextlib.suppress(WorkbenchError):  # a damaged recipe costs only its columns
            settings.update(load_recipe(recipe_file, check_files=False)["data"])
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return settings


def evaluate_saved(
    model_or_run: str | Path,
    data_path: str,
    batch_size: int = 64,
    ner: str | Path | None = None,
    **overrides,
) -> tuple[str, dict[str, Any]]:
    """Score the model in ``model_or_run`` on ``data_path``; return (task name, report).
    With ``ner`` (an NER run or model) beside a relation model, score both together
    end to end: strict triples over the entities the NER model finds."""
    if ner is not None:
        model_dir_of(ner)
    saved, examples = load_with_data(model_or_run, data_path, **overrides)
    # What the model can read of the data: a poor score may be a blind model.
    cov = vocabulary.split_coverage(saved.tokenizer, examples, saved.task.words)
    blind = vocabulary.model_warnings(saved, cov, str(data_path))
    if ner is not None:
        report = _end_to_end(ner, saved, examples, data_path, batch_size)
        report["coverage"], report["warnings"] = cov.as_dict(), blind
        return saved.task.name, report
    features, id2label = encode_for(saved, examples, data_path)
    report, _ = score_features(
        saved.task, saved.model, saved.tokenizer, examples, features, id2label, batch_size
    )
    report["split"] = str(data_path)
    report["coverage"], report["warnings"] = cov.as_dict(), blind
    return saved.task.name, report


def load_with_data(
    model_or_run: str | Path, data_path: str | Path, **overrides
) -> tuple[SavedModel, list[dict]]:
    """A saved model and a data file read as its run's recipe reads data."""
    model_dir_of(model_or_run)  # a missing model is named before a missing data file
    if not Path(data_path).is_file():
        raise WorkbenchError(f"{data_path}: data file not found")
    saved = load_saved(model_or_run)
    settings = data_settings(model_or_run, overrides)
    return saved, read_examples(str(data_path), settings, saved.task.kind)


def encode_for(saved: SavedModel, examples: list[dict], data_path) -> tuple:
    """Examples encoded for a saved model, their labels checked against the model's:
    ``(features, id2label)``."""
    task = saved.task
    id2label = {int(k): v for k, v in saved.model.config.id2label.items()}
    labels = [id2label[i] for i in range(len(id2label))]
    check_labels(
        task, examples, labels, data_path, f"the model's labels ({', '.join(labels)})", hint=False
    )
    label2id = {label: i for i, label in enumerate(labels)}
    return task.encode(examples, saved.tokenizer, label2id, saved.max_length), id2label


def score_features(
    task,
    model,
    tokenizer,
    examples: list[dict],
    features: list[dict],
    id2label: dict[int, str],
    batch_size: int,
):
    """The task's report for ``model`` on encoded ``features``, and its predicted
    label ids at every labelled position, in order (to compare two models)."""
    import torch

    scorer = task.scorer(examples, id2label)
    predicted: list = [None] * len(features)
    for indices, batch, probs in batched_probabilities(model, tokenizer, features, batch_size):
        preds = scorer.decode(probs.clamp_min(1e-12).log(), batch["labels"], batch["window"])
        scorer.add(preds, batch["labels"], batch["example"], batch["window"])
        for index, row, labels in zip(indices, preds, batch["labels"]):
            predicted[index] = row[labels != -100]
    return scorer.result(), torch.cat(predicted) if predicted else torch.zeros(0)


def _end_to_end(
    ner_path, relation: SavedModel, examples: list[dict], data_path, batch_size: int
) -> dict:
    from workbench.tasks.relation_scores import end_to_end

    if relation.task.name != "relation":
        raise WorkbenchError(
            f"--ner scores a relation model with an NER model; "
            f"this model's task is {relation.task.name}"
        )
    ner = load_saved(ner_path)
    if ner.task.name != "ner":
        raise WorkbenchError(f"{ner_path}: not an NER model (task {ner.task.name})")
    report = end_to_end(
        (ner.task, ner.model, ner.tokenizer),
        (relation.task, relation.model, relation.tokenizer),
        examples,
        (ner.max_length, relation.max_length),
        batch_size,
    )
    report["split"] = f"{data_path} (end to end with {ner_path})"
    return report

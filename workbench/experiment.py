"""From a validated recipe to what the engine needs: examples per split, the
label list, and the task adapter. Everything here runs before a run folder
exists, so bad data never leaves a run behind."""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from workbench.data import read_examples
from workbench.errors import WorkbenchError
from workbench.models import vocabulary
from workbench.models.pretrained import check_casing, load_tokenizer, trained_labels
from workbench.models.tuning import check_tuning
from workbench.models.vocabulary import Coverage
from workbench.recipe import Recipe, did_you_mean
from workbench.tasks import get_task
from workbench.tasks.base import Task, check_labels
from workbench.trackers import check_trackers

SPLITS = ("train", "validation", "test")


@dataclass
class Experiment:
    """A recipe with its data read and its labels fixed."""

    recipe: Recipe
    task: Task
    labels: list[str]
    splits: dict[str, list[dict]] = field(default_factory=dict)
    tokenizer: Any = None  # a transformers tokenizer
    # What the tokenizer reads of each split (after any vocabulary extension), and
    # the tokens model.extend_vocabulary added for the training data.
    coverage: dict[str, Coverage] = field(default_factory=dict)
    added_vocabulary: list[str] = field(default_factory=list)
    _fingerprint: dict[str, str] | None = field(default=None, repr=False)

    @property
    def metric(self) -> str:
        return self.recipe.eval.metric or self.task.default_metric

    def coverage_warnings(self) -> list[str]:
        """One line per split whose words the tokenizer reads poorly."""
        level = self.task.level  # "words" or "characters"
        extended = self.recipe.model.extend_vocabulary != "off"
        return [
            line
            for split, cov in self.coverage.items()
            for line in vocabulary.warnings(cov, split, level, extended)
        ]

    def fingerprint(self) -> dict[str, str]:
        """A short hash of each split's examples and of the labels: a resumed run
        checks that it goes on with the data it started with."""
        if self._fingerprint is None:
            parts = {"labels": self.labels, **self.splits}
            if self.added_vocabulary:  # the tokens the model's new rows belong to
                parts["vocabulary"] = self.added_vocabulary
            self._fingerprint = {
                name: hashlib.sha256(
                    json.dumps(value, sort_keys=True, ensure_ascii=False, default=str).encode()
                ).hexdigest()[:16]
                for name, value in parts.items()
            }
        return self._fingerprint


def subsample(examples: list[dict], limit: int | None, how: str, seed: int) -> list[dict]:
    """Keep ``limit`` examples: the first ones, or a seeded random subset in file order."""
    if not limit or limit >= len(examples):
        return examples
    if how == "first":
        return examples[:limit]
    keep = sorted(random.Random(seed).sample(range(len(examples)), limit))
    return [examples[i] for i in keep]


def prepare(recipe: Recipe) -> Experiment:
    """Read every split, build the label list, check the other splits against it,
    and load the model's tokenizer (which also proves the model can be found)."""
    task = get_task(recipe.task)
    check_trackers(recipe)  # a dashboard's missing package, before any run folder
    data = recipe.data
    columns = recipe["data"]  # the readers take the [data] mapping; splits by name
    metric = recipe.eval.metric
    if metric is not None and metric not in task.metrics:
        raise WorkbenchError(
            f"{recipe.where('eval', 'metric')}: eval.metric {metric!r} is not one of "
            f"{', '.join(task.metrics)} for {task.name}" + did_you_mean(metric, task.metrics)
        )
    splits: dict[str, list[dict]] = {}
    for split in SPLITS:
        if columns[split]:
            examples = read_examples(columns[split], columns, task.kind)
            limit = data.max_train_samples if split == "train" else data.max_eval_samples
            splits[split] = subsample(examples, limit, data.sample, recipe.train.seed)
    extra = [
        (path, read_examples(path, {**columns, "format": "auto"}, task.kind))
        for path in data.extra_train or []
    ]
    train_parts = [(data.train, splits["train"]), *extra]
    splits["train"] = [example for _path, part in train_parts for example in part]
    task.configure(recipe, splits)
    # A model this workbench trained keeps its labels (so its head and what it
    # learned) unless data.labels says otherwise.
    trained = None if data.labels else trained_labels(recipe.model.name, task.name)
    given = data.labels or trained
    labels = task.labels_from(splits["train"], given)
    if len(labels) < 2:
        raise WorkbenchError(f"{data.train}: training data has fewer than two labels")
    if data.labels:
        source = "data.labels"
    elif trained:
        source = f"the labels of model {recipe.model.name}"
    else:
        source = "the training data"
    checked = [(columns[split], examples) for split, examples in splits.items() if split != "train"]
    for path, examples in (train_parts if given else []) + checked:
        check_labels(task, examples, labels, path, source)
    tokenizer = load_tokenizer(recipe.model.name)
    try:
        check_tuning(recipe.peft, recipe.model.name)
    except WorkbenchError as exc:  # "peft.KEY: ..." is blamed on that key's line
        key = re.match(r"peft\.(\w+)", str(exc))
        raise WorkbenchError(
            f"{recipe.where('peft', key.group(1) if key else 'method')}: {exc}"
        ) from None
    if task.casing:  # configured from model.casing by a task that reads words
        check_casing(recipe.model.name)
    task.prepare_tokenizer(tokenizer)
    added: list[str] = []
    if recipe.model.extend_vocabulary != "off":
        train_words = (w for e in splits["train"] for w in task.words(e))
        model = recipe.model
        added = vocabulary.uncovered(
            tokenizer, train_words, model.extend_vocabulary, model.vocabulary_min_count
        )
        vocabulary.extend(tokenizer, added)
    coverage = {
        split: vocabulary.split_coverage(tokenizer, examples, task.words, recipe.train.seed)
        for split, examples in splits.items()
    }
    return Experiment(
        recipe=recipe,
        task=task,
        labels=labels,
        splits=splits,
        tokenizer=tokenizer,
        coverage=coverage,
        added_vocabulary=added,
    )

"""The recipe's settings: every section a typed dataclass, every key declared once
with its type, default, allowed range and help (``Key``, in the field's metadata).

``SCHEMA`` (section -> key -> ``Key``), which loading, validation, ``--set``,
the docs and the TUI read, is derived from these classes; a loaded recipe hands
its sections out as instances of them (``Recipe.train.epochs``), so a misspelt
setting is found by the type checker rather than at run time.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from workbench.tasks import TASK_NAMES

TASKS = TASK_NAMES  # from the task registry


@dataclass(frozen=True)
class Key:
    """One recipe key: its type, default and the values it may take."""

    type: type | tuple[type, ...]
    default: Any = None
    choices: tuple | None = None
    min: float | None = None
    max: float | None = None
    path: bool = False  # a file path, resolved relative to the recipe
    maybe_path: bool = False  # a path when it looks like one ("./x", "/x", "~/x"), else a name
    help: str = ""


def key(type: type | tuple[type, ...], default: Any = None, **spec: Any) -> Any:
    """A settings field: its default, and its ``Key`` (type, range, help) as metadata."""
    return field(default=default, metadata={"key": Key(type, default, **spec)})


@dataclass(frozen=True)
class TopSettings:
    """The recipe's top-level keys."""

    task: str | None = key(str, None, choices=TASKS, help=" or ".join(TASKS))
    name: str | None = key(str, None, help="a short name for runs of this recipe")
    description: str = key(str, "", help="free text")


@dataclass(frozen=True)
class ModelSettings:
    """[model]: the encoder to start from."""

    name: str = key(
        str, "minilm", maybe_path=True, help="'minilm' (bundled), a local folder or a hub id"
    )
    max_length: int = key(int, 128, min=8, max=8192, help="tokens per window")
    extend_vocabulary: str = key(
        str,
        "off",
        choices=("off", "characters", "words"),
        help="add what the tokenizer reads as unknown in the training data to its "
        "vocabulary, with new embedding rows trained with the rest: each unknown "
        "character (text in a script the model lacks, e.g. Chinese for the bundled "
        "English MiniLM) or each unknown word whole",
    )
    vocabulary_min_count: int = key(
        int, 1, min=1, help="extend_vocabulary adds what the training data holds this often"
    )
    casing: bool = key(
        bool,
        False,
        help="NER and relations: give the encoder each word's capitalisation as its token "
        "type (1 for a word that starts with a capital), which an uncased encoder such as "
        "the bundled MiniLM otherwise never sees; needs a model with two token types "
        "(BERT-like)",
    )


@dataclass(frozen=True)
class DataSettings:
    """[data]: where the examples are and how to read them."""

    train: str | None = key(str, None, path=True, help="file, or hf:DATASET@SPLIT")
    validation: str | None = key(str, None, path=True)
    test: str | None = key(str, None, path=True)
    extra_train: list | None = key(
        list,
        None,
        path=True,
        help="more training files, each read in the format its name says (e.g. the "
        "corrections `workbench annotate` writes), added to data.train",
    )
    format: str = key(str, "auto", choices=("auto", "conll", "jsonl", "csv", "tsv", "hf"))
    tag_scheme: str = key(str, "auto", choices=("auto", "bio", "iob1", "bioes", "bmes"))
    labels: list | None = key(
        list, None, help="the full label list; otherwise taken from training data"
    )
    tokens_column: str = key(str, "tokens")
    tags_column: str = key(str, "tags")
    text_column: str = key(str, "text")
    text_pair_column: str | None = key(str, None)
    label_column: str = key(str, "label")
    entities_column: str = key(
        str,
        "entities",
        help="entity spans {type, start, end} (token offsets, end "
        "exclusive): relation data, or NER data without tags",
    )
    relations_column: str = key(
        str, "relations", help="relations {type, head, tail} indexing the entities"
    )
    header: str = key(str, "auto", choices=("auto", "yes", "no"))
    hf_config: str | None = key(str, None, help="configuration name of a hub dataset")
    max_train_samples: int | None = key(int, None, min=1)
    max_eval_samples: int | None = key(int, None, min=1)
    sample: str = key(
        str,
        "first",
        choices=("first", "random"),
        help="which examples max_*_samples keeps: the first, or a seeded random "
        "subset (for files sorted by label)",
    )


@dataclass(frozen=True)
class TrainSettings:
    """[train]: the budget, the optimizer and how the loop runs."""

    epochs: float = key((int, float), 3, min=0.01, max=10_000)
    max_steps: int | None = key(int, None, min=1, help="stop after this many optimizer steps")
    batch_size: int = key(int, 16, min=1, max=65_536)
    eval_batch_size: int = key(int, 64, min=1, max=65_536)
    group_by_length: bool = key(
        bool,
        True,
        help="less padding, the same examples and update as the whole batch: on a "
        "CPU a NER batch's sentences packed into shared rows, else the batch run "
        "as micro-batches of similar length",
    )
    learning_rate: float = key(float, 5e-5, min=0.0, max=1.0)
    embedding_learning_rate: float | None = key(
        float,
        None,
        min=0.0,
        max=1.0,
        help="the input embeddings' own learning rate (unset: learning_rate); new "
        "tokens from model.extend_vocabulary start from nothing and learn faster "
        "with a higher one",
    )
    # Defaults follow transformers.TrainingArguments, so a recipe that sets only
    # the budget matches a Trainer run with the same budget.
    weight_decay: float = key(float, 0.0, min=0.0, max=1.0)
    scheduler: str = key(str, "linear", choices=("linear", "cosine", "constant"))
    warmup_ratio: float = key(float, 0.0, min=0.0, max=1.0)
    gradient_accumulation: int = key(int, 1, min=1, max=4096)
    max_grad_norm: float = key(float, 1.0, min=0.0)
    precision: str = key(str, "auto", choices=("auto", "fp32", "bf16", "fp16"))
    seed: int = key(int, 42, min=0)
    log_every: int = key(int, 10, min=1, help="steps between step events")
    checkpoint_every: int | None = key(
        int,
        None,
        min=1,
        help="optimizer steps between resumable checkpoints; unset: only when the run is stopped",
    )
    keep_checkpoints: int = key(int, 2, min=1, max=1000, help="checkpoints kept (the latest)")
    auto_batch: bool = key(
        bool,
        False,
        help="on running out of GPU memory, halve the micro-batch and double "
        "gradient accumulation (same effective batch) and go on",
    )
    compile: bool = key(
        bool,
        False,
        help="torch.compile the model, batches padded to a few fixed lengths (compiled before "
        "the first step: minutes; pays off on long GPU runs)",
    )
    deterministic: bool = key(
        bool,
        False,
        help="deterministic algorithms only (slower on a GPU): the same "
        "seed gives the same run, resumed or not",
    )


@dataclass(frozen=True)
class EvalSettings:
    """[eval]: when to evaluate and what picks the best model."""

    every: str = key(str, "epoch", choices=("epoch", "steps"))
    steps: int = key(int, 200, min=1, help="steps between evaluations when every = 'steps'")
    metric: str | None = key(str, None, help="metric that picks the best model")
    patience: int = key(
        int, 0, min=0, help="evaluations without improvement before stopping; 0 = off"
    )


@dataclass(frozen=True)
class RelationSettings:
    """[relation]: how entity pairs are encoded and sampled."""

    negative_ratio: float | None = key(
        (int, float),
        None,
        min=0.0,
        help="no_relation pairs kept per related pair in training "
        "(seeded sample); unset keeps every pair",
    )
    type_pairs: bool = key(
        bool,
        True,
        help="only entity-type pairs that have a relation in training "
        "are candidates (in training, evaluation and prediction)",
    )
    encoding: str = key(
        str,
        "pairs",
        choices=("pairs", "shared"),
        help="one encoder pass per candidate pair, head and tail marked "
        "(pairs), or one pass per sentence with every entity marked, "
        "all its pairs read from it (shared: several times faster "
        "where sentences hold many pairs)",
    )
    markers: str = key(
        str,
        "typed",
        choices=("typed", "plain"),
        help="entity markers carry the entity type (<h:PER>) or not (<h>)",
    )
    none_label: str = key(str, "no_relation", help="the label of a pair with no relation")


@dataclass(frozen=True)
class PeftSettings:
    """[peft]: which parameters train."""

    method: str = key(
        str,
        "full",
        choices=("full", "lora", "bitfit", "freeze"),
        help="which parameters train: all, LoRA adapters, biases only, or all "
        "but the embeddings and the lowest peft.layers layers; the task "
        "head always trains",
    )
    r: int = key(int, 8, min=1, max=4096, help="LoRA rank")
    alpha: float = key((int, float), 16, min=0.0, help="LoRA scaling (alpha / r)")
    dropout: float = key(float, 0.1, min=0.0, max=1.0, help="dropout on the LoRA input")
    target_modules: list | None = key(
        list,
        None,
        help="linear layers LoRA adapts, by name (query, value...); "
        "unset: PEFT's default for the architecture",
    )
    layers: int = key(int, 3, min=0, help="freeze: how many of the lowest layers are frozen")
    merge: bool = key(
        bool,
        True,
        help="LoRA: save the model with the adapter merged in (loads with "
        "transformers alone) beside the adapter; false saves the adapter "
        "only",
    )


@dataclass(frozen=True)
class OutputSettings:
    """[output]: where runs go."""

    dir: str = key(
        str,
        "runs",
        path=True,
        help="folder that holds run folders (unset: runs/ in the current folder)",
    )
    save_model: bool = key(bool, True)
    # A list key defaults to None, as every list key does: a dataclass field may not
    # default to a (shared, mutable) list, and None reads as "none" here.
    trackers: list | None = key(
        list,
        None,
        choices=("tensorboard", "mlflow", "wandb"),
        help="dashboards the run's training curve and evaluations are also sent to "
        "(through Accelerate's trackers, from the run's events); TensorBoard and MLflow "
        "write under the run folder's trackers/; unset: none",
    )


# The TOML section of each class ("" holds the top-level keys).
SECTIONS: dict[str, type] = {
    "": TopSettings,
    "model": ModelSettings,
    "data": DataSettings,
    "train": TrainSettings,
    "eval": EvalSettings,
    "relation": RelationSettings,
    "peft": PeftSettings,
    "output": OutputSettings,
}


def _keys(cls: type) -> dict[str, Key]:
    found = {}
    for f in fields(cls):
        spec = f.metadata["key"]
        assert f.default is not MISSING and f.default == spec.default, f.name
        found[f.name] = spec
    return found


# Section -> key -> Key. Top-level keys live under "".
SCHEMA: dict[str, dict[str, Key]] = {section: _keys(cls) for section, cls in SECTIONS.items()}


def defaults(section: str) -> dict[str, Any]:
    """Every key of a recipe section with its default (what a bare folder reads with)."""
    return {name: spec.default for name, spec in SCHEMA[section].items()}

"""Train on what you fixed: a recipe that starts from the run whose model proposed
the labels, keeps its labels (``model.name`` = the run folder), and adds the
decisions file to its training data (``data.extra_train``).

The run's own training data is replayed beside the decisions, not dropped (a model
taught on fifty tweets alone forgets the news it knew) and not kept whole either
(fifty corrections among fourteen thousand sentences barely move the model, and
every ``t`` would cost a full training): a seeded sample of ``REPLAY`` times as
many of its examples as there are decided ones, and never fewer than
``MIN_REPLAY`` (``data.max_train_samples``), drawn afresh as the decisions grow.
The floor is for the first small batches: fifty decisions beside only two hundred
of the run's examples moved the model off what it knew (on a news model taught
tweets, news F1 fell below the starting run's on some seeds); beside a thousand,
the news F1 held on every seed and the tweets' gain was the same
(``benchmarks/teaching_loop.py``, "A replay floor").
"""

from __future__ import annotations

from pathlib import Path

from workbench.data import read_examples
from workbench.errors import WorkbenchError
from workbench.models.folder import has_whole_model
from workbench.recipe import load_recipe
from workbench.runs.files import write_text_atomic
from workbench.runs.folder import RECIPE
from workbench.tasks import get_task

TAUGHT = "-taught"
REPLAY = 4  # the run's own examples replayed per decided one
MIN_REPLAY = 1000  # and at least this many (all of them where it has fewer)


def taught_path(decisions: str | Path) -> Path:
    """Where the recipe for ``decisions`` goes: beside it, named after it (one
    decisions file, one recipe: two runs' files never share one)."""
    decisions = Path(decisions)
    return decisions.with_name(f"{decisions.stem}{TAUGHT}.toml")


def taught_recipe(
    run_dir: str | Path, decisions: str | Path, out: str | Path | None = None
) -> Path:
    """Write the recipe (``taught_path`` unless ``out`` says where) and return its
    path: the run's own recipe, with its model as the starting point and the
    decisions file added to the training data. Its runs go where the run's did."""
    run_dir, decisions = Path(run_dir).resolve(), Path(decisions).resolve()
    source = run_dir / RECIPE
    if not source.is_file():
        raise WorkbenchError(f"{run_dir}: no {RECIPE}; name the run folder the model came from")
    if not has_whole_model(run_dir):
        raise WorkbenchError(
            f"{run_dir}: saved a LoRA adapter, not a whole model (peft.merge = false); "
            f"train from its base model with data.extra_train instead"
        )
    if not decisions.is_file():
        raise WorkbenchError(f"{decisions}: no decisions yet; decide some sentences first")
    recipe = load_recipe(source, check_files=False)
    original = recipe.name
    recipe.values[""]["name"] = original.removesuffix(TAUGHT) + TAUGHT
    recipe.values["model"]["name"] = str(run_dir)
    data = recipe.values["data"]
    extra = [p for p in data["extra_train"] or [] if Path(p) != decisions]
    data["extra_train"] = [*extra, str(decisions)]
    replay = _replay(recipe, original)
    path = Path(out) if out else taught_path(decisions)
    header = (
        f"# Written by workbench annotate: {original} from run {run_dir.name}, trained\n"
        f"# further with the decisions in {decisions.name} added to its training data,\n"
        f"# beside up to {replay} of its own training examples (a seeded sample, so it does not\n"
        f"# forget them; data.max_train_samples: raise it or remove it to train on more).\n"
    )
    write_text_atomic(path, header + recipe.to_toml())
    load_recipe(path)  # what was written must read back (files present, keys valid)
    return path


def _replay(recipe, original: str) -> int:
    """Cap the run's own training data at ``REPLAY`` examples per new one (those of
    every ``data.extra_train`` file), at least ``MIN_REPLAY``, a seeded random
    sample where the recipe does not already cut its evaluation splits by position."""
    data = recipe.values["data"]
    new = sum(
        len(read_examples(str(path), {**data, "format": "auto"}, get_task(recipe.task).kind))
        for path in data["extra_train"]
    )
    # A limit the user set is kept when smaller; one a taught recipe set was ours.
    given = None if original.endswith(TAUGHT) else data.get("max_train_samples")
    replay = max(REPLAY * new, MIN_REPLAY)  # a run with fewer gives all it has
    data["max_train_samples"] = min(replay, given) if given else replay
    if not data.get("max_eval_samples"):  # `sample` cuts the evaluation splits too
        data["sample"] = "random"
    return data["max_train_samples"]

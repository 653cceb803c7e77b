"""What an annotation session starts from: the run whose model proposes, where
its decisions go, and the recipe's column names the decisions file should use."""

from __future__ import annotations

from pathlib import Path

from workbench.annotate.decisions import METADATA
from workbench.errors import WorkbenchError
from workbench.recipe import load_recipe
from workbench.runs.folder import RECIPE

COLUMNS = ("tokens_column", "entities_column", "relations_column", "text_column", "label_column")
WRITTEN = {
    "ner": ("tokens_column", "entities_column"),
    "classification": ("text_column", "label_column"),
    "relation": ("tokens_column", "entities_column", "relations_column"),
}
ANNOTATIONS = Path("annotations")


def run_folder_of(path: str | Path) -> Path:
    """A run's model folder (``runs/X/model``) means its run: the recipe, the
    default decisions file and training on the decisions all come from there."""
    path = Path(path)
    if path.name == "model" and (path.parent / RECIPE).is_file():
        return path.parent
    return path


def default_out(run_dir: str | Path) -> Path:
    """``annotations/<run folder>.jsonl``, under where the user stands."""
    return ANNOTATIONS / f"{run_folder_of(run_dir).name}.jsonl"


def recipe_columns(run_dir: str | Path) -> dict[str, str]:
    """The data column names of the recipe that trained ``run_dir`` (the defaults
    where it set none, or where the folder is a bare model). A text-pair recipe,
    or one naming a column as the decisions file names its own keys, cannot take
    the decisions back: said here, before anyone decides anything."""
    path = run_folder_of(run_dir) / RECIPE
    if not path.is_file():
        return {}
    recipe = load_recipe(path, check_files=False)
    data = recipe["data"]  # read by column name
    if recipe.data.text_pair_column:
        raise WorkbenchError(
            f"{path}: a text-pair classifier (data.text_pair_column); annotate shows one "
            f"text at a time"
        )
    columns = {key: str(data[key]) for key in COLUMNS if isinstance(data.get(key), str)}
    # The keys the task's lines hold; a text column named "text" holds the text anyway.
    written = WRITTEN.get(recipe.task, ())
    clash = sorted(
        k
        for k, v in columns.items()
        if k in written and v in METADATA and (k, v) != ("text_column", "text")
    )
    if clash:
        raise WorkbenchError(
            f"{path}: data.{clash[0]} = {columns[clash[0]]!r} is a key the decisions file "
            f"keeps for itself ({', '.join(METADATA)})"
        )
    return columns

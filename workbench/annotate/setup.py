"""What an annotation session starts from: the run whose model proposes, where
its decisions go, and the recipe's column names the decisions file should use."""

from __future__ import annotations

from pathlib import Path

from workbench.recipe import tomllib
from workbench.runs.folder import RECIPE

COLUMNS = ("tokens_column", "entities_column", "text_column", "label_column")
ANNOTATIONS = Path("annotations")


def default_out(run_dir: str | Path) -> Path:
    """``annotations/<run folder>.jsonl``, under where the user stands."""
    return ANNOTATIONS / f"{Path(run_dir).name}.jsonl"


def recipe_columns(run_dir: str | Path) -> dict[str, str]:
    """The data column names of the recipe that trained ``run_dir`` (the defaults
    where it set none, or where the folder is a bare model)."""
    path = Path(run_dir) / RECIPE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8")).get("data", {})
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}
    return {key: str(data[key]) for key in COLUMNS if isinstance(data.get(key), str)}

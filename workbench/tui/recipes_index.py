"""Finding recipe files and summarising them for the Recipes screen.

Kept apart from the screen so it can be tested without Textual; it imports no
Textual itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.recipe import flatten, load_recipe
from workbench.reports import TUNING_NAMES

# The fields the Recipes screen lets a user override before launching.
OVERRIDES = (
    ("train.learning_rate", "learning rate"),
    ("train.epochs", "epochs"),
    ("train.batch_size", "batch size"),
    ("train.max_steps", "max steps"),
    ("model.name", "model"),
)


@dataclass
class RecipeEntry:
    """One recipe file: what it trains, or why it cannot be read."""

    path: Path
    name: str
    task: str = "?"
    model: str = "?"
    data: str = ""
    values: dict | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)  # keys given that change nothing
    hub: bool = False  # a split comes from the hub (hf:...): it needs the network

    @property
    def runs_here(self) -> bool:
        """Readable, with every data file on this machine: it runs offline."""
        return self.error is None and not self.hub


def _short(path: str | None) -> str:
    if not path:
        return "-"
    return path if path.startswith("hf:") else Path(path).name


def describe(path: Path) -> RecipeEntry:
    """Summarise one recipe; a broken one carries its error instead."""
    try:
        recipe = load_recipe(path, check_files=False)
    except WorkbenchError as exc:
        return RecipeEntry(path=path, name=path.stem, error=str(exc))
    data = recipe["data"]  # the splits by name
    splits = " / ".join(_short(data[s]) for s in ("train", "validation", "test") if data[s])
    missing = next(
        (
            f"data.{s} file not found: {data[s]}"
            for s in ("train", "validation", "test")
            if data[s] and not data[s].startswith("hf:") and not Path(data[s]).is_file()
        ),
        None,
    )
    method = recipe.peft.method
    model = recipe.model.name + (f" + {TUNING_NAMES[method]}" if method != "full" else "")
    return RecipeEntry(
        path=path,
        name=recipe.name,
        task=recipe.task,
        model=model,
        data=splits,
        values=flatten(recipe.values),
        error=missing,
        warnings=recipe.warnings,
        hub=any(str(data[s] or "").startswith("hf:") for s in ("train", "validation", "test")),
    )


def find_recipes(
    folder: str | Path = "recipes", extra: Sequence[str | Path] = ()
) -> list[RecipeEntry]:
    """Recipes under ``folder`` (sorted), then the paths given explicitly
    (a folder given explicitly is searched too)."""
    paths: list[Path] = []
    for item in [folder, *extra]:
        item = Path(item)
        if item.is_dir():
            paths += sorted(item.glob("*.toml"))
        elif item.suffix == ".toml" or item.exists():
            paths.append(item)
    seen: set[Path] = set()
    entries = []
    for path in paths:
        key = path.resolve()
        if key in seen:
            continue
        seen.add(key)
        entries.append(
            describe(path)
            if path.is_file()
            else RecipeEntry(path=path, name=path.stem, error=f"{path}: recipe file not found")
        )
    return entries

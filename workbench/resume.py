"""Going on with a run that stopped, failed or died: `workbench run --resume RUN_DIR`.

A run resumes from its latest complete checkpoint, with the recipe it was
started with (its run folder's ``recipe.toml``) and the same data, in the same
number of processes. Everything here is checked before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.recipe import Recipe, flatten, load_recipe
from workbench.runs.events import Status
from workbench.runs.folder import EVENTS, MODEL_REMOVED, RECIPE, latest_checkpoint
from workbench.settings import SCHEMA

# Keys a resumed run may change: how it runs, not what it learns.
RESUME_KEYS = (
    "train.auto_batch",
    "train.eval_batch_size",
    "train.log_every",
    "train.checkpoint_every",
    "train.keep_checkpoints",
)


# Keys added after runs could be checkpointed, with the value those runs trained
# with (not today's default): batches grouped by length come in another order.
EARLIER_VALUES = {"train.group_by_length": False}


def _default(dotted: str):
    section, _, key = dotted.rpartition(".")
    spec = SCHEMA.get(section, {}).get(key)
    return spec.default if spec is not None else None


def check_resume_overrides(run_dir: str | Path, overrides: list[str]) -> None:
    """``--set`` with ``--resume`` takes only ``RESUME_KEYS``."""
    from workbench.recipe import parse_override

    for item in overrides:
        section, key, _ = parse_override(item)
        if f"{section}.{key}" not in RESUME_KEYS:
            raise WorkbenchError(
                f"run --resume: --set {section}.{key} would change what the run learns half "
                f"way; a resumed run takes only {', '.join(RESUME_KEYS)} (its recipe is "
                f"{Path(run_dir) / RECIPE})"
            )


@dataclass
class ResumePoint:
    """Where a run goes on from."""

    run_dir: Path
    checkpoint: Path
    recipe: Recipe  # the run folder's, with the --set keys a resume may change
    saved: dict[str, Any]  # the checkpoint's trainer_state.json

    @property
    def train_seconds(self) -> float:
        """Training time before the checkpoint."""
        return float(self.saved["state"].get("train_seconds", 0.0))

    def check_processes(self, processes: int) -> None:
        """RNG states are per process: the run goes on in as many as it had."""
        from workbench.engine.checkpoints import check_process_count

        check_process_count(self.checkpoint, self.saved, processes)

    def check_data(self, experiment) -> None:
        """The data read now must be the data the run trained on."""
        before = self.saved.get("fingerprint") or {}
        now = experiment.fingerprint()
        for name, value in now.items():
            if before.get(name) not in (None, value):
                if name == "vocabulary":
                    raise WorkbenchError(
                        f"{self.run_dir}: the tokens model.extend_vocabulary adds are not "
                        f"those the run trained with (the tokenizer or its library changed "
                        f"since); resuming would not continue the same run"
                    )
                what = "the label list" if name == "labels" else f"data.{name}"
                raise WorkbenchError(
                    f"{self.run_dir}: {what} is not what the run trained on (the file changed "
                    f"since); resuming would not continue the same run"
                )


def resume_point(run_dir: str | Path, overrides: list[str] | None = None) -> ResumePoint:
    """Check that ``run_dir`` can be resumed and say from where; ``overrides``
    (``RESUME_KEYS`` only) apply to the rest of the run."""
    from workbench.engine.checkpoints import read_trainer_state
    from workbench.runs.follow import load_state

    check_resume_overrides(run_dir, overrides or [])
    run_dir = Path(run_dir).expanduser().resolve()
    if not run_dir.is_dir():
        raise WorkbenchError(f"--resume {run_dir}: no such folder")
    if not (run_dir / EVENTS).is_file():
        raise WorkbenchError(f"--resume {run_dir}: not a run folder (no {EVENTS})")
    state = load_state(run_dir)
    if state.status == Status.COMPLETED:
        raise WorkbenchError(f"--resume {run_dir}: the run completed; there is nothing to resume")
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None and (run_dir / MODEL_REMOVED).is_file():  # a sweep's `keep`
        why = (run_dir / MODEL_REMOVED).read_text(encoding="utf-8", errors="replace").strip()
        raise WorkbenchError(f"--resume {run_dir}: {why}")
    if checkpoint is None:
        raise WorkbenchError(
            f"--resume {run_dir}: the run has no checkpoint to resume from (it ended before "
            f"its first; set train.checkpoint_every to write them as it trains)"
        )
    saved = read_trainer_state(checkpoint)
    was = flatten(saved.get("recipe") or {})
    earlier = {key: value for key, value in EARLIER_VALUES.items() if key not in was}
    was.update(earlier)
    recipe = load_recipe(
        run_dir / RECIPE,
        [f"{key}={str(value).lower()}" for key, value in earlier.items()] + (overrides or []),
    )
    now = flatten(recipe.to_dict())
    # A key one side lacks has its default there (a checkpoint from before the key existed).
    changed = sorted(
        k
        for k in set(was) | set(now)
        if was.get(k, _default(k)) != now.get(k, _default(k)) and k not in RESUME_KEYS
    )
    if changed:
        raise WorkbenchError(
            f"{run_dir / RECIPE}: changed since the checkpoint "
            f"({', '.join(changed)}); resuming would not continue the same run"
        )
    return ResumePoint(run_dir=run_dir, checkpoint=checkpoint, recipe=recipe, saved=saved)

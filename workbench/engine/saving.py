"""The best model of a run, kept and saved: its weights copied to the CPU when an
evaluation improves on the best, and the model written into ``run_dir/model``
with its ``workbench.json`` (models.folder.training_meta)."""

from __future__ import annotations

from pathlib import Path

from workbench.engine.prepare import Prepared
from workbench.errors import WorkbenchError
from workbench.experiment import Experiment
from workbench.models.folder import training_meta
from workbench.models.saved import save_model
from workbench.runs.events import ModelSaved
from workbench.runs.folder import MODEL


def cpu_weights(p: Prepared) -> dict:
    """A copy of the model's weights on the CPU (the best so far, to go back to)."""
    unwrapped = p.acc.unwrap_model(p.model)
    return {k: v.detach().to("cpu", copy=True) for k, v in unwrapped.state_dict().items()}


def save_trained(
    p: Prepared, exp: Experiment, run_dir: Path, step: int, value: float | None
) -> ModelSaved:
    """The model as it is now into ``run_dir/model`` (the main process writes; every
    process waits for it)."""
    recipe = exp.recipe
    if p.acc.is_main_process:
        meta = training_meta(
            task=exp.task.name,
            labels=exp.labels,
            max_length=recipe.model.max_length,
            recipe=recipe.name,
            base_model=recipe.model.name,
            task_meta=exp.task.meta(),
            peft=p.tuned.method,
            step=step,
            metric=exp.metric,
            value=value,
            vocabulary_added=len(exp.added_vocabulary),
        )
        target = run_dir / MODEL
        unwrapped = p.acc.unwrap_model(p.model)
        try:
            save_model(unwrapped, exp.tokenizer, target, meta, recipe.peft.merge)
        except OSError as exc:
            raise WorkbenchError(
                f"cannot save the model to {target}: {exc.strerror or exc}"
            ) from None
    p.acc.wait_for_everyone()
    return ModelSaved(step=step, path=MODEL, metric=exp.metric, value=value)

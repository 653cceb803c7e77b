"""The dashboards people already use (TensorBoard, MLflow, Weights & Biases), fed from
a run's events through 🤗 Accelerate's tracker API (``accelerate.tracking``).

``[output] trackers`` names them. The run folder's events stay the source of truth:
each tracker is a view of the events the main process writes (already gathered
across processes), never of the training loop's tensors. What each event becomes:

  created, start   the recipe, flattened to ``section.key`` (scalars and strings),
                   as the run's configuration (once)
  step             ``train/loss``, ``train/learning_rate``, ``train/grad_norm``,
                   ``train/samples_per_s`` at the step
  eval             ``<split>/<metric>`` for each number in its metrics, at its step
  end              ``best/<metric>`` at the best step (when there was one), then
                   the tracker is finished

A tracker whose package is missing is an error before the run folder exists
(``check_trackers``, from ``experiment.prepare``); one that cannot start is the run's
error before training (``start_trackers``, from the runner); one that fails later
is dropped by the runner's fan-out, and training goes on.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError, first_line
from workbench.recipe import Recipe, flatten
from workbench.runs.events import Created, End, Eval, Event, Start, Step, finite

TRACKERS_DIR = "trackers"  # in the run folder: TensorBoard's and MLflow's files

# Tracker name -> the modules that can serve it (any one), the first named in the
# error. Accelerate's TensorBoard tracker falls back on tensorboardX.
MODULES: dict[str, tuple[str, ...]] = {
    "tensorboard": ("tensorboard", "tensorboardX"),
    "mlflow": ("mlflow",),
    "wandb": ("wandb",),
}

STEP_FIELDS = ("loss", "learning_rate", "grad_norm", "samples_per_s")


def installed(module: str) -> bool:
    """Can ``module`` be imported? (Found without importing it: this runs before
    every run and every ``workbench validate``.)"""
    return importlib.util.find_spec(module) is not None


def _blame(recipe: Recipe) -> str:
    """``recipe.toml:12: output.trackers``, or ``--set output.trackers`` (which names
    the key already)."""
    where = recipe.where("output", "trackers")
    return where if where.startswith("--set ") else f"{where}: output.trackers"


def check_trackers(recipe: Recipe) -> None:
    """A ``WorkbenchError`` for the first tracker in ``output.trackers`` whose
    package is not installed."""
    for name in recipe.output.trackers or []:
        if not any(installed(module) for module in MODULES[name]):
            package = MODULES[name][0]
            raise WorkbenchError(
                f'{_blame(recipe)}: "{name}" needs the {package} package: '
                f'pip install "workbench[{name}]"'
            )


def _tensorboard(run_dir: Path, project: str) -> Any:
    from accelerate.tracking import TensorBoardTracker

    # Files in trackers/<run>/, so `tensorboard --logdir runs/` tells runs apart by folder.
    return TensorBoardTracker(run_dir.name, run_dir / TRACKERS_DIR)


def _mlflow(run_dir: Path, project: str) -> Any:
    import mlflow
    from accelerate.tracking import MLflowTracker

    if not os.environ.get("MLFLOW_TRACKING_URI"):
        # A store of its own in the run folder, as TensorBoard's; the user's own
        # (a server) when the environment names one.
        mlflow.set_tracking_uri((run_dir / TRACKERS_DIR / "mlruns").as_uri())
        # MLflow exports the URI for its subprocesses; a later run in this process
        # must still pick its own folder rather than inherit this one's.
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    # The recipe is the experiment (MLFLOW_EXPERIMENT_NAME wins, in Accelerate), each
    # run folder a run in it.
    return MLflowTracker(experiment_name=project, run_name=run_dir.name)


def _wandb(run_dir: Path, project: str) -> Any:
    from accelerate.tracking import WandBTracker

    # Accelerate passes its first argument to wandb.init as the project: the recipe's
    # (or WANDB_PROJECT), each run folder a run in it. Offline files go in the run
    # folder unless WANDB_DIR says where.
    where: dict[str, str] = {}
    if not os.environ.get("WANDB_DIR"):
        (run_dir / TRACKERS_DIR).mkdir(parents=True, exist_ok=True)
        where["dir"] = str(run_dir / TRACKERS_DIR)
    return WandBTracker(os.environ.get("WANDB_PROJECT") or project, name=run_dir.name, **where)


# Tracker name -> a function of (run folder, project name) making its Accelerate tracker.
BUILDERS: dict[str, Callable[[Path, str], Any]] = {
    "tensorboard": _tensorboard,
    "mlflow": _mlflow,
    "wandb": _wandb,
}


def config_values(recipe_values: dict[str, Any]) -> dict[str, Any]:
    """A recipe's values as a tracker's configuration: ``section.key`` -> value, only
    scalars and strings (TensorBoard's hyperparameters take nothing else)."""
    return {
        key: value
        for key, value in flatten(recipe_values).items()
        if isinstance(value, (bool, int, float, str))
    }


def _numbers(values: dict[str, Any]) -> dict[str, float | int]:
    """The numbers among ``values``, as the event log holds them (non-finite ones are
    null there, so left out here)."""
    return {
        key: value
        for key, value in finite(values).items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }


class TrackerView:
    """One started Accelerate tracker as a view of a run's events (what maps to what:
    the module's docstring). ``recipe_values`` (``Recipe.to_dict()``) is the
    configuration stored at the start event when no created event came first (a
    resumed run, or a view added after the run folder's created event)."""

    def __init__(self, tracker: Any, recipe_values: dict[str, Any] | None = None):
        self.tracker, self.recipe_values = tracker, recipe_values
        self.configured = self.finished = False

    def __call__(self, event: Event) -> None:
        if self.finished:
            return
        try:
            self._send(event)
        except Exception:
            # The fan-out drops a view that raises; what the tracker holds is closed
            # first, if it still can be (the first error is the one that counts).
            with contextlib.suppress(Exception):
                self.close()
            raise

    def _send(self, event: Event) -> None:
        if isinstance(event, Created):
            self._configure(event.recipe_values)
        elif isinstance(event, Start):  # a resumed run's too
            self._configure(self.recipe_values)
        elif isinstance(event, Step):
            fields = {f"train/{name}": getattr(event, name) for name in STEP_FIELDS}
            self._log(fields, event.step)
        elif isinstance(event, Eval):
            self._log({f"{event.split}/{k}": v for k, v in event.metrics.items()}, event.step)
        elif isinstance(event, End):
            if event.metric and event.best_value is not None and event.best_step is not None:
                self._log({f"best/{event.metric}": event.best_value}, event.best_step)
            self.close()

    def _configure(self, recipe_values: dict[str, Any] | None) -> None:
        if self.configured or not recipe_values:
            return
        self.configured = True
        self.tracker.store_init_configuration(config_values(recipe_values))

    def _log(self, values: dict[str, Any], step: int) -> None:
        numbers = _numbers(values)
        if numbers:
            self.tracker.log(numbers, step=step)

    def close(self) -> None:
        """Finish the tracker (once): its files closed, its run ended."""
        if not self.finished:
            self.finished = True
            self.tracker.finish()


def start_trackers(recipe: Recipe, run_dir: Path) -> list[TrackerView]:
    """Each tracker in ``output.trackers``, started, as a view of ``run_dir``'s events:
    one view a tracker, so that one failing leaves the others. A tracker that cannot
    start is a ``WorkbenchError`` (those started before it are finished first)."""
    views: list[TrackerView] = []
    for name in recipe.output.trackers or []:
        try:
            tracker = BUILDERS[name](run_dir, recipe.name)
            tracker.start()
        except Exception as exc:  # noqa: BLE001 - any library's failure, as one line
            for view in views:
                view.close()
            raise WorkbenchError(
                f'{_blame(recipe)}: "{name}" could not start ({first_line(exc)})'
            ) from None
        views.append(TrackerView(tracker, recipe.to_dict()))
    return views

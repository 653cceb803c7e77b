"""Inside a trial's run (`workbench run --sweep-trial FOLDER#ID`): a view of its
events that tells the sweep's study where the run is, reports each validation to
it, and stops the run (with a checkpoint, as a Ctrl-C would) when the pruner says
the trial lags, or when the worker that started it is gone."""

from __future__ import annotations

import contextlib
import os
import threading

from workbench.errors import WorkbenchError
from workbench.runs.events import Created, Eval, Event, Start

# Evaluations are reported at tenths of an epoch: trials with other batch sizes (other
# numbers of steps an epoch) or evaluating at other steps still meet there.
POINTS_PER_EPOCH = 10
WATCH_S = 2.0  # how often the run looks whether its worker is still there


def parse_reference(reference: str) -> tuple[str, int]:
    """``/path/to/sweep#12`` -> (folder, trial id)."""
    folder, _, trial_id = reference.rpartition("#")
    if not folder or not trial_id.isdigit():
        raise WorkbenchError(f"--sweep-trial {reference!r}: expected SWEEP_FOLDER#TRIAL_ID")
    return folder, int(trial_id)


def judged_from(total_steps: int | None, steps_per_epoch: int | None) -> int:
    """The first step at which a trial may be pruned: the end of its first epoch, or a
    third of its training if that comes sooner (a one-epoch run evaluating every few
    steps). Before it, accuracy swings by points between evaluations (the model has
    not seen its data once, the learning rate is still warming up), and a pruner
    judging there stopped the sweep's best trial (benchmarks/README.md, issue 28)."""
    if not total_steps:
        return 0  # a run that did not say how long it trains: judged from the start
    third = -(-total_steps // 3)
    return min(third, steps_per_epoch) if steps_per_epoch else third


def report_points(last: int, epoch: float | None, step: int) -> range:
    """The points (tenths of an epoch) an evaluation stands for: every one since the
    previous evaluation's, up to its own (its value is reported at each of them)."""
    point = int(epoch * POINTS_PER_EPOCH + 1e-9) if epoch is not None else step
    return range(last + 1, max(point, last + 1) + 1) if point > last else range(0)


class TrialReporter:
    """The view; ``stop`` is the run's stop flag."""

    def __init__(self, reference: str, stop: threading.Event):
        import optuna

        from workbench.sweeps.study import open_sweep

        folder, trial_id = parse_reference(reference)
        self.sweep = open_sweep(folder)
        self.study = self.sweep.study()
        self.trial = optuna.Trial(self.study, trial_id)
        self.stop = stop
        self.total_steps: int | None = None  # from the start event
        self.judged_from = 0  # the first step the pruner may stop the run at
        self.last = max(self.study._storage.get_trial(trial_id).intermediate_values, default=0)
        self.trial.set_user_attr("run_pid", os.getpid())
        # What the run's start event says of it (DESIGN: a trial is a run like any
        # other, with its sweep and parameters in its start event).
        self.info = {
            "sweep": self.sweep.spec.name,
            "folder": str(self.sweep.folder),
            "trial": self.trial.number,
            "params": dict(self.study._storage.get_trial(trial_id).params),
        }
        parent = os.getppid()
        threading.Thread(target=self._watch, args=(parent,), daemon=True).start()

    def _watch(self, parent: int) -> None:
        """Stop the run with a checkpoint when its worker is gone (its parent is then
        another process), so the worker that takes the trial over goes on from there."""
        while not self.stop.wait(WATCH_S):
            if os.getppid() != parent:
                self.stop.set()

    def __call__(self, event: Event) -> None:
        # A storage error (a database blip, a trial another worker failed) must not
        # make the runner drop this view: pruning and the worker watch go on.
        with contextlib.suppress(Exception):
            self._hear(event)

    def _hear(self, event: Event) -> None:
        if isinstance(event, Created):  # a resumed run's folder the worker knows already
            self.trial.set_user_attr("run_dir", event.path)
        if isinstance(event, Start):
            self.total_steps = event.total_steps
            self.judged_from = judged_from(event.total_steps, event.steps_per_epoch)
        if not (isinstance(event, Eval) and event.split == "validation"):
            return
        if event.value is None:
            return
        points = report_points(self.last, event.epoch, event.step)
        for point in points:
            self.trial.report(event.value, point)
        if points:
            self.last = points[-1]
        # The last evaluation finishes the trial: stopping there saves nothing, and a
        # trial told pruned there would hide its value (maybe the best) from the sweep.
        last = self.total_steps is not None and event.step >= self.total_steps
        judged = points and not last and event.step >= self.judged_from
        if judged and not self.stop.is_set() and self.trial.should_prune():
            self.trial.set_user_attr("pruned_at", event.step)
            self.trial.set_user_attr("pruned_value", event.value)
            self.stop.set()

"""The median pruner judges a trial against every trial that reached its point,
finished or pruned, so its bar does not climb with each trial it stops."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState, create_trial

from workbench.sweeps.pruning import MedianOfAllPruner

optuna.logging.set_verbosity(optuna.logging.ERROR)


def _study(direction: str, finished: list[float], pruned: list[float]) -> optuna.Study:
    """Finished trials that reported ``finished`` at point 10 (and ended there), and
    pruned ones stopped at point 10 with ``pruned``."""
    study = optuna.create_study(direction=direction, pruner=MedianOfAllPruner(startup=2))
    for value in finished:
        study.add_trial(
            create_trial(
                value=value, intermediate_values={10: value, 20: value}, params={}, distributions={}
            )
        )
    for value in pruned:
        study.add_trial(
            create_trial(
                state=TrialState.PRUNED,
                intermediate_values={10: value},
                params={},
                distributions={},
            )
        )
    return study


def _judged(study: optuna.Study, values: dict[int, float]) -> bool:
    trial = study.ask()
    for point, value in values.items():
        trial.report(value, point)
    return trial.should_prune()


def test_pruned_trials_count_in_the_median():
    # Survivors at 0.90 and 0.85, three stopped near 0.55: a trial at 0.70 is above
    # the median of the five (0.60) and goes on, where Optuna's own pruner, whose
    # median is the survivors' (0.875), would stop it.
    study = _study("maximize", [0.90, 0.85], [0.50, 0.55, 0.60])
    assert not _judged(study, {10: 0.70})
    assert _judged(study, {10: 0.52})
    optuna_own = _study("maximize", [0.90, 0.85], [0.50, 0.55, 0.60])
    optuna_own.pruner = optuna.pruners.MedianPruner(n_startup_trials=2)
    assert _judged(optuna_own, {10: 0.70})


def test_minimising_and_points_others_did_not_reach():
    study = _study("minimize", [0.2, 0.3], [0.9, 0.8, 0.7])
    assert not _judged(study, {10: 0.6})  # median of all five at point 10: 0.7
    assert _judged(study, {10: 0.75})
    # At point 20 only the two finished trials are there (median 0.25); a trial is
    # judged by its best so far.
    assert _judged(study, {10: 0.6, 20: 0.5})
    assert not _judged(study, {10: 0.2, 20: 0.5})
    assert not _judged(study, {30: 5.0})  # nobody else reached point 30


@pytest.mark.parametrize("finished", [0, 1])
def test_nothing_is_judged_before_two_trials_finish(finished):
    study = _study("maximize", [0.9] * finished, [0.8, 0.85, 0.9])
    assert not _judged(study, {10: 0.1})


def test_a_trial_that_reports_only_nan_stops():
    study = _study("maximize", [0.9, 0.8], [])
    assert _judged(study, {10: float("nan")})

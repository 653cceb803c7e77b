"""What would a pruning rule have stopped and saved? A replay over unpruned sweeps.

An unpruned sweep (``sweep_search.py --arms tpe-full``) records every trial's whole
validation curve in its runs' events. Each rule below is applied to those trials in
their order, as a sweep's pruner would have been: at each evaluation but the last,
once two trials have finished, a trial's best value so far is compared with the
values the finished (not stopped) trials held at the same point (tenths of an
epoch, as ``workbench.sweeps.pruning`` reports them). Printed per rule: the share
of optimizer steps it saves, and per sweep the best value it keeps against the
unpruned best, with the trials it stops.

A replay, not a run: it shows what a rule does *if the sampler had proposed the same
trials*. With a pruner on, TPE is told of the stopped trials and proposes others,
so a rule worth having is then measured with real sweeps.

    python benchmarks/sweep_pruner_replay.py WORK/tpe-full-6 WORK/tpe-full-7 ...
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from workbench.sweeps.pruning import POINTS_PER_EPOCH, judged_from, report_points


def load(folder: Path) -> list[dict]:
    """The trials of the one sweep under ``folder`` (a ``--dir``), in order: each
    one's validation evaluations as (step, point, value) and its total steps."""
    from workbench.runs.events import Eval, Start
    from workbench.runs.folder import read_events
    from workbench.sweeps.study import open_sweep, sweep_folders

    (sweep_folder,) = sweep_folders(folder)
    trials = []
    for row in sorted(open_sweep(sweep_folder).trials(), key=lambda r: r.number):
        evals, start, last = [], Start(), 0
        for event in read_events(row.run_dir):
            if isinstance(event, Start):
                start = event
            if isinstance(event, Eval) and event.split == "validation":
                # The points the trial's reporter told the study (none: not judged).
                points = report_points(last, event.epoch, event.step)
                if points:
                    last = points[-1]
                    evals.append((event.step, last, event.value))
        trials.append(
            {
                "evals": evals,
                "total": start.total_steps,
                "first": judged_from(start.total_steps, start.steps_per_epoch),
                "size": start.examples["validation"],
            }
        )
    return trials


def held(trial: dict, point: int, forward: bool = False) -> float | None:
    """The value ``trial`` held at ``point`` as the reporter tells the study: the
    first evaluation at or after it (an evaluation stands for every point since the
    one before). ``forward``: its last evaluation at or before it instead (what it
    had then), an alternative measured here."""
    if forward:
        before = [v for _, at, v in trial["evals"] if at <= point]
        return before[-1] if before else None
    return next((v for _, at, v in trial["evals"] if at >= point), None)


def below(percentile: float = 50, margin_se: float = 0.0):
    """A rule: stop when the best so far is under the others' percentile, less
    ``margin_se`` standard errors of an accuracy measured on the validation set."""

    def rule(best: float, others: list[float], size: int) -> bool:
        m = float(np.percentile(others, percentile))  # as Optuna's percentile pruner
        return best < m - margin_se * math.sqrt(max(m * (1 - m), 1e-9) / size)

    return rule


def replay(
    trials: list[dict], rule, from_point: int = 0, guarded: bool = False, forward: bool = False
) -> tuple[int, float, int]:
    """Steps trained, the best finished value and the trials stopped under ``rule``
    (judged at points from ``from_point`` on, and with ``guarded`` from the step the
    sweeps' reporter first judges at; ``rule=None``: nothing stopped)."""
    finished: list[dict] = []
    steps, best, stopped = 0, 0.0, 0
    for trial in trials:
        stop, so_far = None, 0.0
        for step, point, value in trial["evals"]:
            so_far = max(so_far, value)
            if rule is None or step >= trial["total"] or len(finished) < 2:
                continue
            if point < from_point or (guarded and step < trial["first"]):
                continue
            others = [v for v in (held(t, point, forward) for t in finished) if v is not None]
            if others and rule(so_far, others, trial["size"]):
                stop = step
                break
        if stop is not None:
            steps, stopped = steps + stop, stopped + 1
        else:
            finished.append(trial)
            steps += trial["total"]
            best = max(best, max(v for *_, v in trial["evals"]))
    return steps, best, stopped


RULES = [  # (name, rule, from point, with the reporter's guard, others carried forward)
    ("the median, as shipped (from the first epoch or a third of training)", below(50), 0, True),
    ("the same, others' values carried forward", below(50), 0, True, True),
    ("Optuna's median from the first evaluation", below(50), 0, False),
    ("the 40th percentile", below(40), 0, False),
    ("the 33rd percentile", below(33), 0, False),
    ("the median less half a standard error", below(50, 0.5), 0, False),
    ("the median less one standard error", below(50, 1.0), 0, False),
    ("the median less two standard errors", below(50, 2.0), 0, False),
    ("the median from the first epoch's end", below(50), POINTS_PER_EPOCH, False),
    ("the median from the second epoch's end", below(50), 2 * POINTS_PER_EPOCH, False),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", type=Path, nargs="+", help="unpruned sweeps' --dir folders")
    args = parser.parse_args()
    sweeps = [load(folder) for folder in args.sweeps]
    full = [replay(trials, None) for trials in sweeps]
    print(f"{len(sweeps)} sweeps: " + ", ".join(str(f) for f in args.sweeps))
    print("| rule | steps saved | best kept / unpruned (trials stopped), per sweep |")
    print("|---|---|---|")
    for name, rule, *how in RULES:
        results = [replay(trials, rule, *how) for trials in sweeps]
        saved = 1 - sum(r[0] for r in results) / sum(f[0] for f in full)
        cells = ", ".join(
            f"{r[1] * 100:.2f} / {f[1] * 100:.2f} ({r[2]})" for r, f in zip(results, full)
        )
        print(f"| {name} | {saved:.0%} | {cells} |")


if __name__ == "__main__":
    main()
